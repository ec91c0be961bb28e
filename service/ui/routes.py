"""The review page's routes under ``/ui``: thin over the service components.

Sign-in / sign-out, the Inbox, the item page (details, Detection, comparison,
decisions with confirmations), the Case page, and automated promotion runs.
Every page needs a signed-in session with ``read_matches`` (or more); every
POST checks the CSRF token first; decisions call the same promotion components
(``app.state.promotion``), through the same idempotency store, as the ``/v1``
routers (P17: a form submitted twice has one outcome).
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import Any, Literal, cast, get_args
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, TypeAdapter

from service.api.promotion import get_promotion
from service.auth import Principal
from service.errors import Forbidden, InvalidInput, NotFound, ServiceError, Unauthorized
from service.promotion.decisions import DECISION_OUTCOME, DecisionAction, DecisionRequest
from service.promotion.idempotency import Outcome, request_hash
from service.promotion.lifecycle import RESET_OUTCOME, UNMARK_OUTCOME
from service.promotion.manual import PROMOTE_OUTCOME
from service.promotion.multiple import MULTIPLE_OUTCOME
from service.promotion.outcomes import outcome_json, status_of
from service.promotion.service import Promotion
from service.ui import decisions, inbox, reads, views
from service.ui import session as sessions
from service.ui.pages import (
    FormDep,
    Page,
    PageDep,
    error_page,
    error_text,
    first,
    flat,
    redirect,
    render,
    render_page,
)
from service.ui.runs import RunRegistry

router = APIRouter(prefix="/ui", include_in_schema=False)

_CREATED = frozenset({"case_created", "cases_created", "follow_up_created"})


def _promotion(page: Page) -> Promotion:
    """The app's promotion components, as the ``/v1`` routers take them."""
    return get_promotion(page.request)


def _runs(request: Request) -> RunRegistry:
    state = request.app.state
    registry: RunRegistry | None = getattr(state, "ui_runs", None)
    if registry is None:
        registry = RunRegistry()
        state.ui_runs = registry
    return registry


def _reader(page: Page) -> Response | None:
    """A 403 page unless the key may read records."""
    try:
        sessions.require_reader(page.principal)
    except ServiceError as exc:
        return error_page(page, exc, title="Not permitted")
    return None


# -- sign-in --------------------------------------------------------------------------


@router.get("", response_model=None)
def home(request: Request) -> Response:
    return redirect(request, "/ui/inbox")


@router.get("/sign-in", response_model=None)
def sign_in_form(request: Request) -> Response:
    session = sessions.load(request)
    return render(request, "sign_in.html", {"title": "Sign in"}, session=session)


@router.post("/sign-in", response_model=None)
def sign_in(request: Request, form: FormDep) -> Response:
    session = sessions.load(request)
    try:
        sessions.check_csrf(session, flat(form))
        principal = sessions.sign_in(request, session, first(form, "api_key"))
    except (sessions.CsrfRefused, Unauthorized) as exc:
        message = "That API key is not valid." if isinstance(exc, Unauthorized) else error_text(exc)
        if "no API keys are configured" in exc.message:
            message = exc.message
        return render(
            request,
            "sign_in.html",
            {"title": "Sign in", "error": message},
            session=session,
            status_code=exc.status_code,
        )
    orgs = ", ".join(sorted(principal.organizations))
    return redirect(request, "/ui/inbox", session=session, flash=f"Signed in for {orgs}.")


@router.post("/sign-out", response_model=None)
def sign_out(request: Request, form: FormDep) -> Response:
    session = sessions.load(request)
    try:
        sessions.check_csrf(session, flat(form))
    except sessions.CsrfRefused as exc:
        return render(
            request,
            "sign_in.html",
            {"title": "Sign in", "error": error_text(exc)},
            session=session,
            status_code=403,
        )
    fresh = sessions.Session(flash="Signed out.")
    return redirect(request, "/ui/sign-in", session=fresh)


# -- inbox ------------------------------------------------------------------------------


@router.get("/inbox", response_model=None)
def inbox_page(page: PageDep) -> Response:
    if (refused := _reader(page)) is not None:
        return refused
    orgs = sorted(page.principal.organizations)
    params = dict(page.request.query_params)
    try:
        f = inbox.parse_filter(params, orgs)
    except InvalidInput as exc:
        return render_page(
            page,
            "inbox.html",
            {
                "title": "Inbox",
                "filter": inbox.InboxFilter(),
                "result": None,
                "error": error_text(exc),
                "details": exc.details,
                **_inbox_options(orgs),
            },
            status_code=422,
        )
    result = inbox.read_inbox(_promotion(page).store, f, orgs)
    return render_page(
        page,
        "inbox.html",
        {"title": "Inbox", "filter": f, "result": result, **_inbox_options(orgs)},
    )


