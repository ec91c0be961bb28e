"""E2B(R3) parsing on the real FDA example instances and on messages derived from them."""

from __future__ import annotations

import copy
import io
import json
import os
import zipfile
from datetime import date
from pathlib import Path

import pytest
from lxml import etree

from indexer.dates import PartialDate
from indexer.e2b import (
    MESSAGE,
    E2BError,
    E2BOptions,
    SenderRoute,
    is_e2b_xml,
    iter_e2b_file,
    parse_e2b,
    parse_e2b_file,
)
from indexer.e2b_message import HL7
from indexer.records import Record
from tests.paths import FDA_EXAMPLES

FDA = FDA_EXAMPLES
FDA_FILES = sorted(FDA.glob("*.xml"))
ORG = E2BOptions(organization="ORG-A")

C11 = "2.16.840.1.113883.3.989.2.1.3.1"
GOLDEN = Path(__file__).resolve().parents[1] / "golden" / "e2b"


def scenario(name: str) -> bytes:
    return (FDA / f"FAERS2022{name}.xml").read_bytes()


def one(data: bytes, options: E2BOptions = ORG) -> Record:
    result = parse_e2b(data, options)
    assert result.errors == []
    assert len(result.records) == 1
    return result.records[0]


def batch_of(*messages: etree._Element) -> bytes:
    """A batch (MCCI_IN200100UV01) holding the given ICSR messages, in order."""
    root = etree.fromstring(scenario("Scenario1"))
    for old in root.findall(MESSAGE):
        root.remove(old)
    anchor = root.find(f"{{{HL7}}}name")
    assert anchor is not None
    for offset, message in enumerate(messages, start=1):
        root.insert(root.index(anchor) + offset, message)
    return etree.tostring(root)


def scenario1_message() -> etree._Element:
    message = etree.fromstring(scenario("Scenario1")).find(MESSAGE)
    assert message is not None
    return copy.deepcopy(message)


def find(message: etree._Element, xpath: str) -> etree._Element:
    found = message.xpath(xpath, namespaces={"h": HL7})
    assert isinstance(found, list) and found and isinstance(found[0], etree._Element)
    return found[0]


INV = "h:controlActProcess/h:subject/h:investigationEvent"
PLAYER = f"{INV}/h:component/h:adverseEventAssessment/h:subject1/h:primaryRole/h:player1"
REPORTER = (
    f"{INV}/h:outboundRelationship/h:relatedInvestigation/h:subjectOf2/h:controlActEvent"
    "/h:author/h:assignedEntity/h:assignedPerson"
)


# -- the FDA instances ------------------------------------------------------------------


def test_the_fda_examples_are_present() -> None:
    assert len(FDA_FILES) == 10, f"expected the ten FDA instances in {FDA}"


@pytest.mark.parametrize("path", FDA_FILES, ids=[p.stem for p in FDA_FILES])
def test_every_fda_example_parses_into_one_e2b_record(path: Path) -> None:
    result = parse_e2b_file(path, ORG)
    assert result.errors == []
    assert result.messages == 1
    [record] = result.records
    assert record.source == "e2b"
    assert record.organization == "ORG-A"
    assert record.kind == "inbox_item"
    assert record.identifiers.case_identifiers
    assert record.identifiers.wwuid
    assert record.events and record.products


@pytest.mark.parametrize("path", FDA_FILES, ids=[p.stem for p in FDA_FILES])
def test_every_fda_example_maps_to_its_golden_record(path: Path) -> None:
    """The whole record JSON, reviewable in tests/golden/e2b/ (CASEMATCH_UPDATE_GOLDEN=1 rewrites)."""
    [record] = parse_e2b_file(path, ORG).records
    got = record.model_dump(mode="json")
    golden = GOLDEN / f"{path.stem}.json"
    if os.environ.get("CASEMATCH_UPDATE_GOLDEN") == "1":
        golden.parent.mkdir(parents=True, exist_ok=True)
        golden.write_text(json.dumps(got, indent=2, ensure_ascii=False) + "\n")
    assert got == json.loads(golden.read_text())


