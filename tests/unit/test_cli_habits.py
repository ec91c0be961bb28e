"""CLI habits: ``--version``, ``-h``, flags shown as flags, usage errors as one line (exit 2)."""

from __future__ import annotations

import pytest

from service.cli import main, package_version


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exited:
        main(list(argv))
    out, err = capsys.readouterr()
    code = exited.value.code
    return (code if isinstance(code, int) else 0), out, err


def test_version_prints_the_installed_version(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "--version")
    assert (code, out.strip()) == (0, f"casematch {package_version()}")


@pytest.mark.parametrize(
    "argv",
    [["-h"], ["--help"], ["check", "-h"], ["serve", "-h"], ["load", "-h"]],
    ids=["-h", "--help", "check -h", "serve -h", "load -h"],
)
def test_help_has_a_short_option_and_shows_flags_as_flags(
    capsys: pytest.CaptureFixture[str], argv: list[str]
) -> None:
    code, out, _ = run(capsys, *argv)
    assert code == 0
    assert "Usage: casematch" in out
    assert "<bool>" not in out


def test_check_json_is_a_flag(capsys: pytest.CaptureFixture[str]) -> None:
    _, out, _ = run(capsys, "check", "-h")
    flag_line = next(line for line in out.splitlines() if "--json" in line)
    assert flag_line.split()[0] == "--json" and "print the Detection JSON" in flag_line


@pytest.mark.parametrize(
    ("argv", "names"),
    [
        (["check", "--jsn", "x.json"], "--jsn"),
        (["check"], "'file'"),
        (["serve", "--port", "eighty"], "'--port'"),
        (["no-such-command"], "no-such-command"),
    ],
    ids=["unknown-option", "missing-argument", "bad-value", "unknown-command"],
)
def test_a_usage_error_is_one_line_on_stderr_with_exit_code_2(
    capsys: pytest.CaptureFixture[str], argv: list[str], names: str
) -> None:
    code, out, err = run(capsys, *argv)
    assert code == 2
    assert out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("casematch: ") and names in lines[0]
    assert "-h'" in lines[0]  # says where to look