def _inbox_options(orgs: list[str]) -> dict[str, Any]:
    return {
        "states": inbox.ALL_STATES,
        "open_states": inbox.OPEN_STATES,
        "sources": inbox.SOURCES,
        "organizations": orgs,
    }


# -- item page ----------------------------------------------------------------------------


def _in_organization(page: Page, named: str | None = None) -> Page:
    """The page acting within the ``organization`` its URL (or its form) names (a key of
    several organizations whose id exists in more than one: docs/api.md "Tenancy"); 403
    when the key lacks it."""
    named = named or page.request.query_params.get("organization") or None
    return dataclasses.replace(page, principal=page.principal.narrowed(named))


def _item_context(page: Page, item_id: str, match_param: str) -> dict[str, Any]:
    promotion = _promotion(page)
    stored = reads.load_item(promotion, _in_organization(page).principal, item_id)
    item = stored.record
    # Everything else the page reads is the item's organization's (ids are unique per
    # organization only).
    page = dataclasses.replace(page, principal=page.principal.narrowed(item.organization))
    # The audit and transmission reads wait on the engine while the detection runs.
    with ThreadPoolExecutor(max_workers=2, thread_name_prefix="ui-item") as pool:
        audit = pool.submit(reads.audit_trail, promotion, page.principal, "inbox_item", item.id)
        transmissions = pool.submit(reads.item_transmissions, promotion, page.principal, item)
        detection = reads.detection_for(promotion, page.settings, page.principal, stored)
        audit_entries, transmission_list = audit.result(), transmissions.result()
    match = reads.find_match(detection, match_param)
    follow_up_state = ""
    follows = item.links.get("follow_up_of")
    if isinstance(follows, str) and follows:
        case = promotion.store.get("case", item.organization, follows)
        follow_up_state = case.record.state if case is not None else ""
    shown = reads.shown(stored, page.principal, page.settings)
    cap = page.settings.max_possible_matches(item.is_clinical_trial)
    possible = len(detection.sections.possible_matches) if detection else 0
    return {
        "title": f"Inbox Item {item.id}",
        "item": item,
        "record": shown,
        "detection": detection,
        "sections": [
            (name, views.SECTION_TITLES[name], getattr(detection.sections, name))
            for name in views.SECTION_TITLES
        ]
        if detection
        else [],
        "match": match,
        "match_param": match_param,
        "match_missing": bool(match_param) and match is None,
        "groups": views.comparison_groups(match.comparison, shown) if match else [],
        "result_counts": views.counts_by_result(match.comparison) if match else {},
        "decisions": decisions.decisions_for(
            item, match, page.principal, page.settings, follow_up_state=follow_up_state
        ),
        "cap": cap,
        "capped": possible >= cap,
        "study_kind": "clinical-trial" if item.is_clinical_trial else "postmarketing",
        "audit": audit_entries,
        "transmissions": transmission_list,
        "match_key": reads.match_key,
    }


@router.get("/items/{item_id}", response_model=None)
def item_page(page: PageDep, item_id: str, match: str = "") -> Response:
    if (refused := _reader(page)) is not None:
        return refused
    try:
        context = _item_context(page, item_id, match)
    except ServiceError as exc:
        return error_page(page, exc, title="Inbox Item not found")
    return render_page(page, "item.html", context)


@router.get("/items/{item_id}/confirm", response_model=None)
def confirm_page(
    page: PageDep, item_id: str, action: str = "", match: str = "", count: str = "1"
) -> Response:
    """What a decision will do, and the form (with its CSRF token) that does it."""
    if (refused := _reader(page)) is not None:
        return refused
    if action not in decisions.ACTIONS:
        return error_page(
            page,
            InvalidInput(
                [{"field": "action", "value": action, "error": "; ".join(decisions.ACTIONS)}]
            ),
        )
    try:
        context = _item_context(page, item_id, match)
    except ServiceError as exc:
        return error_page(page, exc, title="Inbox Item not found")
    chosen = next(d for d in context["decisions"] if d.action == action)
    n = int(count) if count.isdigit() else 0
    low, high = decisions.MULTIPLE_RANGE
    if action == "promote_multiple" and not low <= n <= high:
        return error_page(
            page,
            InvalidInput(
                [{"field": "count", "value": count, "error": f"a number from {low} to {high}"}]
            ),
        )
    context.update(
        title=f"Confirm: {chosen.label} · Inbox Item {item_id}",
        decision=chosen,
        count=n,
        consequence=decisions.consequence(
            chosen.action, context["item"], chosen.target, count=n, settings=page.settings
        ),
        copyable=decisions.COPYABLE,
        form_id=uuid.uuid4().hex,
    )
    return render_page(page, "confirm.html", context, status_code=200 if chosen.enabled else 409)


