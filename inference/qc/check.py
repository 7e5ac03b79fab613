"""``check(measured, requested)``: the publishing gate. Pass, or fail with machine-readable reasons."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any

from inference.qc.measure import Measurement
from inference.qc.tempo import tempo_matches
from maestro_core.errors import InputError
from maestro_core.musical_key import parse_key

# Reason codes, stable strings the pipeline stores and filters on.
LOUDNESS = "loudness_out_of_range"
TRUE_PEAK = "true_peak_too_high"
CLIPPING = "clipping"
SILENCE = "too_much_silence"
TEMPO = "tempo_mismatch"
TEMPO_UNDETECTED = "tempo_undetected"
KEY = "key_mismatch"
KEY_UNDETECTED = "key_undetected"
DURATION = "duration_mismatch"


@dataclass(frozen=True)
class QCThresholds:
    """Pass limits of the gate. Defaults are the streaming norm and the issue's quality bar.

    Attributes:
        target_lufs: integrated loudness target, LUFS.
        lufs_tolerance: allowed deviation from the target, LU.
        max_true_peak_dbtp: highest allowed true peak, dBTP.
        max_clipped_ratio: highest allowed fraction of full-scale samples (0: a master at -1 dBTP never clips).
        max_silence_ratio: highest allowed fraction of silent 50 ms frames.
        tempo_tolerance: relative tempo error allowed, 0.04 = 4%.
        tempo_factors: octave readings accepted (the estimator may read double or half time).
        accept_relative_key: the relative major/minor (same key signature) also passes.
        duration_tolerance_s: allowed duration error beyond one bar, seconds (fades, reverb tails).
        beats_per_bar: bar length used for the duration check when the request gives no time signature.
        gate_on_tempo: a tempo mismatch fails the track; by default it is a warning.
        gate_on_key: a key mismatch fails the track; by default it is a warning.

    Tempo and key come from statistical estimators (beat tracking and key profiles) that are wrong on a few
    percent of correct tracks, so by default their mismatches are recorded as warnings and judged as rates over a
    catalog, while levels, clipping, silence and duration, which are measured exactly, gate every track.
    """

    target_lufs: float = -14.0
    lufs_tolerance: float = 0.5
    max_true_peak_dbtp: float = -1.0
    max_clipped_ratio: float = 0.0
    max_silence_ratio: float = 0.25
    tempo_tolerance: float = 0.04
    tempo_factors: tuple[float, ...] = (1.0, 2.0, 0.5)
    accept_relative_key: bool = True
    duration_tolerance_s: float = 0.5
    beats_per_bar: int = 4
    gate_on_tempo: bool = False
    gate_on_key: bool = False


@dataclass(frozen=True)
class QCRequest:
    """What the track was asked to be. Fields left None are not checked.

    Attributes:
        tempo_bpm: requested tempo, BPM.
        key: requested key name, e.g. 'A minor', 'F# minor', 'Bb major'.
        duration_s: requested duration, seconds.
        beats_per_bar: numerator of the time signature (3 for 3/4); None means ``thresholds.beats_per_bar``.
        thresholds: pass limits.
    """

    tempo_bpm: float | None = None
    key: str | None = None
    duration_s: float | None = None
    beats_per_bar: int | None = None
    thresholds: QCThresholds = field(default_factory=QCThresholds)

    @classmethod
    def from_mapping(cls, requested: Mapping[str, Any]) -> QCRequest:
        """Build from a plain dict; accepts ``time_signature`` like '3/4' and ``thresholds`` as a dict.

        Raises:
            InputError: an unknown field, or a malformed value, naming the field.
        """
        known = {f.name for f in fields(cls)} | {"time_signature"}
        unknown = sorted(set(requested) - known)
        if unknown:
            raise InputError(f"requested.{unknown[0]}", f"unknown field; accepted: {', '.join(sorted(known))}")
        values = {k: v for k, v in requested.items() if k != "time_signature"}
        if requested.get("time_signature") is not None and values.get("beats_per_bar") is None:
            values["beats_per_bar"] = _beats_per_bar(requested["time_signature"])
        thresholds = values.get("thresholds")
        if isinstance(thresholds, Mapping):
            try:
                values["thresholds"] = QCThresholds(**thresholds)
            except TypeError as exc:
                raise InputError("requested.thresholds", str(exc)) from exc
        return cls(**values)


@dataclass(frozen=True)
class QCResult:
    """Outcome of the gate.

    Attributes:
        passed: True when no check failed.
        reasons: one ``'code: human message'`` string per failed check, e.g.
            ``'loudness_out_of_range: integrated loudness -16.20 LUFS is outside -14 ± 0.5 LUFS'``.
        warnings: the same form, for checks that are recorded but do not fail the track (tempo and key unless
            the thresholds gate on them), e.g. ``'tempo_mismatch: estimated 97.0 BPM is not within 4% of 120 BPM'``.
    """

    passed: bool
    reasons: list[str]
    warnings: list[str] = field(default_factory=list)

    @property
    def codes(self) -> list[str]:
        """The machine-readable codes of ``reasons``, in order."""
        return [reason.split(":", 1)[0] for reason in self.reasons]

    @property
    def warning_codes(self) -> list[str]:
        """The machine-readable codes of ``warnings``, in order."""
        return [warning.split(":", 1)[0] for warning in self.warnings]

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dict for the pipeline's REASONS column."""
        return {"passed": self.passed, "codes": self.codes, "reasons": list(self.reasons),
                "warning_codes": self.warning_codes, "warnings": list(self.warnings)}


