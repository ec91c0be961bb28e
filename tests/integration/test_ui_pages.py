"""The review page through the app (TestClient -> /ui -> the promotion components -> the engine).

The browser-level scenarios are in tests/e2e; these check the server's side of the
same rules quickly and without a browser: the session cookie, CSRF, idle expiry,
tenancy (404), masking (M20), refusals, and the offline /docs.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from itsdangerous import URLSafeTimedSerializer

from indexer.engine import Engine
from indexer.records import Record
from indexer.store import IndexNames, RecordStore
from service.app import Services, create_app
from service.settings import ApiKey, Settings
from service.ui import session as sessions

SECRET = "test-ui-secret"
KEYS = {
    "a-writer": ApiKey(organizations=["ORG-A"], permissions=["promote"], name="a-writer"),
    "a-phi": ApiKey(
        organizations=["ORG-A"], permissions=["read_matches", "read_phi"], name="a-phi"
    ),
    "b-writer": ApiKey(organizations=["ORG-B"], permissions=["promote"], name="b-writer"),
    "ab-writer": ApiKey(
        organizations=["ORG-A", "ORG-B"], permissions=["promote"], name="ab-writer"
    ),
}


def record(record_id: str, kind: str = "inbox_item", org: str = "ORG-A", **fields: Any) -> Record:
    data: dict[str, Any] = {
        "id": record_id,
        "kind": kind,
        "organization": org,
        "source": "manual",
        "receipt_date": "2026-01-10",
        "patient": {
            "initials": "QX",
            "first_name": "Zebedee",
            "last_name": "Quixotic",
            "dob": "1971-04-05",
        },
        "reporter": {"first_name": "Ottoline", "last_name": "Vasquez-Ray", "country": "DE"},
        "products": [{"product": "PRD-4", "product_reported": "Testamab 10 mg", "rank": 1}],
        "events": [{"event_reported": "vertigo", "onset": "2026-01-02", "rank": 1}],
        "narrative": "Zebedee Quixotic felt dizzy.",
    }
    if kind == "case":
        data.update(case_id=record_id, version=1, state="in_progress")
    data.update(fields)
    return Record.model_validate(data)


@pytest.fixture
def app_parts(
    engine: Engine, index_names: IndexNames, tmp_path: Any
) -> Iterator[tuple[TestClient, RecordStore]]:
    settings = Settings(
        index_prefix=index_names.prefix,
        data_dir=tmp_path,
        api_keys=KEYS,
        ui_session_secret=SECRET,  # type: ignore[arg-type]
        ui_idle_timeout_minutes=5,
    )
    store = RecordStore(engine, index_names)
    store.ensure_indices()
    store.put_many(
        [
            record("CS-1", "case"),
            record("II-1"),
            record(
                "II-2",
                patient={"initials": "ZZ"},
                reporter={"country": "FR"},
                products=[{"product": "PRD-X", "rank": 1}],
                events=[{"event_reported": "cough", "rank": 1}],
            ),
            record("II-B", org="ORG-B"),
        ],
        refresh=True,
    )
    app = create_app(settings, services=Services(settings=settings, engine=engine, store=store))
    with TestClient(app) as client:
        yield client, store


@pytest.fixture
def client(app_parts: tuple[TestClient, RecordStore]) -> TestClient:
    return app_parts[0]


def token(html: str, name: str = "csrf_token") -> str:
    found = re.findall(rf'name="{name}" value="([^"]+)"', html)
    assert found, f"no {name} in the page"
    return found[-1]


def sign_in(client: TestClient, key: str) -> None:
    form = client.get("/ui/sign-in").text
    res = client.post(
        "/ui/sign-in", data={"csrf_token": token(form), "api_key": key}, follow_redirects=False
    )
    assert res.status_code == 303 and res.headers["location"] == "/ui/inbox"


def decide(client: TestClient, item: str, action: str, match: str = "", **extra: str) -> Any:
    page = client.get(f"/ui/items/{item}/confirm", params={"action": action, "match": match}).text
    data = {"csrf_token": token(page), "form_id": token(page, "form_id"), "action": action, **extra}
    if match:
        data.update(target_type=match.split(":")[0], target_id=match.split(":")[1])
    return client.post(f"/ui/items/{item}/decide", data=data, follow_redirects=False)


def test_sign_in_sets_a_signed_httponly_samesite_cookie_without_the_key(client: TestClient) -> None:
    form = client.get("/ui/sign-in").text
    res = client.post(
        "/ui/sign-in",
        data={"csrf_token": token(form), "api_key": "a-writer"},
        follow_redirects=False,
    )
    cookie = res.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/ui" in cookie
    assert "a-writer" not in cookie
    page = client.get("/ui/inbox").text
    assert "ORG-A" in page and "promote" in page


def test_wrong_key_is_401_and_says_so(client: TestClient) -> None:
    form = client.get("/ui/sign-in").text
    res = client.post("/ui/sign-in", data={"csrf_token": token(form), "api_key": "nope"})
    assert res.status_code == 401 and "That API key is not valid." in res.text


def test_sign_in_without_csrf_token_is_refused(client: TestClient) -> None:
    res = client.post("/ui/sign-in", data={"api_key": "a-writer"})
    assert res.status_code == 403


def test_idle_session_expires_and_says_why(client: TestClient) -> None:
    class Old(URLSafeTimedSerializer):
        def __init__(self) -> None:
            super().__init__(SECRET, salt="casematch-ui-session")

    serializer = Old()
    signer = serializer.make_signer()
    signer.get_timestamp = lambda: int(time.time()) - 6 * 60  # type: ignore[method-assign]
    stale = signer.sign(
        serializer.dump_payload({"c": "t", "k": sessions.fingerprint("a-writer")})
    ).decode()
    client.cookies.set(sessions.COOKIE, stale, path="/ui")
    res = client.get("/ui/inbox", follow_redirects=True)
    assert res.url.path == "/ui/sign-in"
    assert "without activity" in res.text


def test_pages_need_a_session(client: TestClient) -> None:
    for path in ("/ui/inbox", "/ui/items/II-1", "/ui/cases/CS-1", "/ui/auto-promote"):
        res = client.get(path, follow_redirects=False)
        assert res.status_code == 303 and res.headers["location"] == "/ui/sign-in"


def test_M1_another_organizations_records_are_not_found(client: TestClient) -> None:
    sign_in(client, "a-writer")
    assert client.get("/ui/items/II-B").status_code == 404
    assert client.get("/ui/items/II-B/confirm?action=create_new_case").status_code == 404
    page = client.get("/ui/items/II-1/confirm?action=create_new_case").text
    res = client.post(
        "/ui/items/II-B/decide",
        data={"csrf_token": token(page), "action": "create_new_case", "form_id": "f1"},
    )
    assert res.status_code == 404
    inbox = client.get("/ui/inbox?state=all").text
    assert "II-B" not in inbox and "II-1" in inbox


def test_M20_masked_key_gets_no_phi_and_phi_key_does(client: TestClient) -> None:
    sign_in(client, "a-writer")
    masked = client.get("/ui/items/II-1?match=case:CS-1").text
    assert 'data-testid="comparison"' in masked
    for value in ("Zebedee", "Quixotic", "Ottoline", "Vasquez-Ray", "1971-04-05", "2026-01-02"):
        assert value not in masked
    assert "***" in masked
    client.cookies.clear()
    sign_in(client, "a-phi")
    shown = client.get("/ui/items/II-1?match=case:CS-1").text
    assert "Quixotic" in shown and "Ottoline" in shown


def test_P3_mark_duplicate_changes_state_and_writes_the_audit_entry(client: TestClient) -> None:
    sign_in(client, "a-writer")
    res = decide(client, "II-1", "mark_duplicate", "case:CS-1")
    assert res.status_code == 303
    page = client.get("/ui/items/II-1").text
    assert 'data-testid="item-state">duplicate<' in page
    assert "mark_duplicate" in page and "a-writer" in page


def test_P17_a_form_submitted_twice_has_one_outcome(client: TestClient) -> None:
    sign_in(client, "a-writer")
    page = client.get("/ui/items/II-2/confirm", params={"action": "create_new_case"}).text
    data = {
        "csrf_token": token(page),
        "form_id": token(page, "form_id"),
        "action": "create_new_case",
    }
    first = client.post("/ui/items/II-2/decide", data=data, follow_redirects=False)
    again = client.post("/ui/items/II-2/decide", data=data, follow_redirects=False)
    assert first.status_code == again.status_code == 303


def test_decision_without_csrf_is_refused_and_changes_nothing(client: TestClient) -> None:
    sign_in(client, "a-writer")
    res = client.post("/ui/items/II-2/decide", data={"action": "create_new_case", "form_id": "x"})
    assert res.status_code == 403 and "security token" in res.text
    assert 'data-testid="item-state">new<' in client.get("/ui/items/II-2").text


def test_P2_promote_without_matches_creates_the_case(client: TestClient) -> None:
    sign_in(client, "a-writer")
    res = decide(client, "II-2", "promote")
    assert res.status_code == 303
    page = client.get("/ui/items/II-2").text
    assert "Case CASE-II-2" in page and 'data-testid="item-state">promoted<' in page
    case = client.get("/ui/cases/CASE-II-2")
    assert case.status_code == 200 and "IT-II-2" in case.text


def test_refusal_is_the_workflows_409_message(client: TestClient) -> None:
    sign_in(client, "a-writer")
    page = client.get("/ui/items/II-1/confirm", params={"action": "create_new_case"}).text
    data = {
        "csrf_token": token(page),
        "form_id": token(page, "form_id"),
        "action": "create_new_case",
    }
    assert decide(client, "II-1", "mark_duplicate", "case:CS-1").status_code == 303
    res = client.post("/ui/items/II-1/decide", data=data)
    assert res.status_code == 409
    assert "409: Inbox Item II-1 is in state &#39;duplicate&#39;" in res.text


def test_disabled_decision_has_no_confirmation_form(client: TestClient) -> None:
    sign_in(client, "a-writer")
    res = client.get("/ui/items/II-1/confirm", params={"action": "reset_to_new"})
    assert res.status_code == 409 and "Not available" in res.text and "/decide" not in res.text


def test_inbox_counts_states_and_filters(client: TestClient) -> None:
    sign_in(client, "a-writer")
    page = client.get("/ui/inbox").text
    assert 'data-state="new">new: <strong>2</strong>' in page
    assert client.get("/ui/inbox?source=fax").status_code == 422
    assert "II-2" not in client.get("/ui/inbox?q=II-1").text


def test_docs_use_only_local_assets(client: TestClient) -> None:
    html = client.get("/docs").text
    urls = re.findall(r'(?:src|href)="([^"]+)"', html) + re.findall(r"url: '([^']+)'", html)
    assert urls and all(u.startswith("/") for u in urls), urls
    for url in urls:
        assert client.get(url).status_code == 200, url
    assert "cdn" not in html.lower()
    assert client.get("/redoc").status_code == 404


def test_pages_are_not_cached_and_allow_only_own_assets(client: TestClient) -> None:
    sign_in(client, "a-writer")
    res = client.get("/ui/items/II-1")
    assert res.headers["cache-control"] == "no-store"
    assert "default-src 'self'" in res.headers["content-security-policy"]
    assert "<title>Inbox Item II-1 · casematch</title>" in res.text


def test_P3_copy_patient_info_creates_the_case_with_the_chosen_sections(client: TestClient) -> None:
    sign_in(client, "a-writer")
    res = decide(client, "II-1", "copy_patient_info", "case:CS-1", copy="narrative")
    assert res.status_code == 303
    page = client.get("/ui/items/II-1").text
    assert 'data-testid="item-state">promoted<' in page
    assert "copy_patient_info" in page and "narrative" in page  # the audit entry says what


def test_P3_P5_mark_follow_up_unmark_then_merge_to_the_in_flight_case(client: TestClient) -> None:
    sign_in(client, "a-writer")
    confirm = client.get("/ui/items/II-1/confirm?action=mark_follow_up&match=case:CS-1").text
    assert "Merge method: manual" in confirm
    assert decide(client, "II-1", "mark_follow_up", "case:CS-1").status_code == 303
    page = client.get("/ui/items/II-1").text
    assert 'data-testid="item-state">marked_as_follow_up<' in page
    assert "Follow-up of Case" in page
    assert decide(client, "II-1", "unmark_follow_up").status_code == 303
    assert 'data-testid="item-state">new<' in client.get("/ui/items/II-1").text
    assert decide(client, "II-1", "mark_follow_up", "case:CS-1").status_code == 303
    merge = client.get("/ui/items/II-1/confirm?action=merge_to_current").text
    assert "merge method: smart" in merge and "Case CS-1" in merge
    page_data = {
        "csrf_token": token(merge),
        "form_id": token(merge, "form_id"),
        "action": "merge_to_current",
        "target_id": "CS-1",
        "target_type": "case",
    }
    assert (
        client.post("/ui/items/II-1/decide", data=page_data, follow_redirects=False).status_code
        == 303
    )
    case = client.get("/ui/cases/CS-1").text
    assert "Versions (2)" in case and "II-1" in case


def test_P10_P16_missing_information_item_is_reset_to_new(
    app_parts: tuple[TestClient, RecordStore],
) -> None:
    client, store = app_parts
    store.put(record("II-AUTO", source="intake_api", products=[]))
    sign_in(client, "a-writer")
    page = client.get("/ui/auto-promote").text
    res = client.post("/ui/auto-promote", data={"csrf_token": token(page)}, follow_redirects=False)
    assert res.status_code == 303
    run_url = res.headers["location"]
    for _ in range(2400):  # the run works on a background thread: wait for its end (a guard)
        progress = client.get(f"{run_url}/progress").json()
        if progress["finished"]:
            break
        time.sleep(0.05)
    assert progress["finished"] and progress["total"] == 1
    assert progress["outcomes"][0] == {
        "organization": "ORG-A",
        "item_id": "II-AUTO",
        "state": "missing_information",
        "detail": progress["outcomes"][0]["detail"],
        "refused": False,
    }
    # the item's link names its organization (ids are unique per organization only)
    assert "/ui/items/II-AUTO?organization=ORG-A" in client.get(run_url).text
    assert decide(client, "II-AUTO", "reset_to_new").status_code == 303
    assert 'data-testid="item-state">new<' in client.get("/ui/items/II-AUTO").text


def test_runs_are_visible_only_to_the_key_that_started_them(client: TestClient) -> None:
    sign_in(client, "a-writer")
    page = client.get("/ui/auto-promote").text
    run_url = client.post(
        "/ui/auto-promote", data={"csrf_token": token(page)}, follow_redirects=False
    ).headers["location"]
    client.cookies.clear()
    sign_in(client, "b-writer")
    assert client.get(run_url).status_code == 404
    assert client.get(f"{run_url}/progress").status_code == 404


def test_M1_the_same_id_in_two_organizations_opens_by_the_organization_in_its_link(
    app_parts: tuple[TestClient, RecordStore],
) -> None:
    client, store = app_parts
    store.put(record("II-1", org="ORG-B", reporter={"country": "FR"}))
    sign_in(client, "ab-writer")
    ambiguous = client.get("/ui/items/II-1")
    assert ambiguous.status_code == 422 and "organization" in ambiguous.text
    inbox = client.get("/ui/inbox?state=all").text
    assert "/ui/items/II-1?organization=ORG-A" in inbox
    assert "/ui/items/II-1?organization=ORG-B" in inbox
    page = client.get("/ui/items/II-1?organization=ORG-B")
    assert page.status_code == 200 and 'value="ORG-B"' in page.text  # the confirm form keeps it
    assert client.get("/ui/items/II-1?organization=ORG-C").status_code == 403
    confirm = client.get(
        "/ui/items/II-1/confirm", params={"action": "create_new_case", "organization": "ORG-B"}
    ).text
    assert 'name="organization" value="ORG-B"' in confirm
    data = {
        "csrf_token": token(confirm),
        "form_id": token(confirm, "form_id"),
        "action": "create_new_case",
        "organization": "ORG-B",
    }
    res = client.post("/ui/items/II-1/decide", data=data, follow_redirects=False)
    assert res.status_code == 303, res.text
    assert res.headers["location"].startswith("/ui/items/II-1?organization=ORG-B")
    assert store.get("inbox_item", "ORG-B", "II-1").record.state == "promoted"
    assert store.get("inbox_item", "ORG-A", "II-1").record.state == "new"
    case = client.get("/ui/cases/CASE-II-1?organization=ORG-B")
    assert case.status_code == 200 and "/ui/items/II-1?organization=ORG-B" in case.text
