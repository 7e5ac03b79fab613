"""One local Ray per test session (ray.init costs ~4 s): ``ray_cluster`` starts it on first use."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def ray_cluster():
    """A local Ray with 2 CPUs and no dashboard, shared by every test that needs one; shut down at session end.

    The repo root goes on the workers' PYTHONPATH so that test-defined actor classes unpickle in workers.
    """
    import ray

    paths = [str(REPO_ROOT), *filter(None, os.environ.get("PYTHONPATH", "").split(os.pathsep))]
    os.environ["PYTHONPATH"] = os.pathsep.join(dict.fromkeys(paths))
    started = False
    if not ray.is_initialized():
        ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False,
                 runtime_env={"env_vars": {"PYTHONPATH": os.environ["PYTHONPATH"], "HF_HUB_OFFLINE": "1"}})
        started = True
    yield ray
    if started:
        ray.shutdown()
