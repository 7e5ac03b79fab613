"""``maestro review export`` and ``maestro review serve``'s edges: the static export of one run (every track, no
forms, relative links that resolve, written all or nothing), and the CLI's one-line errors with exit 2."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from lxml import html as lxml_html

from maestro_ai.cli import run as cli_run
from maestro_ai.cli.review_cmds import bind_warning, is_loopback
from maestro_ai.review import export_run
from maestro_ai.review.export import MARKER
from maestro_core.errors import InputError
from maestro_core.storage import TrackStore
from maestro_core.warehouse import connect
from maestro_pipeline import review
from tests.test_review_app import review_catalog


@pytest.fixture(scope="module")
def exported(ray_cluster: Any, make_home: Any, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    settings, run_id = review_catalog(make_home)
    out = tmp_path_factory.mktemp("export") / "run"
    result = export_run(settings, run_id, out)
    with connect(settings) as wh:
        tracks, _ = review.run_tracks(wh, run_id, limit=50)
    return {"settings": settings, "run_id": run_id, "out": out, "result": result, "tracks": tracks}


def test_the_export_holds_every_track_with_its_audio_images_and_provenance_and_no_form(exported):
    out, tracks = exported["out"], exported["tracks"]
    doc = lxml_html.fromstring((out / "index.html").read_text())
    articles = doc.xpath("//article[@class='track']")
    assert sorted(a.get("data-track-id") for a in articles) == sorted(t.track_id for t in tracks)
    assert exported["result"].tracks == len(tracks) and exported["result"].index == out / "index.html"
    assert not doc.xpath("//form") and not doc.xpath("//input")
    store = TrackStore(exported["settings"].storage_url)
    for a in articles:
        track = next(t for t in tracks if t.track_id == a.get("data-track-id"))
        audio = out / a.xpath(".//audio/@src")[0]
        assert audio.read_bytes() == store.read_bytes(store.key_of(track.uri))
        for kind in ("waveform", "spectrogram"):
            assert (out / a.xpath(f".//img[@class='{kind}']/@src")[0]).read_bytes()[:4] == b"\x89PNG"


def test_every_link_of_the_export_is_relative_and_resolves(exported):
    out = exported["out"]
    doc = lxml_html.fromstring((out / "index.html").read_text())
    links = doc.xpath("//@src | //@href")
    assert links
    for link in links:
        assert not re.match(r"^([a-z]+:|/)", link), link
        assert (out / link).is_file(), link


def test_exporting_again_replaces_the_earlier_export_and_leaves_no_temporary_directory(exported):
    out = exported["out"]
    (out / "stale.txt").write_text("from an earlier export")
    export_run(exported["settings"], exported["run_id"], out)
    assert not (out / "stale.txt").exists() and (out / MARKER).is_file()
    assert [p.name for p in out.parent.iterdir()] == [out.name]


def test_export_refuses_to_replace_a_directory_that_is_not_an_export(exported, tmp_path):
    keep = tmp_path / "notes"
    keep.mkdir()
    (keep / "mine.txt").write_text("keep me")
    with pytest.raises(InputError) as err:
        export_run(exported["settings"], exported["run_id"], keep)
    assert err.value.field == "out" and (keep / "mine.txt").read_text() == "keep me"


def test_cli_export_of_an_unknown_run_exits_2_naming_the_flag(exported, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("MAESTRO_HOME", str(exported["settings"].home))
    assert cli_run(["review", "export", "--run", "no_such_run", "--out", str(tmp_path / "x")]) == 2
    err = capsys.readouterr().err
    assert "--run" in err and "no_such_run" in err and "Traceback" not in err
    assert not (tmp_path / "x").exists()


def test_cli_export_prints_the_index_path(exported, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("MAESTRO_HOME", str(exported["settings"].home))
    assert cli_run(["review", "export", "--run", exported["run_id"], "--out", str(tmp_path / "mail")]) == 0
    assert str(tmp_path / "mail" / "index.html") in capsys.readouterr().out


def test_cli_serve_with_a_short_token_exits_2_naming_the_setting(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("MAESTRO_HOME", str(tmp_path))
    monkeypatch.setenv("MAESTRO_REVIEW_TOKEN", "too-short")
    assert cli_run(["review", "serve"]) == 2
    err = capsys.readouterr().err
    assert "MAESTRO_REVIEW_TOKEN" in err and len(err.strip().splitlines()) == 1


def test_cli_serve_refuses_a_port_outside_tcp(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("MAESTRO_HOME", str(tmp_path))
    assert cli_run(["review", "serve", "--port", "70000"]) == 2
    assert "--port" in capsys.readouterr().err


@pytest.mark.parametrize(("host", "loopback"), [("127.0.0.1", True), ("localhost", True), ("::1", True),
                                                ("127.1.2.3", True), ("0.0.0.0", False), ("192.168.1.5", False),
                                                ("review.example.com", False)])
def test_only_loopback_binds_without_a_token_go_unwarned(host, loopback):
    assert is_loopback(host) is loopback
    assert (bind_warning(host, token_set=False) is None) is loopback
    assert bind_warning(host, token_set=True) is None


def test_the_export_is_written_beside_its_target_then_renamed(exported, tmp_path, monkeypatch):
    """A failure while writing leaves neither the target nor a temporary directory."""
    import maestro_ai.review.export as export_module

    def broken(*args: Any) -> int:
        raise OSError("disk full")

    monkeypatch.setattr(export_module, "_copy_object", broken)
    target = tmp_path / "half"
    with pytest.raises(OSError):
        export_run(exported["settings"], exported["run_id"], target)
    assert list(Path(tmp_path).iterdir()) == []
