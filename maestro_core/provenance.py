"""Provenance of a delivered track: what it was made from, by what, where, and under which licenses.

The record is canonical JSON (sorted keys, no spaces, UTF-8); its sha256 is the *provenance hash*, carried in the
track's C2PA manifest and in TRACK_PROVENANCE.PROVENANCE_SHA256. The JSON sidecar next to the audio holds exactly
those canonical bytes, so ``sha256(sidecar) == provenance hash``.

The audio hash (:func:`audio_sha256`) is a hash of the decoded PCM samples, not of the file's bytes: signing
embeds a C2PA manifest in the file, which changes its bytes (and no file can hold a hash of its own bytes). The
PCM hash is the same before and after signing, changes when any sample changes, and is what TRACKS.SHA256 and
TRACK_PROVENANCE.AUDIO_SHA256 hold. The file bytes themselves are bound by C2PA's own hard binding
(``c2pa.hash.data``, which covers the whole file except the manifest), checked when the manifest is validated.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import json
import os
import platform
import socket
import subprocess
import sys
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from maestro_core.atomic import write_bytes_atomic
from maestro_core.errors import InputError

PCM_HASH_VERSION = "maestro-pcm-v1"
SIDECAR_SUFFIX = ".provenance.json"
# Integer PCM is hashed at the width it is stored in, float PCM as stored, so the hash is exact (no rounding).
_PCM_DTYPE = {"PCM_S8": "int16", "PCM_U8": "int16", "PCM_16": "int16", "PCM_24": "int32", "PCM_32": "int32",
              "FLOAT": "float32", "DOUBLE": "float64"}


@dataclass(frozen=True)
class AudioFacts:
    """The delivered audio: PCM hash, container format, and shape. Durations in ms, rates in Hz."""

    sha256: str
    format: str
    subtype: str
    sample_rate: int
    channels: int
    frames: int

    @property
    def duration_ms(self) -> int:
        return round(self.frames * 1000 / self.sample_rate) if self.sample_rate else 0


@dataclass(frozen=True)
class AssetUse:
    """An asset a track was made from (embedding model, SoundFont, synthesis, melody seed, ...), the LICENSES row
    relied on and the licence it is used under as an SPDX id (ASSETS.SPDX_LICENSE; "" for records made before)."""

    asset_id: str
    kind: str
    sha256: str
    license_id: str | None = None
    uri: str = ""
    spdx_license: str = ""


@dataclass(frozen=True)
class RunIdentity:
    """Which run made the track: GENERATION_RUNS.RUN_ID, Airflow's dag/run/try, and Ray's job/worker/node."""

    run_id: str | None = None
    airflow_dag_id: str | None = None
    airflow_run_id: str | None = None
    airflow_try_number: int | None = None
    ray_job_id: str | None = None
    ray_worker_id: str | None = None
    ray_node_id: str | None = None

    @classmethod
    def current(cls, run_id: str | None = None, context: Mapping[str, Any] | None = None,
                env: Mapping[str, str] | None = None) -> RunIdentity:
        """Reads the identity from an Airflow task context (``dag_id``, ``run_id``, ``try_number`` or ``ti``),
        else Airflow's ``AIRFLOW_CTX_*`` environment, and from Ray's runtime context when Ray is running here."""
        env = os.environ if env is None else env
        ctx = dict(context or {})
        ti = ctx.get("ti") or ctx.get("task_instance")
        dag_id = ctx.get("dag_id") or getattr(ti, "dag_id", None) or env.get("AIRFLOW_CTX_DAG_ID")
        af_run = ctx.get("run_id") or getattr(ti, "run_id", None) or env.get("AIRFLOW_CTX_DAG_RUN_ID")
        tries = ctx.get("try_number") or getattr(ti, "try_number", None) or env.get("AIRFLOW_CTX_TRY_NUMBER")
        ray_ids = _ray_ids()
        return cls(run_id=run_id, airflow_dag_id=dag_id, airflow_run_id=af_run,
                   airflow_try_number=int(tries) if tries not in (None, "") else None, **ray_ids)


@dataclass(frozen=True)
class Environment:
    """Code version and machine: package version (+ git commit), host, platform, Python, accelerator."""

    package_version: str
    git_commit: str | None
    host: str
    platform: str
    python: str
    accelerator: str

    @property
    def code_version(self) -> str:
        return f"{self.package_version}+g{self.git_commit}" if self.git_commit else self.package_version

    @classmethod
    def detect(cls, accelerator: str | None = None) -> Environment:
        """This process's environment. ``accelerator`` overrides detection (e.g. the GPU a worker was given)."""
        return cls(package_version=package_version(), git_commit=git_commit(), host=socket.gethostname(),
                   platform=platform.platform(), python=platform.python_version(),
                   accelerator=accelerator or _accelerator())


