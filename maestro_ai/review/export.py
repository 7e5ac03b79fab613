"""``maestro review export --run RUN_ID --out DIR``: one run's page as static HTML, to mail or host.

``DIR`` receives ``index.html`` (the run page with every track on one page, no forms and no login), ``review.css``,
``audio/<track_id>.<ext>``, ``images/<track_id>-waveform.png`` and ``-spectrogram.png``, and
``provenance/<track_id>.json``; every link is relative, so the folder works from a file system or any web server.

It is built in a temporary directory beside ``DIR`` and renamed into place: ``DIR`` holds the old export or the
new one, never half of one. An existing ``DIR`` is replaced only when it is empty or a previous export (it holds
:data:`MARKER`), so a mistyped ``--out`` cannot delete anything else.
"""

from __future__ import annotations

import json
import logging
import shutil
import tempfile
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from maestro_ai.review import views
from maestro_core.config import Settings
from maestro_core.errors import InputError
from maestro_core.storage import TrackStore, open_store
from maestro_core.warehouse import Warehouse, connect
from maestro_pipeline import review, review_images

log = logging.getLogger(__name__)

MARKER = ".maestro-review-export"
_BATCH = 500  # tracks read per warehouse page
_COPY_BYTES = 1 << 20


@dataclass(frozen=True)
class ExportResult:
    """A finished export: ``index`` is ``DIR/index.html``; ``tracks`` exported; ``bytes`` written in all."""

    directory: Path
    index: Path
    run_id: str
    tracks: int
    bytes: int


def export_run(settings: Settings, run_id: str, out: str | Path) -> ExportResult:
    """Writes the run's static page with its audio, thumbnails and provenance under ``out``.

    Raises:
        InputError: ``run_id`` names no run (field ``run_id``), or ``out`` exists and is neither empty nor a
            previous export (field ``out``).
    """
    target = Path(out).expanduser().absolute()
    _check_target(target)
    store = open_store(settings.storage_url)
    with connect(settings) as wh:
        run = review.get_run(wh, run_id)
        if run is None:
            known = [r.run_id for r in review.list_runs(wh, limit=5)]
            raise InputError("run_id", f"no run {run_id!r}" + (f" (latest: {', '.join(known)})" if known else
                                                                " (the warehouse has no runs)"))
        tracks = _all_tracks(wh, run_id)
        documents = {t.track_id: review.track_provenance(wh, t.track_id) for t in tracks}
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent))
    try:
        written = _write(staging, store, run, tracks, documents)
        _swap_in(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    log.info("exported run %s (%d tracks, %d bytes) to %s", run_id, len(tracks), written, target)
    return ExportResult(target, target / "index.html", run_id, len(tracks), written)


def _check_target(target: Path) -> None:
    if target.exists() and (not target.is_dir() or (any(target.iterdir()) and not (target / MARKER).exists())):
        raise InputError("out", f"{target} exists and is not an earlier review export; choose a new or empty "
                                "directory")


def _all_tracks(wh: Warehouse, run_id: str) -> list[review.TrackRow]:
    tracks: list[review.TrackRow] = []
    while True:
        page, total = review.run_tracks(wh, run_id, offset=len(tracks), limit=_BATCH)
        tracks.extend(page)
        if not page or len(tracks) >= total:
            return tracks


def _write(root: Path, store: TrackStore, run: review.RunRow, tracks: list[review.TrackRow],
           documents: Mapping[str, object]) -> int:
    links = views.Links(static=True)
    for folder in ("audio", "images", "provenance"):
        (root / folder).mkdir()
    written = 0
    for track in tracks:
        audio_key = store.key_of(track.uri)
        written += _copy_object(store, audio_key, root / links.audio(track))
        keys = review_images.ensure_images(store, track.track_id, audio_key)
        for kind in views.IMAGE_KINDS:
            written += _copy_object(store, keys[kind], root / links.image(track, kind))
        document = documents.get(track.track_id)
        if document is not None:
            data = json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False, default=str).encode()
            (root / links.provenance(track)).write_bytes(data)
            written += len(data)
    html = views.environment().get_template("run.html").render(
        links=links, static=True, csrf="", signed_in=False, writable=False, run=run, tracks=tracks,
        total=len(tracks), page=1, pages=1).encode()
    (root / "index.html").write_bytes(html)
    shutil.copyfile(views.STATIC_DIR / "review.css", root / "review.css")
    (root / MARKER).write_text(f"maestro review export of run {run.run_id}\n")
    return written + len(html)


def _copy_object(store: TrackStore, key: str, destination: Path) -> int:
    """Copies one stored object to a local file in chunks (S3 objects are never read whole into memory)."""
    size = store.size(key)
    with destination.open("wb") as fh:
        for start in range(0, size, _COPY_BYTES):
            fh.write(store.read_range(key, start, _COPY_BYTES))
    return size


def _swap_in(staging: Path, target: Path) -> None:
    """Renames the finished ``staging`` onto ``target``; an earlier export there is moved aside, then removed."""
    if not target.exists():
        staging.rename(target)
        return
    old = target.with_name(f".{target.name}.old-{uuid.uuid4().hex[:8]}")
    target.rename(old)
    try:
        staging.rename(target)
    except BaseException:
        old.rename(target)
        raise
    shutil.rmtree(old, ignore_errors=True)
