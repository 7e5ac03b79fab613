"""Musical keys: a tonic pitch class and a mode, and parsing names like 'F# minor', 'Bbm' or 'E♭ major'.

The domain's one definition of a key: requests, prompts and QC all parse and compare keys with it. Estimating
the key of audio is the engines' job (``inference.qc.key_estimate``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from maestro_core.errors import InputError

Mode = Literal["major", "minor"]

# Conventional spellings: flats for Db/Eb/Ab/Bb, F# (as in most key signatures), sharps for minor C#/G#.
_MAJOR_NAMES = ("C", "Db", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B")
_MINOR_NAMES = ("C", "C#", "D", "Eb", "E", "F", "F#", "G", "G#", "A", "Bb", "B")
_LETTER_PC = {"C": 0, "D": 2, "E": 4, "F": 5, "G": 7, "A": 9, "B": 11}
_ACCIDENTAL = {"#": 1, "♯": 1, "s": 1, "sharp": 1, "b": -1, "♭": -1, "flat": -1, "": 0}
_MODE_WORDS = {"": "major", "maj": "major", "major": "major", "ionian": "major", "m": "minor", "min": "minor",
               "minor": "minor", "aeolian": "minor"}
_KEY_RE = re.compile(r"^\s*([A-Ga-g])\s*(#|♯|b|♭|sharp|flat)?\s*[-_ ]?\s*([A-Za-z]*)\s*$")


@dataclass(frozen=True)
class Key:
    """A key: tonic pitch class (0 = C .. 11 = B) and mode."""

    tonic: int
    mode: Mode

    @property
    def name(self) -> str:
        """Canonical name, e.g. 'A minor', 'Bb major', 'F# minor'."""
        names = _MAJOR_NAMES if self.mode == "major" else _MINOR_NAMES
        return f"{names[self.tonic]} {self.mode}"

    @property
    def relative(self) -> Key:
        """The relative minor of a major key, or the relative major of a minor key (same key signature)."""
        if self.mode == "major":
            return Key((self.tonic + 9) % 12, "minor")
        return Key((self.tonic + 3) % 12, "major")

    def matches(self, other: Key, accept_relative: bool = True) -> bool:
        """True when the keys are equal, or relative major/minor of each other if ``accept_relative``."""
        return self == other or (accept_relative and self.relative == other)

    def __str__(self) -> str:
        return self.name


def parse_key(text: str, field: str = "key") -> Key:
    """Parse a key name: 'A minor', 'F# minor', 'Gb major', 'Bb', 'bbm', 'C#m', 'E♭ major', 'D dorian' is refused.

    A bare tonic means major; 'm'/'min'/'minor' (any case, after the accidental) means minor.

    Raises:
        InputError: naming ``field`` when the text is not a key name.
    """
    if not isinstance(text, str):
        raise InputError(field, f"must be a key name such as 'A minor' or 'Bb major', got {type(text).__name__}")
    match = _KEY_RE.match(text)
    mode_word = match.group(3).lower() if match else ""
    # 'M' alone conventionally means major ('CM'), 'm' minor ('Cm'): keep the case for that one letter.
    if match and match.group(3) == "M":
        mode_word = "maj"
    if not match or mode_word not in _MODE_WORDS:
        raise InputError(field, f"{text!r} is not a key; accepted: a tonic A-G with optional # or b, then "
                                "major or minor (e.g. 'A minor', 'F# minor', 'Bb major', 'C#m')")
    accidental = (match.group(2) or "").lower() if match.group(2) not in ("♯", "♭") else match.group(2)
    tonic = (_LETTER_PC[match.group(1).upper()] + _ACCIDENTAL[accidental]) % 12
    return Key(tonic, _MODE_WORDS[mode_word])  # type: ignore[arg-type]
