"""E2B(R3) ICSR intake: HL7 v3 XML messages become Records (SPEC §2, §7, I5).

An ICH E2B(R3) transmission is an HL7 v3 batch (``MCCI_IN200100UV01``) holding
one or more ICSR messages (``PORR_IN049016UV``). Each message becomes one
:class:`~indexer.records.Record` with ``source="e2b"``
(:mod:`indexer.e2b_message` maps the fields; this module owns the inputs:
files, batches, ZIPs, limits, organization routing and errors).

What this module guarantees:

- **Hardened parsing.** lxml with no network access, no DTD loading, no entity
  expansion and lxml's default tree limits; a document with a ``DOCTYPE`` is
  refused (ICH messages never carry one). ZIP input is read member by member
  with caps on the number of messages and on the uncompressed size.
- **Null flavors are reasons, never text.** ``MSK``, ``ASKU``, ``NASK``, ``UNK``
  and ``NI`` on a patient or reporter value become ``reason_omitted`` entries
  and the value stays empty, so it can never match (N5).
- **Per-message errors.** Malformed XML is one error naming the input and the
  line; a message missing a required element, or carrying an invalid or future
  date, is one error naming the message number, the ICH data element and its
  path, and the other messages of the same input still load. Errors never
  carry a value from the message (no PHI).
- **Deterministic ids.** A record id is a digest of the organization, the kind
  and the canonical XML of the message, so loading the same file twice gives
  the same ids (an idempotent re-load) and different messages never collide.

    >>> result = parse_e2b_file(Path("FAERS2022Scenario1.xml"), E2BOptions(organization="ORG-A"))
    ... # doctest: +SKIP
    >>> [r.identifiers.wwuid for r in result.records], result.errors  # doctest: +SKIP
    (['US-APHARMA-8744554B'], [])
"""

from __future__ import annotations

import io
import zipfile
import zlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any, Literal

from lxml import etree

from indexer.e2b_message import HL7, MessageError, hl7_path, message_to_record, sender_id
from indexer.records import Record

BATCH = f"{{{HL7}}}MCCI_IN200100UV01"
MESSAGE = f"{{{HL7}}}PORR_IN049016UV"

#: At most this many ICSR messages per input (a file, a request or a ZIP).
MAX_MESSAGES = 1000
#: Uncompressed bytes accepted from one input, ZIP members included.
MAX_INPUT_BYTES = 512 * 1024 * 1024

_ZIP_MAGIC = b"PK\x03\x04"


@dataclass(frozen=True, slots=True)
class E2BError:
    """Why one message (or a whole input) was not loaded. Never carries message values."""

    source: str
    reason: str
    message_number: int | None = None
    element: str = ""
    path: str = ""
    line: int | None = None

    def __str__(self) -> str:
        parts = [self.source]
        if self.line is not None:
            parts.append(f"line {self.line}")
        if self.message_number is not None:
            parts.append(f"message {self.message_number}")
        if self.element:
            parts.append(self.element)
        if self.path:
            parts.append(self.path)
        return ": ".join(parts) + f": {self.reason}"

    def as_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "message_number": self.message_number,
            "element": self.element,
            "path": self.path,
            "line": self.line,
            "reason": self.reason,
        }


@dataclass(slots=True)
class E2BResult:
    """The records of the good messages and one error per rejected message."""

    records: list[Record] = field(default_factory=list)
    errors: list[E2BError] = field(default_factory=list)
    messages: int = 0

    def extend(self, other: E2BResult) -> None:
        self.records.extend(other.records)
        self.errors.extend(other.errors)
        self.messages += other.messages


@dataclass(frozen=True, slots=True)
class SenderRoute:
    """Where a message sender's reports go: a transmission profile's organization."""

    organization: str
    transmission_profile: str | None = None


