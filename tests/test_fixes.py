"""The fix engine (``sessionlint.fixes``) and ``sessionlint check --fix / --unsafe-fixes / --diff``.

Golden files
    ``tests/fixtures/fixes/SLxxx_<topic>.py`` with its expected result next to it as
    ``SLxxx_<topic>.fixed.py``. Only rule ``SLxxx`` is selected. A first line
    ``# sessionlint-fix: unsafe`` applies unsafe fixes too. The fixed findings must be gone, no
    other finding may appear, every finding left must have no applicable fix, and fixing the
    ``.fixed.py`` file again must change nothing. Owners of other fixable rules: add a pair of
    files, nothing else.

Every guarantee of the issue "Autofixes that users can trust" has a test below: results always
parse, the loop runs until nothing changes (idempotence over every fixture), only what a fix names
changes (CRLF, tabs, latin-1 with a cookie, a UTF-8 BOM, comments), imports are merged the LibCST
way, writes are atomic and keep the mode, a file that cannot be written is reported and the others
are fixed, ``--diff`` writes nothing.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import stat
import textwrap
import tokenize
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import ClassVar

import libcst as cst
import pytest
from click.testing import CliRunner

from sessionlint import api
from sessionlint.api import lint_source
from sessionlint.cli import main
from sessionlint.context import FileContext
from sessionlint.diagnostics import Applicability, Fix, Severity
from sessionlint.fixes import MAX_ROUNDS, fix_paths, fix_source, is_applied, write_fixes
from sessionlint.rule import Report, Rule

TESTS = Path(__file__).resolve().parent
FIXTURES = TESTS / "fixtures"
GOLDEN_DIR = FIXTURES / "fixes"
UNSAFE_MARK = "# sessionlint-fix: unsafe"


def _decode(data: bytes) -> str:
    encoding, _ = tokenize.detect_encoding(io.BytesIO(data).readline)
    return data.decode(encoding).removeprefix("\ufeff")


def _golden_inputs() -> list[Path]:
    return sorted(
        p
        for p in GOLDEN_DIR.glob("SL*.py")
        if not p.name.endswith(".fixed.py") and p.with_suffix(".fixed.py").is_file()
    )


GOLDEN = _golden_inputs()


def _golden_options(path: Path) -> tuple[str, bool]:
    """(the rule code the file is about, whether unsafe fixes apply)."""
    text = _decode(path.read_bytes())
    return path.name[:5], text.splitlines()[0].strip() == UNSAFE_MARK


# -- golden files ------------------------------------------------------------------------------


def test_golden_files_exist_for_the_core_fixes() -> None:
    codes = {p.name[:5] for p in GOLDEN}
    assert {"SL102", "SL201", "SL301"} <= codes
    orphans = [
        p.name
        for p in GOLDEN_DIR.glob("*.fixed.py")
        if not p.with_name(p.name.replace(".fixed.py", ".py")).is_file()
    ]
    assert not orphans, f"a .fixed.py file without its input: {orphans}"


@pytest.mark.parametrize("golden", GOLDEN, ids=lambda p: p.stem)
def test_golden_fix(golden: Path) -> None:
    code, unsafe = _golden_options(golden)
    source = golden.read_bytes()
    expected = golden.with_suffix(".fixed.py").read_bytes()
    before = fix_source(source, "app/example.py", select=[code], unsafe=unsafe)
    assert before.fixed, f"{golden.name}: no fix of {code} was applied"
    assert all(d.code == code for d in before.fixed)
    assert not before.dropped, [d.describe() for d in before.dropped]
    assert before.output == expected, before.diff()

    # The fixed findings are gone, and no new finding appeared.
    initial = Counter(d.code for d in lint_source(source, "app/example.py", select=[code]))
    fixed = Counter(d.code for d in before.fixed)
    after = lint_source(expected, "app/example.py", select=[code])
    assert Counter(d.code for d in after) == initial - fixed
    assert [d.message for d in after] == [d.message for d in before.remaining]
    # What is left has no applicable fix (the loop ran until nothing changed).
    assert not [d for d in after if is_applied(d.fix, unsafe=unsafe)]

    # Fixing the result again changes nothing.
    again = fix_source(expected, "app/example.py", select=[code], unsafe=unsafe)
    assert not again.changed and not again.fixed


@pytest.mark.parametrize(
    "golden", [g for g in GOLDEN if _golden_options(g)[1]], ids=lambda p: p.stem
)
def test_unsafe_golden_needs_unsafe_fixes(golden: Path) -> None:
    code, _ = _golden_options(golden)
    outcome = fix_source(golden.read_bytes(), "app/example.py", select=[code])
    assert not outcome.changed
    hidden = [d for d in outcome.remaining if is_applied(d.fix, unsafe=True)]
    assert hidden, "an unsafe golden file must offer unsafe fixes"
    assert all(d.fix is not None and d.fix.applicability is Applicability.UNSAFE for d in hidden)


# -- idempotence over every fixture -------------------------------------------------------------

SINGLE_FILES = sorted(p for p in FIXTURES.rglob("*.py") if "projects" not in p.parts)
PROJECTS = sorted(p for p in (FIXTURES / "projects").glob("*") if p.is_dir())


def _parses(text: str) -> bool:
    try:
        cst.parse_module(text)
    except Exception:
        return False
    return True


@pytest.mark.parametrize("unsafe", [False, True], ids=["safe", "unsafe"])
@pytest.mark.parametrize("fixture", SINGLE_FILES, ids=lambda p: str(p.relative_to(FIXTURES)))
def test_fixing_twice_is_fixing_once(fixture: Path, unsafe: bool) -> None:
    data = fixture.read_bytes()
    once = fix_source(data, str(fixture), unsafe=unsafe)
    assert not [d for d in once.dropped if "converge" in d.reason or "undo" in d.reason]
    if once.changed:
        assert _parses(once.output_text), f"the fixed {fixture.name} does not parse"
    else:
        assert once.output == data
    twice = fix_source(once.output, str(fixture), unsafe=unsafe)
    assert not twice.changed, twice.diff()
    assert not [d for d in twice.remaining if is_applied(d.fix, unsafe=unsafe)]


@pytest.mark.parametrize("project", PROJECTS, ids=lambda p: p.name)
def test_fixing_a_project_twice_is_fixing_once(project: Path, tmp_path: Path) -> None:
    copy = tmp_path / project.name
    shutil.copytree(project, copy)
    first = fix_paths([copy], unsafe=True)
    assert not first.errors
    for path in copy.rglob("*.py"):
        original = project / path.relative_to(copy)
        if path.read_bytes() != original.read_bytes():
            assert _parses(_decode(path.read_bytes())), f"{path} does not parse after --fix"
    snapshot = {p: p.read_bytes() for p in copy.rglob("*.py")}
    second = fix_paths([copy], unsafe=True)
    assert not second.changed and second.fixed_count == 0
    assert {p: p.read_bytes() for p in copy.rglob("*.py")} == snapshot


# -- only what the fix names changes: line endings, tabs, encodings -----------------------------

SL102_SOURCE = """\
from sqlalchemy import create_engine
from sqlalchemy.orm import sessionmaker

