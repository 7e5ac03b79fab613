"""The engine's quality bar (issue 3): real tracks from ``maestro_ai.MusicGenerator``, judged by ``inference.qc``.

Across 24 requests spanning every genre preset and tempos from 60 to 170 BPM:
- every track passes the gate: loudness -14 +- 0.5 LUFS, true peak <= -1 dBTP, no clipping, little silence, and a
  duration within one bar of the request;
- the estimated tempo matches (x2 and x0.5 allowed, 4%) in >= 90% of tracks;
- the estimated key matches (or is the relative major/minor) in >= 80% of tracks;
- the same request twice gives the same sha256; two seeds give melodies that differ in at least half their notes.

Tempo and key are judged as rates, as the issue states them: estimators make mistakes on some correct tracks, so
holding every track to them would test the estimators, not the engine. Tracks are short (12-20 s) to stay fast.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pretty_midi
import pytest

from inference.qc import Measurement, check, measure, parse_key, tempo_matches

GENRES = ("lofi-chill", "ambient", "house", "techno", "hip-hop", "jazz", "cinematic", "pop", "rock", "synthwave",
          "folk", "classical-piano")
MOODS = ("ambient-focus", "melancholic", "uplifting", "energetic", "dark", "romantic", "dreamy", "tense")
KEYS = ("A minor", "Bb major", "F# minor", "Eb major", "C major", "G minor", "D major", "E minor", "Ab major",
        "C# minor", "F major", "B minor", "Gb major", "D minor", "G major", None)
PHRASES = (["rainy city lights", "quiet introspection", "velvet night"], ["bright sunny festival"],
           ["aggressive pounding rave", "neon"], ["lonely empty room"], ["joyful summer celebration"],
           ["distorted gritty noise", "midnight drive"])


@dataclass(frozen=True)
class Request:
    """One generation request of the bar; ``key`` None lets the engine choose (judged against what it reports)."""

    genre: str
    mood: str
    tempo_bpm: int
    key: str | None
    duration_s: int
    phrases: tuple[str, ...]
    melody_midi: str | None = None
    seed: int = 11

    def input_data(self) -> dict[str, Any]:
        data: dict[str, Any] = {"key_phrases": list(self.phrases), "tempo_bpm": self.tempo_bpm}
        if self.key is not None:
            data["key"] = self.key
        if self.melody_midi is not None:
            data["melody_midi"] = self.melody_midi
        return data


def _requests() -> list[Request]:
    """24 requests: each genre twice, tempos spread evenly over 60..170 BPM, keys spelt with sharps and flats."""
    n = 2 * len(GENRES)
    tempos = [round(60 + i * (170 - 60) / (n - 1)) for i in range(n)]
    out = [Request(genre=GENRES[i % len(GENRES)], mood=MOODS[i % len(MOODS)], tempo_bpm=tempos[i],
                   key=KEYS[i % len(KEYS)], duration_s=12 + (i * 5) % 9, phrases=tuple(PHRASES[i % len(PHRASES)]),
                   seed=100 + i)
           for i in range(n)]
    # The issue's own example: chords from a compact chord string, key inferred from them.
    out[2] = Request("lofi-chill", "ambient-focus", 72, None, 16,
                     ("rainy city lights", "quiet introspection", "velvet night"), "midi_string_example_Cmaj7_G6")
    out[5] = Request("jazz", "romantic", out[5].tempo_bpm, "D minor", 16, ("smoky bar",), "Dm7 G7 Cmaj7 A7")
    return out


REQUESTS = _requests()


@dataclass(frozen=True)
class Track:
    request: Request
    metadata: dict[str, Any]
    path: Path
    measured: Measurement

    @property
    def requested_key(self) -> str:
        return self.request.key or str(self.metadata["key"])

    def describe(self) -> str:
        m = self.measured
        return (f"{self.request.genre}/{self.request.mood} @{self.request.tempo_bpm} BPM, "
                f"{self.requested_key}: measured {m.tempo_bpm} BPM, {m.key}, {m.loudness_lufs} LUFS, "
                f"{m.true_peak_dbtp} dBTP, {m.duration_s} s, silence {m.silence_ratio}")


def _generate(request: Request, out_dir: Path, seed: int | None = None) -> tuple[dict[str, Any], Path]:
    import maestro_ai

    generator = maestro_ai.MusicGenerator(genre=request.genre, mood=request.mood, output_dir=out_dir)
    metadata, audio_path = generator.generate_track(request.input_data(), duration_seconds=request.duration_s,
                                                    seed=request.seed if seed is None else seed)
    return metadata, Path(audio_path)


@pytest.fixture(scope="module")
def tracks(tmp_path_factory: pytest.TempPathFactory) -> list[Track]:
    out_dir = tmp_path_factory.mktemp("bar")
    result = []
    for request in REQUESTS:
        metadata, path = _generate(request, out_dir)
        result.append(Track(request, metadata, path, measure(path)))
    return result


def test_requests_span_every_genre_and_tempos_from_60_to_170() -> None:
    assert len(REQUESTS) >= 24
    assert {r.genre for r in REQUESTS} == set(GENRES)
    assert min(r.tempo_bpm for r in REQUESTS) == 60 and max(r.tempo_bpm for r in REQUESTS) == 170


def test_every_track_passes_the_gate(tracks: list[Track]) -> None:
    failures = []
    for t in tracks:
        result = check(t.measured, {"duration_s": t.request.duration_s, "tempo_bpm": t.request.tempo_bpm,
                                    "time_signature": t.metadata.get("time_signature")})
        if not result.passed:  # tempo and key are warnings here, judged as rates below
            failures.append(f"{t.describe()}: {result.reasons}")
    assert not failures, "\n".join(failures)


def test_loudness_and_true_peak_hold_in_every_track(tracks: list[Track]) -> None:
    for t in tracks:
        assert abs(t.measured.loudness_lufs + 14.0) <= 0.5, t.describe()
        assert t.measured.true_peak_dbtp <= -1.0, t.describe()
        assert t.measured.clipped_ratio == 0.0, t.describe()
        # What the engine reports is what an independent meter reads.
        assert t.metadata["loudness_lufs"] == pytest.approx(t.measured.loudness_lufs, abs=0.1), t.describe()


def test_estimated_tempo_matches_in_at_least_90_percent(tracks: list[Track]) -> None:
    misses = [t.describe() for t in tracks
              if t.measured.tempo_bpm is None or not tempo_matches(t.measured.tempo_bpm, t.request.tempo_bpm)]
    assert len(misses) <= 0.1 * len(tracks), "tempo misses:\n" + "\n".join(misses)


def test_estimated_key_matches_or_is_relative_in_at_least_80_percent(tracks: list[Track]) -> None:
    for t in tracks:  # a requested key comes back in the metadata (spelling may differ)
        if t.request.key is not None:
            assert parse_key(str(t.metadata["key"])) == parse_key(t.request.key), t.describe()
    misses = [t.describe() for t in tracks
              if t.measured.key is None or not parse_key(t.measured.key).matches(parse_key(t.requested_key))]
    assert len(misses) <= 0.2 * len(tracks), "key misses:\n" + "\n".join(misses)


def test_same_request_twice_gives_identical_audio_and_midi(tracks: list[Track], tmp_path: Path) -> None:
    for t in (tracks[0], tracks[2], tracks[-1]):
        metadata, path = _generate(t.request, tmp_path / t.request.genre)
        assert _sha256(path) == _sha256(t.path) == metadata["sha256"] == t.metadata["sha256"]
        assert _sha256(Path(metadata["midi_path"])) == _sha256(Path(t.metadata["midi_path"]))


def test_two_seeds_give_different_melodies(tracks: list[Track], tmp_path: Path) -> None:
    for t in (tracks[1], tracks[2], tracks[6], tracks[11]):
        metadata, _path = _generate(t.request, tmp_path / t.request.genre, seed=t.request.seed + 1)
        first, second = _pitches(Path(t.metadata["midi_path"])), _pitches(Path(metadata["midi_path"]))
        length = max(len(first), len(second))
        differing = sum(1 for a, b in zip(first, second, strict=False) if a != b) + abs(len(first) - len(second))
        assert differing >= 0.5 * length, (t.describe(), differing, length)


def _pitches(midi_path: Path) -> list[int]:
    """Pitches of the melody part in time order (all pitched parts when no part is named as the melody)."""
    midi = pretty_midi.PrettyMIDI(str(midi_path))
    pitched = [i for i in midi.instruments if not i.is_drum]
    melody = [i for i in pitched if any(w in i.name.lower() for w in ("melody", "lead"))] or pitched
    notes = sorted((n for i in melody for n in i.notes), key=lambda n: (n.start, n.pitch))
    return [n.pitch for n in notes]


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()
