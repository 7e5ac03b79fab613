"""Quality checks: ``measure(audio_path)`` then ``check(measured, requested)``, the gate before publishing.

```python
from inference.qc import check, measure
result = check(measure("track.wav"), {"tempo_bpm": 72, "key": "A minor", "duration_s": 180})
if not result.passed:
    print(result.codes)  # e.g. ['loudness_out_of_range']
```
"""

from __future__ import annotations

from inference.qc.check import QCRequest, QCResult, QCThresholds, check
from inference.qc.key_estimate import estimate_key
from inference.qc.measure import MasteredLevels, Measurement, measure, read_audio_file, warm_up
from inference.qc.tempo import TempoEstimate, estimate_tempo, tempo_matches
from maestro_core.musical_key import Key, parse_key

__all__ = [
    "Key",
    "MasteredLevels",
    "Measurement",
    "QCRequest",
    "QCResult",
    "QCThresholds",
    "TempoEstimate",
    "check",
    "estimate_key",
    "estimate_tempo",
    "measure",
    "parse_key",
    "read_audio_file",
    "tempo_matches",
    "warm_up",
]