@dataclass(frozen=True)
class ProvenanceRecord:
    """Everything TRACK_PROVENANCE and the sidecar say about one track. Timestamps are UTC."""

    track_id: str
    request_id: str | None
    isrc: str | None
    audio: AudioFacts
    engine: str
    engine_version: str
    assets: tuple[AssetUse, ...]
    params: Mapping[str, Any]
    seed: int
    license_ids: tuple[str, ...]
    run: RunIdentity
    environment: Environment
    created_at: dt.datetime
    extra: Mapping[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema": "maestro.provenance/1",
            "track_id": self.track_id,
            "request_id": self.request_id,
            "isrc": self.isrc,
            "audio": {**asdict(self.audio), "duration_ms": self.audio.duration_ms},
            "engine": {"name": self.engine, "version": self.engine_version},
            "assets": [asdict(a) for a in self.assets],
            "params": self.params,
            "seed": self.seed,
            "license_ids": list(self.license_ids),
            "run": asdict(self.run),
            "code_version": self.environment.code_version,
            "environment": asdict(self.environment),
            "created_at": _utc(self.created_at).isoformat().replace("+00:00", "Z"),
            "extra": self.extra,
        }

    def canonical_json(self) -> bytes:
        """The canonical bytes the provenance hash is taken over."""
        return canonical_json(self.to_dict())

    @property
    def sha256(self) -> str:
        """The provenance hash (hex)."""
        return hashlib.sha256(self.canonical_json()).hexdigest()

    def track_provenance_row(self, manifest_signed: bool) -> dict[str, Any]:
        """The TRACK_PROVENANCE row (UPPER-case columns; VARIANT columns as JSON text; CREATED_AT naive UTC)."""
        return {
            "TRACK_ID": self.track_id,
            "ENGINE": self.engine,
            "ENGINE_VERSION": self.engine_version,
            "MODEL_IDS": json.dumps([a.asset_id for a in self.assets if a.kind in ("model", "soundfont")]),
            "PARAMS": canonical_json(self.params).decode(),
            "SEED": self.seed,
            "INPUTS": canonical_json([asdict(a) for a in self.assets]).decode(),
            "LICENSE_IDS": json.dumps(list(self.license_ids)),
            "RUN_ID": self.run.run_id,
            "CODE_VERSION": self.environment.code_version,
            "CREATED_AT": _utc(self.created_at).replace(tzinfo=None),
            "AUDIO_SHA256": self.audio.sha256,
            "AUDIO_FORMAT": self.audio.format,
            "DURATION_MS": self.audio.duration_ms,
            "PROVENANCE": self.canonical_json().decode(),
            "PROVENANCE_SHA256": self.sha256,
            "MANIFEST_SIGNED": manifest_signed,
        }


