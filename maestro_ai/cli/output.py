"""Keeping stdout for results: while a command works, whatever native code prints goes to stderr instead.

Ray's C++ core and its workers, and the JVM under Spark, write straight to file descriptor 1 ("worker died"
notices, start-up banners), which would break ``--json`` output that a script pipes into ``jq``. Python's own
``sys.stdout`` is kept, so the command's result still goes to stdout once the work is done.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator


@contextlib.contextmanager
def native_stdout_to_stderr() -> Iterator[None]:
    """Points file descriptor 1 at stderr for the block, then restores it.

    Python's own writes inside the block go to stderr too (``sys.stdout`` writes to descriptor 1), so a command
    prints its result after the block.
    """
    try:
        out_fd = sys.stdout.fileno()
        err_fd = sys.stderr.fileno()
    except (AttributeError, OSError, ValueError):  # not real files (a test's capture): nothing native to divert
        yield
        return
    sys.stdout.flush()
    saved = os.dup(out_fd)
    try:
        os.dup2(err_fd, out_fd)
        yield
    finally:
        with contextlib.suppress(OSError, ValueError):
            sys.stdout.flush()
        os.dup2(saved, out_fd)
        os.close(saved)
