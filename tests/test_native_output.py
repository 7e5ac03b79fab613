"""Native output is kept out of results and out of task logs: file-descriptor redirects, and the scratch sweep."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from maestro_pipeline.worker import sweep_scratch

CHILD = """
import os, sys
from maestro_pipeline.native_output import native_stderr_to_file, native_stdout_to_stderr
with native_stdout_to_stderr():
    os.write(1, b"native noise on fd 1\\n")
with native_stderr_to_file(sys.argv[1]):
    os.write(2, b"native noise on fd 2\\n")
print('{"result": true}')
os.write(2, b"after the block\\n")
"""


def test_native_writes_leave_stdout_to_the_result_and_stderr_to_a_file(tmp_path: Path):
    log_file = tmp_path / "logs" / "ray.log"
    done = subprocess.run([sys.executable, "-c", CHILD, str(log_file)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout == '{"result": true}\n'
    assert "native noise on fd 1" in done.stderr and "after the block" in done.stderr
    assert "native noise on fd 2" not in done.stderr
    assert log_file.read_text() == "native noise on fd 2\n"


def test_the_scratch_sweep_removes_only_stale_maestro_directories(tmp_path: Path):
    stale, fresh, other = tmp_path / "maestro-dead", tmp_path / "maestro-live", tmp_path / "keep-me"
    for path in (stale, fresh, other):
        path.mkdir()
        (path / "part.wav").write_bytes(b"x")
    hour_ago = time.time() - 7200
    os.utime(stale, (hour_ago, hour_ago))
    os.utime(other, (hour_ago, hour_ago))
    assert sweep_scratch(tmp_path, older_than_s=3600) == 1
    assert not stale.exists() and fresh.is_dir() and other.is_dir()
    assert sweep_scratch(tmp_path / "absent") == 0