def test_scenario1_identifiers_dates_and_report_type() -> None:
    r = one(scenario("Scenario1"))
    assert r.identifiers.case_identifiers == ["US-APHARMA-8744554B"]
    assert r.identifiers.wwuid == "US-APHARMA-8744554B"
    assert r.receipt_date == PartialDate(2022, 6, 14)
    assert r.new_info_date == PartialDate(2022, 6, 14)
    assert r.report_type == "spontaneous"
    assert r.study_type is None and r.study_number is None
    assert r.narrative is not None and r.narrative.startswith("Case Narrative Including")


def test_scenario1_patient() -> None:
    p = one(scenario("Scenario1")).patient
    assert (p.initials, p.first_name, p.last_name) == ("JD", None, None)
    assert p.sex == "male"
    assert p.dob == PartialDate(2001, 6, 15)
    assert p.age is not None and (p.age.value, p.age.unit) == (48, "year")
    assert p.age_group == "adult"
    assert p.reason_omitted == {}


def test_scenario1_primary_reporter() -> None:
    rep = one(scenario("Scenario1")).reporter
    assert (rep.first_name, rep.last_name) == ("Roger", "Robertson")
    assert rep.qualification == "physician"
    assert rep.country == "US"


def test_scenario1_drugs_with_roles_primary_suspect_first() -> None:
    products = one(scenario("Scenario1")).products
    assert [(p.rank, p.product_reported, p.drug_role) for p in products] == [
        (1, "Drug A", "suspect"),
        (2, "Drug B", "suspect"),
        (3, "Drug C", "concomitant"),
    ]


def test_scenario1_reactions_with_codes_country_onset_and_seriousness() -> None:
    events = one(scenario("Scenario1")).events
    assert [
        (e.rank, e.meddra_pt_code, e.event_reported, e.country, str(e.onset), e.seriousness)
        for e in events
    ] == [
        (
            1,
            "10027940",
            "THROMBOSE VEINEUSE PROFONDE",
            "US",
            "2014-10-10",
            ["disability", "other_medically_important"],
        ),
        (2, "10009896", "COLITE ISCHEMIQUE", "US", "2014-10-10", ["other_medically_important"]),
    ]


def test_scenario6_mrns_other_identifiers_study_and_native_verbatim() -> None:
    r = one(scenario("Scenario6"))
    assert r.identifiers.case_identifiers == [
        "US-APHARMA-8744554B",
        "FR-RPTLTD-15998",
        "EU-EMA-999999",
    ]
    assert r.patient.mrn.model_dump() == {
        "gp": "83444908",
        "specialist": "8999-B",
        "hospital": "3333444A32",
        "investigation": "09233347580934",
    }
    assert (r.study, r.study_number) == ("Profound Study", "4555-3")
    assert r.patient.reason_omitted == {"age_group": "no_information"}
    assert r.events[0].event_reported == "consciência alterada"  # E.i.1.1a before E.i.1.2
    assert r.events[0].country is None  # "eu" is not an ISO 3166-1 country
    assert r.products[0].blinded and r.blinded


def test_scenario6_documents_keep_titles_never_content() -> None:
    r = one(scenario("Scenario6"))
    assert [d["title"] for d in r.documents if isinstance(d, dict)][:2] == [
        "Sample Autopsy Report",
        "Medication Information",
    ]
    assert "VGhlIHBhdGllbnQ" not in r.model_dump_json()  # the base64 attachment


@pytest.mark.parametrize(
    ("name", "study_type", "report_type"),
    [("Scenario3", "clinical_trial", "study"), ("Scenario5-1", "clinical_trial", "study")],
    ids=["scenario3", "scenario5-1"],
)
def test_study_reports_carry_study_type_and_number(
    name: str, study_type: str, report_type: str
) -> None:
    r = one(scenario(name))
    assert (r.study_type, r.report_type, r.study_number) == (study_type, report_type, "CT-00-00")


# -- null flavors -----------------------------------------------------------------------

FLAVORS = [
    ("MSK", "masked"),
    ("ASKU", "asked_but_unknown"),
    ("NASK", "not_asked"),
    ("UNK", "unknown"),
    ("NI", "no_information"),
]


