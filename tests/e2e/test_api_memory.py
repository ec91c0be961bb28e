"""Issue 12 item 8: an upload's memory is bounded, measured on a real server process.

A 0.5 MB ZIP holding one 500 MiB text node used to take ``casematch serve`` from
1.0 to 2.0 GiB. The server now streams ZIP members into the parser in 1 MiB
chunks (libxml2 refuses a text node over 10 MB long before the member's 32 MiB
request ceiling) and runs at most two heavy uploads at once. The server's
resident memory is sampled while the requests run; no timing is asserted.
"""

from __future__ import annotations

import threading
import zipfile
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import psutil
import pytest

pytestmark = pytest.mark.integration

MIB = 1024 * 1024
#: How far the server's RSS may rise while bombs are refused ("tens of MB").
ALLOWED_RISE = 64 * MIB
HEADERS = {"X-API-Key": "k-a", "Content-Type": "application/zip"}


def _bomb(path: Path, mib: int) -> bytes:
    """A ZIP of one E2B-looking XML file whose single text node is ``mib`` MiB."""
    with (
        zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as zf,
        zf.open("icsr.xml", "w", force_zip64=True) as fh,
    ):
        fh.write(b'<PORR_IN049016UV xmlns="urn:hl7-org:v3"><text>')
        chunk = b"A" * (8 * MIB)
        for _ in range(mib // 8 + 1):
            fh.write(chunk)
        fh.write(b"</text></PORR_IN049016UV>")
    data = path.read_bytes()
    assert len(data) < 2 * MIB
    return data


@pytest.fixture(scope="module", params=[500, 30], ids=["500MiB-declared", "30MiB-streamed"])
def bomb(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> bytes:
    """500 MiB: refused by the ZIP's declared size; 30 MiB (under the 32 MiB ceiling): fed
    to the parser in chunks and refused by its text-node limit."""
    return _bomb(tmp_path_factory.mktemp("bomb") / "bomb.zip", int(request.param))


class PeakRss:
    """Samples a process's RSS in a thread until stopped; ``peak`` is the highest seen."""

    def __init__(self, pid: int) -> None:
        self.proc = psutil.Process(pid)
        self.peak = self.proc.memory_info().rss
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(0.005):
            self.peak = max(self.peak, self.proc.memory_info().rss)

    def __enter__(self) -> PeakRss:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self.proc.memory_info().rss)


def _post(url: str, body: bytes) -> int:
    res = httpx.post(
        f"{url}/v1/inbox-items?organization=ORG-A", content=body, headers=HEADERS, timeout=300
    )
    assert isinstance(res.json()["detail"], list | str)
    return res.status_code


@pytest.fixture
def served(serve: Any) -> Iterator[Any]:
    yield serve()


def test_500_mib_text_node_is_refused_without_the_server_memory_moving(
    served: Any, bomb: bytes
) -> None:
    # Warm up the upload path (imports, first allocations) before the baseline.
    assert _post(served.url, bomb) == 422
    baseline = psutil.Process(served.proc.pid).memory_info().rss
    with PeakRss(served.proc.pid) as one:
        assert _post(served.url, bomb) == 422
    assert one.peak - baseline < ALLOWED_RISE, (one.peak - baseline) / MIB

    with PeakRss(served.proc.pid) as four, ThreadPoolExecutor(4) as pool:
        statuses = list(pool.map(lambda _: _post(served.url, bomb), range(4)))
    assert set(statuses) <= {422, 429} and 422 in statuses
    assert four.peak - baseline < 2 * ALLOWED_RISE, (four.peak - baseline) / MIB


def test_bomb_is_refused_with_a_reason_naming_no_content(served: Any, bomb: bytes) -> None:
    res = httpx.post(
        f"{served.url}/v1/inbox-items?organization=ORG-A",
        content=bomb,
        headers=HEADERS,
        timeout=300,
    )
    assert res.status_code == 422
    text = res.text
    assert "AAAA" not in text
    assert "ZIP expands to more than" in text or "malformed XML" in text
