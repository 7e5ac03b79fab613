"""The review web app (``maestro review serve``): runs, a run's tracks, rejections, royalties, approval.

Routes (the browser test relies on them and on the HTML hooks in the templates):

* ``GET /healthz``; ``GET /`` runs; ``GET /runs/{run_id}?page=N`` one run's tracks, 50 a page;
  ``GET /runs/{run_id}/rejections``, ``GET /rejections``, ``GET /royalties`` (+ ``/royalties/payouts.svg``);
* ``GET /tracks/{track_id}/audio`` (Range), ``/waveform.png``, ``/spectrogram.png``, ``/provenance``, ``/c2pa``;
* ``GET|POST /login``, ``POST /logout``; ``POST /tracks/{track_id}/review``, ``POST /runs/{run_id}/review``.

Track ids and run ids only ever select warehouse rows; bytes are read from the store by the key the warehouse
holds, so no request names a path. A warehouse connection is opened per request (DuckDB lets one process write
a file at a time, and the pipeline must be able to write while the app is up).
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import threading
from collections.abc import Awaitable, Callable, Iterator
from typing import Annotated, Any

from fastapi import FastAPI, Form, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, PlainTextResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles

from maestro_ai.review import security, views
from maestro_ai.review.audio import audio_response
from maestro_core.config import Settings
from maestro_core.errors import InputError, WarehouseError
from maestro_core.storage import StorageError, TrackStore, open_store
from maestro_core.warehouse import Warehouse, connect
from maestro_pipeline import review, review_images

log = logging.getLogger(__name__)

SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self'; media-src 'self'; style-src 'self'; "
                               "form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
}
IMAGE_MAX_AGE_S = 365 * 24 * 3600  # thumbnails are rendered once per track id and never change
OPEN_PATHS = ("/healthz", "/login", "/static/")  # reachable without the token even when reads need it


class ReviewApp:
    """The app's state: settings, the store, the guard and the templates; routes call its methods."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.store: TrackStore = open_store(settings.storage_url)
        self.guard = security.Guard(settings.review_token)
        self.env = views.environment()
        self.links = views.Links(static=False)
        self._rendering: dict[str, threading.Lock] = {}
        self._rendering_guard = threading.Lock()

    @contextlib.contextmanager
    def warehouse(self) -> Iterator[Warehouse]:
        with connect(self.settings) as wh:
            yield wh

    def page(self, request: Request, template: str, status: int = 200, **context: Any) -> HTMLResponse:
        session: security.Session = request.state.session
        html = self.env.get_template(template).render(
            links=self.links, csrf=self.guard.csrf_token(session), signed_in=session.authenticated,
            writable=self.guard.configured, static=False, **context)
        return HTMLResponse(html, status_code=status)

    def message(self, request: Request, status: int, text: str) -> HTMLResponse:
        return self.page(request, "message.html", status=status, status_code=status, text=text)

    def track_or_404(self, wh: Warehouse, track_id: str) -> review.TrackRow:
        track = review.get_track(wh, track_id)
        if track is None:
            raise _NotFound(f"no track {track_id!r}")
        return track

    def audio_key(self, track: review.TrackRow) -> str:
        try:
            return self.store.key_of(track.uri)
        except InputError:
            raise _NotFound(f"track {track.track_id}'s audio is not in the configured store") from None

    def thumbnails(self, track: review.TrackRow) -> dict[str, str]:
        """The track's thumbnail keys, rendering them first when missing: once, however many requests ask at once
        (a run page asks for both images of 50 tracks together)."""
        with self._rendering_guard:
            lock = self._rendering.setdefault(track.track_id, threading.Lock())
        with lock:
            keys = review_images.ensure_images(self.store, track.track_id, self.audio_key(track))
        with self._rendering_guard:  # stored now: later requests find the images and need no lock
            self._rendering.pop(track.track_id, None)
        return keys

    @property
    def cache_scope(self) -> str:
        return "private" if self.settings.review_token_for_reads else "public"


class _NotFound(Exception):
    """A route's id selects nothing: rendered as a 404 page."""


