"""Arrangement -> stereo mix: parts rendered as stems (SoundFont, or Maestro's own synthesis), pumped and mixed.

What a GM bank played straight cannot give is produced here, per genre (``PRODUCTIONS``):

* **synthesised drums** (:mod:`inference.synth`): an 808 or dusty boom-bap kit for hip-hop and lofi, 909 for house
  and techno, a gated-reverb kit for synthwave, brushes for jazz; the seed picks among each genre's kits;
* **synth voices** for the electronic genres' bass, chords and leads (saw, acid and reese basses, stabs, supersaw
  pads, plucks and leads);
* **sidechain pumping**: the music stem ducks under every kick (house, techno, a touch on synthwave and pop);
* **tape wobble** on lofi's music stem (wow and flutter, the worn-cassette sound), drums left steady;
* **stem balance**: drums forward in the beat-driven genres, tucked under the strings in cinematic.

Stems are summed at the render's level; effects and mastering follow (:mod:`inference.effects`,
:mod:`inference.master`). Everything is deterministic by seed.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from inference.composer.arrangement import Arrangement, Part
from inference.composer.gm import (
    CLAP,
    CLOSED_HAT,
    CRASH,
    FLOOR_TOM,
    HIGH_TOM,
    KICK,
    LOW_TOM,
    MID_TOM,
    OPEN_HAT,
    PEDAL_HAT,
    RIDE,
    RIM,
    SHAKER,
    SNARE,
    TAMBOURINE,
)

logger = logging.getLogger(__name__)

# GM percussion key -> synth drum instrument (inference.synth.KITS names).
_DRUM_NAMES = {KICK: "kick", SNARE: "snare", CLAP: "clap", CLOSED_HAT: "hat_closed", PEDAL_HAT: "hat_closed",
               OPEN_HAT: "hat_open", RIM: "rim", LOW_TOM: "tom_low", FLOOR_TOM: "tom_low", MID_TOM: "tom_high",
               HIGH_TOM: "tom_high", CRASH: "crash", RIDE: "ride", SHAKER: "hat_closed", TAMBOURINE: "hat_closed"}
_BRUSH_NAMES = {SNARE: "brush_snare", PEDAL_HAT: "brush_swish", RIM: "rim"}
# The synth renders at full scale; this brings a stem to the SoundFont render's level (-6 dB synth gain).
_SYNTH_TRIM_DB = -12.0
# Per-patch level against the GM part it replaces (measured: RMS of the same notes through both), dB.
_PATCH_TRIM_DB = {"chord_stab": 12.0, "supersaw_pad": 10.0, "pluck_arp": 5.0, "square_lead": -6.0,
                  "acid_bass": -2.0, "warm_pad": 2.0}


@dataclass(frozen=True)
class Production:
    """How one genre is produced.

    Attributes:
        kits: synth drum kits the seed chooses from; empty keeps the SoundFont kit.
        patches: role -> synth patches the seed chooses from (roles not listed stay on the SoundFont).
        drums_db: drum stem gain, dB.
        music_db: gain of every other stem, dB.
        pump: sidechain depth under each kick, 0 (none) .. 1 (silence at the kick).
        pump_beats: recovery time of the pump, in beats.
        wobble: tape wobble depth on the music stem, 0 .. 1.
    """

    kits: tuple[str, ...] = ()
    patches: dict[str, tuple[str, ...]] = field(default_factory=dict)
    drums_db: float = 0.0
    music_db: float = 0.0
    pump: float = 0.0
    pump_beats: float = 0.5
    wobble: float = 0.0


PRODUCTIONS: dict[str, Production] = {
    "lofi-chill": Production(kits=("lofi",), drums_db=2.0, music_db=-5.0, wobble=0.6),
    "ambient": Production(patches={"pad": ("warm_pad", "supersaw_pad")}, drums_db=-6.0),
    "house": Production(kits=("909",), patches={"bass": ("saw_bass", "sub_bass"), "keys": ("chord_stab",)},
                        drums_db=2.0, pump=0.55, pump_beats=0.6),
    "techno": Production(kits=("909", "808"),
                         patches={"bass": ("acid_bass", "reese_bass"), "keys": ("chord_stab", "pluck_arp"),
                                  "lead": ("pluck_arp", "square_lead")},
                         drums_db=3.0, pump=0.6, pump_beats=0.5),
    # The beat leads: the bank's TR-808 kit upfront, the sampled-feel loop and bass 9 dB under it.
    "hip-hop": Production(patches={"bass": ("sub_bass",)}, music_db=-9.0),
    "jazz": Production(drums_db=-1.0),  # the bank's brush kit
    "cinematic": Production(drums_db=-7.0),
    "pop": Production(patches={"lead": ("square_lead", "saw_lead")}, drums_db=2.0, pump=0.2),
    "rock": Production(drums_db=1.0),
    "synthwave": Production(kits=("gated",), patches={"bass": ("saw_bass",), "keys": ("supersaw_pad",),
                                                       "lead": ("saw_lead", "square_lead")},
                            drums_db=1.0, pump=0.25),
    "folk": Production(drums_db=-3.0),
    "classical-piano": Production(),
}


def synth_available() -> bool:
    """Whether Maestro's synthesis library (:mod:`inference.synth`) offers ``render_drums`` and ``render_voice``."""
    try:
        from inference import synth
    except ImportError:
        return False
    return all(hasattr(synth, n) for n in ("render_drums", "render_voice", "KITS", "PATCHES"))