def build_provenance(*, track_id: str, audio_path: str | Path | bytes, engine: str, engine_version: str,
                     assets: Iterable[AssetUse], params: Mapping[str, Any], seed: int,
                     license_ids: Iterable[str], request_id: str | None = None, isrc: str | None = None,
                     run: RunIdentity | None = None, environment: Environment | None = None,
                     created_at: dt.datetime | None = None, extra: Mapping[str, Any] | None = None) -> ProvenanceRecord:
    """Builds the provenance record of a rendered (not yet signed, or signed: the PCM hash is the same) track.

    Args:
        track_id: TRACKS.TRACK_ID.
        audio_path: the delivered audio file (WAV or FLAC), or its bytes.
        engine: engine name, e.g. ``composer``.
        engine_version: engine version string.
        assets: every model/asset used, with sha256 and license id.
        params: the full generation parameters (JSON-able: str, numbers, bools, lists, dicts, dates, Decimal).
        seed: the generation seed (63-bit).
        license_ids: licenses relied on (the gate's ``relied_on``).
        request_id: GENERATION_REQUESTS.REQUEST_ID.
        isrc: the track's ISRC (12 characters).
        run: run identity; default :meth:`RunIdentity.current`.
        environment: code version and machine; default :meth:`Environment.detect`.
        created_at: creation time (UTC); default now. Pass a fixed value for byte-identical records on rerun.
        extra: further JSON-able facts (e.g. descriptors, QC figures).

    Raises:
        InputError: naming the field that is missing or not JSON-able, or an unreadable audio file.
    """
    for name, value in (("track_id", track_id), ("engine", engine), ("engine_version", engine_version)):
        if not isinstance(value, str) or not value:
            raise InputError(name, "must be a non-empty string")
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < 2**63:
        raise InputError("seed", f"{seed!r} is not a 63-bit non-negative integer")
    assets = tuple(sorted(assets, key=lambda a: (a.kind, a.asset_id)))
    for asset in assets:
        if not asset.sha256:
            raise InputError("assets", f"asset {asset.asset_id!r} has no sha256")
    return ProvenanceRecord(
        track_id=track_id, request_id=request_id, isrc=isrc, audio=describe_audio(audio_path), engine=engine,
        engine_version=engine_version, assets=assets, params=_jsonable(params, "params"), seed=seed,
        license_ids=tuple(sorted(set(license_ids))), run=run or RunIdentity.current(),
        environment=environment or Environment.detect(),
        created_at=_utc(created_at or dt.datetime.now(dt.UTC)), extra=_jsonable(extra or {}, "extra"))


