"""Issue 12, "never die on one file": CPython's verdict wins, and no file kills the run.

Each test is a reproducer of one item of the issue. The files that crashed LibCST's native
parser (a segmentation fault) are run through the CLI in a subprocess, so a regression fails
the test instead of killing pytest.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from sessionlint.api import lint_paths, lint_source
from sessionlint.model.guard import MAX_FILE_BYTES, MAX_NESTING, nesting_depth, python_verdict
from sessionlint.model.project import ParseFailure, SourceFile, parse_source

SHARED = "from sqlalchemy.orm import Session\nshared = Session()\n"


def _cli(*args: str | Path, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "sessionlint", "check", "--isolated", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=timeout,
    )


# -- files that crashed the process ---------------------------------------------------------

DEEP = {
    "and-chain": "def f(a):\n    return " + " and ".join(["a"] * 7000) + "\n",
    "huge-and-chain": "def f(a):\n    return " + " or ".join(["a"] * 30000) + "\n",
    "unary": "x = " + "-" * 5000 + "1\n",
    "lambda": "x = " + "lambda: " * 3000 + "1\n",
    "call": "x = f" + "()" * 5000 + "\n",
    "attribute": "x = a" + ".b" * 5000 + "\n",
    "binary": "x = " + " + ".join(["a"] * 5000) + "\n",
    "elif": "if x:\n    pass\n" + "elif x:\n    pass\n" * 2000,
    "adjacent-strings": "x = (\n" + '    "a"\n' * 3000 + ")\n",
}


@pytest.mark.parametrize("name", sorted(DEEP))
def test_a_deeply_nested_file_is_sl001_and_the_run_goes_on(name: str, tmp_path: Path) -> None:
    (tmp_path / "deep.py").write_text(SHARED + DEEP[name])
    (tmp_path / "other.py").write_text(SHARED)
    done = _cli(tmp_path)
    assert done.returncode == 1, done.stderr  # not 139 (SIGSEGV), not 2 (internal error)
    assert "Traceback" not in done.stderr
    assert "deep.py" in done.stdout and "SL001" in done.stdout
    assert "nested" in done.stdout  # the reason says why
    assert "other.py" in done.stdout and "SL101" in done.stdout  # the other file is checked


def test_nesting_a_real_module_needs_is_analysed() -> None:
    # Generous for hand-written code: 60 nested calls, a 150-operand `and`, 150 strings.
    source = (
        SHARED
        + "x = "
        + "f(" * 60
        + ")" * 60
        + "\ny = "
        + " and ".join(["a"] * 150)
        + "\nz = (\n"
        + '    "a"\n' * 150
        + ")\n"
    )
    assert [d.code for d in lint_source(source)] == ["SL101"]


def test_the_depth_estimate_follows_libcst_nesting() -> None:
    def depth(source: str) -> int:
        verdict = python_verdict(source)
        assert verdict.tree is not None
        return nesting_depth(verdict.tree, source)[0]

    assert depth("x = " + " and ".join(["a"] * 500)) > 500
    assert depth("x = " + " ".join(['"a"'] * 500)) > 500
    assert depth("x = " + "[" * 90 + "]" * 90) > 2 * 90
    assert depth("x = 1\n" * 1000) < 10
    assert depth('x = "' + "a" * 5000 + '"\n') < 10  # one long literal is one node
    assert depth("x = " + "-" * (MAX_NESTING + 1) + "1") > MAX_NESTING


def test_a_file_over_the_size_limit_is_sl001_quickly(tmp_path: Path) -> None:
    big = tmp_path / "big.py"
    big.write_text("x = [" + ", ".join(["1"] * 2_000_000) + "]\n")  # 6 MB on one line
    assert big.stat().st_size > 5 * MAX_FILE_BYTES
    started = time.monotonic()
    result = lint_paths([big], isolated=True)
    assert time.monotonic() - started < 5  # was 94 s and 6.8 GB
    (found,) = result.diagnostics
    assert found.code == "SL001" and "too large" in found.message
    assert f"{MAX_FILE_BYTES:,}" in found.message


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes")
def test_a_named_pipe_given_by_name_does_not_hang(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "pipe.py")
    (tmp_path / "other.py").write_text(SHARED)
    done = _cli(tmp_path / "pipe.py", tmp_path / "other.py", timeout=30)
    assert done.returncode == 1, done.stderr
    assert "pipe.py:1:1: SL001 cannot read file: not a regular file" in done.stdout
    assert "other.py:2:10: SL101" in done.stdout


# -- encodings --------------------------------------------------------------------------------


def test_a_punycode_cookie_is_sl001_and_the_run_goes_on(tmp_path: Path) -> None:
    (tmp_path / "puny.py").write_bytes(b"# coding: punycode\nx = 1\n")
    (tmp_path / "other.py").write_text(SHARED)
    done = _cli(tmp_path)
    assert done.returncode == 1, done.stderr
    assert "puny.py:1:1: SL001" in done.stdout and "punycode" in done.stdout
    assert "other.py:2:10: SL101" in done.stdout


def test_bad_utf8_inside_a_comment_is_valid_python() -> None:
    # CPython compiles it (an `import` works), so it is analysed, not SL001.
    source = b"# caf\xe9\n" + SHARED.encode() + b"x = 1  # na\xefve\n"
    parsed = parse_source(source, path=None, display_path="m.py")
    assert isinstance(parsed, SourceFile) and parsed.lossy
    assert [d.code for d in lint_source(source)] == ["SL101"]


def test_bad_utf8_in_code_is_sl001() -> None:
    (found,) = lint_source(b'x = "caf\xe9"\n')
    assert found.code == "SL001"


# -- disagreements with CPython ---------------------------------------------------------------

#: CPython accepts these; LibCST 1.x rejects them.
VALID_LIBCST_REJECTS = {
    "parenthesized-annotated-target": "(x): int = 1\n",
    "line-with-only-backslash": "if x:\n\\\n    pass\n",
    "form-feed-after-backslash-line": "if x:\n\\\n\f    pass\n",
}

#: CPython rejects these; LibCST accepts them (rules used to run on them).
INVALID_LIBCST_ACCEPTS = {
    "nul-byte": (SHARED + "x = 1 \0\n").encode(),
    "201-nested-parentheses": (SHARED + "x = " + "(" * 201 + "1" + ")" * 201 + "\n").encode(),
    "double-bom": b"\xef\xbb\xbf\xef\xbb\xbf" + SHARED.encode(),
}


@pytest.mark.parametrize("name", sorted(VALID_LIBCST_REJECTS))
def test_valid_python_libcst_rejects_is_a_notice_not_sl001(name: str, tmp_path: Path) -> None:
    source = VALID_LIBCST_REJECTS[name]
    compile(source, "m.py", "exec")  # CPython's verdict: valid
    parsed = parse_source(source, path=None, display_path="m.py")
    assert isinstance(parsed, ParseFailure) and parsed.valid
    assert lint_source(source) == []
    path = tmp_path / "m.py"
    path.write_text(source)
    result = lint_paths([path], isolated=True)
    assert result.diagnostics == []
    (notice,) = result.notices
    assert notice.startswith(f"{path}:") and "not analysed: valid Python" in notice
    done = _cli(path)
    assert done.returncode == 0 and "sessionlint: warning:" in done.stderr


def test_plain_form_feeds_in_indentation_are_analysed() -> None:
    source = SHARED + "if True:\n\f    x = 1\n    y = 2\n\fz = 3\n"
    assert [d.code for d in lint_source(source)] == ["SL101"]


@pytest.mark.parametrize("name", sorted(INVALID_LIBCST_ACCEPTS))
def test_what_cpython_rejects_is_sl001_with_its_message(name: str) -> None:
    data = INVALID_LIBCST_ACCEPTS[name]
    with pytest.raises(SyntaxError) as rejected:
        compile(data, "m.py", "exec")
    (found,) = lint_source(data)
    assert found.code == "SL001"
    assert found.message == f"syntax error: {rejected.value.msg}"
    assert found.line == (rejected.value.lineno or 1)


def test_newer_syntax_libcst_knows_is_still_analysed() -> None:
    # Rejected by an older CPython, parsed by LibCST: LibCST's success wins.
    source = SHARED + "type UserId = int\n"
    assert [d.code for d in lint_source(source)] == ["SL101"]


def test_pep701_fstring_is_analysed_on_every_python() -> None:
    # Python 3.12 syntax (an f-string whose braces span lines) that Python 3.11's compiler
    # calls "unterminated": LibCST parses it, so it is analysed, not SL001 (seen in a real
    # app). A string that really is unterminated stays SL001.
    source = (
        "from fastapi import FastAPI\n"
        "app = FastAPI()\n"
        "def price(x):\n"
        '    return f"-{\n'
        "        x\n"
        '    }"\n'
    )
    assert isinstance(parse_source(source, path=None, display_path="m.py"), SourceFile)
    assert [d.code for d in lint_source(source, "m.py")] == []
    broken = parse_source('x = "abc\n', path=None, display_path="m.py")
    assert isinstance(broken, ParseFailure)
    assert "unterminated" in broken.reason
