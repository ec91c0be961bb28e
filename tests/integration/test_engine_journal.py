"""The embedded engine's journal: latest state per document, ordered by (generation, seq_no)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from indexer.journal import Journal


@pytest.fixture
def journal(tmp_path: Path) -> Iterator[Journal]:
    j = Journal.open(tmp_path / "journal.sqlite3")
    yield j
    j.close()


def _docs(journal: Journal, index: str) -> dict[str, bytes]:
    return {i: s for batch in journal.iter_documents(index, batch=2) for i, s in batch}


def test_a_later_write_that_reaches_the_journal_first_is_kept(journal: Journal) -> None:
    journal.put_documents([("i", "a", 5, b'{"v": 2}')])
    journal.put_documents([("i", "a", 4, b'{"v": 1}')])  # older engine write, journaled late
    assert _docs(journal, "i") == {"a": b'{"v": 2}'}


def test_delete_is_a_tombstone_that_outranks_older_writes(journal: Journal) -> None:
    journal.put_documents([("i", "a", 1, b"{}"), ("i", "b", 2, b"{}")])
    journal.put_documents([("i", "a", 3, None)])
    journal.put_documents([("i", "a", 2, b'{"late": true}')])
    assert _docs(journal, "i") == {"b": b"{}"}
    assert journal.document_count() == 1


def test_a_new_generation_outranks_every_restored_row(tmp_path: Path) -> None:
    first = Journal.open(tmp_path / "j.sqlite3")
    first.put_documents([("i", "a", 900, b'{"v": 1}')])
    first.close()
    second = Journal.open(tmp_path / "j.sqlite3")
    assert second.generation == first.generation + 1
    second.put_documents([("i", "a", 0, b'{"v": 2}')])  # a restarted engine counts from 0
    assert _docs(second, "i") == {"a": b'{"v": 2}'}
    second.close()


def test_deleting_an_index_forgets_its_documents_and_aliases(journal: Journal) -> None:
    journal.put_index("i-000001", {"mappings": {}})
    journal.put_index("i-000002", {"mappings": {}})
    journal.apply_aliases([("i", "i-000001")], [])
    journal.put_documents([("i-000001", "a", 1, b"{}"), ("i-000002", "b", 1, b"{}")])
    journal.apply_aliases([("i", "i-000002")], [("i", "i-000001")])
    journal.delete_index("i-000001")
    assert list(journal.indices()) == ["i-000002"]
    assert journal.aliases() == [("i", "i-000002")]
    assert journal.document_count() == 1


def test_documents_stream_in_batches_in_id_order(journal: Journal) -> None:
    journal.put_documents([("i", f"d{n:02d}", n, b"{}") for n in range(5)])
    batches = [[i for i, _ in batch] for batch in journal.iter_documents("i", batch=2)]
    assert batches == [["d00", "d01"], ["d02", "d03"], ["d04"]]