def _nullify(element: etree._Element, flavor: str) -> None:
    for attr in ("value", "code", "extension"):
        element.attrib.pop(attr, "")
    element.text = None
    element.set("nullFlavor", flavor)


@pytest.mark.parametrize(("flavor", "reason"), FLAVORS, ids=[f for f, _ in FLAVORS])
def test_null_flavors_become_reasons_omitted_and_never_values(flavor: str, reason: str) -> None:
    message = scenario1_message()
    for xpath in (
        f"{PLAYER}/h:name",
        f"{PLAYER}/h:administrativeGenderCode",
        f"{PLAYER}/h:birthTime",
        f"{REPORTER}/h:name/h:given",
        f"{REPORTER}/h:asLocatedEntity/h:location/h:code",
    ):
        _nullify(find(message, xpath), flavor)
    r = one(batch_of(message))
    assert (r.patient.initials, r.patient.sex, r.patient.dob) == (None, None, None)
    assert r.patient.reason_omitted == {"initials": reason, "sex": reason, "dob": reason}
    assert (r.reporter.first_name, r.reporter.country) == (None, None)
    assert r.reporter.reason_omitted == {"first_name": reason, "country": reason}
    stored = r.patient.model_dump(exclude={"reason_omitted"}) | r.reporter.model_dump(
        exclude={"reason_omitted"}
    )
    assert flavor not in stored.values()


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2001", PartialDate(2001)),
        ("200106", PartialDate(2001, 6)),
        ("20010615", PartialDate(2001, 6, 15)),
        ("20010615101010-0500", PartialDate(2001, 6, 15)),
        ("20010615101010.123+0100", PartialDate(2001, 6, 15)),
    ],
    ids=["year", "month", "day", "with-time-and-zone", "with-fraction"],
)
def test_hl7_timestamps_become_partial_dates(value: str, expected: PartialDate) -> None:
    message = scenario1_message()
    find(message, f"{PLAYER}/h:birthTime").set("value", value)
    assert one(batch_of(message)).patient.dob == expected


# -- errors -------------------------------------------------------------------------------


def test_malformed_xml_is_one_error_with_the_line() -> None:
    data = scenario("Scenario1")[:5000]
    result = parse_e2b(data, ORG, source="cut.xml")
    assert result.records == []
    [error] = result.errors
    assert error.source == "cut.xml" and error.line is not None and error.line > 1
    assert "malformed XML" in error.reason


def test_a_message_missing_c11_is_rejected_and_the_others_load() -> None:
    good1, bad, good3 = scenario1_message(), scenario1_message(), scenario1_message()
    inv = find(bad, INV)
    inv.remove(find(bad, f"{INV}/h:id[@root='{C11}']"))
    find(good3, f"{PLAYER}/h:name").text = "AB"  # a different message, a different id
    result = parse_e2b(batch_of(good1, bad, good3), ORG, source="batch.xml")
    assert len(result.records) == 2 and result.messages == 3
    [error] = result.errors
    assert (error.message_number, error.element) == (2, "C.1.1")
    assert error.path == (
        "/MCCI_IN200100UV01/PORR_IN049016UV[2]/controlActProcess/subject/investigationEvent"
        f"/id[@root='{C11}']"
    )
    assert str(error).startswith("batch.xml: message 2: C.1.1: /MCCI_IN200100UV01/")
    assert len({r.id for r in result.records}) == 2


@pytest.mark.parametrize(
    ("xpath", "element"),
    [
        (f"{INV}/h:effectiveTime/h:low", "C.1.4"),
        (f"{INV}/h:availabilityTime", "C.1.5"),
        (f"{PLAYER}/h:birthTime", "D.2.1"),
    ],
    ids=["receipt", "new-info", "dob"],
)
def test_a_future_date_rejects_the_message_without_showing_the_date(
    xpath: str, element: str
) -> None:
    message = scenario1_message()
    find(message, xpath).set("value", "20990615")
    result = parse_e2b(batch_of(message), ORG)
    assert result.records == []
    [error] = result.errors
    assert error.element == element and error.reason == "date is in the future"
    assert "2099" not in str(error)