SessionLocal = sessionmaker(bind=create_engine("sqlite:///app.db"))  # 'quotes' stay


def get_db():
    db = SessionLocal()
    # a comment
    yield db


class Repo:
    def session(self):
        db = SessionLocal()
        if db:
            yield db
        db.close()
"""

SL102_FIXED = """\
from sqlalchemy import create_engine
from sqlalchemy.orm import sessionmaker

SessionLocal = sessionmaker(bind=create_engine("sqlite:///app.db"))  # 'quotes' stay


def get_db():
    db = SessionLocal()
    # a comment
    try:
        yield db
    finally:
        db.close()


class Repo:
    def session(self):
        db = SessionLocal()
        try:
            if db:
                yield db
        finally:
            db.close()
"""


def _tabs(text: str) -> str:
    lines = []
    for line in text.splitlines(keepends=True):
        stripped = line.lstrip(" ")
        lines.append("\t" * ((len(line) - len(stripped)) // 4) + stripped)
    return "".join(lines)


def _crlf(text: str) -> str:
    return text.replace("\n", "\r\n")


def _latin1(text: str, newline: str = "\n") -> bytes:
    header = f"# -*- coding: latin-1 -*-{newline}# café, naïve{newline}"
    return (header + text).encode("latin-1")


def _bom(text: str) -> bytes:
    return b"\xef\xbb\xbf" + text.encode("utf-8")


VARIANTS = {
    "crlf": lambda t: _crlf(t).encode(),
    "tabs": lambda t: _tabs(t).encode(),
    "latin1-cookie": _latin1,
    "utf8-bom": _bom,
    "all-at-once": lambda t: _latin1(_crlf(_tabs(t)), "\r\n"),
    "bom-crlf-tabs": lambda t: _bom(_crlf(_tabs(t))),
}


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_fix_keeps_newlines_indentation_and_encoding(variant: str) -> None:
    make = VARIANTS[variant]
    source, expected = make(SL102_SOURCE), make(SL102_FIXED)
    outcome = fix_source(source, "app/deps.py")
    assert [d.code for d in outcome.fixed] == ["SL102", "SL102"]
    assert isinstance(outcome.output, bytes)
    assert outcome.output == expected
    assert not fix_source(outcome.output, "app/deps.py").changed


def test_suppressed_findings_are_not_fixed() -> None:
    source = SL102_SOURCE.replace("    yield db\n", "    yield db  # noqa: SL102\n", 1)
    outcome = fix_source(source, "app/deps.py")
    assert len(outcome.fixed) == 1
    assert "    # a comment\n    yield db  # noqa: SL102\n" in outcome.output_text


def test_a_fix_that_breaks_compilation_is_dropped(use_rules: Install) -> None:
    """``await`` outside ``async def`` parses but does not compile: never written."""

    class AwaitOutside(_TestRule):
        __doc__ = DOC
        code = "SL998"
        name = "await-outside"
        summary = "x"
        severity = Severity.WARNING
        targets = ("block",)

        def check(self, ctx: FileContext) -> Iterator[Report]:
            for call in self.calls(ctx):
                new = cst.Await(expression=call)
                yield Report(call, "await", fix=Fix(Applicability.SAFE, "a", ((call, new),)))

    use_rules(AwaitOutside)
    outcome = fix_source("def f():\n    return block()\n", "app/q.py")
    assert not outcome.changed
    assert outcome.dropped[0].reason == "the fixed code does not compile"


def test_text_in_text_out() -> None:
    outcome = fix_source(SL102_SOURCE, "app/deps.py")
    assert outcome.output == SL102_FIXED
    unchanged = fix_source(SL102_FIXED, "app/deps.py")
    assert unchanged.output == SL102_FIXED and not unchanged.changed


def test_unified_diff() -> None:
    outcome = fix_source(SL102_SOURCE, "app/deps.py")
    diff = outcome.diff()
    assert diff.startswith("--- a/app/deps.py\n+++ b/app/deps.py\n@@ ")
    assert "+    try:\n" in diff and "-    yield db\n" in diff
    assert fix_source(SL102_FIXED, "app/deps.py").diff() == ""


# -- the loop, on rules written for the test ----------------------------------------------------

DOC = """## What it does
x
## Why is this bad?
x
## Example
x
## Use instead
x
"""


class _TestRule(Rule):
    __doc__ = DOC
    code = "SL990"
    name = "test-rule"
    summary = "A rule of the tests"
    severity = Severity.WARNING
    fix_applicability = Applicability.SAFE
    targets: ClassVar[tuple[str, ...]] = ()

    def calls(self, ctx: FileContext) -> Iterator[cst.Call]:
        for call in ctx.index.nodes(cst.Call):
            if isinstance(call.func, cst.Name) and call.func.value in self.targets:
                yield call


class ImportingRule(_TestRule):
    """``raw_sql(...)`` -> ``text(...)`` with ``from sqlalchemy import text``."""

    __doc__ = DOC
    code = "SL991"
    name = "importing-rule"
    summary = "x"
    severity = Severity.WARNING
    targets = ("raw_sql",)

    def check(self, ctx: FileContext) -> Iterator[Report]:
        for call in self.calls(ctx):
            fix = Fix(
                Applicability.SAFE,
                "Use text()",
                replacements=((call.func, cst.Name("text")),),
                imports=(("sqlalchemy", "text"),),
            )
            yield Report(call, "raw", fix=fix)


class BrokenRule(_TestRule):
    """``broken()`` -> code that does not parse."""

    __doc__ = DOC
    code = "SL992"
    name = "broken-rule"
    summary = "x"
    severity = Severity.WARNING
    targets = ("broken",)

    def check(self, ctx: FileContext) -> Iterator[Report]:
        for call in self.calls(ctx):
            # ``class`` is an identifier to LibCST's validation, a keyword to the parser.
            fix = Fix(Applicability.SAFE, "Break", replacements=((call.func, cst.Name("class")),))
            yield Report(call, "broken", fix=fix)


class OuterRule(_TestRule):
    """``outer(...)`` -> ``done(...)`` (the whole call is replaced)."""

    __doc__ = DOC
    code = "SL993"
    name = "outer-rule"
    summary = "x"
    severity = Severity.WARNING
    targets = ("outer",)

    def check(self, ctx: FileContext) -> Iterator[Report]:
        for call in self.calls(ctx):
            new = call.with_changes(func=cst.Name("done"))
            yield Report(call, "outer", fix=Fix(Applicability.SAFE, "o", ((call, new),)))


class InnerRule(_TestRule):
    """``inner()`` -> ``finished()`` (sits inside ``outer(...)``)."""

    __doc__ = DOC
    code = "SL994"
    name = "inner-rule"
    summary = "x"
    severity = Severity.WARNING
    targets = ("inner",)

    def check(self, ctx: FileContext) -> Iterator[Report]:
        for call in self.calls(ctx):
            new = call.with_changes(func=cst.Name("finished"))
            yield Report(call, "inner", fix=Fix(Applicability.SAFE, "i", ((call, new),)))


class ForeverRule(_TestRule):
    """``grow(n)`` -> ``grow(n + 1)``: never converges."""

    __doc__ = DOC
    code = "SL995"
    name = "forever-rule"
    summary = "x"
    severity = Severity.WARNING
    targets = ("grow",)

    def check(self, ctx: FileContext) -> Iterator[Report]:
        for call in self.calls(ctx):
            arg = call.args[0].value
            assert isinstance(arg, cst.Integer)
            new = arg.with_changes(value=str(int(arg.value) + 1))
            yield Report(call, "grow", fix=Fix(Applicability.SAFE, "g", ((arg, new),)))


class FlipRule(_TestRule):
    """``ping()`` <-> ``pong()``: the fixes undo each other."""

    __doc__ = DOC
    code = "SL996"
    name = "flip-rule"
    summary = "x"
    severity = Severity.WARNING
    targets = ("ping", "pong")

    def check(self, ctx: FileContext) -> Iterator[Report]:
        for call in self.calls(ctx):
            assert isinstance(call.func, cst.Name)
            other = "pong" if call.func.value == "ping" else "ping"
            fix = Fix(Applicability.SAFE, "f", ((call.func, cst.Name(other)),))
            yield Report(call, "flip", fix=fix)


class EuroRule(_TestRule):
    """``price()`` -> ``price("€")``: not encodable in latin-1."""

    __doc__ = DOC
    code = "SL997"
    name = "euro-rule"
    summary = "x"
    severity = Severity.WARNING
    targets = ("price",)

    def check(self, ctx: FileContext) -> Iterator[Report]:
        for call in self.calls(ctx):
            new = call.with_changes(args=[cst.Arg(cst.SimpleString('"€"'))])
            yield Report(call, "price", fix=Fix(Applicability.SAFE, "e", ((call, new),)))


Install = Callable[..., None]


@pytest.fixture
def use_rules(monkeypatch: pytest.MonkeyPatch) -> Install:
    """Run only the given rules (rules written for these tests) in the fix loop."""

    def install(*rules: type[Rule]) -> None:
        monkeypatch.setattr(api, "selected_rules", lambda config: list(rules))

    return install


def test_imports_are_merged_into_an_existing_from_import(use_rules: Install) -> None:
    use_rules(ImportingRule)
    source = "import os\nfrom sqlalchemy import select  # keep\n\nq = raw_sql('SELECT 1')\n"
    outcome = fix_source(source, "app/q.py")
    assert outcome.output == (
        "import os\nfrom sqlalchemy import select, text  # keep\n\nq = text('SELECT 1')\n"
    ) or outcome.output == (
        "import os\nfrom sqlalchemy import text, select  # keep\n\nq = text('SELECT 1')\n"
    )


def test_imports_are_added_once_with_the_module_newline(use_rules: Install) -> None:
    use_rules(ImportingRule)
    source = '"""Doc."""\r\nimport os\r\n\r\na = raw_sql("x")\r\nb = raw_sql("y")\r\n'
    outcome = fix_source(source, "app/q.py")
    assert outcome.output == (
        '"""Doc."""\r\nimport os\r\nfrom sqlalchemy import text\r\n\r\n'
        'a = text("x")\r\nb = text("y")\r\n'
    )
    already = fix_source("from sqlalchemy import text\nx = raw_sql('a')\n", "app/q.py")
    assert already.output == "from sqlalchemy import text\nx = text('a')\n"


def test_a_fix_that_does_not_parse_is_dropped_and_the_others_applied(use_rules: Install) -> None:
    use_rules(BrokenRule, ImportingRule)
    source = "a = broken()\nb = raw_sql('x')\n"
    outcome = fix_source(source, "app/q.py")
    assert outcome.output == "from sqlalchemy import text\n\na = broken()\nb = text('x')\n"
    assert [d.code for d in outcome.fixed] == ["SL991"]
    # Reported once, at its place in the final text (the import moved it to line 3).
    assert [(d.diagnostic.code, d.diagnostic.line) for d in outcome.dropped] == [("SL992", 3)]
    assert "does not parse" in outcome.dropped[0].reason
    assert [(d.code, d.line) for d in outcome.remaining] == [("SL992", 3)]


def test_a_file_whose_only_fix_does_not_parse_is_unchanged(
    use_rules: Install, tmp_path: Path
) -> None:
    use_rules(BrokenRule)
    target = tmp_path / "q.py"
    target.write_bytes(b"a = broken()\n")
    before = target.stat().st_mtime_ns
    result = fix_paths([target], isolated=True)
    assert not result.changed and not result.errors
    assert target.read_bytes() == b"a = broken()\n" and target.stat().st_mtime_ns == before
    assert "does not parse" in result.outcomes[0].dropped[0].reason


def test_overlapping_fixes_wait_for_the_next_round(use_rules: Install) -> None:
    use_rules(OuterRule, InnerRule)
    outcome = fix_source("x = outer(inner(), inner())\n", "app/q.py")
    assert outcome.output == "x = done(finished(), finished())\n"
    assert Counter(d.code for d in outcome.fixed) == {"SL993": 1, "SL994": 2}
    assert not outcome.remaining and not outcome.dropped


def test_the_loop_is_bounded(use_rules: Install) -> None:
    use_rules(ForeverRule)
    outcome = fix_source("grow(0)\n", "app/q.py")
    assert outcome.output == f"grow({MAX_ROUNDS})\n"
    assert "did not converge" in outcome.dropped[0].reason


def test_fixes_that_undo_each_other_stop(use_rules: Install) -> None:
    use_rules(FlipRule)
    outcome = fix_source("ping()\n", "app/q.py")
    assert outcome.output in ("ping()\n", "pong()\n")
    assert any("undo each other" in d.reason for d in outcome.dropped)


def test_a_fix_the_encoding_cannot_hold_is_dropped(use_rules: Install) -> None:
    use_rules(EuroRule)
    latin1 = "# -*- coding: latin-1 -*-\nprice()  # é\n".encode("latin-1")
    outcome = fix_source(latin1, "app/q.py")
    assert outcome.output == latin1
    assert "cannot be encoded as iso-8859-1" in outcome.dropped[0].reason
    utf8 = fix_source("price()  # é\n".encode(), "app/q.py")
    assert utf8.output == 'price("€")  # é\n'.encode()


def test_display_only_and_unsafe_fixes_are_not_applied_by_default() -> None:
    source = textwrap.dedent(
        """\
        from fastapi import Depends, FastAPI
        from sqlalchemy import create_engine
        from sqlalchemy.orm import Session, sessionmaker

        SessionLocal = sessionmaker(bind=create_engine("sqlite:///app.db"))
        app = FastAPI()


        def get_db():
            with SessionLocal() as db:
                yield db


        @app.post("/items")
        async def create_item(item: dict, db: Session = Depends(get_db)):
            db.add(item)
            db.flush()
            return item
        """
    )
    safe = fix_source(source, "app/main.py")
    assert not safe.changed
    assert {d.code for d in safe.remaining} == {"SL201", "SL301"}
    unsafe = fix_source(source, "app/main.py", unsafe=True)
    assert "\ndef create_item(" in unsafe.output_text
    expected = "    db.add(item)\n    db.commit()\n    db.refresh(item)\n    db.flush()\n"
    assert expected in unsafe.output_text
    assert {d.code for d in unsafe.fixed} == {"SL201", "SL301"}
    assert not unsafe.remaining


# -- display-only shapes of the core rules ------------------------------------------------------


def _only_fix(source: str, code: str) -> Fix:
    (finding,) = [d for d in lint_source(textwrap.dedent(source), "app/x.py") if d.code == code]
    assert finding.fix is not None
    return finding.fix


HEADER = """\
from fastapi import Depends, FastAPI
from sqlalchemy import create_engine
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.orm import Session, sessionmaker