def canonical_json(value: Any) -> bytes:
    """Sorted keys, no whitespace, UTF-8, no NaN: equal content gives equal bytes."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      allow_nan=False).encode("utf-8")


def provenance_sha256(record_json: str | bytes | Mapping[str, Any]) -> str:
    """The provenance hash of a record given as JSON text (as stored) or as a dict."""
    value = json.loads(record_json) if isinstance(record_json, str | bytes) else record_json
    return hashlib.sha256(canonical_json(value)).hexdigest()


def audio_sha256(path: str | Path) -> str:
    """sha256 of the decoded PCM samples, independent of container metadata (and so of the C2PA manifest).

    Hashed: the header ``maestro-pcm-v1|<rate Hz>|<channels>|<dtype>\\n``, then the interleaved frames in their
    stored width (int16 for 8/16-bit, int32 for 24/32-bit, float32/float64 for float), little-endian.
    """
    return describe_audio(path).sha256


def describe_audio(path: str | Path | bytes) -> AudioFacts:
    """Reads the audio once: PCM hash, format, subtype, rate (Hz), channels and frame count.

    ``path`` is an audio file, or the file's bytes when the caller already holds them (a worker does).
    """
    import io

    import numpy as np
    import soundfile as sf

    name = "<in-memory audio>" if isinstance(path, bytes) else Path(path)
    try:
        with sf.SoundFile(io.BytesIO(path) if isinstance(path, bytes) else str(path)) as opened:
            fmt, subtype, rate, channels = opened.format, opened.subtype, opened.samplerate, opened.channels
            dtype = _PCM_DTYPE.get(subtype, "float32")
            digest = hashlib.sha256(f"{PCM_HASH_VERSION}|{rate}|{channels}|{dtype}\n".encode())
            frames = 0
            little_endian = np.dtype(dtype).newbyteorder("<")
            for block in opened.blocks(blocksize=1 << 18, dtype=dtype, always_2d=True):
                digest.update(np.ascontiguousarray(block, dtype=little_endian).data)  # hashed in place, not copied
                frames += len(block)
    except (OSError, RuntimeError, sf.LibsndfileError) as exc:
        raise InputError("audio_path", f"cannot read audio {name}: {exc}") from None
    return AudioFacts(digest.hexdigest(), fmt, subtype, rate, channels, frames)


def sidecar_path(audio_path: str | Path) -> Path:
    """Where the sidecar of an audio file lives: ``track.wav`` -> ``track.wav.provenance.json``."""
    audio_path = Path(audio_path)
    return audio_path.with_name(audio_path.name + SIDECAR_SUFFIX)


def write_sidecar(record: ProvenanceRecord, audio_path: str | Path) -> Path:
    """Writes the canonical record next to the audio, atomically (temp file, fsync, rename)."""
    return write_bytes_atomic(sidecar_path(audio_path), record.canonical_json())


@functools.cache
def package_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("maestro-ai")
    except PackageNotFoundError:
        return "0+unknown"


@functools.cache
def git_commit() -> str | None:
    """``MAESTRO_GIT_COMMIT``, else the checkout's HEAD (12 hex digits), else None (e.g. an installed wheel)."""
    if os.environ.get("MAESTRO_GIT_COMMIT"):
        return os.environ["MAESTRO_GIT_COMMIT"][:12]
    try:
        out = subprocess.run(["git", "rev-parse", "--short=12", "HEAD"], cwd=Path(__file__).resolve().parent,
                             capture_output=True, text=True, timeout=5, check=True)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None


def _accelerator() -> str:
    torch = sys.modules.get("torch")  # only asked when torch is already loaded: never import it for this
    try:
        if torch is not None and torch.cuda.is_available():
            return f"cuda:{torch.cuda.get_device_name(0)}"
    except Exception:  # a broken CUDA setup is not a reason to lose the track
        return "unknown"
    return "cpu"


def _ray_ids() -> dict[str, str | None]:
    ray = sys.modules.get("ray")  # domain code never imports ray; it reads the context when ray is running
    empty: dict[str, str | None] = {"ray_job_id": None, "ray_worker_id": None, "ray_node_id": None}
    try:
        if ray is None or not ray.is_initialized():
            return empty
        ctx = ray.get_runtime_context()
        return {"ray_job_id": ctx.get_job_id(), "ray_worker_id": ctx.get_worker_id(), "ray_node_id": ctx.get_node_id()}
    except Exception:
        return empty


def _utc(value: dt.datetime) -> dt.datetime:
    if not isinstance(value, dt.datetime):
        raise InputError("created_at", f"must be a datetime, got {type(value).__name__}")
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


def _jsonable(value: Any, field_name: str) -> Any:
    """A JSON-safe copy: Decimal -> str, dates -> ISO, Path -> str, numpy scalars -> Python, tuples -> lists."""
    if value is None or isinstance(value, str | bool | int):
        return value
    if isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            raise InputError(field_name, "NaN or infinity is not allowed")
        return value
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, dt.date | dt.datetime):
        return value.isoformat()
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v, f"{field_name}.{k}") for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        items = sorted(value, key=str) if isinstance(value, set | frozenset) else value
        return [_jsonable(v, field_name) for v in items]
    if hasattr(value, "item") and callable(value.item):  # numpy scalar
        return _jsonable(value.item(), field_name)
    raise InputError(field_name, f"{type(value).__name__} is not JSON-able")
