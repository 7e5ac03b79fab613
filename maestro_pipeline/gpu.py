"""GPU engines in the pipeline: which engines need a GPU, how many GPUs there are, and dense batches for them.

A batched engine (one with ``generate_batch``: MusicGen, Stable Audio) serves a whole Ray batch in one model call,
padding every item to the batch's longest request. So its requests are grouped by engine and duration before
they are cut into batches (:func:`dense_batches`): a 30 s request never rides in a 180 s slot. The batch size is
the engine's GPU batch (``MAESTRO_GPU_BATCH_SIZE``, or the DAG param) unless the run gives one.

An engine with ``requires_gpu`` on a cluster without GPUs is a configuration error naming
``MAESTRO_ALLOW_CPU_FALLBACK`` unless that setting allows fp32 on CPU: the driver checks this machine in preflight
(a local Ray runs here) and the cluster's resources when it joins, before any actor starts.

Engines are asked through their class attributes (``generate_batch``, ``requires_gpu``), never built here.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Mapping
from typing import Any

import pyarrow as pa

from maestro_core.errors import ConfigError

CPU_FALLBACK_SETTING = "MAESTRO_ALLOW_CPU_FALLBACK"
DEFAULT_GPU_BATCH = 8


def is_batched(engine: str) -> bool:
    """Whether engine ``engine`` generates a batch of requests in one call (it has ``generate_batch``)."""
    from inference.engine import engine_class

    return callable(getattr(engine_class(engine), "generate_batch", None))


def requires_gpu(engine: str) -> bool:
    """Whether engine ``engine`` is a GPU engine (class attribute ``requires_gpu``; the composer is not)."""
    from inference.engine import engine_class

    return getattr(engine_class(engine), "requires_gpu", False) is True


def local_gpu_count() -> int:
    """GPUs this machine offers a local Ray: ``nvidia-smi -L``'s devices, limited by ``CUDA_VISIBLE_DEVICES``.

    Ray detects GPUs the same way when it starts; asking ``nvidia-smi`` keeps torch and Ray out of preflight.
    ``CUDA_VISIBLE_DEVICES`` set to ``''`` or ``-1`` hides them all.
    """
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    limit = None
    if visible is not None:
        ids = [d.strip() for d in visible.split(",") if d.strip()]
        limit = len(ids) if "-1" not in ids else ids.index("-1")  # CUDA stops enumerating at an invalid id
        if limit == 0:
            return 0
    smi = shutil.which("nvidia-smi")
    if smi is None:
        return 0
    try:
        out = subprocess.run([smi, "-L"], capture_output=True, text=True, timeout=15, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return 0
    found = sum(1 for line in out.stdout.splitlines() if line.startswith("GPU ")) if out.returncode == 0 else 0
    return found if limit is None else min(found, limit)


def accelerator_problem(engine: str, gpus: float, allow_cpu: bool) -> ConfigError | None:
    """The error for GPU engine ``engine`` on a cluster with ``gpus`` GPUs, or None when it may run.

    None for engines that need no GPU, when a GPU is there, or when CPU fallback is allowed.
    """
    if allow_cpu or gpus >= 1 or not requires_gpu(engine):
        return None
    return ConfigError(CPU_FALLBACK_SETTING, f"engine {engine!r} needs a GPU and the Ray cluster has none",
                       "a cluster with GPUs (MAESTRO_RAY_ADDRESS), or true to run it in fp32 on CPU (slow)")


def require_accelerator(cluster: Mapping[str, float], engine: str, engine_options: Mapping[str, Any]) -> None:
    """Raises the :func:`accelerator_problem` of a joined cluster (its ``ray.cluster_resources()``), if any.

    Raises:
        ConfigError: naming MAESTRO_ALLOW_CPU_FALLBACK.
    """
    problem = accelerator_problem(engine, float(cluster.get("GPU", 0)), bool(engine_options.get("allow_cpu")))
    if problem is not None:
        raise problem


def engine_batches(requests: pa.Table, engine: str, engine_options: Mapping[str, Any],
                   batch_size: int | None) -> tuple[list[pa.Table], int] | None:
    """Dense batches for a batched engine, with their size; None for engines that take requests one by one.

    Args:
        requests: the requests to generate (WORK_TABLE or REQUEST_TABLE columns).
        engine: the engine name.
        engine_options: its constructor options (``batch_size`` is its GPU batch).
        batch_size: the run's batch size; None takes the engine's GPU batch.
    """
    if not is_batched(engine):
        return None
    size = batch_size or int(engine_options.get("batch_size") or DEFAULT_GPU_BATCH)
    return dense_batches(requests, size), size


def dense_batches(requests: pa.Table, batch_size: int) -> list[pa.Table]:
    """``requests`` cut into batches of at most ``batch_size`` that never mix engines or durations.

    Groups are (ENGINE when the table has that column, DURATION_S), the longest first, each cut in REQUEST_ID
    order; only a group's last batch may be short. A function of the rows alone: the same requests give the same
    batches (the engine pads a batch to its longest item, so one duration per batch wastes no GPU time).

    Invariants: every request is in exactly one batch; ``1 <= len(batch) <= batch_size``; within a batch one
    engine and one duration.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    rows = requests.to_pylist()
    groups: dict[tuple[str, float], list[int]] = {}
    for i, row in enumerate(rows):
        groups.setdefault((str(row.get("ENGINE") or ""), float(row.get("DURATION_S") or 0)), []).append(i)
    batches = []
    for key in sorted(groups, key=lambda k: (-k[1], k[0])):
        members = sorted(groups[key], key=lambda i: str(rows[i].get("REQUEST_ID") or ""))
        for start in range(0, len(members), batch_size):
            batches.append(requests.take(pa.array(members[start:start + batch_size], pa.int64())))
    return batches
