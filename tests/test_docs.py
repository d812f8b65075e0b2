"""The rule pages cannot drift from the rule classes, and their examples are honest."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from sessionlint.api import lint_source
from sessionlint.docgen import code_blocks, rule_page, section
from sessionlint.registry import ALL_RULES

DOCS = Path(__file__).resolve().parent.parent / "docs" / "rules"
RULE_IDS = [r.code for r in ALL_RULES]


@pytest.mark.parametrize("rule", ALL_RULES, ids=RULE_IDS)
def test_committed_page_matches_generated(rule: type) -> None:
    page = DOCS / f"{rule.code}.md"
    assert page.exists(), f"run `python -m sessionlint.docgen` to create {page}"
    assert page.read_text(encoding="utf-8") == rule_page(rule), (
        f"{page} is stale: run `python -m sessionlint.docgen`"
    )


def test_no_page_without_a_rule() -> None:
    documented = {p.stem for p in DOCS.glob("SL*.md")}
    assert documented == set(RULE_IDS)


@pytest.mark.parametrize("rule", ALL_RULES, ids=RULE_IDS)
def test_sections_in_ruff_order(rule: type) -> None:
    doc = rule.__doc__ or ""
    order = ["## What it does", "## Why is this bad?", "## Example", "## Use instead"]
    positions = [doc.index(title) for title in order]
    assert positions == sorted(positions)
    assert "## References" in doc
    if rule.fix_applicability is not None and rule.fix_applicability.value != "display-only":
        assert "## Fix safety" in doc, "a rule with a fix explains why it is (un)safe"


@pytest.mark.parametrize(
    "rule", [r for r in ALL_RULES if r.code != "SL001"], ids=[c for c in RULE_IDS if c != "SL001"]
)
def test_example_triggers_and_use_instead_does_not(rule: type) -> None:
    examples = code_blocks(section(rule, "Example"))
    fixes = code_blocks(section(rule, "Use instead"))
    assert examples and fixes
    for source in examples:
        codes = {d.code for d in lint_source(source, "app/example.py")}
        assert rule.code in codes, f"the Example of {rule.code} does not trigger it:\n{source}"
    for source in fixes:
        codes = {d.code for d in lint_source(source, "app/example.py")}
        assert rule.code not in codes, f"the 'Use instead' of {rule.code} triggers it"


def test_parse_error_example_is_a_parse_error() -> None:
    rule = next(r for r in ALL_RULES if r.code == "SL001")
    (bad,) = code_blocks(section(rule, "Example"))
    (good,) = code_blocks(section(rule, "Use instead"))
    assert [d.code for d in lint_source(bad)] == ["SL001"]
    assert lint_source(good) == []


def test_configuration_lists_the_rules_that_skip_test_code_migrations_and_scripts() -> None:
    text = (DOCS.parent / "configuration.md").read_text(encoding="utf-8")
    section = text.split("## Code kinds", 1)[1].split("\n## ", 1)[0]
    application_only, everywhere = section.split("run in application code only", 1)
    listed_only = set(re.findall(r"SL\d{3}", application_only))
    listed_everywhere = set(re.findall(r"SL\d{3}", everywhere))
    assert listed_only == {r.code for r in ALL_RULES if r.request_time_harm}
    assert listed_everywhere == {
        r.code for r in ALL_RULES if not r.request_time_harm and r.code != "SL001"
    }