SessionLocal = sessionmaker(bind=create_engine("sqlite:///app.db"))
AsyncSessionLocal = async_sessionmaker(create_async_engine("sqlite+aiosqlite:///a.db"))
app = FastAPI()


def get_db():
    with SessionLocal() as db:
        yield db
"""


@pytest.mark.parametrize(
    ("code", "body"),
    [
        pytest.param(
            "SL102",
            "def gen():\n    db = SessionLocal()\n    if True: yield db\n",
            id="SL102-one-line-suite",
        ),
        pytest.param(
            "SL102",
            "def gen():\n    db = AsyncSessionLocal()\n    yield db\n",
            id="SL102-async-session-in-sync-generator",
        ),
        pytest.param(
            "SL201",
            "@app.post('/')\ndef h(x: dict, db: Session = Depends(get_db)):\n"
            "    db.add(x)\n    if x:\n        return x\n    db.add(x)\n",
            id="SL201-return-between-the-writes",
        ),
        pytest.param(
            "SL201",
            "@app.post('/')\ndef h(x: list, db: Session = Depends(get_db)):\n"
            "    for y in x:\n        if y:\n            db.add(y)\n"
            "            if y > 1:\n                break\n            db.merge(y)\n",
            id="SL201-break-between-the-writes",
        ),
        pytest.param(
            "SL201",
            "@app.post('/')\ndef h(x: dict, db: Session = Depends(get_db)):\n"
            "    db.add(x)\n    if x:\n        return x\n    db.commit()\n",
            id="SL201-a-commit-follows",
        ),
        pytest.param(
            "SL201",
            "def h(x: dict):\n    db = AsyncSessionLocal()\n    db.add(x)\n",
            id="SL201-async-session-in-sync-def",
        ),
        pytest.param(
            "SL301",
            "@app.get('/')\nasync def h(db: Session = Depends(get_db)):\n"
            "    async with lock:\n        db.execute(1)\n",
            id="SL301-async-with",
        ),
        pytest.param(
            "SL301",
            "@app.get('/')\nasync def h(db: Session = Depends(get_db)):\n"
            "    return [x async for x in db.execute(1)]\n",
            id="SL301-async-comprehension",
        ),
    ],
)
def test_shapes_that_only_get_a_suggestion(code: str, body: str) -> None:
    fix = _only_fix(HEADER + "\n\n" + body, code)
    assert fix.applicability is Applicability.DISPLAY_ONLY and not fix.replacements
    assert fix.message


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        pytest.param(
            "    for y in x:\n        if not y:\n            continue\n        db.add(y)\n"
            "        if y == 3:\n            break\n    return x\n",
            "            break\n    db.commit()\n    return x\n",
            id="after-a-loop-whose-break-stays-inside",
        ),
        pytest.param(
            "    for y in x:\n        if y:\n            db.add(y)\n            continue\n"
            "        db.commit()\n",
            "            db.add(y)\n            db.commit()\n            continue\n",
            id="before-a-continue",
        ),
        pytest.param(
            "    db.add(x)\n    for y in x:\n        if y:\n            return\n",
            "    db.add(x)\n    db.commit()\n    db.refresh(x)\n    for y in x:\n",
            id="return-after-the-last-write",
        ),
        pytest.param(
            "    item = dict(x)\n    db.add(item)\n    return item\n",
            "    db.add(item)\n    db.commit()\n    db.refresh(item)\n    return item\n",
            id="the-added-object-is-returned-so-it-is-refreshed",
        ),
        pytest.param(
            "    item = dict(x)\n    db.add(item)\n    return {'ok': True}\n",
            "    db.add(item)\n    db.commit()\n    return {'ok': True}\n",
            id="the-added-object-is-not-read-again",
        ),
        pytest.param(
            "    for y in x:\n        db.add(y)\n    return y\n",
            "        db.add(y)\n    db.commit()\n    return y\n",
            id="no-refresh-for-a-loop-variable-that-may-be-unbound",
        ),
    ],
)
def test_sl201_commit_placement(body: str, expected: str) -> None:
    source = HEADER + "\n\n@app.post('/')\ndef h(x: list, db: Session = Depends(get_db)):\n" + body
    outcome = fix_source(source, "app/x.py", unsafe=True, select=["SL201"])
    assert expected in outcome.output_text
    assert outcome.fixed and not outcome.remaining


# -- files: atomic writes, modes, errors per file -------------------------------------------------


def _project(root: Path, files: dict[str, str]) -> dict[str, Path]:
    (root / "pyproject.toml").write_text('[project]\nname = "demo"\n')
    paths = {}
    for name, text in files.items():
        path = root / "app" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(text.encode())
        paths[name] = path
    return paths


def test_fix_paths_writes_the_files_and_keeps_their_mode(tmp_path: Path) -> None:
    paths = _project(tmp_path, {"a.py": SL102_SOURCE, "b.py": SL102_SOURCE, "c.py": "x = 1\n"})
    paths["a.py"].chmod(0o640)
    paths["b.py"].chmod(0o755)
    untouched = paths["c.py"].stat().st_mtime_ns
    result = fix_paths([tmp_path])
    assert result.fixed_count == 4 and not result.errors
    assert paths["a.py"].read_text() == SL102_FIXED == paths["b.py"].read_text()
    assert stat.S_IMODE(paths["a.py"].stat().st_mode) == 0o640
    assert stat.S_IMODE(paths["b.py"].stat().st_mode) == 0o755
    assert paths["c.py"].stat().st_mtime_ns == untouched
    assert sorted(os.listdir(paths["a.py"].parent)) == ["a.py", "b.py", "c.py"]  # no temp files


def test_a_symlink_stays_a_symlink(tmp_path: Path) -> None:
    paths = _project(tmp_path, {"real.py": SL102_SOURCE})
    link = paths["real.py"].with_name("link.py")
    link.symlink_to(paths["real.py"].name)
    result = fix_paths([link])
    assert result.fixed_count == 2
    assert link.is_symlink() and paths["real.py"].read_text() == SL102_FIXED


def test_a_read_only_file_is_reported_and_the_others_fixed(tmp_path: Path) -> None:
    paths = _project(tmp_path, {"a.py": SL102_SOURCE, "b.py": SL102_SOURCE})
    paths["a.py"].chmod(0o444)
    result = fix_paths([tmp_path])
    (failed,) = result.errors
    assert failed.path == str(paths["a.py"]) and "read-only" in (failed.error or "")
    assert paths["a.py"].read_text() == SL102_SOURCE
    assert paths["b.py"].read_text() == SL102_FIXED
    # The unwritten file's findings are reported as they are on disk, not as fixed.
    assert not failed.fixed and [d.line for d in failed.remaining] == [10, 17]
    assert result.fixed_count == 2
    assert [d.path for d in result.lint.diagnostics] == [str(paths["a.py"])] * 2


def test_a_vanished_file_is_reported_and_the_others_fixed(tmp_path: Path) -> None:
    paths = _project(tmp_path, {"a.py": SL102_SOURCE, "b.py": SL102_SOURCE})
    result = fix_paths([tmp_path], write=False)
    paths["a.py"].unlink()
    write_fixes(result.outcomes)
    by_path = {o.path: o for o in result.outcomes}
    assert "No such file" in (by_path[str(paths["a.py"])].error or "")
    assert by_path[str(paths["b.py"])].error is None
    assert paths["b.py"].read_text() == SL102_FIXED
    assert not paths["a.py"].exists()


def test_a_file_changed_while_fixing_is_not_overwritten(tmp_path: Path) -> None:
    paths = _project(tmp_path, {"a.py": SL102_SOURCE})
    result = fix_paths([tmp_path], write=False)
    paths["a.py"].write_text(SL102_SOURCE + "# edited meanwhile\n")
    write_fixes(result.outcomes)
    assert "changed while" in (result.outcomes[0].error or "")
    assert paths["a.py"].read_text().endswith("# edited meanwhile\n")


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root writes anywhere")
def test_a_read_only_directory_is_reported(tmp_path: Path) -> None:
    paths = _project(tmp_path, {"a.py": SL102_SOURCE})
    other = tmp_path / "other"
    other.mkdir()
    (other / "b.py").write_text(SL102_SOURCE)
    paths["a.py"].parent.chmod(0o555)
    try:
        result = fix_paths([tmp_path])
    finally:
        paths["a.py"].parent.chmod(0o755)
    (failed,) = result.errors
    assert "cannot write" in (failed.error or "")
    assert paths["a.py"].read_text() == SL102_SOURCE
    assert (other / "b.py").read_text() == SL102_FIXED


CROSS_DEPS = """\
from sqlalchemy import create_engine
from sqlalchemy.orm import sessionmaker

