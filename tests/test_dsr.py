"""``maestro royalties export``: DDEX DSR Basic Audio Profile files per rights holder that reconcile to
ROYALTY_STATEMENTS to the micro-unit, with right FOOT counts and byte-identical reruns; CSV and Parquet exports of
the statements; bad settings and periods exit 2 naming them. Plus the pure writer and parser (maestro_core.ddex.dsr).

The month is the generated one of tests/test_royalty_job.py, computed once with the SQL engine (no Spark)."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.csv as pcsv
import pyarrow.parquet as pq
import pytest

from maestro_ai.cli import run
from maestro_core.ddex.dsr import (
    LAYOUTS,
    DsrFormatError,
    DsrHeader,
    DsrResource,
    DsrUsage,
    dsr_file_name,
    iso_duration,
    parse_dsr,
    write_dsr,
)
from tests.test_royalty_job import PERIOD, _warehouse_with_month

DPID = "PADPIDA2026120101M"
SENDER = "Maestro Records"
FILE_NAME = re.compile(r"DSR_(?P<recipient>[A-Za-z0-9.\-]+)_(?P<sender>PADPIDA[A-Za-z0-9]+)"
                       r"_(?P<service>[A-Za-z0-9.\-]+)_(?P<period>\d{4}-\d{2})_(?P<territory>[A-Z]{2}|multi)_1of1_(?P<created>\d{8}T\d{6})\.tsv")
STATEMENTS = ("SELECT PERIOD, HOLDER_ID, CURRENCY, STREAMS, AMOUNT FROM ROYALTY_STATEMENTS WHERE PERIOD = :p "
              "ORDER BY HOLDER_ID, CURRENCY")


def _use(settings: Any, monkeypatch: pytest.MonkeyPatch, dpid: str | None = DPID) -> None:
    """Points the CLI at ``settings``' warehouse, with (or without) the sender's DDEX settings."""
    monkeypatch.delenv("MAESTRO_CONFIG", raising=False)
    monkeypatch.chdir(settings.home)  # no ./maestro.toml of the repo's
    monkeypatch.setenv("MAESTRO_HOME", str(settings.home))
    monkeypatch.setenv("MAESTRO_WAREHOUSE_URL", settings.warehouse_url)
    monkeypatch.setenv("MAESTRO_DDEX_SENDER_NAME", SENDER)
    if dpid is None:
        monkeypatch.delenv("MAESTRO_DDEX_SENDER_DPID", raising=False)
    else:
        monkeypatch.setenv("MAESTRO_DDEX_SENDER_DPID", dpid)


@pytest.fixture(scope="module")
def month(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """A computed month whose tracks are partly in TRACKS (one title holds a `|`) and holders partly named."""
    from maestro_core.warehouse import connect
    from maestro_pipeline.royalty_run import run_royalties

    settings = _warehouse_with_month(tmp_path_factory.mktemp("dsr-month"))
    with connect(settings) as wh:
        tracks = sorted({r["TRACK_ID"] for r in wh.query("SELECT TRACK_ID FROM ROYALTY_SPLITS").to_pylist()})
        wh.upsert("TRACKS", [
            {"TRACK_ID": t, "REQUEST_ID": f"req_{t}", "ISRC": f"QZ-ZZZ-26-{i:05d}", "TITLE": f"Night | Drive {i}",
             "URI": f"file:///{t}.wav", "SHA256": "0" * 64, "DURATION_MS": 150_000 + i * 1_001, "TEMPO_BPM": None,
             "MUSICAL_KEY": None, "GENRE": "ambient", "MOOD": "calm", "LOUDNESS_LUFS": None,
             "CREATED_AT": datetime(2026, 3, 1)}
            for i, t in enumerate(tracks) if i % 3])  # every third track has no TRACKS row
        wh.upsert("RIGHTS_HOLDERS", [{"HOLDER_ID": f"hld_{i:02d}", "NAME": f"Holder {i}", "KIND": "artist"}
                                     for i in range(0, 12, 2)])
    run_royalties(settings, PERIOD, engine="sql")
    with connect(settings) as wh:
        statements = wh.query(STATEMENTS, {"p": PERIOD})
    assert statements.num_rows > 0
    return settings, statements


@pytest.fixture(scope="module")
def dsr_dir(month: Any) -> Path:
    settings, _ = month
    out = settings.home / "dsr"
    with pytest.MonkeyPatch.context() as mp:
        _use(settings, mp)
        assert run(["royalties", "export", "--period", PERIOD, "--format", "dsr", "--out", str(out)]) == 0
    return out


def _reports(directory: Path) -> dict[str, Any]:
    return {p.name: parse_dsr(p.read_text()) for p in sorted(directory.iterdir())}


def test_one_dsr_file_per_holder_with_statements_named_by_the_dsr_pattern(month: Any, dsr_dir: Path) -> None:
    _, statements = month
    holders = set(statements.column("HOLDER_ID").to_pylist())
    names = sorted(p.name for p in dsr_dir.iterdir())
    assert len(names) == len(holders)
    for name, report in _reports(dsr_dir).items():
        match = FILE_NAME.fullmatch(name)
        assert match, name
        assert match["sender"] == DPID and match["period"] == PERIOD and match["created"] == "20260401T000000"
        head = report.head
        assert head["SenderPartyId"] == DPID and head["SenderName"] == SENDER
        assert (head["UsageStartDate"], head["UsageEndDate"]) == ("2026-03-01", "2026-03-31")
        holder = report.of("LI01.02")[0]["RightsControllerPartyId"].removeprefix(f"{DPID}::")
        assert holder in holders and match["recipient"] == holder.replace("_", "-")
        territories = {row["Territory"] for row in report.of("SY01.01")}
        assert match["territory"] == (territories.pop() if len(territories) == 1 else "multi")
        holders.discard(holder)
    assert not holders  # every holder got its own file


def test_foot_counts_equal_the_records_written(dsr_dir: Path) -> None:
    for path in sorted(dsr_dir.iterdir()):
        lines = path.read_text().splitlines()
        records = [line.split("\t") for line in lines if not line.startswith("#")]
        kinds = [r[0] for r in records]
        assert lines[0].startswith("HEAD\t") and lines[1].startswith("#HEAD\t")  # a file starts with HEAD
        assert kinds[0] == "HEAD" and kinds[-1] == "FOOT" and set(kinds) <= set(LAYOUTS)
        assert all(len(r) == len(LAYOUTS[r[0]]) for r in records)  # every record has its layout's cells
        foot = dict(zip(LAYOUTS["FOOT"], records[-1], strict=True))
        blocks = {r[1] for r in records if r[0] in ("AS01.01", "SU02", "LI01.02")}
        assert int(foot["NumberOfLinesInFile"]) == int(foot["NumberOfLinesInReport"]) == len(lines)
        assert int(foot["NumberOfSummaryRecords"]) == kinds.count("SY01.01") > 0
        assert int(foot["NumberOfBlocksInFile"]) == int(foot["NumberOfBlocksInReport"]) == len(blocks)
        assert kinds.count("AS01.01") == len(blocks)  # one sound recording per block


def test_each_file_reconciles_to_the_holders_statements_to_the_micro_unit(month: Any, dsr_dir: Path) -> None:
    _, statements = month
    want: dict[str, dict[str, tuple[int, Decimal]]] = {}
    for row in statements.to_pylist():
        assert isinstance(row["AMOUNT"], Decimal)
        want.setdefault(row["HOLDER_ID"], {})[row["CURRENCY"]] = (row["STREAMS"], row["AMOUNT"])
    for report in _reports(dsr_dir).values():
        holder = report.of("LI01.02")[0]["RightsControllerPartyId"].removeprefix(f"{DPID}::")
        amounts = {c: a for c, (_, a) in want[holder].items()}
        assert report.net_revenue() == amounts  # SY01.01 NetRevenue, summed per currency
        assert report.allocated_revenue() == amounts  # the per-track LI01.02 lines, summed the same way
        assert report.streams() == {c: s for c, (s, _) in want[holder].items()}
        assert all(re.fullmatch(r"\d+\.\d{6}", r["NetRevenue"]) for r in report.of("SY01.01"))  # exact, 6 places


def test_tracks_carry_isrc_title_and_duration_from_tracks(dsr_dir: Path) -> None:
    resources = [row for report in _reports(dsr_dir).values() for row in report.of("AS01.01")]
    known = [r for r in resources if r["ISRC"]]
    assert known and all(re.fullmatch(r"QZZZZ26\d{5}", r["ISRC"]) for r in known)
    assert all(r["Title"].startswith("Night | Drive") and r["Duration"].startswith("PT2M") for r in known)
    unknown = [r for r in resources if not r["ISRC"]]  # no TRACKS row: the track id stands in for the title
    assert unknown and all(r["Title"] == r["DspResourceId"] and r["Duration"] == "" for r in unknown)
    assert any("\\|" in line for p in dsr_dir.iterdir() for line in p.read_text().splitlines())  # `|` escaped


def test_a_rerun_writes_byte_identical_files(month: Any, dsr_dir: Path, tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    settings, _ = month
    _use(settings, monkeypatch)
    assert run(["royalties", "export", "--period", PERIOD, "--format", "dsr", "--out", str(tmp_path)]) == 0
    first = {p.name: p.read_bytes() for p in dsr_dir.iterdir()}
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == first
    assert run(["royalties", "export", "--period", PERIOD, "--format", "dsr", "--out", str(dsr_dir)]) == 0
    assert {p.name: p.read_bytes() for p in dsr_dir.iterdir()} == first  # in place: same files, no temporaries


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_csv_and_parquet_exports_round_trip_to_the_table(fmt: str, month: Any, tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    settings, statements = month
    _use(settings, monkeypatch, dpid=None)  # no DDEX settings needed for these
    assert run(["royalties", "export", "--period", PERIOD, "--format", fmt, "--out", str(tmp_path / "x")]) == 0
    path = tmp_path / "x" / f"ROYALTY_STATEMENTS_{PERIOD}.{fmt}"
    assert sorted(p.name for p in (tmp_path / "x").iterdir()) == [path.name]
    if fmt == "parquet":
        table = pq.read_table(path)
        assert table.schema.field("AMOUNT").type == pa.decimal128(38, 6)
        assert table.to_pylist() == statements.to_pylist()
    else:
        table = pcsv.read_csv(path, convert_options=pcsv.ConvertOptions(column_types={
            "PERIOD": pa.string(), "AMOUNT": pa.string()}))
        rows = [{**r, "AMOUNT": Decimal(r["AMOUNT"])} for r in table.to_pylist()]
        assert rows == statements.to_pylist()


def test_missing_sender_dpid_exits_2_naming_the_setting(month: Any, tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    settings, _ = month
    _use(settings, monkeypatch, dpid=None)
    capsys.readouterr()
    assert run(["royalties", "export", "--period", PERIOD, "--format", "dsr", "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "MAESTRO_DDEX_SENDER_DPID" in err[0] and "Traceback" not in err[0]
    assert not (tmp_path / "o").exists()  # refused before anything was written

    _use(settings, monkeypatch, dpid="not-a-dpid")
    assert run(["royalties", "export", "--period", PERIOD, "--format", "dsr", "--out", str(tmp_path / "o")]) == 2
    assert "MAESTRO_DDEX_SENDER_DPID" in capsys.readouterr().err


@pytest.mark.parametrize(("args", "named"), [
    (["--period", "2026-02", "--format", "dsr"], "--period"),  # a pool but never computed: no statements
    (["--period", "2025-01", "--format", "csv"], "--period"),  # nothing at all
    (["--period", "2026-13", "--format", "dsr"], "--period"),
    (["--period", PERIOD, "--format", "xml"], "--format"),
])
def test_bad_period_or_format_exits_2_naming_it(args: list[str], named: str, month: Any, tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    settings, _ = month
    _use(settings, monkeypatch)
    capsys.readouterr()
    assert run(["royalties", "export", *args, "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert named in err and "Traceback" not in err


# The pure writer and parser.

def _header(**kw: Any) -> DsrHeader:
    base = {"sender_dpid": DPID, "sender_name": SENDER, "recipient_id": "hld_01", "recipient_name": "Ann",
            "period": "2026-03", "usage_start": date(2026, 3, 1), "usage_end": date(2026, 3, 31),
            "created": datetime(2026, 4, 1, tzinfo=UTC), "message_id": "DSR-2026-03-hld_01"}
    return DsrHeader(**{**base, **kw})


def test_writer_sums_summaries_from_usages_and_parses_back() -> None:
    resources = [
        DsrResource("trk_b", "B\\side | two", "Art", "QZ-ZZZ-26-00001", 61_500,
                    (DsrUsage("US", "USD", 3, 1_000_001, 2500), DsrUsage("GB", "GBP", 1, 7))),
        DsrResource("trk_a", "A", "Art", None, None, (DsrUsage("US", "USD", 2, 2, 10_000),)),
    ]
    text = write_dsr(_header(), resources)
    report = parse_dsr(text)
    assert report.net_revenue() == {"GBP": Decimal("0.000007"), "USD": Decimal("1.000003")}
    assert report.allocated_revenue() == report.net_revenue() and report.streams() == {"GBP": 1, "USD": 5}
    assert [r["DspResourceId"] for r in report.of("AS01.01")] == ["trk_a", "trk_b"]  # by track id
    b = report.of("AS01.01")[1]
    assert (b["Title"], b["ISRC"], b["Duration"]) == ("B\\side | two", "QZZZZ2600001", "PT1M1.5S")
    assert [r["RightSharePercentage"] for r in report.of("LI01.02")] == ["100.00", "", "25.00"]  # GB before US
    assert report.foot["NumberOfBlocksInFile"] == "2" and report.blocks == 2
    assert write_dsr(_header(), list(reversed(resources))) == text  # order of the input does not matter
    assert dsr_file_name(_header(), resources) == f"DSR_hld-01_{DPID}_MaestroStreaming_2026-03_multi_1of1_" \
                                                  "20260401T000000.tsv"
    assert dsr_file_name(_header(), resources[1:]).split("_")[5] == "US"


def test_parser_refuses_wrong_foot_counts_and_unknown_records() -> None:
    text = write_dsr(_header(), [DsrResource("t", "T", "A", usages=(DsrUsage("US", "USD", 1, 1),))])
    lines = text.splitlines()
    foot = lines[-1].split("\t")
    with pytest.raises(DsrFormatError, match="NumberOfLinesInFile"):
        parse_dsr("\n".join([*lines[:-1], "\t".join([foot[0], "99", *foot[2:]])]) + "\n")
    with pytest.raises(DsrFormatError, match="unknown record type"):
        parse_dsr("\n".join([lines[0], "XX01\t1", *lines[1:]]))
    with pytest.raises(ValueError, match="DDEX Party ID"):
        write_dsr(_header(sender_dpid="nope"), [])


def test_iso_durations() -> None:
    assert [iso_duration(ms) for ms in (None, 0, 999, 61_000, 3_600_000, 3_723_450)] == [
        "", "PT0S", "PT0.999S", "PT1M1S", "PT1H0M0S", "PT1H2M3.45S"]
