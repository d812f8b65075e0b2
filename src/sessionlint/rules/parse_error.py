"""SL001 parse-error."""

from __future__ import annotations

from collections.abc import Iterator

from sessionlint.context import FileContext
from sessionlint.diagnostics import Severity
from sessionlint.rule import Report, Rule


class ParseError(Rule):
    """## What it does
    Reports a file that cannot be decoded or parsed, at the line of the error (line 1 for a
    decoding error), with the parser's reason. The run goes on with the other files.

    ## Why is this bad?
    sessionlint cannot check what it cannot read: every other rule is silent on this file.
    Real repositories hold Jinja templates named `*.py`, files in a legacy encoding without a
    coding cookie, or syntax newer than the parser knows.

    ## Example
    ```python
    def broken(:
        pass
    ```

    ## Use instead
    ```python
    def fixed():
        pass
    ```

    ## Known problems
    CPython parses the file first and its verdict wins: what CPython rejects (a NUL byte, 201
    nested parentheses, a second BOM, a coding cookie whose codec fails) is reported with
    CPython's message and line. A file over 1 MiB, or nested deeper than sessionlint
    analyses (about 200 levels of its syntax tree, such as `a and a and ...` with hundreds of
    operands), is reported too, with that reason, before the parser can crash on it.

    A file that CPython accepts but LibCST cannot parse (`(x): int = 1`) is not reported as
    SL001: it is valid code. It is not analysed, and a warning on standard error says so. See
    [safety.md](../safety.md).

    Templates that are not Python (Jinja, cookiecutter) are reported like any other file that
    does not parse; when the file holds Jinja markup (`{% if ... %}`, `{{ name }}`) the message
    says so. Exclude them with `extend-exclude` in `[tool.sessionlint]`.

    ## Options
    Like ruff's syntax errors, this rule stays on whatever `select`, `extend-select` and
    prefixes in `ignore` say (`--select SL1`, `ignore = ["SL0"]` or `ignore = ["ALL"]` still
    report parse errors). Only its full code turns it off: `ignore = ["SL001"]`,
    `--ignore SL001`, or `"SL001"` in a `per-file-ignores` entry.

    ## References
    - [PEP 263: source code encodings](https://peps.python.org/pep-0263/)
    - [LibCST](https://libcst.readthedocs.io/)
    """

    code = "SL001"
    name = "parse-error"
    summary = "The file cannot be decoded or parsed"
    severity = Severity.ERROR

    def check(self, ctx: FileContext) -> Iterator[Report]:
        # Parse failures are reported by the engine, before any rule can run.
        return iter(())
