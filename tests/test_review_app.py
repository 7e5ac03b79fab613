"""The review web app (maestro_ai.review) through FastAPI's TestClient, on a small generated catalog: pages and
their HTML hooks, approval writes, and every access rule (token in constant time, session cookie, CSRF, reads
behind the token, ids never paths, escaped output, security headers), plus HTTP range requests for the audio."""

from __future__ import annotations

import datetime as dt
import secrets
from typing import Any

import pytest
from fastapi.testclient import TestClient
from lxml import html as lxml_html
from pydantic import SecretStr

from maestro_ai.review import create_app, security
from maestro_ai.review.audio import ByteRange, RangeNotSatisfiable, parse_range
from maestro_core.config import Settings
from maestro_core.storage import TrackStore
from maestro_core.warehouse import connect
from maestro_pipeline import PipelineOptions, review, run_catalog
from tests.plugins.pipeline import RUN_DATE, TEST_DURATION_S

DAY = dt.date.fromisoformat(RUN_DATE)
TOKEN = secrets.token_urlsafe(32)
# Two prompts that pass the rights gate on RUN_DATE (two tracks: one round of the two generator actors), and two it
# refuses (a blocked term; a territory, MX, that the seed license does not cover).
GENERATED, REFUSED = ("prm_0001", "prm_0009"), ("prm_0019", "prm_0033")
EVIL = '<script>alert("x")</script>'
_CATALOG: dict[str, Any] = {}


def review_catalog(make_home: Any) -> tuple[Settings, str]:
    """One generated catalog run shared by the review tests of this session (built on first use): (settings, run)."""
    if not _CATALOG:
        settings = make_home("review")
        with connect(settings) as wh:
            active = ", ".join(repr(p) for p in GENERATED + REFUSED)
            wh.execute(f"UPDATE PROMPT_CATALOG SET ACTIVE = PROMPT_ID IN ({active})")
        report = run_catalog(settings, DAY, PipelineOptions(duration_s=TEST_DURATION_S))
        _CATALOG.update(settings=settings, run_id=report.run_id)
    return _CATALOG["settings"], _CATALOG["run_id"]


@pytest.fixture(scope="module")
def catalog(ray_cluster: Any, make_home: Any) -> dict[str, Any]:
    settings, run_id = review_catalog(make_home)
    settings = settings.model_copy(update={"review_token": SecretStr(TOKEN)})
    with connect(settings) as wh:
        tracks, _ = review.run_tracks(wh, run_id, limit=50)
        evil = tracks[0].track_id
        wh.execute("UPDATE TRACKS SET TITLE = :t WHERE TRACK_ID = :id", {"t": EVIL, "id": evil})
    return {"settings": settings, "run_id": run_id, "track_ids": sorted(t.track_id for t in tracks), "evil": evil,
            "store": TrackStore(settings.storage_url), "uris": {t.track_id: t.uri for t in tracks}}


@pytest.fixture(scope="module")
def client(catalog: dict[str, Any]) -> TestClient:
    return TestClient(create_app(catalog["settings"]))


def _doc(response: Any) -> Any:
    return lxml_html.fromstring(response.text)


def _csrf(client: TestClient, path: str = "/login") -> str:
    return str(_doc(client.get(path)).xpath("//input[@name='csrf']/@value")[0])


def _login(client: TestClient) -> Any:
    return client.post("/login", data={"token": TOKEN, "csrf": _csrf(client), "next": "/"}, follow_redirects=False)


def _states(settings: Settings, track_ids: list[str]) -> dict[str, str]:
    with connect(settings) as wh:
        return {k: v.decision for k, v in review.review_states(wh, track_ids).items()}


def _bearer(token: str = TOKEN) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


# -- pages -----------------------------------------------------------------------------------------------------------
def test_healthz_answers_ok_and_pages_carry_the_security_headers(client):
    assert client.get("/healthz").text == "ok"
    for path in ("/", "/rejections", "/royalties", "/login"):
        r = client.get(path)
        assert r.status_code == 200, path
        assert r.headers["content-security-policy"].startswith("default-src 'self'")
        assert r.headers["x-content-type-options"] == "nosniff"


def test_runs_page_lists_the_run_linking_to_its_page_with_its_refusal_reasons(client, catalog):
    doc = _doc(client.get("/"))
    row = doc.xpath(f"//tr[@class='run'][@data-run-id='{catalog['run_id']}']")[0]
    assert row.xpath(".//a/@href") == [f"/runs/{catalog['run_id']}"]
    assert row.xpath("string(td[contains(@class,'num')][1])").strip() == str(len(GENERATED))
    assert row.xpath(".//span[@class='code']")  # the two refused prompts' reason codes


