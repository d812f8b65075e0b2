"""Rules without an automatic fix still carry a display-only suggestion in their findings."""

from __future__ import annotations

import pytest

from sessionlint.api import lint_source
from sessionlint.diagnostics import Applicability
from sessionlint.registry import ALL_RULES

DISPLAY_ONLY = [r for r in ALL_RULES if r.fix_applicability is Applicability.DISPLAY_ONLY]


def test_every_rule_offers_some_fix_or_suggestion() -> None:
    without = [r.code for r in ALL_RULES if r.fix_applicability is None and r.code != "SL001"]
    assert without == []


@pytest.mark.parametrize("rule", DISPLAY_ONLY, ids=[r.code for r in DISPLAY_ONLY])
def test_display_only_rules_attach_their_suggestion(rule: type) -> None:
    from sessionlint.docgen import code_blocks, section

    (example,) = code_blocks(section(rule, "Example"))[:1]
    found = [d for d in lint_source(example, "app/example.py") if d.code == rule.code]
    assert found
    for diagnostic in found:
        assert diagnostic.fix is not None
        assert diagnostic.fix.applicability is Applicability.DISPLAY_ONLY
        assert diagnostic.fix.message
        assert not diagnostic.fix.is_applicable
        assert diagnostic.to_dict()["fix"] == {
            "applicability": "display-only",
            "message": diagnostic.fix.message,
        }
