"""The review page in a real browser against ``casematch serve --sample`` (issue 14's scenarios).

Each test signs in through the form in a fresh browser context. Tests that change
records each take their own sample item (:class:`conftest.Catalog`), so their
order does not matter. The inbox, item page and comparison screenshots in
``docs/images/`` are taken here.
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.e2e.conftest import Catalog, Server, SignIn, Traffic, screenshot

pytestmark = pytest.mark.e2e


def _item_state(page: Any) -> str:
    return str(page.get_by_test_id("item-state").inner_text()).strip()


def test_sign_in_shows_organizations_and_permissions_and_sign_out_ends_it(
    page: Any, server: Server, sign_in: SignIn
) -> None:
    page.goto(f"{server.url}/ui/inbox")
    assert "/ui/sign-in" in page.url  # no session: the form
    page.get_by_label("API key").fill("not-a-key")
    page.get_by_role("button", name="Sign in").click()
    assert page.get_by_role("alert").inner_text() == "That API key is not valid."

    sign_in(page, "processor")
    assert page.get_by_test_id("organizations").inner_text() == "ORG-A, ORG-B, ORG-C"
    assert page.get_by_test_id("permissions").inner_text() == "promote, read_matches"
    assert page.get_by_text("PHI masked (***)").is_visible()
    cookie = next(c for c in page.context.cookies() if c["name"] == "casematch_ui")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"
    assert server.key("processor") not in cookie["value"]  # the key itself is never stored

    page.get_by_role("button", name="Sign out").click()
    assert "/ui/sign-in" in page.url
    page.goto(f"{server.url}/ui/inbox")
    assert "/ui/sign-in" in page.url


def test_inbox_filters_by_state_source_organization_date_and_id_with_paging(
    page: Any, server: Server, sign_in: SignIn
) -> None:
    sign_in(page, "processor")
    table = page.get_by_test_id("inbox-table")
    assert table.locator("tbody tr").count() == 25  # a full first page
    assert page.get_by_role("link", name="Next page →").is_visible()
    counts = page.get_by_test_id("state-counts").inner_text()
    assert re.search(r"open: \d+", counts)
    screenshot(page, "inbox")

    page.get_by_role("link", name="Next page →").click()
    assert "page=2" in page.url
    assert page.get_by_role("link", name="← Previous page").is_visible()

    page.goto(f"{server.url}/ui/inbox")
    page.get_by_label("Organization").select_option("ORG-C")
    page.get_by_label("Source").select_option("e2b")
    page.get_by_role("button", name="Apply").click()
    rows = page.get_by_test_id("inbox-table").locator("tbody tr")
    assert rows.count() >= 1
    for text in rows.all_inner_texts():
        assert "ORG-C" in text and "e2b" in text

    page.goto(f"{server.url}/ui/inbox")
    first_id = page.get_by_test_id("inbox-table").locator("tbody tr th a").first.inner_text()
    page.get_by_label("Item id").fill(first_id)
    page.get_by_role("button", name="Apply").click()
    assert (
        page.get_by_test_id("inbox-table")
        .locator("tbody tr")
        .all_inner_texts()[0]
        .startswith(first_id)
    )

    page.goto(f"{server.url}/ui/inbox")
    page.get_by_label("Received from").fill("2999-01-01")
    page.get_by_role("button", name="Apply").click()
    assert page.get_by_text("No Inbox Items match these filters.").is_visible()

    page.goto(f"{server.url}/ui/inbox")
    page.get_by_label("State", exact=True).select_option("duplicate")
    page.get_by_role("button", name="Apply").click()
    assert "state=duplicate" in page.url


def test_item_page_comparison_then_mark_duplicate_shows_state_and_audit(
    page: Any, server: Server, sign_in: SignIn, catalog: Catalog
) -> None:
    item = catalog.duplicate_item
    sign_in(page, "processor")
    page.goto(f"{server.url}/ui/items/{item}")
    assert page.title() == f"Inbox Item {item} · casematch"
    for title in ("ID Matches", "Subject Matches", "Possible Matches"):
        assert page.get_by_role("heading", name=re.compile(title)).is_visible()
    row = page.locator("table.matches tbody tr").filter(has=page.locator(".tag-case")).first
    assert row.locator(".statusbar li").count() == 5  # M18's five segments
    screenshot(page, "item")

    row.get_by_role("link", name="Compare").click()
    comparison = page.get_by_test_id("comparison")
    assert comparison.is_visible()
    results = set(
        comparison.locator("[data-result]").evaluate_all("els => els.map(e => e.dataset.result)")
    )
    assert results & {"exact", "partial"}
    # Told by words and symbols, not by colour alone.
    assert comparison.get_by_text(re.compile("Exact match|Partial match")).first.is_visible()
    screenshot(page.locator("#comparison"), "comparison")
    match_id = re.search(r"match=case:([^&#]+)", page.url)
    assert match_id is not None
    case_id = match_id.group(1)

    page.get_by_role("button", name=f"Mark as duplicate: Case {case_id}").click()
    assert (
        f"marked as a duplicate of Case {case_id}"
        in page.get_by_test_id("consequence").inner_text()
    )
    page.get_by_test_id("confirm").click()
    page.wait_for_url(re.compile(rf"/ui/items/{item}(\?organization=[^&#]+)?$"))
    assert _item_state(page) == "duplicate"
    assert "the item is now 'duplicate'" in page.get_by_role("status").first.inner_text()
    audit = page.get_by_test_id("audit").inner_text()
    assert "mark_duplicate" in audit and "e2e-processor" in audit
    # Nothing more to decide: the buttons say why.
    button = page.get_by_role("button", name="Create new Case", exact=True)
    assert button.is_disabled()
    assert "is in state 'duplicate'" in page.locator("#why-create_new_case").inner_text()


def test_refusal_is_shown_as_readable_message(
    page: Any, server: Server, sign_in: SignIn, catalog: Catalog
) -> None:
    """A decision the workflow refuses (here: the match was decided meanwhile) says why."""
    item = catalog.refusal_item
    sign_in(page, "processor")
    page.goto(f"{server.url}/ui/items/{item}")
    page.get_by_role("button", name="Create new Case", exact=True).click()
    with server.api("processor") as api:  # another processor decides first
        res = api.post(f"/v1/inbox-items/{item}/decision", json={"action": "create_new_case"})
        assert res.status_code == 201
    page.get_by_test_id("confirm").click()
    refusal = page.get_by_test_id("refusal").inner_text()
    assert refusal.startswith("409:") and "'promoted'" in refusal


def test_promote_to_multiple_creates_cases_shown_on_the_case_page(
    page: Any, server: Server, sign_in: SignIn, catalog: Catalog
) -> None:
    item = catalog.for_multiple
    sign_in(page, "processor")
    page.goto(f"{server.url}/ui/items/{item}")
    page.get_by_label("Number of Cases").fill("3")
    page.get_by_role("button", name="Promote to multiple Cases").click()
    assert "3 Cases are created" in page.get_by_test_id("consequence").inner_text()
    page.get_by_test_id("confirm").click()
    page.wait_for_url(re.compile(rf"/ui/items/{item}(\?organization=[^&#]+)?$"))
    assert _item_state(page) == "promoted"
    flash = page.get_by_role("status").first.inner_text()
    assert "3 Cases created" in flash

    first_case = re.findall(r"CASE-[\w.-]+", flash)[0]
    page.get_by_role("link", name=first_case).first.click()
    assert page.title() == f"Case {first_case} · casematch"
    assert page.get_by_test_id("versions").locator("tbody tr").count() == 1
    audit = page.get_by_test_id("audit").inner_text()
    assert "created" in audit and item in audit
    assert page.get_by_role("heading", name=re.compile("Inbound Transmission IT-")).count() >= 1


def test_key_without_read_phi_gets_no_raw_phi_in_dom_or_responses(
    page: Any, server: Server, sign_in: SignIn, catalog: Catalog, traffic: Traffic
) -> None:
    item = catalog.phi_item
    sign_in(page, "processor")
    page.goto(f"{server.url}/ui/items/{item}")
    page.locator("table.matches").get_by_role("link", name="Compare").first.click()
    match = re.search(r"match=(case|inbox_item):([^&#]+)", page.url)
    assert match is not None
    dom = page.content()

    with server.api("phi") as api:
        kinds = {"case": "cases", "inbox_item": "inbox-items"}
        raw = [
            api.get(f"/v1/inbox-items/{item}").json(),
            api.get(f"/v1/{kinds[match.group(1)]}/{match.group(2)}").json(),
        ]
    secrets = set()
    for record in raw:
        for value in _phi_values(record):
            if len(value) >= 4:  # 2-3 letter values (initials, sex) are checked in the cells
                secrets.add(value)
    assert secrets, "the chosen records should carry PHI to look for"
    bodies = [dom, page.title(), page.url] + [b for _, b in traffic.bodies]
    for secret in secrets:
        for body in bodies:
            assert secret not in body
    cells = page.locator('[data-field^="patient.initials"] td, [data-field="patient.sex"] td')
    for text in cells.all_inner_texts()[:4]:
        if text.strip() not in ("—", "= Exact match", "≈ Partial match", "≠ No match"):
            assert text.strip() == "***"


def _phi_values(record: dict[str, Any]) -> list[str]:
    patient = record.get("patient") or {}
    reporter = record.get("reporter") or {}
    values = [patient.get(k) for k in ("first_name", "last_name", "initials", "dob", "edc_subject")]
    values += list((patient.get("mrn") or {}).values())
    values += [reporter.get("first_name"), reporter.get("last_name")]
    values += [e.get("onset") for e in record.get("events") or []]
    values.append(record.get("narrative"))
    return [str(v) for v in values if v]


def test_form_posted_without_csrf_token_is_refused(
    page: Any, server: Server, sign_in: SignIn, catalog: Catalog
) -> None:
    item = catalog.csrf_item
    sign_in(page, "processor")
    page.goto(f"{server.url}/ui/items/{item}")
    before = _item_state(page)
    page.get_by_role("button", name="Create new Case", exact=True).click()
    page.locator('form[action$="/decide"] input[name="csrf_token"]').evaluate("el => el.remove()")
    page.get_by_test_id("confirm").click()
    assert page.get_by_role("heading", name="Form refused").is_visible()
    assert "security token is missing" in page.get_by_role("alert").inner_text()
    page.goto(f"{server.url}/ui/items/{item}")
    assert _item_state(page) == before


def test_another_organizations_item_is_not_reachable_by_url(
    page: Any, server: Server, sign_in: SignIn, catalog: Catalog
) -> None:
    sign_in(page, "org_a")
    response = page.goto(f"{server.url}/ui/items/{catalog.org_b_item}")
    assert response.status == 404
    assert page.get_by_role("heading", name="Inbox Item not found").is_visible()
    assert "Detection" not in page.content()
    confirm = page.goto(
        f"{server.url}/ui/items/{catalog.org_b_item}/confirm?action=create_new_case"
    )
    assert confirm.status == 404


def test_automated_promotion_run_shows_progress_and_outcomes(
    page: Any, server: Server, sign_in: SignIn
) -> None:
    sign_in(page, "auto_c")
    page.get_by_role("link", name="Automated promotion").click()
    page.get_by_test_id("start-run").click()
    page.wait_for_url(re.compile(r"/ui/auto-promote/\w+$"))
    status = page.get_by_test_id("run-status")
    status.filter(has_text="finished").wait_for()
    total = int(re.search(r"of (\d+) items", status.inner_text()).group(1))  # type: ignore[union-attr]
    assert total >= 1
    assert page.locator("#run-outcomes tr").count() == total
    assert page.get_by_test_id("by-state").locator("li").count() >= 1


def test_api_docs_load_offline(page: Any, server: Server) -> None:
    page.goto(f"{server.url}/docs")
    page.locator(".swagger-ui .info .title").filter(has_text="casematch").wait_for()
    assert page.get_by_text("/v1/inbox-items/{item_id}/duplicate-check").first.is_visible()


def test_keyboard_labels_and_200_percent_zoom(
    browser: Any, server: Server, catalog: Catalog
) -> None:
    # 200% zoom: a 1280-pixel-wide window at device scale 2 lays out as 640 CSS pixels.
    context = browser.new_context(viewport={"width": 640, "height": 900}, device_scale_factor=2)
    try:
        page = context.new_page()
        page.goto(f"{server.url}/ui/sign-in")
        page.keyboard.press("Tab")
        assert page.evaluate("document.activeElement.textContent") == "Skip to content"
        page.keyboard.press("Tab")  # the skip link is first; the key field follows
        page.keyboard.press("Tab")
        assert page.evaluate("document.activeElement.id") == "api_key"
        outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
        assert outline != "none"  # focus is visible
        page.keyboard.type(server.key("processor"))
        page.keyboard.press("Enter")
        page.wait_for_url(re.compile(r"/ui/inbox"))
        page.goto(f"{server.url}/ui/items/{catalog.zoom_item}")
        unlabeled = page.evaluate(
            """[...document.querySelectorAll('input:not([type=hidden]), select')]
               .filter(el => !(el.labels && el.labels.length) && !el.getAttribute('aria-label'))
               .length"""
        )
        assert unlabeled == 0
        overflow = page.evaluate(
            "document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        assert overflow <= 0, "the page scrolls sideways at 200% zoom"
    finally:
        context.close()