def test_run_page_shows_every_track_with_player_thumbnails_form_and_state(client, catalog):
    doc = _doc(client.get(f"/runs/{catalog['run_id']}"))
    articles = doc.xpath("//article[@class='track']")
    assert sorted(a.get("data-track-id") for a in articles) == catalog["track_ids"]
    for a in articles:
        tid = a.get("data-track-id")
        audio = a.xpath(".//audio")[0]
        assert (audio.get("src"), audio.get("preload"), "controls" in audio.attrib) == (f"/tracks/{tid}/audio",
                                                                                        "none", True)
        assert a.xpath(".//img[@class='waveform']/@src") == [f"/tracks/{tid}/waveform.png"]
        assert a.xpath(".//img[@class='spectrogram']/@src") == [f"/tracks/{tid}/spectrogram.png"]
        form = a.xpath(".//form[@class='review']")[0]
        assert (form.get("method"), form.get("action")) == ("post", f"/tracks/{tid}/review")
        assert form.xpath(".//input[@name='reviewer'] and .//textarea[@name='note'] and .//input[@name='csrf']")
        assert sorted(form.xpath(".//button[@name='decision']/@value")) == ["approved", "held"]
        assert a.xpath("string(.//span[contains(@class,'review-state')])") in ("pending", "approved", "held")
        assert a.xpath(".//a[text()='provenance']/@href") == [f"/tracks/{tid}/provenance"]
    assert doc.xpath("//form[contains(@class,'review-run')]/@action") == [f"/runs/{catalog['run_id']}/review"]


def test_a_page_past_the_last_and_an_unknown_run_are_404(client, catalog):
    assert client.get(f"/runs/{catalog['run_id']}?page=2").status_code == 404
    assert client.get("/runs/no_such_run").status_code == 404
    assert client.get(f"/runs/{catalog['run_id']}?page=0").status_code == 422


def test_rejection_pages_group_reason_codes_with_their_messages(client, catalog):
    for path in (f"/runs/{catalog['run_id']}/rejections", "/rejections"):
        rows = _doc(client.get(path)).xpath("//tr[@class='rejection']")
        assert rows and all(r.get("data-code") and r.xpath("string(td[2])").strip() for r in rows), path
        assert sum(int(r.xpath("string(td[3])")) for r in rows) >= len(REFUSED)


def test_royalties_page_and_its_chart_render(client):
    assert client.get("/royalties").status_code == 200
    chart = client.get("/royalties/payouts.svg")
    assert chart.headers["content-type"].startswith("image/svg+xml") and "<svg" in chart.text


# -- escaping and ids --------------------------------------------------------------------------------------------
def test_a_title_and_a_note_holding_script_render_escaped(client, catalog):
    r = client.post(f"/tracks/{catalog['evil']}/review", headers=_bearer(),
                    data={"decision": "held", "reviewer": "<b>eve</b>", "note": EVIL})
    assert r.status_code == 200 and r.json() == {"written": 1}
    page = client.get(f"/runs/{catalog['run_id']}").text
    assert "<script" not in page and "<b>eve" not in page
    assert page.count("&lt;script&gt;") >= 2  # the title (heading and alt texts) and the note


@pytest.mark.parametrize("path", ["/tracks/..%2F..%2Fetc%2Fpasswd/audio", "/tracks/../../etc/passwd/audio",
                                  "/tracks/%2Fetc%2Fpasswd/audio", "/tracks/no_such_track/audio",
                                  "/tracks/no_such_track/waveform.png", "/tracks/no_such_track/provenance"])
def test_media_are_reached_by_track_id_only(client, path):
    r = client.get(path)
    assert r.status_code == 404 and "root:" not in r.text


def test_an_image_kind_outside_the_two_thumbnails_is_404(client, catalog):
    assert client.get(f"/tracks/{catalog['track_ids'][0]}/..%2F..%2Fwarehouse.png").status_code == 404
    assert client.get(f"/tracks/{catalog['track_ids'][0]}/other.png").status_code == 404