def create_app(settings: Settings) -> FastAPI:
    """The review app for ``settings`` (warehouse, storage, reviewer token, whether reads need the token)."""
    state = ReviewApp(settings)
    app = FastAPI(title="Maestro review", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.review = state
    app.mount("/static", StaticFiles(directory=views.STATIC_DIR), name="static")
    _install_middleware(app, state)
    _install_error_pages(app, state)
    _pages(app, state)
    _media(app, state)
    _writes(app, state)
    return app


def _install_middleware(app: FastAPI, state: ReviewApp) -> None:
    @app.middleware("http")
    async def session_and_headers(request: Request, call_next: Callable[[Request], Awaitable[Response]]
                                  ) -> Response:
        session = state.guard.read_cookie(request.cookies.get(security.COOKIE))
        fresh = session is None
        request.state.session = session or state.guard.new_session(authenticated=False)
        request.state.cookie_set = False
        refusal = None
        if settings_need_read_token(state) and not request.url.path.startswith(OPEN_PATHS):
            refusal = state.guard.refuse_read(session, request.headers.get("authorization"))
        if refusal is not None:
            response: Response = state.page(request, "message.html", status=refusal.status,
                                            status_code=refusal.status, text=refusal.message, login=True)
        else:
            response = await call_next(request)
        is_html = response.headers.get("content-type", "").startswith("text/html")
        if fresh and is_html and not request.state.cookie_set:
            _set_session_cookie(request, response, state, request.state.session)
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        return response


def settings_need_read_token(state: ReviewApp) -> bool:
    return bool(state.settings.review_token_for_reads)


def _set_session_cookie(request: Request, response: Response, state: ReviewApp, session: security.Session) -> None:
    response.set_cookie(security.COOKIE, state.guard.cookie_value(session), httponly=True, samesite="strict",
                        secure=request.url.scheme == "https", path="/")
    request.state.cookie_set = True


def _install_error_pages(app: FastAPI, state: ReviewApp) -> None:
    @app.exception_handler(_NotFound)
    async def not_found(request: Request, exc: _NotFound) -> Response:
        return state.message(request, 404, str(exc))

    @app.exception_handler(WarehouseError)
    async def warehouse_down(request: Request, exc: WarehouseError) -> Response:
        log.warning("review: warehouse error on %s: %s", request.url.path, exc)
        return state.message(request, 503, f"the warehouse did not answer: {exc}")

    @app.exception_handler(StorageError)
    async def storage_missing(request: Request, exc: StorageError) -> Response:
        return state.message(request, 404, str(exc))

    @app.exception_handler(InputError)
    async def bad_input(request: Request, exc: InputError) -> Response:
        return state.message(request, 400, str(exc))


def _pages(app: FastAPI, state: ReviewApp) -> None:
    @app.get("/healthz", response_class=PlainTextResponse)
    def healthz() -> str:
        return "ok"

    @app.get("/", response_class=HTMLResponse)
    def runs_page(request: Request) -> Response:
        with state.warehouse() as wh:
            runs = review.list_runs(wh)
        return state.page(request, "runs.html", runs=runs)

    @app.get("/runs/{run_id}", response_class=HTMLResponse)
    def run_page(request: Request, run_id: str, page: Annotated[int, Query(ge=1, le=1_000_000)] = 1) -> Response:
        with state.warehouse() as wh:
            run = review.get_run(wh, run_id)
            if run is None:
                raise _NotFound(f"no run {run_id!r}")
            tracks, total = review.run_tracks(wh, run_id, offset=(page - 1) * views.PAGE_SIZE,
                                              limit=views.PAGE_SIZE)
        pages = views.page_count(total)
        if page > pages:
            raise _NotFound(f"run {run_id} has {pages} page(s) of tracks, not {page}")
        return state.page(request, "run.html", run=run, tracks=tracks, total=total, page=page, pages=pages)

    @app.get("/runs/{run_id}/rejections", response_class=HTMLResponse)
    def run_rejections_page(request: Request, run_id: str) -> Response:
        with state.warehouse() as wh:
            run = review.get_run(wh, run_id)
            if run is None:
                raise _NotFound(f"no run {run_id!r}")
            groups = review.rejections(wh, run_id)
        return state.page(request, "rejections.html", run=run, groups=groups)

    @app.get("/rejections", response_class=HTMLResponse)
    def rejections_page(request: Request) -> Response:
        with state.warehouse() as wh:
            groups = review.rejections(wh)
        return state.page(request, "rejections.html", run=None, groups=groups)

    @app.get("/royalties", response_class=HTMLResponse)
    def royalties_page(request: Request) -> Response:
        with state.warehouse() as wh:
            overview = review.royalty_overview(wh)
        return state.page(request, "royalties.html", overview=overview)

    @app.get("/royalties/payouts.svg")
    def payouts_chart() -> Response:
        with state.warehouse() as wh:
            overview = review.royalty_overview(wh)
        return Response(review_images.payouts_chart_svg(overview.payouts), media_type="image/svg+xml",
                        headers={"Cache-Control": "no-cache"})

    @app.get("/login", response_class=HTMLResponse)
    def login_page(request: Request, next: str = "/") -> Response:  # noqa: A002 - the query parameter's name
        return state.page(request, "login.html", next=security.safe_next(next), error=None)


def _media(app: FastAPI, state: ReviewApp) -> None:
    @app.get("/tracks/{track_id}/audio")
    def track_audio(request: Request, track_id: str) -> Response:
        with state.warehouse() as wh:
            track = state.track_or_404(wh, track_id)
        key = state.audio_key(track)
        return audio_response(state.store, key, request.headers.get("range"),
                              {"Cache-Control": f"{state.cache_scope}, max-age=3600"})

    @app.get("/tracks/{track_id}/{kind}.png")
    def track_image(request: Request, track_id: str, kind: str) -> Response:
        if kind not in views.IMAGE_KINDS:
            raise _NotFound(f"no image {kind!r} (accepted: {', '.join(views.IMAGE_KINDS)})")
        with state.warehouse() as wh:
            track = state.track_or_404(wh, track_id)
        keys = state.thumbnails(track)
        data = state.store.read_bytes(keys[kind])
        etag = f'"{hashlib.sha256(data).hexdigest()[:32]}"'
        headers = {"ETag": etag, "Cache-Control": f"{state.cache_scope}, max-age={IMAGE_MAX_AGE_S}, immutable"}
        if etag in request.headers.get("if-none-match", ""):
            return Response(status_code=304, headers=headers)
        return Response(data, media_type="image/png", headers=headers)

    @app.get("/tracks/{track_id}/provenance")
    def provenance(track_id: str) -> Response:
        with state.warehouse() as wh:
            state.track_or_404(wh, track_id)
            document = review.track_provenance(wh, track_id)
        if document is None:
            raise _NotFound(f"track {track_id} has no provenance record")
        return JSONResponse(document)

    @app.get("/tracks/{track_id}/c2pa")
    def c2pa(track_id: str) -> Response:
        from maestro_ai.review.c2pa import verify_stored

        with state.warehouse() as wh:
            track = state.track_or_404(wh, track_id)
            report = verify_stored(state.settings, state.store, state.audio_key(track), wh)
        return JSONResponse({"track_id": track_id, "manifest_signed": track.manifest_signed, **report})


FormText = Annotated[str, Form()]


def _writes(app: FastAPI, state: ReviewApp) -> None:
    def refuse(request: Request, csrf: str) -> Response | None:
        refusal = state.guard.refuse_write(_session_from_cookie(request, state),
                                           request.headers.get("authorization"), csrf)
        if refusal is None:
            return None
        return state.message(request, refusal.status, refusal.message)

    def done(request: Request, written: int, location: str) -> Response:
        if security.bearer_token(request.headers.get("authorization")) is not None:
            return JSONResponse({"written": written})
        return RedirectResponse(location, status_code=303)

    @app.post("/tracks/{track_id}/review")
    def review_track(request: Request, track_id: str, decision: FormText = "", reviewer: FormText = "",
                     note: FormText = "", csrf: FormText = "", page: FormText = "1") -> Response:
        if (refused := refuse(request, csrf)) is not None:
            return refused
        with state.warehouse() as wh:
            track = state.track_or_404(wh, track_id)
            written = review.record_decision(wh, [track.track_id], decision, reviewer, note)
        return done(request, written, f"/runs/{track.run_id}?page={_page(page)}#track-{track.track_id}")

    @app.post("/runs/{run_id}/review")
    def review_run(request: Request, run_id: str, decision: FormText = "", reviewer: FormText = "",
                   note: FormText = "", csrf: FormText = "", page: FormText = "1") -> Response:
        if (refused := refuse(request, csrf)) is not None:
            return refused
        with state.warehouse() as wh:
            run = review.get_run(wh, run_id)
            if run is None:
                raise _NotFound(f"no run {run_id!r}")
            written = review.decide_run(wh, run.run_id, decision, reviewer, note)
        return done(request, written, f"/runs/{run.run_id}?page={_page(page)}")

    @app.post("/login")
    def login(request: Request, token: FormText = "", csrf: FormText = "", next: FormText = "/") -> Response:  # noqa: A002
        session = _session_from_cookie(request, state)
        target = security.safe_next(next)
        if not state.guard.configured:
            refusal = security.Refusal.NOT_CONFIGURED
        elif session is None or not state.guard.csrf_matches(session, csrf):
            refusal = security.Refusal.BAD_CSRF
        elif not state.guard.token_matches(token):
            refusal = security.Refusal.WRONG_TOKEN
        else:
            response = RedirectResponse(target, status_code=303)
            _set_session_cookie(request, response, state, state.guard.new_session(authenticated=True))
            return response
        return state.page(request, "login.html", status=refusal.status, next=target, error=refusal.message)

    @app.post("/logout")
    def logout(request: Request, csrf: FormText = "") -> Response:
        session = _session_from_cookie(request, state)
        if session is None or not state.guard.csrf_matches(session, csrf):
            return state.message(request, 403, security.Refusal.BAD_CSRF.message)
        response = RedirectResponse("/", status_code=303)
        _set_session_cookie(request, response, state, state.guard.new_session(authenticated=False))
        return response


def _session_from_cookie(request: Request, state: ReviewApp) -> security.Session | None:
    """The session the request's cookie proves (None without a valid cookie; a fresh one is not proof)."""
    return state.guard.read_cookie(request.cookies.get(security.COOKIE))


def _page(value: str) -> int:
    return int(value) if value.isdigit() and 0 < int(value) < 1_000_000 else 1