def synth_choices(arrangement: Arrangement, seed: int) -> tuple[str | None, dict[int, str]]:
    """The synth kit (None: the SoundFont's) and the synth patch per part index, chosen by ``seed``.

    Returns no synthesis at all when :mod:`inference.synth` is not installed, so the SoundFont plays every part.
    """
    production = PRODUCTIONS.get(arrangement.plan.genre.name, Production())
    if not synth_available():
        return None, {}
    from inference import synth

    rng = np.random.default_rng(np.random.SeedSequence([seed, 0x5E7]))
    kits = [k for k in production.kits if k in synth.KITS]
    kit = str(kits[int(rng.integers(len(kits)))]) if kits else None
    patches: dict[int, str] = {}
    for i, part in enumerate(arrangement.parts):
        options = [p for p in production.patches.get(part.role, ()) if p in synth.PATCHES]
        if options and not part.is_drum:
            patches[i] = str(options[int(rng.integers(len(options)))])
    return kit, patches


def render_mix(arrangement: Arrangement, font: Any, sample_rate: int, seed: int) -> np.ndarray:
    """Every part of ``arrangement`` rendered and mixed: float32, channels first, shape ``(2, frames)``.

    Drum and music stems render separately (SoundFont parts through one TinySoundFont pass each, synth parts
    through :mod:`inference.synth`), so the music can pump under the kick and wobble while the drums stay steady.
    """
    from inference.render import render_arrangement

    production = PRODUCTIONS.get(arrangement.plan.genre.name, Production())
    kit, patches = synth_choices(arrangement, seed)
    drum_parts = [p for p in arrangement.parts if p.is_drum]
    sf_music = [p for i, p in enumerate(arrangement.parts) if not p.is_drum and i not in patches]
    music = render_arrangement(replace(arrangement, parts=tuple(sf_music)), font, sample_rate)
    frames = music.shape[1]
    if patches:
        music += _synth_voices(arrangement, patches, frames, sample_rate, seed)
    if production.wobble > 0:
        music = _wobble(music, sample_rate, production.wobble)
    music_gain = np.float32(10 ** (production.music_db / 20))
    if production.pump > 0:
        curve = pump_curve(arrangement, frames, sample_rate, production.pump, production.pump_beats)
        curve *= music_gain
        music *= curve[None, :]
    elif production.music_db:
        music *= music_gain
    if drum_parts:
        drums_gain = 10 ** (production.drums_db / 20)
        if kit is not None:
            drums = _synth_drums(arrangement, drum_parts, kit, frames, sample_rate, seed)
            drums_gain *= 10 ** (_SYNTH_TRIM_DB / 20)
        else:
            drums = render_arrangement(replace(arrangement, parts=tuple(drum_parts)), font, sample_rate)
        drums *= np.float32(drums_gain)
        music += drums
    return music


def _seconds(arrangement: Arrangement, tick: int) -> float:
    return tick * arrangement.tempo_us / (1e6 * arrangement.ticks_per_beat)