# -- media -----------------------------------------------------------------------------------------------------
def test_audio_streams_whole_and_in_ranges(client, catalog):
    tid = catalog["track_ids"][1]
    store = catalog["store"]
    data = store.read_bytes(store.key_of(catalog["uris"][tid]))
    size, url = len(data), f"/tracks/{tid}/audio"
    whole = client.get(url)
    assert (whole.status_code, whole.headers["accept-ranges"], whole.content) == (200, "bytes", data)
    for header, (start, end) in {"bytes=0-99": (0, 99), "bytes=1000-": (1000, size - 1),
                                 "bytes=-500": (size - 500, size - 1), f"bytes=10-{size + 50}": (10, size - 1)}.items():
        r = client.get(url, headers={"Range": header})
        assert r.status_code == 206, header
        assert r.headers["content-range"] == f"bytes {start}-{end}/{size}"
        assert r.content == data[start:end + 1] and int(r.headers["content-length"]) == end - start + 1
    for header in (f"bytes={size}-", "bytes=-0", "bytes=50-10"):
        r = client.get(url, headers={"Range": header})
        assert (r.status_code, r.headers["content-range"]) == (416, f"bytes */{size}"), header


def test_thumbnails_are_pngs_with_a_long_cache_and_an_etag(client, catalog):
    tid = catalog["track_ids"][0]
    for kind in ("waveform", "spectrogram"):
        r = client.get(f"/tracks/{tid}/{kind}.png")
        assert r.status_code == 200 and r.content[:8] == b"\x89PNG\r\n\x1a\n"
        assert "max-age=31536000" in r.headers["cache-control"]
        again = client.get(f"/tracks/{tid}/{kind}.png", headers={"If-None-Match": r.headers["etag"]})
        assert again.status_code == 304 and not again.content


def test_provenance_and_an_on_demand_c2pa_check_answer_json(client, catalog):
    tid = catalog["track_ids"][1]
    assert client.get(f"/tracks/{tid}/provenance").json()["track_id"] == tid
    report = client.get(f"/tracks/{tid}/c2pa").json()
    assert report["verified"] is True and {c["name"] for c in report["checks"]} >= {"manifest", "signature"}


# -- writes and access ---------------------------------------------------------------------------------------------
def test_writes_without_the_token_are_refused_and_write_nothing(client, catalog):
    tid = catalog["track_ids"][1]
    before = _states(catalog["settings"], [tid])
    anonymous = TestClient(client.app)
    csrf = _csrf(anonymous, f"/runs/{catalog['run_id']}")  # an anonymous session's own form token
    r = anonymous.post(f"/tracks/{tid}/review", data={"decision": "approved", "reviewer": "mallory", "csrf": csrf})
    assert r.status_code == 401 and "/login" in r.text
    assert anonymous.post(f"/runs/{catalog['run_id']}/review", data={"decision": "approved", "reviewer": "m",
                                                                     "csrf": csrf}).status_code == 401
    wrong = anonymous.post(f"/tracks/{tid}/review", headers=_bearer("x" * 43), data={"decision": "approved",
                                                                                     "reviewer": "mallory"})
    assert wrong.status_code == 403
    assert _states(catalog["settings"], [tid]) == before


def test_an_app_without_a_token_is_read_only(catalog):
    app = TestClient(create_app(catalog["settings"].model_copy(update={"review_token": None})))
    r = app.post(f"/tracks/{catalog['track_ids'][0]}/review", headers=_bearer(), data={"decision": "approved",
                                                                                      "reviewer": "ada"})
    assert r.status_code == 403 and "MAESTRO_REVIEW_TOKEN" in r.text
    assert app.get(f"/runs/{catalog['run_id']}").status_code == 200


def test_login_sets_an_httponly_strict_cookie_and_form_posts_need_its_csrf_token(catalog):
    browser = TestClient(create_app(catalog["settings"]))
    wrong = browser.post("/login", data={"token": "y" * 43, "csrf": _csrf(browser)}, follow_redirects=False)
    assert wrong.status_code == 403
    r = _login(browser)
    assert r.status_code == 303
    cookie = r.headers["set-cookie"].lower()
    assert cookie.startswith(f"{security.COOKIE}=") and "httponly" in cookie and "samesite=strict" in cookie
    tid = catalog["track_ids"][1]
    url = f"/tracks/{tid}/review"
    assert browser.post(url, data={"decision": "approved", "reviewer": "ada"}).status_code == 403  # no CSRF token
    other = TestClient(browser.app)
    foreign = _csrf(other, f"/runs/{catalog['run_id']}")  # another session's token
    assert browser.post(url, data={"decision": "approved", "reviewer": "ada", "csrf": foreign}).status_code == 403
    csrf = _csrf(browser, f"/runs/{catalog['run_id']}")
    done = browser.post(url, data={"decision": "approved", "reviewer": "ada", "note": "ok", "csrf": csrf},
                        follow_redirects=False)
    assert done.status_code == 303 and done.headers["location"].startswith(f"/runs/{catalog['run_id']}")
    with connect(catalog["settings"]) as wh:
        state = review.review_states(wh, [tid])[tid]
    assert (state.decision, state.reviewer, state.note) == ("approved", "ada", "ok")
    page = _doc(browser.get(f"/runs/{catalog['run_id']}"))
    assert page.xpath(f"string(//article[@data-track-id='{tid}']//span[contains(@class,'review-state')])") \
        == "approved"


