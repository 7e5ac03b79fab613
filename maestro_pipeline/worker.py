"""The work one generator worker does per request: generate -> QC -> provenance + sign -> store -> result row.

A worker never writes the warehouse: it renders into a local scratch directory, stores the delivered files
through :mod:`maestro_core.storage`, and returns one row (RESULT_TABLE) that the pipeline loads in one MERGE.

Stored per track, under deterministic object paths (``{genre}/{track_id}.*``): the signed audio (``.wav``), the
arrangement (``.mid``), the provenance sidecar (``.wav.provenance.json``) and, written last, the delivery
manifest (``.manifest.json``: the result row). The manifest is the commit marker: when a retried or re-run request
finds it, and the stored audio still has the sha256 it records, the row is returned from storage instead of
rendering and signing again. That is what makes actor restarts and reruns write nothing twice (a C2PA signature is
not byte-reproducible, so re-signing would otherwise replace the audio with different bytes).

Every exception is turned into a ``failed`` row naming the error class and message: one bad request never sinks
a batch.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from maestro_core import schema
from maestro_core.errors import InputError
from maestro_core.request_status import FAILED, GENERATED
from maestro_core.storage import TrackStore, track_path
from maestro_pipeline.tables import RESULT_TABLE, dump_row, empty_row, load_assets

log = logging.getLogger(__name__)

MANIFEST_EXT = "manifest.json"

@dataclass(frozen=True)
class WorkerSpec:
    """Everything a worker process needs, passed explicitly (workers may run on other machines).

    Attributes:
        storage_url: where delivered files go (``file://``, ``s3://``, ``memory://``).
        settings: ``load_settings`` overrides for the worker (e.g. ``home`` for signing keys); no secrets.
        scratch_dir: local directory for rendering (default: the system temp dir).
        engine: engine name ('composer').
        sample_rate: Hz.
        sign: embed a signed C2PA manifest (True in production; the bench can compare).
        qc: run the quality gate.
        preload_text_model: load the sentence-embedding model at start-up (seconds: torch is imported). Off by
            default: planned requests carry DESCRIPTORS, so a worker only renders; a request without them still
            works (the model then loads on first use).
        threads: threads each numeric library (BLAS, OpenMP) may use in this worker. One by default: a worker
            renders one request at a time and parallelism comes from the actor pool, so more threads per worker
            only oversubscribe the cores that the other workers use.
        engine_options: the engine's constructor options (e.g. ``soundfont_path``), as the driver's preflight
            checked them.
    """

    storage_url: str
    settings: dict[str, Any] = field(default_factory=dict)
    scratch_dir: str | None = None
    engine: str = "composer"
    sample_rate: int = 44100
    sign: bool = True
    qc: bool = True
    preload_text_model: bool = False
    threads: int = 1
    engine_options: dict[str, Any] = field(default_factory=dict)


class RequestWorker:
    """Processes requests one at a time; the engine and signer are loaded once, in ``__init__``."""

    def __init__(self, spec: WorkerSpec) -> None:
        from threadpoolctl import threadpool_limits

        from maestro_core.config import load_settings

        self.spec = spec
        self._thread_limits = threadpool_limits(limits=spec.threads)  # held for the worker's life
        self.settings = load_settings(**spec.settings)
        self.store = TrackStore(spec.storage_url)
        self.name = f"{socket.gethostname()}:{os.getpid()}"
        from inference.engine import get_engine

        # Heavy parts (SoundFont) load once, here. Text understanding happened in planning (DESCRIPTORS), so the
        # text model is not loaded unless asked for.
        self.engine = get_engine(spec.engine, preload_model=spec.preload_text_model, **spec.engine_options)
        if spec.qc:
            from inference.qc import warm_up

            warm_up(spec.sample_rate)  # imports, librosa's first-call compilation, filter banks: once per process
        schema.table("TRACKS")  # the schema's DDL is parsed once per process: here, not in the first request
        self.key_config = None
        self.development_keys = False
        if spec.sign:
            from maestro_core.signing_keys import KeyConfig

            self.key_config = KeyConfig.from_settings(self.settings)
            self.development_keys = self.key_config.is_development()

    def process(self, request: dict[str, Any]) -> dict[str, Any]:
        """One request in, one result row out (RESULT_TABLE); never raises."""
        try:
            req = _validated(request)
            resumed = self._resume(req)
            if resumed is not None:
                return resumed
            return self._make(req)
        except Exception as exc:  # one bad request never sinks the batch: it becomes a failed row
            return self._failed(request, exc)

    def process_batch(self, requests: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
        """A batch of requests in, one result row per request out, in order; never raises.

        An engine with ``generate_batch`` (the GPU engines) generates the batch's new requests in one call, one
        seed per item; each result is then QC'd, signed and stored on its own as :meth:`process` does, so one bad
        item fails only its own row. Other engines (the composer) take the requests one at a time.
        """
        generate_batch = getattr(self.engine, "generate_batch", None)
        if not callable(generate_batch):
            return [self.process(request) for request in requests]
        rows: list[dict[str, Any] | None] = [None] * len(requests)
        todo: list[tuple[int, dict[str, Any], Any]] = []
        for i, request in enumerate(requests):
            try:
                req = _validated(request)
                rows[i] = self._resume(req)
                if rows[i] is None:
                    todo.append((i, req, self._request(req)))
            except Exception as exc:
                rows[i] = self._failed(request, exc)
        if todo:
            self._make_batch(todo, generate_batch, rows)
        return [row if row is not None else self.failure(req, RuntimeError("no result"))
                for row, req in zip(rows, requests, strict=True)]

    # -- steps ---------------------------------------------------------------------------------------------------
    def _make(self, req: dict[str, Any]) -> dict[str, Any]:
        from inference.encode import scratch_writes

        with tempfile.TemporaryDirectory(prefix=SCRATCH_PREFIX, dir=self._scratch()) as tmp:
            t0 = time.perf_counter()
            with scratch_writes():  # the scratch copies are not what is delivered: no fsync for them
                rendered = self.engine.generate(self._request(req), Path(tmp))
            return self._deliver(req, rendered, time.perf_counter() - t0)

    def _make_batch(self, todo: list[tuple[int, dict[str, Any], Any]], generate_batch: Any,
                    rows: list[dict[str, Any] | None]) -> None:
        """Generates ``todo`` (index, request row, GenerationRequest) in one engine call, then delivers each."""
        from inference.encode import scratch_writes

        with tempfile.TemporaryDirectory(prefix=SCRATCH_PREFIX, dir=self._scratch()) as tmp:
            t0 = time.perf_counter()
            try:
                with scratch_writes():
                    outcomes = list(generate_batch([request for _, _, request in todo], Path(tmp)))
                if len(outcomes) != len(todo):
                    raise RuntimeError(f"generate_batch returned {len(outcomes)} results for {len(todo)} requests")
            except Exception as exc:  # the call itself failed: every item of it fails, with the same cause
                outcomes = [exc] * len(todo)
            share_s = (time.perf_counter() - t0) / len(todo)  # the batch's generation time, shared out evenly
            for (i, req, _), outcome in zip(todo, outcomes, strict=True):
                try:
                    if isinstance(outcome, BaseException):
                        raise outcome
                    rows[i] = self._deliver(req, outcome, share_s)
                except Exception as exc:
                    rows[i] = self._failed(req, exc)

    def _deliver(self, req: dict[str, Any], rendered: Any, generate_s: float) -> dict[str, Any]:
        """QC, provenance, signature and storage of one generated track (still in scratch); its result row."""
        from inference.qc import read_audio_file

        paths = _object_paths(req)
        t1 = time.perf_counter()
        # The engine's bytes, as it wrote them to scratch: QC measures them, and the same bytes are described, signed
        # and stored. Only from an engine that keeps none is the scratch file read back.
        kept = getattr(rendered, "audio_bytes", None)
        audio: bytes | Path = kept if kept is not None else Path(rendered.audio_path)
        reasons = self._check_quality(req, rendered, audio) if self.spec.qc else []
        t2 = time.perf_counter()
        if reasons:
            row = self.failure(req, None, error_class="QualityCheckFailed",
                               message="; ".join(r["message"] for r in reasons), reasons=reasons)
            row.update(T_GENERATE_S=generate_s, T_QC_S=t2 - t1)
            return row
        audio = audio if isinstance(audio, bytes) else read_audio_file(audio)
        delivered = self._finish(req, rendered, audio, self.store.uri(paths["audio"]))
        written = 0
        stored_audio = self.store.put_bytes(paths["audio"], delivered.audio)
        written += stored_audio.written
        if delivered.midi_path is not None:
            written += self.store.put_file(paths["midi"], delivered.midi_path).written
        written += self.store.put_bytes(paths["sidecar"], delivered.sidecar).written
        row = self._success(req, delivered, stored_audio.uri, stored_audio.sha256)
        row.update(T_GENERATE_S=generate_s, T_QC_S=t2 - t1)
        manifest = json.dumps({k: row[k] for k in _MANIFEST_FIELDS}, sort_keys=True).encode()
        written += self.store.put_bytes(paths["manifest"], manifest).written
        row["OBJECTS_WRITTEN"] = written
        row["T_SIGN_STORE_S"] = time.perf_counter() - t2
        return row

    def _scratch(self) -> Path:
        scratch = Path(self.spec.scratch_dir or tempfile.gettempdir())
        scratch.mkdir(parents=True, exist_ok=True)
        return scratch

    def _failed(self, request: dict[str, Any], exc: BaseException) -> dict[str, Any]:
        log.warning("request failed: %s: %s", type(exc).__name__, exc, exc_info=exc,
                    extra={"request_id": str(request.get("REQUEST_ID") or ""), "error": type(exc).__name__})
        return self.failure(request, exc)

    def _request(self, req: dict[str, Any]) -> Any:
        """The engine's GenerationRequest for a validated request row."""
        from inference.engine import GenerationRequest

        melody = req.get("MELODY_URI")
        request = GenerationRequest(
            genre=req["GENRE"], mood=req["MOOD"], key_phrases=tuple(json.loads(req.get("KEY_PHRASES") or "[]")),
            tempo_bpm=req.get("TEMPO_BPM"), key=req.get("MUSICAL_KEY"), duration_s=float(req["DURATION_S"]),
            melody=Path(melody) if melody else None, seed=int(req["SEED"]), sample_rate=self.spec.sample_rate,
            descriptors=json.loads(req["DESCRIPTORS"]) if req.get("DESCRIPTORS") else None)
        return request

    def _check_quality(self, req: dict[str, Any], rendered: Any, audio: bytes | Path) -> list[dict[str, Any]]:
        """QC reasons for the track's ``audio`` bytes (empty when it passes); the measurement is kept for provenance."""
        from inference.qc import MasteredLevels, check, measure

        # The master's loudness and true peak travel with the track; QC re-verifies the bytes are sample-exact.
        measured = measure(audio, mastered=MasteredLevels.from_metadata(rendered.metadata))
        rendered.metadata["qc"] = measured.to_dict()
        result = check(measured, {"tempo_bpm": req.get("TEMPO_BPM") or rendered.metadata.get("tempo"),
                                  "key": req.get("MUSICAL_KEY") or rendered.metadata.get("key"),
                                  "duration_s": req["DURATION_S"]})
        rendered.metadata["qc"]["warnings"] = result.warnings  # estimator disagreements, kept with provenance
        return [{"code": reason.split(":", 1)[0], "message": reason} for reason in result.reasons]

    def _finish(self, req: dict[str, Any], rendered: Any, audio: bytes, uri: str) -> Delivered:
        """Provenance record, C2PA signature, sidecar bytes and the TRACKS / TRACK_PROVENANCE rows of ``audio``."""
        from maestro_core.provenance import RunIdentity, build_provenance

        meta = rendered.metadata
        assets = load_assets(req.get("ASSETS"))
        params = {"genre": req["GENRE"], "mood": req["MOOD"],
                  "key_phrases": json.loads(req.get("KEY_PHRASES") or "[]"),
                  "tempo_bpm": req.get("TEMPO_BPM"), "key": req.get("MUSICAL_KEY"), "duration_s": req["DURATION_S"],
                  "melody_seed_asset_id": req.get("MELODY_SEED_ASSET_ID"), "sample_rate": self.spec.sample_rate,
                  "engine": meta.get("engine"), "variation": meta.get("variation")}
        run = RunIdentity.current(req.get("RUN_ID"), json.loads(req.get("RUN_CONTEXT") or "{}"))
        record = build_provenance(
            track_id=req["TRACK_ID"], audio_path=audio,
            engine=str(meta.get("engine") or self.engine.name),
            engine_version=str(meta.get("engine_version") or self.engine.version), assets=assets, params=params,
            seed=int(req["SEED"]), license_ids=json.loads(req.get("LICENSE_IDS") or "[]"),
            request_id=req["REQUEST_ID"], isrc=req.get("ISRC"), run=run,
            extra={"uri": uri, "qc": meta.get("qc"), "title": meta.get("title"),
                   "signing": {"signed": self.key_config is not None, "development_keys": self.development_keys},
                   **_engine_facts(meta)})
        signed = False
        if self.key_config is not None:
            from maestro_core.credentials import ManifestFields, mime_type, sign_audio_bytes

            audio = sign_audio_bytes(audio, mime_type(rendered.audio_path), ManifestFields(
                track_id=req["TRACK_ID"], isrc=req.get("ISRC") or "", provenance_sha256=record.sha256,
                engine=record.engine, engine_version=record.engine_version, title=str(meta.get("title") or ""),
                request_id=req["REQUEST_ID"]), self.key_config, name=Path(rendered.audio_path).name)
            signed = True
        track_row = schema.table("TRACKS").row(
            TRACK_ID=req["TRACK_ID"], REQUEST_ID=req["REQUEST_ID"], ISRC=req.get("ISRC"),
            TITLE=str(meta.get("title") or req["TRACK_ID"]), URI=uri, SHA256=record.audio.sha256,
            DURATION_MS=record.audio.duration_ms, TEMPO_BPM=_float(meta.get("tempo")),
            MUSICAL_KEY=meta.get("key"), GENRE=req["GENRE"], MOOD=req["MOOD"],
            LOUDNESS_LUFS=_float(meta.get("loudness_lufs")),
            CREATED_AT=record.created_at.replace(tzinfo=None).isoformat())
        return Delivered(audio, Path(rendered.midi_path) if rendered.midi_path else None,
                         record.canonical_json(), track_row, record.track_provenance_row(manifest_signed=signed))

    def _resume(self, req: dict[str, Any]) -> dict[str, Any] | None:
        """The stored result of this request when its manifest and untouched audio are already in storage."""
        paths = _object_paths(req)
        if not self.store.exists(paths["manifest"]):
            return None
        try:
            saved = json.loads(self.store.read_bytes(paths["manifest"]))
        except (ValueError, OSError):
            return None
        stored_sha256 = self.store.sha256(paths["audio"])
        if saved.get("REQUEST_ID") != req["REQUEST_ID"] or stored_sha256 != saved.get("FILE_SHA256"):
            log.warning("stored track does not match its manifest; regenerating", extra={"track": req["TRACK_ID"]})
            return None
        return {**_empty_row(), **saved, "RESUMED": True, "OBJECTS_WRITTEN": 0, "WORKER": self.name}

    def _success(self, req: dict[str, Any], delivered: Delivered, uri: str, file_sha256: str) -> dict[str, Any]:
        track_row = dict(delivered.track_row, URI=uri)
        return {**_empty_row(), "REQUEST_ID": req["REQUEST_ID"], "TRACK_ID": req["TRACK_ID"], "STATUS": GENERATED,
                "TITLE": track_row.get("TITLE"), "GENRE": req["GENRE"], "URI": uri, "FILE_SHA256": file_sha256,
                "TRACK_ROW": dump_row(track_row), "PROVENANCE_ROW": dump_row(delivered.provenance_row),
                "REASONS": "[]", "RESUMED": False, "WORKER": self.name}

    def failure(self, request: dict[str, Any], exc: BaseException | None, *, error_class: str | None = None,
                message: str | None = None, reasons: list[dict[str, Any]] | None = None) -> dict[str, Any]:
        """A ``failed`` result row naming the error class and message (and machine-readable reasons)."""
        error_class = error_class or type(exc).__name__
        message = message if message is not None else str(exc)
        field_name = getattr(exc, "field", None)
        where = _traceback_digest(exc) if exc is not None else {}
        reasons = reasons or [{"code": "generation_failed", "error": error_class, "message": message,
                               **({"field": field_name} if field_name else {}), **where}]
        return {**_empty_row(), "REQUEST_ID": str(request.get("REQUEST_ID") or ""),
                "TRACK_ID": request.get("TRACK_ID"), "STATUS": FAILED, "ERROR_CLASS": error_class,
                "ERROR_MESSAGE": message[:2000], "REASONS": json.dumps(reasons, default=str, sort_keys=True),
                "GENRE": request.get("GENRE"), "WORKER": self.name}


@dataclass(frozen=True)
class Delivered:
    """A finished track: the signed audio's bytes, the MIDI file in scratch space, sidecar bytes and its rows."""

    audio: bytes
    midi_path: Path | None
    sidecar: bytes
    track_row: dict[str, Any]
    provenance_row: dict[str, Any]


SCRATCH_PREFIX = "maestro-"


def sweep_scratch(scratch_dir: str | Path, older_than_s: float = 3600.0) -> int:
    """Removes scratch directories that workers left behind (a killed worker cannot clean up after itself).

    Only ``maestro-*`` directories untouched for ``older_than_s`` seconds go, so a run in progress on the same
    home keeps the directories it is rendering into. Returns how many were removed.
    """
    import shutil

    root = Path(scratch_dir)
    if not root.is_dir():
        return 0
    cutoff = time.time() - older_than_s
    removed = 0
    for path in root.glob(f"{SCRATCH_PREFIX}*"):
        try:
            if path.is_dir() and not path.is_symlink() and path.stat().st_mtime < cutoff:
                shutil.rmtree(path)
                removed += 1
        except OSError as exc:  # best effort: a directory another process just removed, or one we may not touch
            log.debug("scratch directory not swept: %s", exc, extra={"path": str(path)})
    if removed:
        log.info("swept %d stale scratch directories", removed, extra={"scratch_dir": str(root)})
    return removed


def _traceback_digest(exc: BaseException) -> dict[str, str]:
    """Where an exception was raised, in a form that fits a reasons row and groups identical faults.

    ``traceback_sha256`` (12 hex digits) hashes the frames (file, function, line) without the message, so one bug
    hit by a thousand requests shows one digest; ``where`` is the innermost frame. The full traceback is logged.
    """
    import hashlib
    import traceback

    frames = traceback.extract_tb(exc.__traceback__)
    if not frames:
        return {}
    shape = "\n".join(f"{Path(f.filename).name}:{f.name}:{f.lineno}" for f in frames) + f"\n{type(exc).__name__}"
    last = frames[-1]
    return {"traceback_sha256": hashlib.sha256(shape.encode()).hexdigest()[:12],
            "where": f"{Path(last.filename).name}:{last.lineno} in {last.name}"}


def _engine_facts(meta: dict[str, Any]) -> dict[str, Any]:
    """What a neural engine adds to provenance, only where it reports it (composer provenance is unchanged):
    ``model`` (id, weight sha256, dtype, device, batch size, guidance scale, sampler settings), ``correction``
    (the tempo and key correction applied) and the engine's ``provenance_extra`` (e.g. ``batch``: OOM back-offs).
    """
    facts = {k: meta[k] for k in ("model", "correction") if meta.get(k) is not None}
    extra = meta.get("provenance_extra")
    if isinstance(extra, dict):
        facts.update({k: v for k, v in extra.items() if k not in _RESERVED_EXTRA})
    return facts


# Provenance extra keys the worker itself writes: an engine's provenance_extra never overrides them.
_RESERVED_EXTRA = ("uri", "qc", "title", "signing")


def _float(value: Any) -> float | None:
    return None if value is None else float(value)


_MANIFEST_FIELDS = ("REQUEST_ID", "TRACK_ID", "STATUS", "TITLE", "GENRE", "URI", "FILE_SHA256", "TRACK_ROW",
                    "PROVENANCE_ROW", "REASONS", "T_GENERATE_S", "T_QC_S")


def _empty_row() -> dict[str, Any]:
    return empty_row(RESULT_TABLE) | {"RESUMED": False, "OBJECTS_WRITTEN": 0}


def _object_paths(req: dict[str, Any]) -> dict[str, str]:
    return {
        "audio": track_path(req["GENRE"], req["TRACK_ID"], "wav"),
        "midi": track_path(req["GENRE"], req["TRACK_ID"], "mid"),
        "sidecar": track_path(req["GENRE"], req["TRACK_ID"], "wav.provenance.json"),
        "manifest": track_path(req["GENRE"], req["TRACK_ID"], MANIFEST_EXT),
    }


def _validated(request: dict[str, Any]) -> dict[str, Any]:
    """Checks the fields a worker relies on; raises InputError naming the first broken one."""
    for name in ("REQUEST_ID", "TRACK_ID", "GENRE", "MOOD", "RUN_ID"):
        if not isinstance(request.get(name), str) or not request[name].strip():
            raise InputError(name, "is missing or empty")
    seed = request.get("SEED")
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise InputError("SEED", f"{seed!r} is not a non-negative integer")
    for name in ("TEMPO_BPM", "DURATION_S"):
        value = request.get(name)
        if isinstance(value, bool) or not isinstance(value, int):
            raise InputError(name, f"{value!r} is not an integer")
    for name in ("KEY_PHRASES", "ASSETS", "LICENSE_IDS", "RUN_CONTEXT", "DESCRIPTORS"):
        value = request.get(name)
        if value is None:
            continue
        try:
            parsed = json.loads(value)
        except (TypeError, ValueError):
            raise InputError(name, f"is not valid JSON: {str(value)[:60]!r}") from None
        if name == "DESCRIPTORS" and not isinstance(parsed, dict | None):
            raise InputError(name, f"must be a JSON object of descriptor values, got {str(value)[:60]!r}")
    return request
