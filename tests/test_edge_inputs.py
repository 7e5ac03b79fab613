"""Edge inputs people really send: empty and truncated files, directories where files belong, a string where a
mapping belongs, emoji-only phrases, 10,000 phrases, months without streams, and output paths that cannot be
written. Each is refused (or handled) with an error that names the field, and never with a traceback."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import maestro_ai
from maestro_core import limits
from maestro_core.errors import InputError
from tests.plugins.rights import write_sine_wav

# --- helpers ---------------------------------------------------------------------------------------------------


def _cli(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    """Runs ``maestro`` in-process; returns (exit code, stdout, stderr)."""
    from maestro_ai.cli import main

    code = 0
    try:
        main(argv)
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    out, err = capsys.readouterr()
    return code, out, err


def _one_line_error(err: str, *says: str) -> None:
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert "Traceback" not in err and all(s in lines[0] for s in says), err


def _generator(tmp_path: Path) -> maestro_ai.MusicGenerator:
    return maestro_ai.MusicGenerator(genre="lofi-chill", mood="ambient-focus", output_dir=tmp_path / "out")


@pytest.fixture
def no_engine(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Fails the test if anything builds an engine (SoundFont, text model)."""
    import inference.engine

    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("the engine was built")

    monkeypatch.setattr(inference.engine, "get_engine", refuse)
    yield


# --- 1. write_files_atomic keeps the files it replaced when a later rename fails -------------------------------


def _fail_on_call(monkeypatch: pytest.MonkeyPatch, n: int) -> None:
    """Makes the ``n``-th ``os.replace`` in maestro_core.atomic raise (later calls, the roll-back's, work)."""
    import maestro_core.atomic as atomic

    real, calls = os.replace, []

    def replace(src: Any, dst: Any) -> None:
        calls.append(dst)
        if len(calls) == n:
            raise OSError(28, "No space left on device")
        real(src, dst)

    monkeypatch.setattr(atomic.os, "replace", replace)