SessionLocal = sessionmaker(bind=create_engine("sqlite:///app.db"))


def get_db():
    db = SessionLocal()
    yield db
"""

CROSS_MAIN = """\
from fastapi import Depends, FastAPI
from sqlalchemy.orm import Session

from app.deps import get_db

app = FastAPI()


@app.post("/items")
def create_item(item: dict, db: Session = Depends(get_db)):
    db.add(item)
    return item
"""


def test_cross_module_facts_hold_while_fixing(tmp_path: Path) -> None:
    """The handler's session comes from a dependency in another module that is fixed in the
    same run: the model is rebuilt over the updated project, and the handler is still fixed."""
    paths = _project(tmp_path, {"deps.py": CROSS_DEPS, "main.py": CROSS_MAIN})
    (tmp_path / "app" / "__init__.py").write_text("")
    result = fix_paths([tmp_path], unsafe=True)
    assert Counter(d.code for o in result.outcomes for d in o.fixed) == {"SL102": 1, "SL201": 1}
    assert "    try:\n        yield db\n    finally:\n        db.close()\n" in (
        paths["deps.py"].read_text()
    )
    assert "    db.add(item)\n    db.commit()\n    db.refresh(item)\n    return item\n" in (
        paths["main.py"].read_text()
    )
    assert not result.lint.diagnostics
    assert fix_paths([tmp_path], unsafe=True).fixed_count == 0


def test_a_replaced_file_is_what_the_project_resolves_afterwards(tmp_path: Path) -> None:
    """The fix loop swaps fixed files into the run's project: imports, the project-wide scan
    and the texts must then give the new versions."""
    from sessionlint.model.project import Project, SourceFile, parse_source

    paths = _project(tmp_path, {"deps.py": CROSS_DEPS, "main.py": CROSS_MAIN})
    (tmp_path / "app" / "__init__.py").write_text("")
    project = Project(tmp_path, list_files=lambda root: sorted(root.rglob("*.py")))
    main_file = project.load(paths["main.py"])
    assert main_file is not None
    found = project.find_module("app.deps", main_file)
    assert found is not None and main_file in project.scan_files()

    def reparsed(old: SourceFile) -> SourceFile:
        new = parse_source(old.text + "# fixed\n", path=old.path, display_path=old.display_path)
        assert isinstance(new, SourceFile)
        project.replace(old, new)
        return new

    new_deps, new_main = reparsed(found[0]), reparsed(main_file)
    assert project.find_module("app.deps", new_main) == (new_deps, [])
    assert project.load(paths["deps.py"]) is new_deps
    scan = project.scan_files()
    assert new_main in scan and main_file not in scan
    assert (paths["main.py"].resolve(), new_main.text) in project.texts()


# -- the command line -----------------------------------------------------------------------------


def _snapshot(root: Path) -> dict[Path, tuple[bytes, int]]:
    return {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in root.rglob("*.py")}


def test_cli_diff_writes_nothing(tmp_path: Path) -> None:
    _project(tmp_path, {"a.py": SL102_SOURCE, "b.py": "x = 1\n"})
    before = _snapshot(tmp_path)
    run = CliRunner().invoke(main, ["check", "--diff", "--isolated", str(tmp_path)])
    assert run.exit_code == 1, run.output
    assert "+    try:\n" in run.stdout and "-    yield db\n" in run.stdout
    assert _snapshot(tmp_path) == before
    clean = CliRunner().invoke(main, ["check", "--diff", "--isolated", str(tmp_path / "app/b.py")])
    assert clean.exit_code == 0 and clean.stdout == ""


def test_cli_fix_reports_what_remains(tmp_path: Path) -> None:
    source = HEADER + (
        "\n\ndef leaky():\n    db = SessionLocal()\n    yield db\n"
        "\n\n@app.post('/items')\nasync def create(x: dict, db: Session = Depends(get_db)):\n"
        "    db.add(x)\n    db.flush()\n    return x\n"
    )
    paths = _project(tmp_path, {"main.py": source})
    runner = CliRunner()
    base = ["check", "--isolated", "--no-source", "--select", "SL102,SL201,SL301"]
    hint = runner.invoke(main, [*base, str(tmp_path)])
    assert hint.exit_code == 1
    assert "1 fixable with the `--fix` option (2 hidden fixes" in hint.stdout

    unsafe_view = runner.invoke(main, [*base, "--unsafe-fixes", str(tmp_path)])
    assert "[*] 3 fixable with the `--fix` option." in unsafe_view.stdout
    assert paths["main.py"].read_text() == source  # --unsafe-fixes alone writes nothing

    fixed = runner.invoke(main, [*base, "--fix", str(tmp_path)])
    assert fixed.exit_code == 1, fixed.output
    # one summary that does not contradict itself: counts, then hints about what remains
    assert "Found 3 findings (1 fixed, 2 remaining: " in fixed.stdout
    assert "No fixes available for the remaining findings (2 hidden fixes" in fixed.stdout
    assert "Fixed" not in fixed.stdout and "No fixes available (" not in fixed.stdout
    assert "SL201" in fixed.stdout and "SL301" in fixed.stdout and "SL102" not in fixed.stdout
    assert "        yield db\n    finally:\n        db.close()\n" in paths["main.py"].read_text()

    both = runner.invoke(main, [*base, "--fix", "--unsafe-fixes", str(tmp_path)])
    assert both.exit_code == 0, both.output
    assert "Found 2 findings (2 fixed, 0 remaining)." in both.stdout

    before = _snapshot(tmp_path)
    again = runner.invoke(main, [*base, "--fix", "--unsafe-fixes", str(tmp_path)])
    assert again.exit_code == 0 and "Fixed" not in again.stdout
    assert _snapshot(tmp_path) == before


def test_cli_fix_with_json_keeps_stdout_json(tmp_path: Path) -> None:
    _project(tmp_path, {"a.py": SL102_SOURCE})
    run = CliRunner().invoke(
        main, ["check", "--isolated", "--fix", "--format", "json", str(tmp_path)]
    )
    assert run.exit_code == 0, run.output
    assert json.loads(run.stdout) == []
    assert "Fixed 2 findings in 1 file." in run.stderr


def test_cli_fix_read_only_file_exits_2_and_fixes_the_rest(tmp_path: Path) -> None:
    paths = _project(tmp_path, {"a.py": SL102_SOURCE, "b.py": SL102_SOURCE})
    paths["a.py"].chmod(0o444)
    run = CliRunner().invoke(main, ["check", "--isolated", "--fix", "--no-source", str(tmp_path)])
    assert run.exit_code == 2
    assert f"sessionlint: error: {paths['a.py']}: cannot write the fixed file" in run.stderr
    assert paths["b.py"].read_text() == SL102_FIXED
    assert run.stdout.count("SL102") == 2  # a.py's findings are still there


def test_cli_fix_from_standard_input(tmp_path: Path) -> None:
    data = _latin1(_crlf(SL102_SOURCE), "\r\n")
    run = CliRunner().invoke(
        main, ["check", "--isolated", "--fix", "--stdin-filename", "app/deps.py", "-"], input=data
    )
    assert run.exit_code == 0, run.output
    assert run.stdout_bytes == _latin1(_crlf(SL102_FIXED), "\r\n")
