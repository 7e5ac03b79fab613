"""Freed whole-track buffers stay in the heap: the next track reuses them instead of faulting in new pages."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from inference.heap import ENV, _glibc

ROOT = Path(__file__).resolve().parents[1]
# One track's worth of whole-track buffers (90 s stereo float32: 31.8 MB each) allocated, touched and freed, as the
# engine's stages do, 6 times; prints the minor page faults of the last 5 rounds (the first grows the heap).
PROBE = """
import json, resource
import numpy as np
from inference.heap import keep_freed_memory
on = keep_freed_memory()
def faults():
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt
def one_track():
    track = np.ones((90 * 44100, 2), dtype=np.float32)
    wet = track * 0.5
    mono = wet.mean(axis=1)
    del track
    planar = np.ascontiguousarray(wet.T)
    del wet, mono, planar
one_track()
before = faults()
for _ in range(5):
    one_track()
print(json.dumps({"on": on, "again": keep_freed_memory(), "faults": faults() - before}))
"""


def probe(**env: str) -> dict:
    out = subprocess.run([sys.executable, "-c", PROBE], cwd=ROOT, capture_output=True, text=True, check=True,
                         env={**os.environ, "PYTHONPATH": str(ROOT), **env})
    return json.loads(out.stdout)


@pytest.mark.skipif(not _glibc(), reason="malloc thresholds are glibc's")
def test_freed_buffers_are_reused_instead_of_faulted_in_afresh():
    kept = probe()
    assert kept["on"] is True and kept["again"] is True  # once per process, same answer
    default = probe(**{ENV: "0"})
    assert default["on"] is False
    # glibc's defaults hand the buffers back and fault them in again every round (one fault per 4 KiB page, or per
    # 2 MiB where transparent huge pages apply); kept, they are reused.
    assert default["faults"] > 5 * 3 * 31_752_000 // (2 << 20)
    assert kept["faults"] * 20 < default["faults"]


@pytest.mark.parametrize(("value", "default", "expected"), [
    (None, True, True), (None, False, False), ("", True, True), (" ON ", False, True), ("yes", False, True),
    ("1", False, True), ("Off", True, False), ("no", True, False), ("0", True, False), ("maybe", True, True),
    ("maybe", False, False)])
def test_an_engine_on_off_variable_reads_the_usual_words_and_keeps_its_default_otherwise(
        monkeypatch: pytest.MonkeyPatch, value: str | None, default: bool, expected: bool) -> None:
    from inference.engine import env_flag

    if value is None:
        monkeypatch.delenv("MAESTRO_TEST_FLAG", raising=False)
    else:
        monkeypatch.setenv("MAESTRO_TEST_FLAG", value)
    assert env_flag("MAESTRO_TEST_FLAG", default) is expected