@router.post("/items/{item_id}/decide", response_model=None)
def decide(page: PageDep, item_id: str, form: FormDep) -> Response:
    """Carry out a confirmed decision through the promotion components."""
    fields = flat(form)
    try:
        sessions.check_csrf(page.session, fields)
    except ServiceError as exc:
        return error_page(page, exc, title="Form refused")
    action = fields.get("action", "")
    promotion = _promotion(page)
    named = fields.get("organization") or None  # the confirm form says whose item it is
    try:
        page = _in_organization(page, named)
    except ServiceError as exc:
        return error_page(page, exc)
    try:
        outcome = _carry_out(promotion, page, item_id, action, form)
    except ServiceError as exc:
        try:
            context = _item_context(page, item_id, fields.get("match", ""))
        except ServiceError:
            return error_page(page, exc)
        context.update(error=error_text(exc), details=getattr(exc, "details", []))
        return render_page(page, "item.html", context, status_code=exc.status_code)
    message = describe_outcome(action, outcome)
    back = f"/ui/items/{item_id}" + (f"?{urlencode({'organization': named})}" if named else "")
    return redirect(page.request, back, session=page.session, flash=message)


#: The decisions of ``POST /v1/inbox-items/{id}/decision`` (P3).
_DECIDED: frozenset[str] = frozenset(get_args(DecisionAction))


def _carry_out(
    promotion: Promotion, page: Page, item_id: str, action: str, form: dict[str, list[str]]
) -> BaseModel:
    """Run the decision through the component the matching ``/v1`` route calls, once per form.

    The form's id is its Idempotency-Key (P17): a form submitted twice has one outcome,
    read back as the same typed outcome the route answers.
    """
    principal: Principal = _in_organization(page).principal
    if not principal.can("promote"):
        raise Forbidden("this API key lacks the permission: promote")
    target_id = first(form, "target_id") or None
    target_type = first(form, "target_type") or None
    if target_type not in (None, "case", "inbox_item"):
        raise InvalidInput(
            [{"field": "target_type", "value": target_type, "error": "case or inbox_item"}]
        )
    count_text = first(form, "count")
    copy = sorted(form.get("copy", []))
    answers: TypeAdapter[Any]
    operation: Callable[[str], BaseModel]  # the operation id in, the typed outcome out
    if action == "promote":
        answers = PROMOTE_OUTCOME
        operation = partial(promotion.manual.promote, item_id, principal)
    elif action == "promote_multiple":
        if not count_text.isdigit():  # its range is the component's check (P7)
            raise InvalidInput([{"field": "count", "value": count_text, "error": "a number"}])
        answers = MULTIPLE_OUTCOME
        operation = partial(
            promotion.multiple.promote_multiple, item_id, principal, count=int(count_text)
        )
    elif action == "unmark_follow_up":
        answers = UNMARK_OUTCOME
        operation = partial(promotion.lifecycle.unmark_follow_up, item_id, principal)
    elif action == "reset_to_new":
        answers = RESET_OUTCOME
        operation = partial(promotion.lifecycle.reset_to_new, item_id, principal)
    elif action in _DECIDED:
        decided = DecisionRequest(
            action=cast(DecisionAction, action),
            target_id=target_id,
            target_type=cast(Literal["case", "inbox_item"] | None, target_type),
            copy=tuple(copy),
        )
        answers = DECISION_OUTCOME
        operation = partial(promotion.decisions.decide, item_id, principal, request=decided)
    else:
        raise InvalidInput(
            [{"field": "action", "value": action, "error": "; ".join(decisions.ACTIONS)}]
        )

    def call(operation_id: str) -> Outcome:
        out = operation(operation_id)
        return Outcome(status_of(out), outcome_json(out))

    # Not found for another organization's item (never "forbidden": SPEC §7).
    reads.load_item(promotion, principal, item_id)
    body = {
        "action": action,
        "target_id": target_id,
        "target_type": target_type,
        "count": count_text,
        "copy": copy,
    }
    result = promotion.idempotency.run(
        actor=principal.key_id,
        key=first(form, "form_id") or None,
        fingerprint=request_hash(
            "POST", f"/ui/items/{item_id}/decide", body, principal.organizations
        ),
        operation=call,
    )
    if result.status >= 400:  # a refusal (kept as an outcome by the idempotency store)
        raise _refusal(result)
    outcome: BaseModel = answers.validate_python(result.body)
    return outcome


