"""Tempo and key correction of generated audio (``inference.neural.correct``), on synthetic signals.

The correction measures with the project's own QC estimators, so these tests check its results with
independent ones written here: click times found in the samples (for tempo) and librosa's constant-Q chroma
against plain Krumhansl-Kessler profiles (for key), not ``inference.qc``.
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.signal

from inference.neural.correct import correct_tempo_key, semitones_to_key
from maestro_core.errors import InputError
from maestro_core.musical_key import Key, parse_key

SR = 11025  # QC analyses at this rate too; keeps Rubber Band and chroma cheap
# Krumhansl & Kessler (1982) probe-tone profiles, index 0 = tonic; written out here on purpose (independence).
KK_MAJOR = np.array([6.35, 2.23, 3.48, 2.33, 4.38, 4.09, 2.52, 5.19, 2.39, 3.66, 2.29, 2.88])
KK_MINOR = np.array([6.33, 2.68, 3.52, 5.38, 2.60, 3.53, 2.54, 4.75, 3.98, 2.69, 3.34, 3.17])


def click_track(bpm: float, seconds: float) -> np.ndarray:
    """Stereo 1 kHz clicks (30 ms, decaying) on every beat."""
    n = int(seconds * SR)
    x = np.zeros(n, dtype=np.float32)
    t = np.arange(int(0.03 * SR)) / SR
    click = (np.sin(2 * np.pi * 1000.0 * t) * np.exp(-t * 150.0)).astype(np.float32)
    for beat_s in np.arange(0.0, seconds, 60.0 / bpm):
        i = int(round(beat_s * SR))
        x[i:i + click.size] += click[: n - i]
    return np.stack([x, x])


def chord_progression(tonic: int, mode: str, seconds: int = 6) -> np.ndarray:
    """Stereo I-IV-V-I (or i-iv-v-i) triads, one per second, harmonic tones from the octave above MIDI 48."""
    third = 4 if mode == "major" else 3
    t = np.arange(SR) / SR
    chords = []
    for bar in range(seconds):
        root = 48 + tonic + (0, 5, 7, 0)[bar % 4]
        chord = np.zeros(SR)
        for note in (root, root + third, root + 7, root + 12):
            f = 440.0 * 2.0 ** ((note - 69) / 12.0)
            chord += sum(0.6**h * np.sin(2 * np.pi * f * (h + 1) * t) for h in range(4)) * np.exp(-1.5 * t)
        chords.append(chord)
    x = np.concatenate(chords)
    x = (0.5 * x / np.abs(x).max()).astype(np.float32)
    return np.stack([x, x])


def beat_period_s(audio: np.ndarray) -> float:
    """Seconds per beat from the clicks' sample positions: least-squares slope of click time against beat number.

    Clicks are peaks of a 5 ms RMS envelope; a click the threshold misses leaves a gap, so each click's beat
    number is its time over the median interval, rounded.
    """
    width = int(0.005 * SR)
    envelope = np.sqrt(np.convolve(audio.mean(axis=0) ** 2, np.ones(width) / width, mode="same"))
    peaks, _ = scipy.signal.find_peaks(envelope, height=0.3 * envelope.max(), distance=int(0.3 * SR))
    times = peaks / SR
    beats = np.round((times - times[0]) / np.median(np.diff(times)))
    slope, _ = np.polyfit(beats, times, 1)
    return float(slope)


def independent_key(audio: np.ndarray) -> Key:
    """librosa chroma_cqt averaged over the signal, best Pearson correlation with the 24 rotated KK profiles."""
    import librosa

    chroma = librosa.feature.chroma_cqt(y=audio.mean(axis=0), sr=SR).mean(axis=1)
    scores = [(np.corrcoef(chroma, np.roll(profile, tonic))[0, 1], tonic, mode)
              for mode, profile in (("major", KK_MAJOR), ("minor", KK_MINOR)) for tonic in range(12)]
    _, tonic, mode = max(scores)
    return Key(tonic, mode)


@pytest.mark.parametrize(("played", "requested"), [(117.0, 120.0), (126.0, 120.0)])
def test_click_track_is_stretched_to_the_requested_tempo_within_one_percent(played: float, requested: float) -> None:
    audio = click_track(played, 12.0)
    assert abs(60.0 / beat_period_s(audio) - played) < 0.2  # the independent reader reads the input right

    out, record = correct_tempo_key(audio, SR, requested, None)

    bpm = 60.0 / beat_period_s(out)
    assert abs(bpm - requested) <= 0.01 * requested, (bpm, record)
    assert record["tempo_action"] == "stretched"
    assert record["stretch_ratio"] == pytest.approx(requested / played, rel=0.01)
    assert abs(record["corrected_bpm"] - requested) <= 0.01 * requested
    assert out.shape[1] == pytest.approx(audio.shape[1] * played / requested, rel=0.01)


@pytest.mark.parametrize(("tonic", "mode", "requested"), [(7, "major", "A major"), (9, "minor", "G minor")])
def test_tonal_signal_is_shifted_to_the_requested_key(tonic: int, mode: str, requested: str) -> None:
    audio = chord_progression(tonic, mode)
    assert independent_key(audio) == Key(tonic, mode)  # the independent estimator agrees on the input

    out, record = correct_tempo_key(audio, SR, None, requested)

    assert record["key_action"] == "shifted" and record["key_confident"]
    assert abs(record["semitones"]) <= 2
    assert independent_key(out).matches(parse_key(requested), accept_relative=True)
    assert out.shape == audio.shape  # a pitch shift alone keeps the length


def test_relative_key_counts_as_a_match_and_is_not_shifted() -> None:
    audio = chord_progression(2, "minor")  # D minor; F major is its relative
    out, record = correct_tempo_key(audio, SR, None, "F major")
    assert record["key_action"] == "unchanged" and record["semitones"] == 0
    assert out is audio or np.array_equal(out, audio)


def test_a_key_more_than_two_semitones_away_is_left_alone() -> None:
    audio = chord_progression(0, "major")  # C major, F# major is 6 semitones away
    out, record = correct_tempo_key(audio, SR, None, "F# major")
    assert record["key_action"] == "out_of_range" and record["semitones"] == 0
    assert np.array_equal(out, audio)


def test_noise_gives_no_confident_estimate_so_pitch_and_tempo_stay() -> None:
    noise = np.random.default_rng(3).standard_normal(8 * SR).astype(np.float32) * 0.1
    audio = np.stack([noise, noise])
    _, probe = correct_tempo_key(audio, SR, None, None)
    near = Key((parse_key(probe["measured_key"]).tonic + 1) % 12, parse_key(probe["measured_key"]).mode)

    out, record = correct_tempo_key(audio, SR, 120.0, near.name)  # one semitone: would be shifted if confident

    assert not record["key_confident"] and record["key_action"] == "not_confident"
    assert record["tempo_action"] == "not_confident" and record["semitones"] == 0
    assert np.array_equal(out, audio)


def test_record_is_json_serialisable_and_names_what_was_done() -> None:
    import json

    _, record = correct_tempo_key(click_track(117.0, 8.0), SR, 120.0, None)
    assert json.loads(json.dumps(record)) == record
    for field in ("measured_bpm", "stretch_ratio", "measured_key", "key_confidence", "semitones", "corrected_bpm",
                  "backend", "input_frames", "output_frames"):
        assert field in record
    assert "Rubber Band" in record["backend"]


def test_semitones_to_key_takes_the_shortest_way_and_keeps_the_mode() -> None:
    assert semitones_to_key(Key(7, "major"), Key(9, "major")) == 2
    assert semitones_to_key(Key(0, "major"), Key(10, "major")) == -2
    assert semitones_to_key(Key(2, "minor"), Key(7, "major")) == 2  # D minor -> E minor, relative of G major
    assert semitones_to_key(Key(0, "major"), Key(6, "major")) in (-6, 6)


def test_bad_key_names_the_field() -> None:
    with pytest.raises(InputError) as err:
        correct_tempo_key(click_track(120.0, 5.0), SR, None, "H dorian")
    assert err.value.field == "key"


def test_mono_vector_is_refused() -> None:
    with pytest.raises(ValueError, match="channels, frames"):
        correct_tempo_key(np.zeros(SR, dtype=np.float32), SR, 120.0, None)