def test_an_impossible_date_names_the_element() -> None:
    message = scenario1_message()
    find(message, f"{PLAYER}/h:birthTime").set("value", "20011315")
    [error] = parse_e2b(batch_of(message), ORG).errors
    assert (error.element, error.reason) == ("D.2.1", "not a calendar date")


def test_errors_never_carry_patient_values() -> None:
    message = scenario1_message()
    find(message, f"{PLAYER}/h:birthTime").set("value", "JD-2001")
    [error] = parse_e2b(batch_of(message), ORG).errors
    assert "JD" not in str(error) and error.element == "D.2.1"


def test_a_document_type_declaration_is_refused_and_entities_never_expand() -> None:
    data = (
        b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaaaaaaaa">'
        b'<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;">]>'
        b'<MCCI_IN200100UV01 xmlns="urn:hl7-org:v3">&b;</MCCI_IN200100UV01>'
    )
    [error] = parse_e2b(data, ORG).errors
    assert "DOCTYPE" in error.reason


def test_another_root_element_is_rejected_with_a_hint_for_r2() -> None:
    [error] = parse_e2b(b"<ichicsr lang='en'><safetyreport/></ichicsr>", ORG).errors
    assert "E2B(R2) is not supported" in error.reason


def test_more_messages_than_the_cap_loads_nothing() -> None:
    data = batch_of(scenario1_message(), scenario1_message(), scenario1_message())
    result = parse_e2b(data, E2BOptions(organization="ORG-A", max_messages=2))
    assert result.records == []
    assert [e.reason for e in result.errors] == ["more than 2 messages in one input"]


# -- ZIP --------------------------------------------------------------------------------------


