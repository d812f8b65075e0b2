"""What is checked before LibCST sees a file: CPython's verdict, size and nesting bounds.

LibCST's native parser can crash the whole process (a segmentation fault, not an exception)
on valid but absurdly nested code, such as ``return a and a and ... a`` with thousands of
operands, and its trees are walked recursively in Python (so a few hundred levels of nesting
exhaust the interpreter's recursion limit). Its memory use grows to ~1 KB per byte of source.
So, before LibCST parses a file:

1. the file's size is bounded (:data:`MAX_FILE_BYTES`);
2. CPython parses it (``compile(..., PyCF_ONLY_AST)``, in this process: CPython fails safely
   with ``SyntaxError``, ``RecursionError`` or ``MemoryError`` where LibCST would crash).
   CPython's verdict wins: what it rejects is reported with its message and line;
3. the nesting depth of the tree LibCST would build is estimated from CPython's tree, and a
   file deeper than :data:`MAX_NESTING` is not given to LibCST.
"""

from __future__ import annotations

import ast
import io
import os
import stat
import tokenize
import warnings
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "MAX_FILE_BYTES",
    "MAX_NESTING",
    "Verdict",
    "decode_source",
    "nesting_depth",
    "python_verdict",
    "read_source",
]

#: Files larger than this are not analysed (reported as SL001). LibCST needs about 1 KB of
#: memory per byte of source and several seconds per megabyte; real modules stay far below.
MAX_FILE_BYTES = 1024 * 1024

#: The deepest nesting (an estimate of LibCST's tree depth) analysed. The rules and LibCST's
#: visitors walk trees recursively; this leaves room within Python's default recursion limit.
MAX_NESTING = 200


def read_source(path: Path) -> bytes:
    """The bytes of the file at ``path``, at most ``MAX_FILE_BYTES + 1`` of them (enough to
    tell that it is too large). Raises ``OSError``, also for what is not a regular file (a
    named pipe given on the command line must not hang the run)."""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise OSError(0, "not a regular file")
        chunks: list[bytes] = []
        size = 0
        while size <= MAX_FILE_BYTES:
            chunk = os.read(fd, MAX_FILE_BYTES + 1 - size)
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
        return b"".join(chunks)
    finally:
        os.close(fd)


@dataclass(frozen=True)
class Verdict:
    """CPython's verdict on a module: ``tree`` when it parses, else where and why not."""

    tree: ast.Module | None
    line: int = 1
    column: int = 1
    reason: str = ""


def decode_source(data: bytes, errors: str = "strict") -> tuple[str, str, bool]:
    """Decode ``data`` honouring a BOM and a PEP 263 coding cookie.

    Returns the text (BOM removed), the encoding name and whether a UTF-8 BOM was present.
    Raises ``SyntaxError`` (bad cookie) or ``UnicodeError`` / ``LookupError``.
    """
    encoding, _ = tokenize.detect_encoding(io.BytesIO(data).readline)
    bom = encoding == "utf-8-sig"
    text = data.decode(encoding, errors)
    if bom and text.startswith("\ufeff"):
        text = text[1:]
    return text, ("utf-8" if bom else encoding), bom