@dataclass(frozen=True, slots=True)
class E2BOptions:
    """How messages become records.

    ``organization`` is the caller's choice. When it is ``None``, the message
    sender identifier (N.2.r.2, else the batch sender N.1.3) is looked up in
    ``senders`` (the partners of the transmission profiles); a message whose
    organization resolves neither way is rejected. A sender's profile name is
    kept on the record (``transmission_profile``) when the profile belongs to
    the record's organization.

        >>> E2BOptions(organization="ORG-A", kind="case").max_messages
        1000
    """

    organization: str | None = None
    senders: Mapping[str, SenderRoute] = field(default_factory=dict)
    kind: Literal["case", "inbox_item"] = "inbox_item"
    id_prefix: str = "E2B-"
    max_messages: int = MAX_MESSAGES
    max_bytes: int = MAX_INPUT_BYTES
    today: date | None = None


# -- public entry points -----------------------------------------------------------


def parse_e2b(data: bytes, options: E2BOptions, *, source: str = "<input>") -> E2BResult:
    """Parse E2B(R3) XML bytes (a batch or a single message), or a ZIP of such files."""
    if data.startswith(_ZIP_MAGIC):
        return _parse_zip(data, options, source)
    if len(data) > options.max_bytes:
        return _fail(source, f"input is larger than {options.max_bytes} bytes")
    return _parse_xml(data, options, source, budget=options.max_messages)


def parse_e2b_file(path: Path, options: E2BOptions) -> E2BResult:
    """Parse one ``.xml`` or ``.zip`` file; errors name the file, never its content."""
    size = path.stat().st_size
    if size > options.max_bytes:
        return _fail(path.name, f"file is larger than {options.max_bytes} bytes")
    return parse_e2b(path.read_bytes(), options, source=path.name)


def iter_e2b_file(path: Path, options: E2BOptions) -> Iterator[Record | E2BError]:
    """The errors of one file, then its records (for loaders that stream)."""
    result = parse_e2b_file(path, options)
    yield from result.errors
    yield from result.records


def is_e2b_xml(head: bytes) -> bool:
    """True when the first bytes of a document look like an HL7 v3 ICSR."""
    return b"urn:hl7-org:v3" in head and (
        b"MCCI_IN200100UV01" in head or b"PORR_IN049016UV" in head
    )


# -- containers --------------------------------------------------------------------


def _fail(source: str, reason: str, line: int | None = None) -> E2BResult:
    return E2BResult(errors=[E2BError(source=source, reason=reason, line=line)])


def _parse_zip(data: bytes, options: E2BOptions, source: str) -> E2BResult:
    result = E2BResult()
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile:
        return _fail(source, "not a readable ZIP archive")
    with archive:
        members = [m for m in archive.infolist() if not m.is_dir()]
        if len(members) > options.max_messages:
            return _fail(source, f"ZIP holds more than {options.max_messages} files")
        declared = sum(m.file_size for m in members)
        if declared > options.max_bytes:
            return _fail(source, f"ZIP expands to more than {options.max_bytes} bytes")
        budget, spent = options.max_messages, 0
        for member in sorted(members, key=lambda m: m.filename):
            name = f"{source}/{member.filename}"
            if not member.filename.lower().endswith(".xml"):
                result.errors.append(E2BError(name, "not an .xml file; skipped"))
                continue
            # Streamed: the member is decompressed and fed to the parser in chunks, so
            # neither the expanded bytes nor (lxml's limits) one huge text node are ever
            # held whole; a member whose header under-declares its size stops at the cap.
            feed = _MemberFeed(archive, member, options.max_bytes - spent)
            part = _parse_xml_stream(feed, options, name, budget=budget)
            spent += feed.read
            if feed.over:
                return _fail(source, f"ZIP expands to more than {options.max_bytes} bytes")
            if feed.unreadable:
                reason = (
                    "cannot read this ZIP member (corrupt, encrypted or unsupported compression)"
                )
                result.errors.append(E2BError(name, reason))
                continue
            if part.messages > budget:
                return _fail(source, f"ZIP holds more than {options.max_messages} messages")
            budget -= part.messages
            result.extend(part)
    return result


def _parser() -> etree.XMLParser:
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,
        remove_comments=True,
        remove_pis=True,
    )


#: Bytes fed to the XML parser at a time when streaming.
CHUNK_BYTES = 1024 * 1024