def test_failed_retry_puts_back_the_good_files_it_had_already_replaced(tmp_path: Path,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    from maestro_core.atomic import write_files_atomic

    audio, midi = tmp_path / "t.wav", tmp_path / "t.mid"
    write_files_atomic({audio: b"good audio", midi: b"good midi"})
    _fail_on_call(monkeypatch, 2)
    with pytest.raises(OSError, match="No space"):
        write_files_atomic({audio: b"new audio", midi: b"new midi"})
    assert audio.read_bytes() == b"good audio" and midi.read_bytes() == b"good midi"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["t.mid", "t.wav"]  # no temporary or backup file


def test_failed_first_write_removes_the_files_it_created(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from maestro_core.atomic import write_files_atomic

    _fail_on_call(monkeypatch, 2)
    with pytest.raises(OSError):
        write_files_atomic({tmp_path / "a.wav": b"a", tmp_path / "a.mid": b"m"})
    assert list(tmp_path.iterdir()) == []


def test_successful_rewrite_replaces_the_files_and_leaves_no_backup(tmp_path: Path) -> None:
    from maestro_core.atomic import write_files_atomic

    files = {tmp_path / "x.wav": b"1", tmp_path / "x.mid": b"2"}
    write_files_atomic(files)
    write_files_atomic({p: data * 2 for p, data in files.items()})
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == {"x.wav": b"11", "x.mid": b"22"}


# --- 2. `maestro verify` on empty, truncated and directory paths ------------------------------------------------


@pytest.fixture
def verify_home(settings: Any) -> Any:
    """The seeded ``settings`` home (MAESTRO_HOME) with development signing keys in ``<home>/keys``."""
    from maestro_core.signing_keys import default_keys_dir, init_keys

    init_keys(default_keys_dir(settings))
    return settings


def _signed_wav(path: Path, settings: Any) -> Path:
    from maestro_core.credentials import ManifestFields, sign_audio
    from maestro_core.signing_keys import KeyConfig

    fields = ManifestFields("trk_edge", "USMAE2600001", "a" * 64, "sine-test", "0")
    return sign_audio(write_sine_wav(path, seconds=0.5), fields, KeyConfig.from_settings(settings))


def test_empty_wav_fails_the_manifest_check_saying_it_is_empty(tmp_path: Path, verify_home: Any) -> None:
    from maestro_core.verify import verify_track

    empty = tmp_path / "empty.wav"
    empty.write_bytes(b"")
    report = verify_track(empty, verify_home)
    assert not report.ok and [(c.name, c.ok) for c in report.checks] == [("manifest", False)]
    assert "the file is empty" in report.checks[0].detail


@pytest.mark.parametrize("keep", [0.5, 0.99, 44 / 1e9])
def test_truncated_signed_wav_has_no_readable_manifest(tmp_path: Path, verify_home: Any, keep: float) -> None:
    from maestro_core.verify import verify_track

    signed = _signed_wav(tmp_path / "signed.wav", verify_home)
    assert verify_track(signed, verify_home).checks[0].ok  # the whole file reads
    data = signed.read_bytes()
    cut = tmp_path / "cut.wav"
    cut.write_bytes(data[:max(44, int(len(data) * keep))])
    report = verify_track(cut, verify_home)
    assert [(c.name, c.ok) for c in report.checks] == [("manifest", False)]
    assert report.checks[0].detail.startswith("no readable C2PA manifest: ")
    assert "signed by" not in report.checks[0].detail


def test_manifest_without_a_signer_is_not_reported_ok(tmp_path: Path, verify_home: Any,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    import maestro_core.verify as verify
    from maestro_core.credentials import Credentials

    unsigned = Credentials(present=True, state="Valid", track={"track_id": "trk_x"}, signer=None)
    monkeypatch.setattr(verify, "read_credentials", lambda path, keys: unsigned)
    report = verify.verify_track(write_sine_wav(tmp_path / "t.wav", seconds=0.1), verify_home)
    manifest = report.checks[0]
    assert manifest.name == "manifest" and not manifest.ok and "names no signer" in manifest.detail
    assert not report.ok and "?" not in manifest.detail


@pytest.mark.parametrize("content", [b"", b"RIFF\x10\x00\x00\x00WAVE"])
def test_cli_verify_of_an_unreadable_file_exits_1_with_fail_manifest(tmp_path: Path, verify_home: Any,
                                                                     capsys: pytest.CaptureFixture[str],
                                                                     content: bytes) -> None:
    bad = tmp_path / "bad.wav"
    bad.write_bytes(content)
    code, out, err = _cli(["verify", str(bad)], capsys)
    assert code == 1 and "Traceback" not in out + err
    assert out.splitlines()[0].startswith("FAIL manifest") and "NOT verified (manifest)" in out
    assert not any(line.startswith("OK") for line in out.splitlines())


def test_cli_verify_of_a_directory_says_it_is_a_directory(tmp_path: Path, verify_home: Any,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    for folder in (tmp_path / "album.wav", tmp_path / "album"):
        folder.mkdir()
        code, _, err = _cli(["verify", str(folder)], capsys)
        assert code == 2
        _one_line_error(err, "audio_path", str(folder), "is a directory")
        assert "does not exist" not in err


# --- 3. a directory given as the melody seed ---------------------------------------------------------------------


def test_directory_as_melody_is_named_as_a_directory(tmp_path: Path) -> None:
    from inference.composer.midi_input import parse_seed

    for value in (tmp_path, str(tmp_path), str(tmp_path) + "/"):
        with pytest.raises(InputError, match="is a directory, not a .mid file") as caught:
            parse_seed(value)
        assert caught.value.field == "melody_midi" and "does not exist" not in str(caught.value)


def test_directory_as_melody_is_refused_by_check(tmp_path: Path, no_engine: None) -> None:
    with pytest.raises(InputError, match="is a directory") as caught:
        _generator(tmp_path).check({"melody_midi": str(tmp_path)}, duration_seconds=10)
    assert caught.value.field == "melody_midi"


# --- 4. instrumentation must be a mapping ------------------------------------------------------------------------

MAPPING_HINT = "must be a mapping of role -> GM instrument name or program, e.g. {'lead': 'Flute'}"


@pytest.mark.parametrize("value", ["Flute", ["Flute"], 73, ("lead", "Flute")])
def test_instrumentation_that_is_not_a_mapping_names_the_field(tmp_path: Path, no_engine: None,
                                                               value: Any) -> None:
    for call in (_generator(tmp_path).check, _generator(tmp_path).generate_track):
        with pytest.raises(InputError) as caught:
            call({"instrumentation": value}, duration_seconds=10)
        assert caught.value.field == "instrumentation" and MAPPING_HINT in str(caught.value)
    assert not (tmp_path / "out").exists()


def test_engine_validate_refuses_a_string_instrumentation() -> None:
    from inference.composer.engine import validate
    from inference.engine import GenerationRequest

    with pytest.raises(InputError, match="mapping of role") as caught:
        validate(GenerationRequest(genre="house", mood="energetic", instrumentation="Flute", duration_s=10))
    assert caught.value.field == "instrumentation"


@pytest.mark.parametrize(("value", "field", "says"), [
    ({"lead": "Kazooo"}, "instrumentation.lead", "unknown General MIDI instrument 'Kazooo'"),
    ({"lead": 128}, "instrumentation.lead", "0..127"),
    ({"lead": True}, "instrumentation.lead", "0..127"),
    ({"drums": "tin can"}, "instrumentation.drums", "unknown drum kit"),
    ({"violin": "Violin"}, "instrumentation", "accepted"),
])
def test_instrument_values_are_checked_before_the_engine_is_built(tmp_path: Path, no_engine: None, value: Any,
                                                                  field: str, says: str) -> None:
    with pytest.raises(InputError) as caught:
        _generator(tmp_path).check({"instrumentation": value}, duration_seconds=10)
    assert caught.value.field == field and says in str(caught.value)


def test_valid_instrumentation_passes_check(tmp_path: Path, no_engine: None) -> None:
    _generator(tmp_path).check({"instrumentation": {"lead": "Flute", "bass": 33}}, duration_seconds=10)


# --- 5. titles from phrases without letters ----------------------------------------------------------------------


@pytest.mark.parametrize("phrases", [("🌧️🌃",), ("🌧️🌃", "ab"), ("🌧️🌃", "💡"), ("!!!", "🌧️", "--"),
                                     ("rainy night", "🌃"), ("ab", "🌧️🌃", "velvet night")])
def test_emoji_only_phrases_never_give_an_empty_title_or_empty_parentheses(phrases: tuple[str, ...]) -> None:
    from inference.composer.plan import make_title
    from inference.composer.presets import get_genre, get_mood

    genre, mood = get_genre("lofi-chill"), get_mood("ambient-focus")
    title = make_title(phrases, genre, mood)
    assert title.strip() and "()" not in title and "( " not in title
    assert title == make_title(phrases, genre, mood)  # still deterministic
    if all(not any(ch.isalnum() for ch in p) for p in phrases):
        assert title == make_title((), genre, mood)  # from mood and genre


# --- 6. limits on key phrases, tempo and duration ----------------------------------------------------------------


def test_composer_ranges_come_from_maestro_ai_limits() -> None:
    from inference.composer.plan import DURATION_RANGE, TEMPO_RANGE

    assert tuple(float(x) for x in limits.TEMPO_RANGE_BPM) == TEMPO_RANGE
    assert tuple(float(x) for x in limits.DURATION_RANGE_S) == DURATION_RANGE


def test_too_many_key_phrases_name_the_field_and_the_limit() -> None:
    from maestro_core.limits import check_key_phrases as check_phrases

    assert len(check_phrases([f"phrase {i}" for i in range(limits.MAX_KEY_PHRASES)])) == limits.MAX_KEY_PHRASES
    with pytest.raises(InputError) as caught:
        check_phrases([f"phrase {i}" for i in range(limits.MAX_KEY_PHRASES + 1)])
    assert caught.value.field == "key_phrases" and f"at most {limits.MAX_KEY_PHRASES}" in str(caught.value)


def test_a_too_long_key_phrase_names_its_index_and_the_limit() -> None:
    from maestro_core.limits import check_key_phrases as check_phrases

    fits = "x" * limits.MAX_KEY_PHRASE_CHARS
    assert check_phrases(["ok", f"  {fits}\n"]) == ("ok", fits)  # counted after collapsing white space
    with pytest.raises(InputError) as caught:
        check_phrases(["ok", fits + "y"])
    assert caught.value.field == "key_phrases[1]" and str(limits.MAX_KEY_PHRASE_CHARS) in str(caught.value)


def test_ten_thousand_phrases_are_refused_at_once_without_building_the_engine(tmp_path: Path,
                                                                              no_engine: None) -> None:
    phrases = [f"rainy city lights {i}" for i in range(10_000)]
    for call in (_generator(tmp_path).check, _generator(tmp_path).generate_track):
        started = time.perf_counter()
        with pytest.raises(InputError) as caught:
            call({"key_phrases": phrases}, duration_seconds=10)
        assert time.perf_counter() - started < 0.5
        assert caught.value.field == "key_phrases" and "10000" in str(caught.value)


# --- 7. MusicGenerator.check validates without building the engine -----------------------------------------------


@pytest.mark.parametrize(("changes", "field"), [
    ({"input": {"tempo_bpm": limits.TEMPO_RANGE_BPM[1] + 1}}, "tempo_bpm"),
    ({"duration_seconds": limits.DURATION_RANGE_S[0] - 1}, "duration_seconds"),
    ({"input": {"key": "H major"}}, "key"),
    ({"input": {"time_signature": "6/8"}}, "time_signature"),
    ({"input": {"key_phrases": ["fine", "  "]}}, "key_phrases[1]"),
    ({"input": {"melody_midi": "Cmaj7 Hmaj7"}}, "melody_midi"),
    ({"input": {"colour": "red"}}, "input_data"),
    ({"seed": -1}, "seed"),
    ({"seed": True}, "seed"),
    ({"variation": {"label": "x"}}, "variation"),
])
def test_check_names_the_field_of_a_bad_request(tmp_path: Path, no_engine: None, changes: dict, field: str) -> None:
    data = {"key_phrases": ["rainy city"], "tempo_bpm": 72, **changes.pop("input", {})}
    with pytest.raises(InputError) as caught:
        _generator(tmp_path).check(data, **changes)
    assert caught.value.field == field
    assert not (tmp_path / "out").exists()


def test_check_accepts_a_good_request_and_returns_nothing(tmp_path: Path, no_engine: None) -> None:
    data = {"melody_midi": "Cmaj7 G6", "key_phrases": ["rainy city"], "tempo_bpm": 72, "key": "A minor",
            "time_signature": "3/4", "instrumentation": {"lead": "Flute"}}
    assert _generator(tmp_path).check(data, duration_seconds=30, seed=7) is None


def test_check_loads_no_soundfont_or_text_model() -> None:
    code = ("import sys, maestro_ai\n"
            "gen = maestro_ai.MusicGenerator('house', 'dark')\n"
            "gen.check({'key_phrases': ['rainy city'], 'tempo_bpm': 120, 'melody_midi': 'Am F'}, 30)\n"
            "try:\n"
            "    gen.check({'tempo_bpm': 500}, 30)\n"
            "except ValueError as e:\n"
            "    print(e.field)\n"
            "print(sorted(m for m in ('torch', 'sentence_transformers', 'tinysoundfont', 'pretty_midi',"
            " 'inference.render', 'inference.effects') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=Path(__file__).resolve().parents[1])
    assert out.stdout.split() == ["tempo_bpm", "[]"]


# --- 8. royalties on SQL for a month with pools but no streams ---------------------------------------------------


def test_sql_royalties_for_a_month_without_streams_report_zeros(settings: Any) -> None:
    from maestro_core.sample_catalog import POOL_PERIODS, revenue_pools
    from maestro_pipeline.royalty_run import run_royalties

    period = POOL_PERIODS[0]
    run = run_royalties(settings, period, engine="sql")
    counts = {k: v for k, v in vars(run.report).items() if k not in ("period", "unallocated")}
    assert counts and set(counts.values()) == {0}
    pools = {(p["territory"], p["currency"]) for p in revenue_pools() if p["period"] == period}
    assert {(u.territory, u.currency) for u in run.report.unallocated} == pools
    assert run.ledger_lines == 0 and run.statements.num_rows == 0


def test_cli_sql_royalties_for_a_month_without_streams(settings: Any, capsys: pytest.CaptureFixture[str]) -> None:
    from maestro_core.sample_catalog import POOL_PERIODS

    code, out, err = _cli(["royalties", "--period", POOL_PERIODS[0], "--engine", "sql"], capsys)
    assert code == 0 and "Traceback" not in out + err
    assert "0 paid streams, 0 ledger lines" in out and "unallocated" in out


# --- 9. analytics: --out targets and parameter types -------------------------------------------------------------


@pytest.fixture
def query_never_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    import maestro_core.analytics as analytics

    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("the query ran")

    monkeypatch.setattr(analytics, "run_query", refuse)


def _analytics_run(out: Path, capsys: pytest.CaptureFixture[str], fmt: str = "csv") -> tuple[int, str, str]:
    return _cli(["analytics", "run", "royalty_statement_by_holder", "--param", "period=2026-08", "--format", fmt,
                 "--out", str(out)], capsys)


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_out_that_is_a_directory_is_refused_before_the_query(settings: Any, tmp_path: Path, query_never_runs: None,
                                                             capsys: pytest.CaptureFixture[str], fmt: str) -> None:
    code, _, err = _analytics_run(tmp_path, capsys, fmt)
    assert code == 2
    _one_line_error(err, "--out", "is a directory")


def test_out_under_a_regular_file_is_refused_before_the_query(settings: Any, tmp_path: Path,
                                                              query_never_runs: None,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    blocker = tmp_path / "report.txt"
    blocker.write_text("a file, not a directory")
    code, _, err = _analytics_run(blocker / "statement.csv", capsys)
    assert code == 2
    _one_line_error(err, "--out", "is not a directory")
    code, _, err = _analytics_run(tmp_path / "missing" / "statement.csv", capsys)
    assert code == 2
    _one_line_error(err, "--out", "does not exist")


def test_out_write_failure_names_out(settings: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    import maestro_core.analytics as analytics

    @contextlib.contextmanager
    def full_disk(path: Any, mode: int = 0o644) -> Iterator[Path]:
        raise OSError(28, "No space left on device")
        yield Path(path)

    monkeypatch.setattr(analytics, "atomic_path", full_disk)
    code, _, err = _analytics_run(tmp_path / "statement.csv", capsys)
    assert code == 2
    _one_line_error(err, "--out", "No space left on device")
    assert not (tmp_path / "statement.csv").exists()


def test_out_that_can_be_written_gets_the_result(settings: Any, tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _analytics_run(tmp_path / "statement.csv", capsys)
    assert code == 0 and (tmp_path / "statement.csv").read_text().startswith('"PERIOD"')


@pytest.mark.parametrize("period", ["x", "2026-13", "2026-00", "2026-3", "202603", "2026-03-01", " 2026-03",
                                    "２０２６-03"])
def test_period_parameters_must_be_a_month(period: str) -> None:
    from maestro_core.analytics import get_query

    for name in ("holder_concentration", "royalty_statement_by_holder"):
        query = get_query(name)
        assert [p.type for p in query.params] == ["month"]
        assert query.bind({"period": "2026-03"}) == {"period": "2026-03"}
        with pytest.raises(InputError, match="is not a month YYYY-MM") as caught:
            query.bind({"period": period})
        assert caught.value.field == "period"


def test_cli_bad_period_is_one_line_naming_period(settings: Any, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = _cli(["analytics", "run", "holder_concentration", "--param", "period=x"], capsys)
    assert code == 2
    _one_line_error(err, "period", "'x'")


@pytest.mark.parametrize("day", ["20261120", "2026-W47-5", "2026-11-20T00:00", "2026-02-30", "26-11-20"])
def test_date_parameters_must_be_written_yyyy_mm_dd(day: str) -> None:
    from maestro_core.analytics import QueryParam

    param = QueryParam("start_date", "date", None, "first day")
    assert str(param.convert("2026-11-20")) == "2026-11-20"
    with pytest.raises(InputError, match="is not a date YYYY-MM-DD") as caught:
        param.convert(day)
    assert caught.value.field == "start_date"
