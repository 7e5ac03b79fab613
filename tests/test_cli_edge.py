"""The CLI edge: every usage error exits 2 with a message and no traceback, whatever click typer bundles.

Commands are enumerated from the app itself, so a command added later is covered without editing this file.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import typer

from maestro_ai.cli import _click_exception_types, _load_commands, app, run


def _command_paths() -> tuple[list[tuple[str, ...]], list[tuple[str, ...]], list[tuple[str, ...]]]:
    """(groups, leaf commands, leaf commands that require an argument or option), as argv prefixes."""
    _load_commands()
    groups, leaves, required = [], [], []

    def walk(command, path: tuple[str, ...]) -> None:
        sub = getattr(command, "commands", None)
        if sub is not None:
            groups.append(path)
            for name, child in sub.items():
                walk(child, (*path, name))
            return
        leaves.append(path)
        if any(getattr(p, "required", False) for p in command.params):
            required.append(path)

    walk(typer.main.get_command(app), ())
    return groups, leaves, required


GROUPS, LEAVES, REQUIRED = _command_paths()


def test_the_enumeration_sees_the_commands_the_readme_lists():
    names = {" ".join(p) for p in LEAVES}
    assert {"init", "seed", "generate", "verify", "run catalog", "run playlist-fill", "royalties export-inputs",
            "royalties load-outputs", "analytics run", "keys init", "rights check", "airflow env", "demo"} <= names
    assert {"run catalog", "verify", "royalties export-inputs", "royalties load-outputs", "analytics run",
            "rights check"} <= {" ".join(p) for p in REQUIRED}


@pytest.mark.parametrize("path", LEAVES, ids=" ".join)
def test_every_command_given_a_bad_flag_exits_2_without_a_traceback(path, capsys):
    assert run([*path, "--no-such-flag"]) == 2
    err = capsys.readouterr().err
    assert "no-such-flag" in err and "Traceback" not in err


@pytest.mark.parametrize("path", REQUIRED, ids=" ".join)
def test_every_command_that_needs_an_argument_given_none_exits_2_naming_it(path, capsys):
    assert run(list(path)) == 2
    err = capsys.readouterr().err
    assert "Missing" in err and "Traceback" not in err


@pytest.mark.parametrize("path", GROUPS, ids=lambda p: " ".join(p) or "maestro")
def test_every_group_given_no_command_shows_its_help_and_exits_2(path, capsys):
    assert run(list(path)) == 2
    captured = capsys.readouterr()
    assert "Usage" in captured.out + captured.err and "Traceback" not in captured.out + captured.err


def test_an_unknown_command_exits_2_naming_it(capsys):
    assert run(["frobnicate"]) == 2
    assert "frobnicate" in capsys.readouterr().err


def test_the_usage_errors_caught_are_the_classes_the_installed_typer_raises():
    click_errors, _, _ = _click_exception_types()
    _load_commands()
    with pytest.raises(Exception) as info:
        app(args=["frobnicate"], standalone_mode=False, prog_name="maestro")
    assert isinstance(info.value, click_errors)
    with pytest.raises(Exception) as info:
        app(args=[], standalone_mode=False, prog_name="maestro")
    assert isinstance(info.value, click_errors)


def test_version_prints_the_package_version(capsys):
    from importlib.metadata import version

    assert run(["--version"]) == 0
    assert capsys.readouterr().out.strip() == f"maestro {version('maestro-ai')}"


def test_a_bad_number_exits_2_naming_the_flag(capsys):
    assert run(["generate", "--genre", "house", "--mood", "energetic", "--tempo", "abc"]) == 2
    err = capsys.readouterr().err
    assert "--tempo" in err and "Traceback" not in err


def test_generate_checks_its_arguments_before_loading_the_engine(tmp_path):
    code = ("import sys, time; from maestro_ai.cli import run; t = time.perf_counter();"
            f"rc = run(['generate', '--genre', 'house', '--mood', 'energetic', '--duration', '2', '--out', "
            f"{str(tmp_path)!r}]);"
            "print(rc, round(time.perf_counter() - t, 2), 'tinysoundfont' in sys.modules, 'torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    rc, _seconds, font_loaded, torch_loaded = out.stdout.split()
    assert rc == "2" and "duration_seconds" in out.stderr
    assert font_loaded == "False" and torch_loaded == "False"


def _maestro(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in __import__("os").environ.items() if not k.startswith("MAESTRO_")}
    return subprocess.run([sys.executable, "-m", "maestro_ai.cli", *args], capture_output=True, text=True,
                          env={**clean, **env}, cwd=cwd, timeout=120)


def test_an_unknown_log_level_is_one_line_exit_2(tmp_path):
    out = _maestro(["config"], {"MAESTRO_LOG_LEVEL": "verbose", "MAESTRO_HOME": str(tmp_path)}, tmp_path)
    assert out.returncode == 2
    assert out.stderr.strip().splitlines() == ["error: MAESTRO_LOG_LEVEL: 'VERBOSE' is not a log level (accepted: "
                                               "DEBUG, INFO, WARNING, ERROR)"]


@pytest.mark.parametrize("command", [["init"], ["keys", "init"]])
def test_a_home_that_is_a_file_is_named_not_a_traceback(tmp_path, command):
    home = tmp_path / "home-file"
    home.write_text("not a directory")
    out = _maestro(command, {"MAESTRO_HOME": str(home)}, tmp_path)
    assert out.returncode == 2 and "Traceback" not in out.stderr
    assert out.stderr.strip().splitlines() == [f"error: MAESTRO_HOME: {home} is a file, not a directory (accepted: "
                                               "a directory (created if missing))"]


def test_a_store_under_a_file_names_the_setting(tmp_path):
    from maestro_core.errors import ConfigError
    from maestro_core.storage import TrackStore

    (tmp_path / "f").write_text("x")
    with pytest.raises(ConfigError) as info:
        TrackStore(f"file://{tmp_path / 'f' / 'tracks'}")
    assert info.value.field == "MAESTRO_STORAGE_URL" and "is a file, not a directory" in str(info.value)