class _MemberFeed:
    """A ZIP member's expanded bytes in chunks, stopping past ``allowance`` bytes."""

    def __init__(self, archive: zipfile.ZipFile, member: zipfile.ZipInfo, allowance: int) -> None:
        self.archive, self.member, self.allowance = archive, member, allowance
        self.read = 0
        self.over = False
        self.unreadable = False

    def __iter__(self) -> Iterator[bytes]:
        try:
            with self.archive.open(self.member) as fh:
                while chunk := fh.read(min(CHUNK_BYTES, self.allowance - self.read + 1)):
                    self.read += len(chunk)
                    if self.read > self.allowance:
                        self.over = True
                        return
                    yield chunk
        except (zipfile.BadZipFile, zlib.error, EOFError, RuntimeError, NotImplementedError):
            self.unreadable = True


def _parse_xml_stream(
    chunks: _MemberFeed, options: E2BOptions, source: str, *, budget: int
) -> E2BResult:
    """Parse XML fed chunk by chunk (:class:`_MemberFeed`); stops early on any limit."""
    parser = _parser()
    try:
        for chunk in chunks:
            parser.feed(chunk)
        if chunks.over or chunks.unreadable:
            return E2BResult()
        root = parser.close()
    except etree.XMLSyntaxError as exc:
        if chunks.over or chunks.unreadable:
            return E2BResult()
        line = exc.position[0] if exc.position else None
        return _fail(source, f"malformed XML: {_syntax_reason(exc)}", line)
    return _messages(root, options, source, budget=budget)


def _parse_xml(data: bytes, options: E2BOptions, source: str, *, budget: int) -> E2BResult:
    try:
        root = etree.fromstring(data, _parser())
    except etree.XMLSyntaxError as exc:
        line = exc.position[0] if exc.position else None
        return _fail(source, f"malformed XML: {_syntax_reason(exc)}", line)
    return _messages(root, options, source, budget=budget)


def _messages(root: etree._Element, options: E2BOptions, source: str, *, budget: int) -> E2BResult:
    docinfo = root.getroottree().docinfo
    if docinfo.internalDTD is not None:
        return _fail(source, "DOCTYPE declarations are not accepted in E2B(R3) messages", 1)
    if root.tag == MESSAGE:
        messages = [root]
    elif root.tag == BATCH:
        messages = root.findall(MESSAGE)
    else:
        local = etree.QName(root).localname
        hint = " (E2B(R2) is not supported)" if local == "ichicsr" else ""
        return _fail(
            source,
            f"root element {local!r} is not an E2B(R3) batch (MCCI_IN200100UV01) or "
            f"ICSR message (PORR_IN049016UV) in namespace {HL7}{hint}",
            1,
        )
    result = E2BResult(messages=len(messages))
    if len(messages) > budget:
        result.errors.append(
            E2BError(source, f"more than {options.max_messages} messages in one input")
        )
        return result
    if not messages:
        result.errors.append(E2BError(source, "the batch holds no PORR_IN049016UV message"))
    batch_sender = sender_id(root) if root.tag == BATCH else None
    for number, message in enumerate(messages, start=1):
        try:
            organization, profile = _route(message, options, batch_sender)
            record = message_to_record(
                message,
                organization=organization,
                kind=options.kind,
                transmission_profile=profile,
                id_prefix=options.id_prefix,
                today=options.today,
            )
            result.records.append(record)
        except MessageError as rej:
            result.errors.append(E2BError(source, rej.reason, number, rej.element, rej.path))
    return result


def _syntax_reason(exc: etree.XMLSyntaxError) -> str:
    # libxml2 messages quote names, never element content; keep only the first line.
    return str(exc.msg or exc).splitlines()[0][:200]


def _route(
    msg: etree._Element, options: E2BOptions, batch_sender: str | None
) -> tuple[str, str | None]:
    """The organization and transmission profile of one message."""
    sender = sender_id(msg) or batch_sender
    route = options.senders.get(sender) if sender else None
    if options.organization:
        same = route is not None and route.organization == options.organization
        return options.organization, route.transmission_profile if same and route else None
    if route is not None:
        return route.organization, route.transmission_profile
    raise MessageError(
        "N.2.r.2",
        hl7_path(msg, "h:sender/h:device/h:id"),
        "no organization: pass one, or configure a transmission profile for this message sender",
    )
