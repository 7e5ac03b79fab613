"""Where Ray's own output goes: never into a command's result, never into a task log as ERROR lines.

Ray's C++ core and its Python loggers write straight to file descriptors 1 and 2 ("worker died" notices, start-up
banners, Ray Data's INFO lines):

* on stdout they would break ``--json`` output piped into ``jq``: :func:`native_stdout_to_stderr`;
* under Airflow, whatever a task writes to stderr is logged as ERROR: :func:`native_stderr_to_file` sends it to a
  file under ``$MAESTRO_HOME/logs`` while the task's own log records still reach Airflow through its logging.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TextIO

log = logging.getLogger(__name__)


@contextlib.contextmanager
def native_stdout_to_stderr() -> Iterator[None]:
    """Points file descriptor 1 at stderr for the block, then restores it.

    Python's own writes inside the block go to stderr too (``sys.stdout`` writes to descriptor 1), so a command
    prints its result after the block.
    """
    try:
        err_fd = sys.stderr.fileno()
    except (AttributeError, OSError, ValueError):  # not a real file (a test's capture): nothing native to divert
        yield
        return
    with _redirected(sys.stdout, err_fd):
        yield


@contextlib.contextmanager
def native_stderr_to_file(path: str | Path) -> Iterator[None]:
    """Appends whatever is written to file descriptor 2 inside the block to ``path``, then restores it."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    out = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    log.info("Ray's own output goes to %s", target, extra={"path": str(target)})
    try:
        with _redirected(sys.stderr, out):
            yield
    finally:
        os.close(out)


@contextlib.contextmanager
def _redirected(stream: TextIO, to_fd: int) -> Iterator[None]:
    """Points the descriptor under ``stream`` (sys.stdout or sys.stderr) at ``to_fd`` for the block."""
    try:
        fd = stream.fileno()
    except (AttributeError, OSError, ValueError):  # not a real file (a test's capture): nothing native to divert
        yield
        return
    stream.flush()
    saved = os.dup(fd)
    try:
        os.dup2(to_fd, fd)
        yield
    finally:
        with contextlib.suppress(OSError, ValueError):
            stream.flush()
        os.dup2(saved, fd)
        os.close(saved)
