"""Paths to test data shipped with the repository."""

from __future__ import annotations

from pathlib import Path

#: FDA's E2B(R3) example ICSRs (public; see SOURCE.md in the folder), copied from
#: shared/data so that the suite runs from a clone alone.
FDA_EXAMPLES = Path(__file__).resolve().parent / "data" / "e2b-r3-fda-examples"
