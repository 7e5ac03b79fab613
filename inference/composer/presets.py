"""Genre and mood presets: instrumentation, grooves, swing, harmonic vocabulary, tempo ranges and mood biases.

A genre says *how* the music is played (parts, patterns, progressions); a mood says *what it feels like*
(mode, energy, brightness, density, tension, space). Both feed :mod:`inference.composer.plan`.
Instrument options are ordered from warm/acoustic to electronic, so the ``colour`` descriptor can pick one.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass

from inference.composer.gm import (
    CLAP,
    CLOSED_HAT,
    FLOOR_TOM,
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
from maestro_core.errors import InputError


@dataclass(frozen=True)
class DrumPattern:
    """One bar of 4/4 in sixteenth steps per drum key: ``X`` accent, ``x`` normal, ``o`` ghost, ``.`` rest."""

    name: str
    hits: tuple[tuple[int, str], ...]


@dataclass(frozen=True)
class Role:
    """A part of the arrangement and the GM programs that can play it, warm/acoustic first."""

    role: str
    programs: tuple[int, ...]


@dataclass(frozen=True)
class Genre:
    """A genre preset.

    Attributes:
        name: canonical name, e.g. ``'lofi-chill'``.
        tempo_range: typical tempo (low, high) in BPM.
        swing: delay of off-beat subdivisions as a fraction of the subdivision (0 straight, 0.33 triplet feel).
        swing_step: the subdivision that swings, in sixteenths (1 = sixteenths, 2 = eighths).
        kit: drum kit preset (bank 128), None when the genre has no drums.
        grooves: drum pattern variants; the seed picks one per section group.
        bass_styles / comp_styles: playing styles the seed chooses from (see :mod:`arrangement`).
        roles: the parts besides drums, each with program options.
        chord_size: notes per chord: 3 triads, 4 sevenths, 5 ninths.
        major / minor: progressions as Roman numerals (uppercase major, lowercase minor, ``b`` = flat).
        melody_register: MIDI pitch the melody centres on.
        melody_rate: baseline melody notes per beat.
        effects: the effects chain name in :mod:`inference.effects`.
    """

    name: str
    tempo_range: tuple[int, int]
    swing: float
    swing_step: int
    kit: int | None
    grooves: tuple[DrumPattern, ...]
    bass_styles: tuple[str, ...]
    comp_styles: tuple[str, ...]
    roles: tuple[Role, ...]
    chord_size: int
    major: tuple[str, ...]
    minor: tuple[str, ...]
    melody_register: int
    melody_rate: float
    effects: str


@dataclass(frozen=True)
class Mood:
    """A mood preset; every field is in [0, 1] except ``tempo_bias`` in [-1, 1] (slower .. faster in range)."""

    name: str
    mode: float
    energy: float
    brightness: float
    density: float
    tension: float
    space: float
    tempo_bias: float


def _p(name: str, **hits: str) -> DrumPattern:
    keys = {"kick": KICK, "snare": SNARE, "rim": RIM, "clap": CLAP, "hat": CLOSED_HAT, "ohat": OPEN_HAT,
            "phat": PEDAL_HAT, "ride": RIDE, "shaker": SHAKER, "tamb": TAMBOURINE, "ltom": LOW_TOM,
            "mtom": MID_TOM, "ftom": FLOOR_TOM}
    for part, steps in hits.items():
        assert len(steps) == 16, (name, part)
    return DrumPattern(name, tuple((keys[part], steps) for part, steps in hits.items()))


_BACKBEAT = "....X.......X..."
_EIGHTHS = "x.o.x.o.x.o.x.o."
_FOUR = "X...x...X...x..."

GENRES: dict[str, Genre] = {g.name: g for g in (
    Genre("lofi-chill", (65, 90), 0.22, 1, 8,
          (_p("dusty", kick="X.....x...x.....", snare=_BACKBEAT, hat="x.o.x.o.x.o.x.oo"),
           _p("lazy", kick="X.......x.x.....", snare=_BACKBEAT, hat="x.o.x.o.x.o.x.o."),
           _p("shuffle", kick="X.........x.....", rim=_BACKBEAT, hat="x.oox.o.x.oox.o.")),
          ("root_half", "boom", "root_fifth"), ("pad", "chop", "arp8"),
          (Role("keys", (4, 0, 5, 11)), Role("lead", (24, 0, 11, 80)), Role("bass", (33, 38, 32))),
          4, ("I vi ii V", "I iii vi IV", "ii V I vi", "I IV iii vi"), ("i iv VII III", "i VI iv v", "i iv v i"),
          72, 0.9, "lofi"),
    Genre("ambient", (60, 90), 0.0, 2, 0,
          (_p("pulse", kick="x.......x.......", shaker="o.o.o.o.o.o.o.o."),
           _p("heartbeat", kick="x...o...x...o...", shaker="..o...o...o...o."),
           _p("drift", kick="x.......o.......", rim="........o.......", shaker="o.o.o.o.o.o.o.o.")),
          ("sustain", "root_half"), ("pad", "arp8"),
          (Role("pad", (89, 52, 88, 95)), Role("lead", (11, 73, 88)), Role("bass", (32, 89, 38))),
          4, ("I IV I V", "I vi IV I", "I V vi IV"), ("i VI III VII", "i iv i VI", "i VII VI VII"),
          74, 0.5, "ambient"),
    Genre("house", (118, 128), 0.05, 1, 24,
          (_p("classic", kick=_FOUR, clap=_BACKBEAT, ohat="..x...x...x...x.", hat="x.x.x.x.x.x.x.x."),
           _p("deep", kick=_FOUR, clap=_BACKBEAT, ohat="..x...x...x...x.", shaker="oxoxoxoxoxoxoxox"),
           _p("garage", kick=_FOUR, snare="....X.......X..o", ohat="..x...x...x...x.", hat="xxx.xxx.xxx.xxx.")),
          ("offbeat", "octave8"), ("stab", "pad"),
          (Role("keys", (0, 4, 90, 81)), Role("lead", (11, 81, 80, 90)), Role("bass", (33, 38, 39))),
          4, ("I vi IV V", "vi IV I V", "I IV vi V"), ("i VI VII i", "i iv VII VI", "i VII VI v"),
          74, 1.0, "club"),
    Genre("techno", (125, 140), 0.0, 1, 25,
          (_p("driving", kick=_FOUR, clap=_BACKBEAT, hat="xxXxxxXxxxXxxxXx"),
           _p("warehouse", kick=_FOUR, rim="..o..o....o..o..", ohat="..x...x...x...x."),
           _p("minimal", kick=_FOUR, clap="....x.......x...", hat="..x...x...x...x.")),
          ("octave8", "offbeat"), ("arp16", "stab"),
          (Role("keys", (90, 81, 80)), Role("lead", (80, 81, 87)), Role("bass", (39, 38))),
          3, ("I I IV V", "I vi IV I"), ("i i VI VII", "i iv i v", "i VII i VI"),
          69, 0.8, "club"),
    Genre("hip-hop", (80, 100), 0.25, 1, 25,
          (_p("boom-bap", kick="X.....x..x......", snare=_BACKBEAT, hat="x.o.x.o.x.o.x.o."),
           _p("head-nod", kick="X.x.......x.....", snare=_BACKBEAT, hat="x.oox.o.x.oox.o."),
           _p("laid-back", kick="X......x..x.....", snare=_BACKBEAT, hat=_EIGHTHS)),
          ("boom", "root_half"), ("chop", "pad", "chop"),
          (Role("keys", (0, 5, 4, 0)), Role("lead", (45, 0, 61, 45)), Role("bass", (38, 33, 39))),
          4, ("I vi ii V", "vi IV I V"), ("i iv VI v", "i VI VII i", "i iv i v"),
          70, 0.8, "hiphop"),
    Genre("jazz", (90, 160), 0.3, 2, 40,
          (_p("swing", ride="x...x.x.x...x.x.", phat=_BACKBEAT, kick="o...o...o...o..."),
           _p("brushes", ride="x...x.xox...x.xo", phat=_BACKBEAT, kick="x...o...x...o..."),
           _p("two-feel", ride="x...x.x.x...x.x.", phat=_BACKBEAT, kick="x.......x.......")),
          ("walking",), ("jazzcomp", "block4"),
          (Role("keys", (0, 0, 4, 0)), Role("lead", (66, 56, 65, 11)), Role("bass", (32, 32))),
          4, ("ii V I vi", "I vi ii V", "iii vi ii V"), ("ii V i i", "i iv ii V", "i VI ii V"),
          70, 1.0, "room"),
    Genre("cinematic", (70, 110), 0.0, 2, 48,
          (_p("timpani", kick="X...............", ftom="x.......x.......", ltom="............o.o."),
           _p("march", kick="X...x...X...x...", snare="..o...o...o...o.", ftom="x.......x......."),
           _p("war-drums", kick="X...x...X...x...", ltom="....x.......x...", ftom="x.o.x.o.x.o.x.o.")),
          ("root_8", "sustain"), ("ostinato8", "pad"),
          (Role("strings", (48, 44, 48, 50)), Role("lead", (40, 60, 40, 56)), Role("brass", (60, 61, 57)),
           Role("bass", (43, 42, 58))),
          3, ("I V vi IV", "I IV vi V", "vi IV I V"), ("i VI III VII", "i iv VI V", "i VI iv V"),
          67, 0.6, "hall"),
    Genre("pop", (95, 128), 0.0, 2, 24,
          (_p("straight", kick="X.......x.x.....", snare=_BACKBEAT, hat="x.o.x.o.x.o.x.o."),
           _p("four-floor", kick=_FOUR, snare=_BACKBEAT, hat="x.x.x.x.x.x.x.x."),
           _p("push", kick="X.......x.......", clap=_BACKBEAT, hat="xoo.xoo.xoo.xoo.")),
          ("root_8", "root_fifth"), ("block4", "stab"),
          (Role("keys", (4, 0, 4, 1)), Role("lead", (80, 81, 80, 11)), Role("bass", (38, 33, 38))),
          3, ("I V vi IV", "vi IV I V", "I vi IV V", "IV I V vi"), ("i VI III VII", "i iv VI VII"),
          72, 1.2, "pop"),
    Genre("rock", (100, 150), 0.0, 2, 16,
          (_p("straight", kick="X.......X.......", snare=_BACKBEAT, hat="X.o.x.o.X.o.x.o."),
           _p("driving", kick="X...x...X...x...", snare=_BACKBEAT, hat="X.o.X.o.X.o.X.o."),
           _p("ride", kick="X.......X.......", snare=_BACKBEAT, ride="x.o.x.o.x.o.x.o.")),
          ("rock8",), ("power8", "strum"),
          (Role("guitar", (29, 30, 27)), Role("lead", (30, 29, 81)), Role("bass", (34, 33))),
          3, ("I IV V IV", "I bVII IV I", "I V vi IV"), ("i VI VII i", "i VII VI VII", "i iv VII i"),
          67, 1.0, "rock"),
    Genre("synthwave", (85, 118), 0.0, 2, 24,
          (_p("night-drive", kick="X.......X.......", snare=_BACKBEAT, hat="x.o.x.o.x.o.x.o."),
           _p("outrun", kick=_FOUR, snare=_BACKBEAT, hat="xoooxoooxoooxooo"),
           _p("retro", kick="X.....x.X.......", snare=_BACKBEAT, ohat="..x...x...x...x.")),
          ("octave8", "root_8"), ("pad", "arp16"),
          (Role("keys", (90, 89, 91, 81)), Role("lead", (81, 80, 87, 62)), Role("bass", (38, 39))),
          4, ("I V vi IV", "vi IV I V"), ("i VI III VII", "i VI VII i", "i iv VI VII"),
          72, 0.9, "synthwave"),
    Genre("folk", (80, 120), 0.08, 2, 8,
          (_p("stomp", kick="X.......X.......", rim=_BACKBEAT, tamb="x.o.x.o.x.o.x.o."),
           _p("train", kick="X.......X.......", snare="o.o.X.o.o.o.X.o.", shaker="x.o.x.o.x.o.x.o."),
           _p("waltz-ish", kick="X.......x.......", rim="....x.......x...", tamb="..x...x...x...x.")),
          ("root_fifth", "root_half"), ("strum", "strum", "travis"),
          (Role("guitar", (25, 24, 25, 105)), Role("lead", (110, 73, 22, 40)), Role("bass", (32, 33))),
          3, ("I IV I V", "I V vi IV", "I vi IV V", "IV I V I"), ("i VII VI VII", "i iv VII III", "i VI VII i"),
          74, 1.0, "folk"),
    Genre("classical-piano", (60, 120), 0.0, 2, None,
          (),
          ("root_half",), ("alberti", "arp8"),
          (Role("keys", (0, 1, 6)), Role("lead", (0, 1)), Role("bass", (0, 1))),
          3, ("I IV V I", "I vi IV V", "I V vi iii", "I ii V I"), ("i iv V i", "i VI iv V", "i iv VII III"),
          74, 1.1, "concert"),
)}

MOODS: dict[str, Mood] = {m.name: m for m in (
    Mood("ambient-focus", 0.55, 0.3, 0.5, 0.35, 0.15, 0.6, -0.3),
    Mood("melancholic", 0.12, 0.3, 0.3, 0.4, 0.3, 0.55, -0.4),
    Mood("uplifting", 0.92, 0.7, 0.8, 0.7, 0.1, 0.4, 0.3),
    Mood("energetic", 0.65, 0.92, 0.7, 0.75, 0.2, 0.25, 0.7),
    Mood("dark", 0.05, 0.5, 0.15, 0.35, 0.6, 0.5, -0.1),
    Mood("romantic", 0.7, 0.35, 0.5, 0.45, 0.35, 0.5, -0.2),
    Mood("dreamy", 0.65, 0.25, 0.6, 0.35, 0.25, 0.8, -0.3),
    Mood("tense", 0.1, 0.75, 0.4, 0.6, 0.9, 0.35, 0.3),
    Mood("nostalgic", 0.45, 0.4, 0.4, 0.45, 0.3, 0.55, -0.1),
    Mood("peaceful", 0.8, 0.15, 0.55, 0.25, 0.05, 0.6, -0.5),
)}

_ALIASES = {"lofi": "lofi-chill", "lo-fi": "lofi-chill", "lofi-hip-hop": "lofi-chill", "hiphop": "hip-hop",
            "rap": "hip-hop", "classical": "classical-piano", "piano": "classical-piano", "film": "cinematic",
            "edm": "house", "retrowave": "synthwave", "focus": "ambient-focus", "sad": "melancholic",
            "happy": "uplifting", "calm": "peaceful", "epic": "energetic"}


def _normalise(name: str) -> str:
    return re.sub(r"[\s_]+", "-", name.strip().lower())


def _lookup(kind: str, name: object, table: dict) -> object:
    if not isinstance(name, str) or not name.strip():
        raise InputError(kind, f"must be a non-empty string; accepted: {', '.join(table)}")
    key = _normalise(name)
    key = key if key in table else _ALIASES.get(key, key)
    if key in table:
        return table[key]
    close = difflib.get_close_matches(key, list(table), n=3, cutoff=0.4)
    hint = f"; did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
    raise InputError(kind, f"unknown {kind} {name!r}{hint} (accepted: {', '.join(table)})")


def get_genre(name: object) -> Genre:
    """The genre preset for ``name`` (case, spaces and underscores ignored; a few aliases such as 'lofi').

    Raises:
        InputError: field ``genre``, suggesting the closest names.
    """
    return _lookup("genre", name, GENRES)  # type: ignore[return-value]


def get_mood(name: object) -> Mood:
    """The mood preset for ``name``.

    Raises:
        InputError: field ``mood``, suggesting the closest names.
    """
    return _lookup("mood", name, MOODS)  # type: ignore[return-value]