def test_bad_decisions_are_refused_naming_the_field(client, catalog):
    r = client.post(f"/tracks/{catalog['track_ids'][0]}/review", headers=_bearer(),
                    data={"decision": "maybe", "reviewer": "ada"})
    assert r.status_code == 400 and "decision" in r.text


def test_a_whole_run_is_approved_or_held_at_once(client, catalog):
    r = client.post(f"/runs/{catalog['run_id']}/review", headers=_bearer(), data={"decision": "held",
                                                                                  "reviewer": "ada"})
    assert r.json() == {"written": len(GENERATED)}
    assert set(_states(catalog["settings"], catalog["track_ids"]).values()) == {"held"}
    row = _doc(client.get("/")).xpath(f"//tr[@data-run-id='{catalog['run_id']}']")[0]
    assert row.xpath("string(td[contains(@class,'held')])") == str(len(GENERATED))


def test_the_token_is_compared_in_constant_time(client, catalog, monkeypatch):
    seen: list[tuple[bytes, bytes]] = []
    real = security.hmac.compare_digest

    def spy(a: Any, b: Any) -> bool:
        seen.append((a, b))
        return real(a, b)

    monkeypatch.setattr(security.hmac, "compare_digest", spy)
    client.post(f"/tracks/{catalog['track_ids'][0]}/review", headers=_bearer("z" * 43),
                data={"decision": "held", "reviewer": "ada"})
    assert (b"z" * 43, TOKEN.encode()) in seen


def test_reads_need_the_token_when_so_configured(catalog):
    settings = catalog["settings"].model_copy(update={"review_token_for_reads": True})
    browser = TestClient(create_app(settings))
    tid = catalog["track_ids"][0]
    for path in ("/", f"/runs/{catalog['run_id']}", f"/tracks/{tid}/audio", f"/tracks/{tid}/waveform.png"):
        assert browser.get(path).status_code == 401, path
    assert browser.get("/healthz").status_code == 200
    assert browser.get("/", headers=_bearer("w" * 43)).status_code == 403
    assert browser.get("/", headers=_bearer()).status_code == 200
    assert _login(browser).status_code == 303
    assert browser.get(f"/runs/{catalog['run_id']}").status_code == 200
    assert "private" in browser.get(f"/tracks/{tid}/waveform.png").headers["cache-control"]


# -- pure parts ------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("header", "expected"), [
    (None, None), ("bytes=0-0", ByteRange(0, 0, 100)), ("bytes=90-", ByteRange(90, 99, 100)),
    ("bytes=-10", ByteRange(90, 99, 100)), ("bytes=-1000", ByteRange(0, 99, 100)),
    ("bytes=5-500", ByteRange(5, 99, 100)),
    ("items=0-5", None), ("bytes=0-5,10-20", None), ("bytes=x-y", None)])
def test_range_headers_parse_to_one_inclusive_range(header, expected):
    assert parse_range(header, 100) == expected


@pytest.mark.parametrize("header", ["bytes=100-", "bytes=100-200", "bytes=-0", "bytes=9-3"])
def test_unsatisfiable_ranges_raise(header):
    with pytest.raises(RangeNotSatisfiable):
        parse_range(header, 100)


def test_a_session_cookie_cannot_be_forged_or_upgraded():
    guard = security.Guard(SecretStr(TOKEN))
    anonymous = guard.new_session(authenticated=False)
    sid, _, signature = guard.cookie_value(anonymous).split(".")
    assert guard.read_cookie(f"{sid}.1.{signature}") is None  # flipped to authenticated without a login
    assert guard.read_cookie(guard.cookie_value(anonymous)) == anonymous
    other = security.Guard(SecretStr(TOKEN))  # another process: another secret
    assert other.read_cookie(guard.cookie_value(anonymous)) is None
    assert security.safe_next("/runs/x?page=2") == "/runs/x?page=2"
    for outside in ("//evil.example/", "/\\evil.example", "/\t/evil.example", "https://evil.example/", "runs"):
        assert security.safe_next(outside) == "/", outside