def python_verdict(source: str | bytes) -> Verdict:
    """Parse ``source`` with CPython (bytes: with its own PEP 263 / BOM handling, as an
    ``import`` would). Never raises for anything in the source."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # invalid escape sequences and the like
        try:
            tree = compile(source, "<sessionlint>", "exec", ast.PyCF_ONLY_AST, dont_inherit=True)
        except SyntaxError as exc:
            msg = " ".join(str(exc.msg).split()) or "invalid syntax"
            return Verdict(None, exc.lineno or 1, exc.offset or 1, f"syntax error: {msg}")
        except (RecursionError, MemoryError) as exc:
            kind = type(exc).__name__
            return Verdict(None, reason=f"too deeply nested: CPython cannot compile it ({kind})")
        except (ValueError, UnicodeError, LookupError) as exc:  # NUL bytes on old Pythons
            return Verdict(None, reason=f"cannot compile: {' '.join(str(exc).split())}")
    assert isinstance(tree, ast.Module)
    return Verdict(tree)


#: Token types that start a string literal (``FSTRING_START`` from Python 3.12 on).
_STRING_STARTS = {tokenize.STRING, getattr(tokenize, "FSTRING_START", tokenize.STRING)}


def _pieces(node: ast.expr, lines: list[str]) -> int:
    """How many adjacent literals make up the string ``node`` (``"a" "b"`` is 2): LibCST
    nests a ``ConcatenatedString`` per piece. Only tokenized when the source span is long
    enough to hold more pieces than :data:`MAX_NESTING` allows."""
    end_line, end_col = node.end_lineno, node.end_col_offset
    if end_line is None or end_col is None:
        return 1
    if end_line == node.lineno and end_col - node.col_offset < 2 * MAX_NESTING:
        return 1
    segment_lines = lines[node.lineno - 1 : end_line]
    if not segment_lines:
        return 1
    # Offsets are in UTF-8 bytes.
    if len(segment_lines) == 1:
        raw = segment_lines[0].encode()[node.col_offset : end_col]
        segment = [raw.decode(errors="replace")]
    else:
        first = segment_lines[0].encode()[node.col_offset :].decode(errors="replace")
        last = segment_lines[-1].encode()[:end_col].decode(errors="replace")
        segment = [first, *segment_lines[1:-1], last]
    if sum(len(s) for s in segment) < 2 * MAX_NESTING:
        return 1
    count = 0
    try:
        for token in tokenize.generate_tokens(io.StringIO("".join(segment)).readline):
            if token.type in _STRING_STARTS:
                count += 1
    except (tokenize.TokenError, SyntaxError):
        pass
    return max(count, 1)


#: CPython nodes whose children LibCST wraps (``Element``, ``DictElement``, ``Arg``...).
_WRAPPED = (ast.List, ast.Tuple, ast.Set, ast.Dict, ast.Call, ast.Subscript)


def nesting_depth(tree: ast.AST, text: str) -> tuple[int, int]:
    """An estimate of the depth of the tree LibCST builds for ``tree``'s module.

    CPython's depth, plus what LibCST nests where CPython keeps a flat list: a chain of
    ``and``/``or`` (one ``BooleanOperation`` per operator) and adjacent string literals
    (one ``ConcatenatedString`` per literal), and the wrapper nodes of elements and
    arguments. Computed without recursion. Returns the depth and a line where it is reached."""
    lines: list[str] | None = None
    deepest, where = 0, 1
    stack: list[tuple[ast.AST, int]] = [(tree, 0)]
    while stack:
        node, depth = stack.pop()
        if depth > deepest:
            deepest, where = depth, getattr(node, "lineno", where)
        if isinstance(node, ast.BoolOp):
            extra = len(node.values) - 1
            for child in ast.iter_child_nodes(node):
                stack.append((child, depth + 1 + extra))
            continue
        if isinstance(node, _WRAPPED):
            # LibCST wraps each element / argument in a node of its own.
            for child in ast.iter_child_nodes(node):
                stack.append((child, depth + 2))
            continue
        if isinstance(node, (ast.Constant, ast.JoinedStr)):
            if isinstance(node, ast.JoinedStr) or isinstance(node.value, (str, bytes)):
                if lines is None:
                    lines = text.splitlines(keepends=True)
                assert isinstance(node, ast.expr)
                pieces = _pieces(node, lines)
                if depth + pieces > deepest:
                    deepest, where = depth + pieces, node.lineno
            if isinstance(node, ast.Constant):
                continue
        for child in ast.iter_child_nodes(node):
            stack.append((child, depth + 1))
    return deepest, where