class Refused(ServiceError):  # noqa: N818 (reads as what happened)
    """A workflow's refusal, replayed from its outcome with its status."""


def _refusal(outcome: Outcome) -> ServiceError:
    detail = outcome.body.get("detail")
    if isinstance(detail, list):
        return InvalidInput(detail)
    exc = Refused(str(detail))
    exc.status_code = outcome.status
    return exc


def describe_outcome(action: str, outcome: BaseModel) -> str:
    """The flash message after a decision (ids and states only)."""
    out: dict[str, Any] = outcome.model_dump(mode="json")
    kind = out.get("outcome", "")
    label = decisions.LABELS.get(cast(decisions.Action, action), action)
    if kind == "potential_matches":
        det = out.get("detection", {}).get("sections", {})
        n = sum(len(v) for v in det.values())
        return (
            f"{label}: {n} potential match{'es' if n != 1 else ''} found; nothing was created. "
            "The results log is on the item's Inbound Transmission. Choose a decision below."
        )
    if kind == "cases_created":
        ids = out.get("case_ids", [])
        return f"{label}: {len(ids)} Cases created ({', '.join(ids)}); the item is promoted."
    if kind in _CREATED:
        return (
            f"{label}: Case {out.get('case_id')} ({kind.replace('_', ' ')}); the item is promoted."
        )
    return f"{label}: done; the item is now '{out.get('state')}'."


# -- Case page ----------------------------------------------------------------------------


@router.get("/cases/{case_id}", response_model=None)
def case_page(page: PageDep, case_id: str) -> Response:
    if (refused := _reader(page)) is not None:
        return refused
    promotion = _promotion(page)
    try:
        versions = reads.load_case_versions(
            promotion.store, _in_organization(page).principal, case_id
        )
        page = dataclasses.replace(
            page, principal=page.principal.narrowed(versions[-1].record.organization)
        )
        audit = reads.audit_trail(promotion, page.principal, "case", case_id)
    except ServiceError as exc:
        return error_page(page, exc, title="Case not found")
    shown = [reads.shown(v, page.principal, page.settings) for v in versions]
    return render_page(
        page,
        "case.html",
        {
            "title": f"Case {case_id}",
            "case_id": case_id,
            "latest": shown[-1],
            "versions": list(reversed(shown)),
            "audit": audit,
            "transmissions": reads.case_transmissions(promotion, page.principal, case_id),
        },
    )


# -- automated promotion -----------------------------------------------------------------------


@router.get("/auto-promote", response_model=None)
def auto_page(page: PageDep) -> Response:
    if (refused := _reader(page)) is not None:
        return refused
    runs = [r.snapshot() for r in _runs(page.request).for_owner(page.owner)]
    return render_page(page, "auto.html", {"title": "Automated promotion", "runs": runs})


@router.post("/auto-promote", response_model=None)
def auto_start(page: PageDep, form: FormDep) -> Response:
    try:
        sessions.check_csrf(page.session, flat(form))
        if not page.principal.can("promote"):
            raise Forbidden("this API key lacks the permission: promote")
    except ServiceError as exc:
        return error_page(page, exc, title="Form refused")
    run = _runs(page.request).start(_promotion(page).automated, page.principal, page.owner)
    return redirect(
        page.request,
        f"/ui/auto-promote/{run.run_id}",
        session=page.session,
        flash=f"Automated promotion started over {run.total} new item(s).",
    )


@router.get("/auto-promote/{run_id}", response_model=None)
def auto_run_page(page: PageDep, run_id: str) -> Response:
    run = _runs(page.request).get(run_id, page.owner)
    if run is None:
        return error_page(page, NotFound("automated run", run_id), title="Run not found")
    return render_page(
        page, "auto_run.html", {"title": f"Automated promotion run {run_id}", "run": run.snapshot()}
    )


@router.get("/auto-promote/{run_id}/progress", response_model=None)
def auto_run_progress(page: PageDep, run_id: str) -> Response:
    """The run as JSON, for the page's progress script."""
    run = _runs(page.request).get(run_id, page.owner)
    if run is None:
        return JSONResponse({"detail": f"automated run {run_id!r} not found"}, status_code=404)
    response = JSONResponse(run.snapshot(), headers={"Cache-Control": "no-store"})
    sessions.save(page.request, response, page.session)
    return response
