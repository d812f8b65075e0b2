"""Generate ``docs/rules/<code>.md`` from the rule classes (their docstrings are the pages).

``python -m sessionlint.docgen [DOCS_DIR]`` rewrites the pages; a test fails when a committed
page differs from what this module generates, so the docs cannot drift from the code.
"""

from __future__ import annotations

import inspect
import re
import sys
from pathlib import Path

from sessionlint.registry import ALL_RULES
from sessionlint.rule import Rule

#: Where a rule runs (``Rule.request_time_harm``; see ``sessionlint.model.codekind``).
_SCOPE = {
    True: "application code only; silent in test code, migrations and scripts "
    "([code kinds](../configuration.md#code-kinds))",
    False: "all code, tests, migrations and scripts included",
}

_FENCE = re.compile(r"```python\n(.*?)```", re.DOTALL)


def rule_page(rule: type[Rule]) -> str:
    """The markdown page of one rule."""
    body = inspect.cleandoc(rule.__doc__ or "")
    fix = {
        None: "none",
        "safe": "safe",
        "unsafe": "unsafe (applied with `--unsafe-fixes`)",
        "display-only": "display-only (a suggestion in the message)",
    }[rule.fix_applicability.value if rule.fix_applicability is not None else None]
    header = (
        f"# {rule.code} {rule.name}\n\n"
        f"{rule.summary}.\n\n"
        f"- Default severity: **{rule.severity.value}**\n"
        f"- Fix: {fix}\n"
        f"- Enabled by default: {'yes' if rule.default_enabled else 'no'}\n"
        f"- Checked in: {_SCOPE[rule.request_time_harm]}\n"
    )
    return f"{header}\n{body}\n"


def section(rule: type[Rule], title: str) -> str:
    """The text of one ``## title`` section of a rule's docs ('' when absent)."""
    doc = inspect.cleandoc(rule.__doc__ or "")
    match = re.search(rf"^## {re.escape(title)}\n(.*?)(?=^## |\Z)", doc, re.DOTALL | re.MULTILINE)
    return match.group(1) if match else ""


def code_blocks(text: str) -> list[str]:
    return [m.group(1) for m in _FENCE.finditer(text)]


def write_pages(directory: Path) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for rule in ALL_RULES:
        path = directory / f"{rule.code}.md"
        path.write_text(rule_page(rule), encoding="utf-8", newline="\n")
        written.append(path)
    return written


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    directory = Path(args[0]) if args else Path("docs/rules")
    for path in write_pages(directory):
        print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