def zip_of(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in files.items():
            archive.writestr(name, content)
    return buffer.getvalue()


def test_a_zip_of_files_loads_every_message_and_skips_other_files() -> None:
    data = zip_of(
        {
            "a/FAERS2022Scenario1.xml": scenario("Scenario1"),
            "FAERS2022Scenario5-1.xml": scenario("Scenario5-1"),
            "readme.txt": b"hello",
        }
    )
    result = parse_e2b(data, ORG, source="in.zip")
    assert sorted(r.identifiers.wwuid or "" for r in result.records) == [
        "US-APHARMA-234545656",
        "US-APHARMA-8744554B",
    ]
    assert [(e.source, e.reason) for e in result.errors] == [
        ("in.zip/readme.txt", "not an .xml file; skipped")
    ]


def test_a_zip_over_the_message_cap_loads_nothing() -> None:
    data = zip_of({f"{i}.xml": scenario("Scenario1") for i in range(3)})
    result = parse_e2b(data, E2BOptions(organization="ORG-A", max_messages=2))
    assert result.records == [] and len(result.errors) == 1


def test_a_zip_bomb_is_refused_by_its_uncompressed_size() -> None:
    data = zip_of({"big.xml": b"<a>" + b" " * 2_000_000 + b"</a>"})
    result = parse_e2b(data, E2BOptions(organization="ORG-A", max_bytes=1_000_000))
    assert result.records == []
    assert "expands to more than 1000000 bytes" in result.errors[0].reason


def test_a_corrupt_zip_member_is_reported_and_the_others_load() -> None:
    data = bytearray(zip_of({"a.xml": scenario("Scenario1"), "b.xml": scenario("Scenario2")}))
    body = data.index(b"PK\x03\x04", 1) - 100  # inside a.xml's compressed bytes
    data[body : body + 8] = b"\x00" * 8
    result = parse_e2b(bytes(data), ORG, source="in.zip")
    assert [r.identifiers.case_identifiers[0] for r in result.records] == [
        "US-APHARMA-8744554B-UPDATE-TESTING222"
    ]
    assert [(e.source, e.reason[:24]) for e in result.errors] == [
        ("in.zip/a.xml", "cannot read this ZIP mem")
    ]


def test_iter_e2b_file_reads_a_zip_from_disk(tmp_path: Path) -> None:
    path = tmp_path / "two.zip"
    path.write_bytes(zip_of({"1.xml": scenario("Scenario1"), "2.xml": scenario("Scenario2")}))
    items = list(iter_e2b_file(path, ORG))
    assert len(items) == 2 and all(isinstance(i, Record) for i in items)


# -- organization, kind and ids ------------------------------------------------------------------


def test_organization_comes_from_the_senders_transmission_profile() -> None:
    options = E2BOptions(senders={"4567AB89012": SenderRoute("ORG-B", "acme-gateway")})
    r = one(scenario("Scenario1"), options)
    assert (r.organization, r.transmission_profile) == ("ORG-B", "acme-gateway")


def test_the_callers_organization_wins_and_keeps_only_its_own_profile() -> None:
    senders = {"4567AB89012": SenderRoute("ORG-B", "acme-gateway")}
    r = one(scenario("Scenario1"), E2BOptions(organization="ORG-A", senders=senders))
    assert (r.organization, r.transmission_profile) == ("ORG-A", None)
    r = one(scenario("Scenario1"), E2BOptions(organization="ORG-B", senders=senders))
    assert (r.organization, r.transmission_profile) == ("ORG-B", "acme-gateway")


def test_without_an_organization_the_message_is_rejected() -> None:
    [error] = parse_e2b(scenario("Scenario1"), E2BOptions()).errors
    assert error.element == "N.2.r.2" and "no organization" in error.reason


def test_ids_are_deterministic_and_differ_by_organization_and_kind() -> None:
    data = scenario("Scenario1")
    first, again = one(data), one(data)
    other_org = one(data, E2BOptions(organization="ORG-B"))
    as_case = one(data, E2BOptions(organization="ORG-A", kind="case"))
    assert first.id == again.id
    assert len({first.id, other_org.id, as_case.id}) == 3
    assert as_case.kind == "case" and as_case.case_id == as_case.id


def test_same_report_id_in_different_files_gives_different_ids() -> None:
    ids = {one(scenario(n)).id for n in ("Scenario1", "Scenario3", "Scenario8")}
    assert len(ids) == 3


def test_a_reference_date_before_the_report_rejects_it_as_future() -> None:
    options = E2BOptions(organization="ORG-A", today=date(2020, 1, 1))
    [error] = parse_e2b(scenario("Scenario1"), options).errors
    assert error.reason == "date is in the future"


def test_is_e2b_xml_sniffs_the_head_of_a_document() -> None:
    assert is_e2b_xml(scenario("Scenario1")[:2048])
    assert not is_e2b_xml(b'{"id": "II-1"}')


def test_error_as_dict_is_json_ready() -> None:
    error = E2BError("f.xml", "missing", 2, "C.1.1", "/x")
    assert error.as_dict() == {
        "source": "f.xml",
        "message_number": 2,
        "element": "C.1.1",
        "path": "/x",
        "line": None,
        "reason": "missing",
    }


def test_a_value_the_record_refuses_names_the_element_and_field() -> None:
    message = scenario1_message()
    age = f"{PLAYER}/../h:subjectOf2/h:observation[h:code/@code='3']/h:value"
    find(message, age).set("unit", "y" * 300)
    [error] = parse_e2b(batch_of(message), ORG).errors
    assert error.element == "D"
    assert error.reason.startswith("patient.age.unit: ")
    assert "yyy" not in str(error)


DRUG_NAME = (
    f"{PLAYER}/../h:subjectOf2/h:organizer[h:code/@code='4']/h:component"
    "/h:substanceAdministration/h:consumable/h:instanceOfKind/h:kindOfProduct/h:name"
)


def test_a_long_but_valid_product_name_is_kept_to_the_records_limit() -> None:
    message = scenario1_message()
    find(message, DRUG_NAME).text = "Drug " + "x" * 245  # G.k.2.2 allows 250
    [product, *_] = one(batch_of(message)).products
    assert product.product_reported is not None and len(product.product_reported) == 200


@pytest.mark.parametrize(
    "module_name",
    ["indexer.e2b", "indexer.e2b_codes", "service.e2b_intake"],
    ids=["e2b", "e2b_codes", "e2b_intake"],
)
def test_module_examples_hold(module_name: str) -> None:
    import doctest
    import importlib

    result = doctest.testmod(importlib.import_module(module_name))
    assert result.attempted > 0 and result.failed == 0