def check(measured: Measurement, requested: QCRequest | Mapping[str, Any]) -> QCResult:
    """Judge a measurement against the request and the thresholds.

    Always checked: loudness, true peak, clipping, silence. Tempo, key and duration are checked when requested;
    tempo and key mismatches are warnings unless ``thresholds.gate_on_tempo`` / ``gate_on_key`` are set.

    Args:
        measured: from ``measure``.
        requested: a QCRequest, or a dict with tempo_bpm, key, duration_s, time_signature, thresholds.

    Returns:
        QCResult; ``reasons`` is empty exactly when ``passed``.

    Raises:
        InputError: the request is malformed (e.g. ``key`` is not a key name), naming the field.
    """
    request = requested if isinstance(requested, QCRequest) else QCRequest.from_mapping(requested)
    limits = request.thresholds
    reasons = _level_reasons(measured, limits)
    warnings: list[str] = []
    if request.tempo_bpm is not None:
        (reasons if limits.gate_on_tempo else warnings).extend(_tempo_reasons(measured, float(request.tempo_bpm),
                                                                              limits))
    if request.key is not None:
        (reasons if limits.gate_on_key else warnings).extend(_key_reasons(measured, request.key, limits))
    if request.duration_s is not None:
        reasons += _duration_reasons(measured, request, limits)
    return QCResult(passed=not reasons, reasons=reasons, warnings=warnings)


def _level_reasons(m: Measurement, t: QCThresholds) -> list[str]:
    reasons = []
    if not (math.isfinite(m.loudness_lufs) and abs(m.loudness_lufs - t.target_lufs) <= t.lufs_tolerance):
        reasons.append(f"{LOUDNESS}: integrated loudness {m.loudness_lufs:.2f} LUFS is outside "
                       f"{t.target_lufs:g} ± {t.lufs_tolerance:g} LUFS")
    if m.true_peak_dbtp > t.max_true_peak_dbtp:
        reasons.append(f"{TRUE_PEAK}: true peak {m.true_peak_dbtp:.2f} dBTP exceeds {t.max_true_peak_dbtp:g} dBTP")
    if m.clipped_ratio > t.max_clipped_ratio:
        reasons.append(f"{CLIPPING}: {m.clipped_ratio:.4%} of samples are at full scale "
                       f"(allowed {t.max_clipped_ratio:.4%})")
    if m.silence_ratio > t.max_silence_ratio:
        reasons.append(f"{SILENCE}: {m.silence_ratio:.0%} of the track is below -60 dBFS "
                       f"(allowed {t.max_silence_ratio:.0%})")
    return reasons


def _tempo_reasons(m: Measurement, bpm: float, t: QCThresholds) -> list[str]:
    if m.tempo_bpm is None:
        return [f"{TEMPO_UNDETECTED}: no steady pulse found; requested {bpm:g} BPM"]
    if tempo_matches(m.tempo_bpm, bpm, t.tempo_tolerance, t.tempo_factors):
        return []
    octaves = ", ".join(f"x{f:g}" for f in t.tempo_factors if f != 1.0)
    return [f"{TEMPO}: estimated {m.tempo_bpm:.1f} BPM is not within {t.tempo_tolerance:.0%} of {bpm:g} BPM"
            + (f" (or {octaves})" if octaves else "")]


def _key_reasons(m: Measurement, key_name: str, t: QCThresholds) -> list[str]:
    wanted = parse_key(key_name, field="requested.key")
    if m.key is None:
        return [f"{KEY_UNDETECTED}: no pitched content found; requested {wanted.name}"]
    found = parse_key(m.key, field="measured.key")
    if found.matches(wanted, accept_relative=t.accept_relative_key):
        return []
    also = f" or its relative {wanted.relative.name}" if t.accept_relative_key else ""
    return [f"{KEY}: estimated {found.name} is not {wanted.name}{also}"]


def _duration_reasons(m: Measurement, request: QCRequest, t: QCThresholds) -> list[str]:
    beats = request.beats_per_bar or t.beats_per_bar
    bar_s = beats * 60.0 / float(request.tempo_bpm) if request.tempo_bpm else 0.0
    allowed = bar_s + t.duration_tolerance_s
    wanted = float(request.duration_s)  # type: ignore[arg-type]
    if abs(m.duration_s - wanted) <= allowed:
        return []
    return [f"{DURATION}: {m.duration_s:.2f} s is not within {allowed:.2f} s (one bar + "
            f"{t.duration_tolerance_s:g} s) of the requested {wanted:g} s"]


def _beats_per_bar(time_signature: object) -> int:
    text = str(time_signature)
    numerator, _, denominator = text.partition("/")
    if not (numerator.strip().isdigit() and denominator.strip().isdigit() and int(numerator) > 0):
        raise InputError("requested.time_signature", f"{text!r} is not a time signature like '4/4' or '3/4'")
    return int(numerator)
