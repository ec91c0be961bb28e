"""Issue 12 item 9: a malformed setting is one line naming it, never a secret, no traceback."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from service.settings import ConfigError, load_settings

SECRET = "sk-live-Zq9SECRETx"

CASES = [
    ("CASEMATCH_API_KEYS", f'{{"{SECRET}": {{"organizations": 5}}}}', "CASEMATCH_API_KEYS"),
    ("CASEMATCH_API_KEYS", f"{{{SECRET}", "CASEMATCH_API_KEYS"),
    ("CASEMATCH_API_KEYS", f'["{SECRET}"]', "CASEMATCH_API_KEYS"),
    (
        "CASEMATCH_API_KEYS",
        f'{{"{SECRET}": {{"organizations": ["A"], "permissions": ["x"]}}}}',
        "CASEMATCH_API_KEYS",
    ),
    ("CASEMATCH_OPENSEARCH_PASSWORD", "", None),  # an empty password is valid: no error
    ("CASEMATCH_MASK_PHI", "perhaps", "CASEMATCH_MASK_PHI"),
    ("CASEMATCH_OPENSEARCH_TIMEOUT_S", "soon", "CASEMATCH_OPENSEARCH_TIMEOUT_S"),
    ("CASEMATCH_ORGANIZATIONS", "{", "CASEMATCH_ORGANIZATIONS"),
]
IDS = [
    "keys-wrong-type",
    "keys-not-json",
    "keys-a-list",
    "keys-bad-permission",
    "empty-password",
    "bool",
    "number",
    "orgs-not-json",
]


@pytest.mark.parametrize(("name", "value", "named"), CASES, ids=IDS)
def test_config_error_is_one_line_naming_the_setting_without_its_secret(
    name: str, value: str, named: str | None, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv(name, value)
    if named is None:
        load_settings()
        return
    with pytest.raises(ConfigError) as caught:
        load_settings()
    message = str(caught.value)
    assert named in message and "\n" not in message
    assert SECRET not in message and "Traceback" not in message


@pytest.mark.parametrize(
    "value", [f'{{"{SECRET}": {{"organizations": 5}}}}', f"{{{SECRET}"], ids=["invalid", "not-json"]
)
def test_cli_prints_one_line_and_exits_2_without_traceback(value: str, tmp_path: Path) -> None:
    env = {**os.environ, "CASEMATCH_API_KEYS": value, "CASEMATCH_DATA_DIR": str(tmp_path)}
    out = subprocess.run(
        [sys.executable, "-c", "from service.cli import main; main()", "serve"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert out.returncode == 2
    lines = [line for line in out.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith(
        "casematch: configuration error: CASEMATCH_API_KEYS"
    )
    assert SECRET not in out.stderr + out.stdout and "Traceback" not in out.stderr
