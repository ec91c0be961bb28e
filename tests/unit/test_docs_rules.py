"""docs/rules.md is generated from docs/rules.toml and the test names, and stays so.

When a test fails here: run ``python docs/rules.py`` and commit docs/rules.md,
or fix what it lists in docs/rules.toml (a rule without a test, code that moved).
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _load_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("docs_rules", ROOT / "docs" / "rules.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


rules_script = _load_script()


def test_rules_md_is_up_to_date() -> None:
    expected = rules_script.render(rules_script.load_rules(), rules_script.tests_by_rule())
    assert (ROOT / "docs" / "rules.md").read_text(encoding="utf-8") == expected, (
        "docs/rules.md is stale: run `python docs/rules.py` and commit it"
    )


def test_every_rule_has_a_test_and_existing_code() -> None:
    rules = rules_script.load_rules()
    assert rules_script.problems(rules, rules_script.tests_by_rule()) == []


def test_rule_book_lists_every_rule_of_each_family_without_gaps() -> None:
    ids = [rule.id for rule in rules_script.load_rules()]
    counts = {"N": 7, "I": 5, "M": 26, "P": 18}
    assert ids == [f"{family}{n}" for family, count in counts.items() for n in range(1, count + 1)]


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("test_M5_reporter_country_excludes", {"M5"}),
        ("test_P7_P8_multiple_with_placeholders", {"P7", "P8"}),
        ("test_M_rules_table", set()),
        ("test_match_view_M26x_is_not_a_rule", set()),
        ("test_summary_p1_lowercase_is_not_a_rule", set()),
    ],
    ids=["one-id", "two-ids", "family-letter-only", "id-with-suffix", "lowercase"],
)
def test_rule_ids_are_read_from_whole_words_of_a_test_name(name: str, expected: set[str]) -> None:
    assert rules_script.rule_ids_in(name) == expected


def test_a_rule_without_a_test_or_with_gone_code_is_reported() -> None:
    rule = rules_script.Rule(
        id="M99", title="t", meaning="m", code=("matcher/rank.py:no_such_function",)
    )
    assert rules_script.problems([rule], {}) == [
        "M99: no test carries this ID in its name",
        "M99: matcher/rank.py defines no top-level no_such_function",
    ]