def _synth_drums(arrangement: Arrangement, parts: list[Part], kit: str, frames: int, sample_rate: int,
                 seed: int) -> np.ndarray:
    from inference import synth

    have = set(synth.KITS[kit])
    names = {**_DRUM_NAMES, **_BRUSH_NAMES} if kit == "brushes" else _DRUM_NAMES
    hits = []
    for part in parts:
        for start, _end, key, velocity in part.notes:
            name = names.get(key)
            if name is not None and name not in have:
                name = _DRUM_NAMES.get(key)
            if name is not None and name in have:
                vel = int(velocity * 0.6) if key in (SHAKER, TAMBOURINE) else int(velocity)
                hits.append((_seconds(arrangement, start), name, max(1, min(127, vel))))
    duration = frames / sample_rate
    return _fit(synth.render_drums(kit, hits, duration, sample_rate, seed), frames)


def _synth_voices(arrangement: Arrangement, patches: dict[int, str], frames: int, sample_rate: int,
                  seed: int) -> np.ndarray:
    from inference import synth

    out = np.zeros((2, frames), dtype=np.float32)
    duration = frames / sample_rate
    for i, patch in sorted(patches.items()):
        part = arrangement.parts[i]
        notes = [(_seconds(arrangement, s), _seconds(arrangement, e - s), p, v) for s, e, p, v in part.notes]
        voice = _fit(synth.render_voice(patch, notes, duration, sample_rate, seed + i), frames)
        gain = part.volume / 127.0 * 10 ** (_PATCH_TRIM_DB.get(patch, 0.0) / 20)
        pan = (part.pan - 64) / 64.0
        out[0] += voice[0] * np.float32(gain * min(1.0, 1.0 - pan))
        out[1] += voice[1] * np.float32(gain * min(1.0, 1.0 + pan))
    return out * np.float32(10 ** (_SYNTH_TRIM_DB / 20))


def _fit(audio: np.ndarray, frames: int) -> np.ndarray:
    """``audio`` (2, n) cut or zero-padded to ``frames``."""
    audio = np.asarray(audio, dtype=np.float32)
    if audio.shape[1] >= frames:
        return audio[:, :frames]
    return np.pad(audio, ((0, 0), (0, frames - audio.shape[1])))


def pump_curve(arrangement: Arrangement, frames: int, sample_rate: int, depth: float, recovery_beats: float,
               block: int = 64) -> np.ndarray:
    """Sidechain gain per sample (float32, ``frames``): ``1 - depth`` at each kick, recovering over
    ``recovery_beats`` beats (an exponential-ish curve, computed per ``block`` samples and held).
    """
    kicks = sorted({n[0] for p in arrangement.parts if p.is_drum for n in p.notes if n[2] == KICK})
    blocks = -(-frames // block)
    if not kicks:
        return np.ones(frames, dtype=np.float32)
    positions = np.array([_seconds(arrangement, k) * sample_rate / block for k in kicks])
    index = np.clip(np.floor(positions).astype(np.int64), 0, blocks - 1)
    marks = np.full(blocks, -1, dtype=np.int64)
    marks[index] = index
    last = np.maximum.accumulate(marks)
    since = (np.arange(blocks) - last) * (block / sample_rate)  # seconds since the last kick
    recovery = recovery_beats * arrangement.tempo_us / 1e6
    shape = np.clip(since / recovery, 0.0, 1.0)
    gain = 1.0 - depth * (1.0 - shape) ** 2
    gain[last < 0] = 1.0
    return np.repeat(gain.astype(np.float32), block)[:frames]


def _wobble(music: np.ndarray, sample_rate: int, depth: float) -> np.ndarray:
    """Tape wow and flutter: a modulated read delay (0.55 Hz wow, 5.3 Hz flutter), linear interpolation.

    At ``depth`` 1 the delay swings +-2.5 ms of wow (about +-0.8% pitch, ~14 cents) plus a tenth of that as
    flutter, what a worn cassette deck does; a numba loop (measured below 0.1 s per 3 minutes), not a chorus plug-in.
    """
    from inference.composer._wow import wow

    out = np.empty_like(music)
    wow(np.ascontiguousarray(music, dtype=np.float32), out, float(sample_rate), 0.0025 * depth * sample_rate,
        0.55, 5.3)
    return out
