"""End-to-end fixtures: casematch as real processes, and Debian's headless Chromium.

Every test in this folder is marked ``e2e`` and ``integration`` (it needs an engine).
``serve`` starts ``casematch serve`` processes on free ports for the CLI tests and the
README tour (helpers in :mod:`tests.e2e.live`); the local OpenSearch node of every data
directory such a test used is stopped after it. ``server`` below is the browser tests'
``casematch serve --sample``.

The server is the CLI's own ``serve`` path on the default engine (whatever
``Settings`` picks without ``CASEMATCH_ENGINE`` / ``CASEMATCH_OPENSEARCH_URL``)
with generated sample data and four API keys. The browser is ``/usr/bin/chromium``
driven by Playwright (``executable_path``; Playwright never downloads a browser
here). Every page runs with the network "unplugged": any request that does not go
to the server is aborted and recorded, and :func:`page` fails the test if one was
attempted.

Without Chromium the tests skip with the reason, except under CI (``CI=true``),
where a missing browser is a failure. The server, the browser and the catalog live for
one test module (they are torn down before the rest of the suite runs).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from queue import Empty, Queue
from typing import Any

import httpx
import psutil
import pytest

from indexer.localnode import LocalNode, NodeConfig
from indexer.records import Kind
from service.sample import sample_data
from tests.e2e.live import KEYS as CLI_KEYS
from tests.e2e.live import Served, casematch_env, start_server, stop_local_nodes

CHROMIUM = Path(os.environ.get("CASEMATCH_E2E_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
CASEMATCH = str(Path(sys.executable).with_name("casematch"))
IMAGES = Path(__file__).resolve().parents[2] / "docs" / "images"
#: Startup guard (not a speed assertion): a cold engine plus the sample data on a busy machine.
START_TIMEOUT_S = 240
#: ``casematch serve --sample``'s default seed.
SAMPLE_SEED = 7

#: The keys the server knows. ``processor`` sees every sample organization, PHI masked;
#: ``org_a`` one organization, PHI masked; ``phi`` reads PHI (the tests' source of raw
#: values); ``auto_c`` runs automated promotion for ORG-C only.
KEYS: dict[str, dict[str, Any]] = {
    "processor": {
        "organizations": ["ORG-A", "ORG-B", "ORG-C"],
        "permissions": ["promote", "read_matches"],
        "name": "e2e-processor",
    },
    "org_a": {"organizations": ["ORG-A"], "permissions": ["promote"], "name": "e2e-org-a"},
    "phi": {
        "organizations": ["ORG-A", "ORG-B", "ORG-C"],
        "permissions": ["read_matches", "read_phi"],
        "name": "e2e-phi",
    },
    "auto_c": {"organizations": ["ORG-C"], "permissions": ["promote"], "name": "e2e-auto-c"},
}


def _secret(name: str) -> str:
    return f"e2e-key-{name}-0123456789"


@dataclass
class Server:
    url: str
    proc: subprocess.Popen[str]
    lines: list[str] = field(default_factory=list)

    def key(self, name: str) -> str:
        return _secret(name)

    def api(self, key: str) -> httpx.Client:
        return httpx.Client(base_url=self.url, headers={"X-API-Key": _secret(key)}, timeout=60)


def _wait_for_url(proc: subprocess.Popen[str], lines: list[str]) -> str:
    queue: Queue[str | None] = Queue()

    def pump() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            queue.put(line)
        queue.put(None)

    threading.Thread(target=pump, daemon=True).start()
    while True:
        try:
            line = queue.get(timeout=START_TIMEOUT_S)
        except Empty:
            raise AssertionError(f"casematch serve printed no URL: {lines}") from None
        if line is None:
            raise AssertionError(f"casematch serve exited before listening: {lines}")
        lines.append(line)
        found = re.search(r"casematch listening on (http://\S+)", line)
        if found:
            return found.group(1)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """``casematch serve --sample`` on a fresh data directory, killed (with its engine) after.

    The engine is the default one (``CASEMATCH_ENGINE`` unset, or as the run sets it).
    """
    data = tmp_path_factory.mktemp("e2e-data")
    env = {k: v for k, v in os.environ.items() if not k.startswith("CASEMATCH_")}
    env.update(
        CASEMATCH_DATA_DIR=str(data),
        CASEMATCH_CONFIG=str(data / "absent.toml"),
        CASEMATCH_API_KEYS=json.dumps({_secret(k): v for k, v in KEYS.items()}),
    )
    for name in ("CASEMATCH_ENGINE", "CASEMATCH_OPENSEARCH_URL"):
        if name in os.environ:  # a deliberate choice of engine for the run is kept
            env[name] = os.environ[name]
    proc = subprocess.Popen(
        [
            CASEMATCH,
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            "0",
            "--sample",
            "--seed",
            str(SAMPLE_SEED),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
    )
    lines: list[str] = []
    try:
        url = _wait_for_url(proc, lines)
        yield Server(url=url, proc=proc, lines=lines)
    finally:
        with contextlib.suppress(psutil.NoSuchProcess):
            children = psutil.Process(proc.pid).children(recursive=True)
            for p in [psutil.Process(proc.pid), *children]:
                with contextlib.suppress(psutil.NoSuchProcess):
                    p.kill()
        proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()
        # On the local OpenSearch node (the default where Java 17+ is found) the node
        # outlives serve by design: stop the one this data directory started.
        LocalNode(NodeConfig(data_dir=data)).stop()


def _browser_missing() -> str | None:
    if not CHROMIUM.exists():
        return f"{CHROMIUM} is not installed (apt-get install chromium; `make test` does)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the playwright package is not installed (pip install -e '.[dev]')"
    return None


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Debian's Chromium under Playwright; a skip without it, a failure under CI."""
    reason = _browser_missing()
    if reason:
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true and no browser for the end-to-end tests: {reason}")
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@dataclass
class Traffic:
    """What a page fetched: bodies of the server's responses, and refused outside requests."""

    bodies: list[tuple[str, str]] = field(default_factory=list)
    outside: list[str] = field(default_factory=list)


