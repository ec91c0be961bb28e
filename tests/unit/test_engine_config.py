"""Which engine a configuration opens: a URL wins, then CASEMATCH_ENGINE, then Java's presence."""

from __future__ import annotations

from pathlib import Path

import pytest

from indexer import localnode
from indexer.engine import EngineConfig


@pytest.mark.parametrize(
    ("url", "choice", "java", "mode"),
    [
        ("http://h:9200", "osmem", True, "external"),
        ("http://h:9200", "auto", False, "external"),
        (None, "opensearch", False, "local"),
        (None, "osmem", True, "osmem"),
        (None, "auto", True, "local"),
        (None, "auto", False, "osmem"),
    ],
    ids=[
        "url-wins-over-osmem",
        "url-without-java",
        "opensearch-asked",
        "osmem-asked",
        "auto-with-java",
        "auto-without-java",
    ],
)
def test_engine_mode_resolution(
    monkeypatch: pytest.MonkeyPatch, url: str | None, choice: str, java: bool, mode: str
) -> None:
    monkeypatch.setattr(
        "indexer.engine.java_missing_reason", lambda explicit=None: None if java else "no Java"
    )
    config = EngineConfig(opensearch_url=url, data_dir=Path("/x"), engine=choice)  # type: ignore[arg-type]
    assert config.mode == mode
    assert config.kind == ("osmem" if mode == "osmem" else "opensearch")


def test_node_home_is_under_the_data_directory() -> None:
    config = EngineConfig(opensearch_url=None, data_dir=Path("/x"), engine="opensearch")
    assert config.node_config().home == Path("/x/opensearch")


def test_the_built_version_is_the_poms() -> None:
    assert localnode.opensearch_version().startswith("2.19.")


def test_java_versions_are_read_from_both_version_formats(tmp_path: Path) -> None:
    for name, text, expected in (
        ("new", 'openjdk version "17.0.15" 2025-04-15', 17),
        ("old", 'java version "1.8.0_392"', 8),
    ):
        fake = tmp_path / name
        fake.write_text(f"#!/bin/sh\necho '{text}' >&2\n")
        fake.chmod(0o755)
        assert localnode._java_version(str(fake)) == expected
