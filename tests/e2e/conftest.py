"""End-to-end fixtures: real services on loopback, started as an operator would, stopped by PID.

``make e2e`` runs this folder (``make test`` does not recurse into it). Every wait is bounded, and every process a
test starts is stopped by its PID (its whole process group), never by ``ray stop`` or ``pkill``, which would hit
other users' processes on the same machine.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from maestro_pipeline.ray_head import stop_process_group

REPO_ROOT = Path(__file__).resolve().parents[2]
VENV_BIN = Path(sys.executable).parent
LOOPBACK = "127.0.0.1"


def free_port() -> int:
    """A TCP port free on loopback right now."""
    with socket.socket() as sock:
        sock.bind((LOOPBACK, 0))
        return int(sock.getsockname()[1])


def wait_for(check: Callable[[], bool], timeout_s: float, what: str, interval_s: float = 0.5) -> None:
    """Polls ``check`` until it is true; fails the test naming ``what`` after ``timeout_s`` seconds."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with contextlib.suppress(Exception):
            if check():
                return
        time.sleep(interval_s)
    pytest.fail(f"{what} not ready within {timeout_s:g} s")


def port_open(port: int, host: str = LOOPBACK) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, port)) == 0


@dataclass
class Service:
    """A process started for a test, in its own process group, logging to a file."""

    name: str
    process: subprocess.Popen[bytes]
    log_path: Path

    def log_tail(self, chars: int = 4000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except OSError:
            return ""

    def stop(self, timeout_s: float = 20.0) -> None:
        """SIGTERM the process group, then SIGKILL what is left after ``timeout_s``.

        The whole group, even when its leader has exited: ``ray start`` daemonises, leaving its GCS, raylet and
        monitor behind in the group it started.
        """
        stop_process_group(self.process.pid, timeout_s)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=5)


@dataclass
class Services:
    """Starts services and stops every one of them (last started first) when the fixture ends."""

    log_dir: Path
    started: list[Service] = field(default_factory=list)

    def start(self, name: str, argv: list[str], env: dict[str, str], cwd: Path | None = None) -> Service:
        log_path = self.log_dir / f"{name}.log"
        log = log_path.open("ab")
        process = subprocess.Popen(argv, env=env, cwd=cwd or REPO_ROOT, stdout=log, stderr=subprocess.STDOUT,
                                   stdin=subprocess.DEVNULL, start_new_session=True)
        log.close()
        service = Service(name, process, log_path)
        self.started.append(service)
        return service

    def stop_all(self) -> None:
        for service in reversed(self.started):
            service.stop()
        self.started.clear()


@pytest.fixture(scope="session")
def services(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Services]:
    """The session's service manager; every process it started is stopped by PID at the end."""
    manager = Services(tmp_path_factory.mktemp("service-logs"))
    try:
        yield manager
    finally:
        manager.stop_all()


def base_env(**extra: str) -> dict[str, str]:
    """The test process's environment without MAESTRO_* settings, with the venv first on PATH."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MAESTRO_")}
    env["PATH"] = f"{VENV_BIN}{os.pathsep}{env.get('PATH', '')}"
    env.update({"RAY_USAGE_STATS_ENABLED": "0", "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1",
                "PYTHONPATH": str(REPO_ROOT)})
    env.update(extra)
    return env


def maestro(args: list[str], env: dict[str, str], timeout_s: float = 300) -> subprocess.CompletedProcess[str]:
    """Runs the real ``maestro`` command (the venv's console script) with ``env``; bounded by ``timeout_s``."""
    return subprocess.run([str(VENV_BIN / "maestro"), *args], env=env, cwd=REPO_ROOT, capture_output=True,
                          text=True, timeout=timeout_s)


# Two prompts the rights gate allows on 2026-11-15 and one it rejects: keeps an end-to-end catalog quick.
SMALL_CATALOG = "UPDATE PROMPT_CATALOG SET ACTIVE = PROMPT_ID IN ('prm_0025', 'prm_0030', 'prm_0019')"
RUN_DATE = "2026-11-15"


def warehouse_sql(env: dict[str, str], *statements: str) -> list[list[dict]]:
    """Runs SQL through Maestro's own warehouse layer in a subprocess with ``env``; returns each result's rows."""
    import json

    code = ("import json, sys\nfrom maestro_core.config import load_settings\n"
            "from maestro_core.warehouse import connect\n"
            "out = []\nwith connect(load_settings()) as wh:\n"
            "    for q in json.loads(sys.argv[1]):\n"
            "        out.append(wh.query(q).to_pylist() if q.lstrip().upper().startswith('SELECT') else "
            "(wh.execute(q), [])[1])\n"
            "print(json.dumps(out, default=str))")
    done = subprocess.run([sys.executable, "-c", code, json.dumps(list(statements))], env=env, cwd=REPO_ROOT,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.fixture
def seeded_home(tmp_path: Path) -> dict[str, str]:
    """A fresh MAESTRO_HOME made the README's way (`maestro init`, `maestro seed`), on the small catalog."""
    env = base_env(MAESTRO_HOME=str(tmp_path / "home"))
    for command in (["init"], ["seed"]):
        done = maestro(command, env, timeout_s=180)
        assert done.returncode == 0, done.stderr[-3000:]
    warehouse_sql(env, SMALL_CATALOG)
    return env