@pytest.fixture
def traffic() -> Traffic:
    return Traffic()


@pytest.fixture
def page(browser: Any, server: Server, traffic: Traffic) -> Iterator[Any]:
    """A fresh browser context (no cookies) with the network unplugged but for the server."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    context.set_default_timeout(30_000)

    def only_local(route: Any) -> None:
        if route.request.url.startswith(server.url):
            route.continue_()
        else:
            traffic.outside.append(route.request.url)
            route.abort()

    context.route("**/*", only_local)
    tab = context.new_page()

    def keep(response: Any) -> None:
        with contextlib.suppress(Exception):  # redirects and aborted requests have no body
            traffic.bodies.append((response.url, response.text()))

    tab.on("response", keep)
    yield tab
    context.close()
    assert not traffic.outside, f"the page tried to reach outside casematch: {traffic.outside}"


SignIn = Callable[[Any, str], None]


@pytest.fixture
def sign_in(server: Server) -> SignIn:
    """Sign ``page`` in through the form with the key named ``key``."""

    def go(page: Any, key: str) -> None:
        page.goto(f"{server.url}/ui/sign-in")
        page.get_by_label("API key").fill(server.key(key))
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_url(re.compile(r"/ui/inbox"))

    return go


@dataclass(frozen=True)
class Catalog:
    """Sample items chosen for each scenario (read through the API once), all different,
    so that a scenario that changes its item leaves the others' alone."""

    #: ORG-A/B items whose detection lists a Case.
    duplicate_item: str
    refusal_item: str
    phi_item: str
    csrf_item: str
    zoom_item: str
    #: An ORG-A/B item that is not E2B-imported (promote to multiple).
    for_multiple: str
    #: An ORG-B item (the ORG-A key must not reach it).
    org_b_item: str


@pytest.fixture(scope="module")
def catalog(server: Server) -> Catalog:
    with server.api("phi") as api:
        items = [r for r in _all_items(api) if r["organization"] in ("ORG-A", "ORG-B")]
        with_case: list[tuple[bool, str]] = []
        for r in items:
            det = api.post(f"/v1/inbox-items/{r['id']}/duplicate-check").json()
            cases = [m for s in det["sections"].values() for m in s if m["record_type"] == "case"]
            if cases:
                first = cases[0]["comparison"]  # the screenshot shows partial results if any
                with_case.append((not any(row["result"] == "partial" for row in first), r["id"]))
            if len(with_case) >= 5 and any(not plain for plain, _ in with_case):
                break
    with_case = sorted(with_case)
    assert len(with_case) >= 5, f"the sample data gives {len(with_case)} items with a Case match"
    chosen = [item_id for _, item_id in with_case[:5]]
    rest = [r for r in items if r["id"] not in set(chosen)]
    return Catalog(
        *chosen,
        for_multiple=next(r["id"] for r in rest if r["source"] != "e2b"),
        org_b_item=next(r["id"] for r in rest if r["organization"] == "ORG-B"),
    )


def _all_items(api: httpx.Client) -> list[dict[str, Any]]:
    """Every sample Inbox Item as the server stores it (ids from the same seeded sample)."""
    ids = [r.id for r in sample_data(SAMPLE_SEED).records if r.kind is Kind.inbox_item]
    out = []
    for item_id in ids:
        res = api.get(f"/v1/inbox-items/{item_id}")
        res.raise_for_status()
        out.append(res.json())
    return out


def screenshot(target: Any, name: str) -> None:
    """Save a screenshot for the README (``docs/images/<name>.png``)."""
    IMAGES.mkdir(parents=True, exist_ok=True)
    target.screenshot(path=str(IMAGES / f"{name}.png"))


HERE = Path(__file__).resolve().parent


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if HERE in Path(str(item.path)).resolve().parents:
            item.add_marker(pytest.mark.e2e)
            item.add_marker(pytest.mark.integration)


@pytest.fixture(autouse=True)
def _stop_local_nodes() -> Iterator[None]:
    """A local OpenSearch node outlives the command that started it: stop it after the test."""
    yield
    stop_local_nodes()


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[Callable[..., Served]]:
    """``serve("--sample", keys=None, data_dir=..., engine="osmem")``: a live ``casematch serve``.

    ``engine`` is ``CASEMATCH_ENGINE`` (default ``auto``: the local node where Java is found).
    """
    started: list[Served] = []

    def start(
        *args: str,
        data_dir: Path | None = None,
        keys: Any = CLI_KEYS,
        engine: str = "auto",
        cwd: Path | None = None,
    ) -> Served:
        env = casematch_env(data_dir or tmp_path / "data", keys, engine)
        served = start_server(list(args), env, cwd=cwd)
        started.append(served)
        return served

    yield start
    for served in started:
        served.kill_all()
