"""Source files and the project they belong to.

A :class:`Project` owns the parsed files of one run, keyed by path, and resolves imports between
the project's modules by looking at the file system (``from app.deps import get_db`` finds
``app/deps.py`` above the importing file's top-level package, at the project root, under
``<root>/src`` or in the current directory; see :meth:`Project._search_bases`). Files that
are not linted themselves are read lazily, only when a rule needs a fact from them, and each file
is parsed and indexed at most once per run.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import libcst as cst

from sessionlint.model.guard import (
    MAX_FILE_BYTES,
    MAX_NESTING,
    decode_source,
    nesting_depth,
    python_verdict,
    read_source,
)
from sessionlint.model.index import ModuleIndex, Scope, module_bindings
from sessionlint.model.trace import TextQuery, Trace

__all__ = [
    "ParseFailure",
    "Project",
    "SourceFile",
    "TextQuery",
    "Trace",
    "decode_source",
    "parse_source",
]

#: A project file is worth reading for the project-wide scan only if it mentions one of these.
_ERROR_AT = re.compile(r"error at (\d+):(\d+):?")
#: What makes a file part of the project-wide scan for dependencies and route handlers: a
#: ``Depends``/``Security``, a route registration, or a route decorator. Route handlers are
#: found from the scan, not only from the files a run happens to check, so a run on some
#: files (pre-commit, a ``--jobs`` worker) sees the same handlers as a run on all of them.
_SCAN_WORDS = re.compile(
    r"Depends|Security|add_api_route|add_api_websocket_route"
    r"|^[ \t]*@[ \t]*[\w.]+[ \t]*\.[ \t]*"
    r"(?:get|post|put|patch|delete|options|head|trace|api_route|websocket)[ \t]*\(",
    re.MULTILINE,
)
#: The project-wide scan for dependencies and route handlers (:data:`_SCAN_WORDS`).
SCAN_QUERY = TextQuery(pattern=_SCAN_WORDS.pattern)


@dataclass(frozen=True)
class ParseFailure:
    """Why a file could not be read: 1-based line and column, and the reason."""

    line: int
    column: int
    reason: str
    #: CPython accepts the file (LibCST cannot parse it): it is not analysed, and that is
    #: not an error in the user's code (reported as a notice, not as SL001).
    valid: bool = False


class SourceFile:
    """One parsed module: its text, its LibCST tree and (lazily) its index."""

    def __init__(
        self,
        module: cst.Module,
        text: str,
        *,
        path: Path | None,
        display_path: str,
        encoding: str = "utf-8",
        bom: bool = False,
    ) -> None:
        self.module = module
        self.text = text
        self.path = path
        self.display_path = display_path
        self.encoding = encoding
        self.bom = bom
        #: The text was decoded with replacement characters (bytes CPython tolerates in a
        #: comment): analysed, but never written back by the fix loop.
        self.lossy = False

    @cached_property
    def index(self) -> ModuleIndex:
        return ModuleIndex(self.module)

    @cached_property
    def module_scope(self) -> Scope:
        """The module-level bindings; cheap when the full index is not needed."""
        if "index" in self.__dict__:
            return self.index.module_scope
        return module_bindings(self.module)

    @cached_property
    def lines(self) -> list[str]:
        return self.text.splitlines()

    @property
    def name(self) -> str:
        return self.path.name if self.path is not None else Path(self.display_path).name

    def __repr__(self) -> str:
        return f"SourceFile({self.display_path!r})"


#: CPython's rejections that hold on every Python version (the others may be syntax newer
#: than the running Python, which LibCST knows: LibCST's success wins over them).
_ALWAYS_INVALID = (
    "null byte",
    "non-printable character",
    "too many nested parentheses",
    "too many levels of indentation",
    "too deeply nested",
    "cannot compile",
    "unexpected EOF",
    "unexpected end of file",
    "decoding with",
    # Before Python 3.12 (PEP 701), an f-string spanning lines or reusing its quotes inside
    # the braces is "unterminated" for CPython but valid 3.12 syntax that LibCST parses.
    *(("unterminated",) if sys.version_info >= (3, 12) else ()),
)


def parse_source(
    source: str | bytes, *, path: Path | None, display_path: str
) -> SourceFile | ParseFailure:
    """Decode and parse; any failure (decoding, syntax, parser bug) becomes a ParseFailure.

    Before LibCST sees the text, the file's size is bounded and CPython parses it (see
    :mod:`sessionlint.model.guard`): CPython's verdict wins. A file CPython accepts but LibCST
    cannot parse is a :class:`ParseFailure` with ``valid`` set (not analysed, not an error).
    """
    if len(source) > MAX_FILE_BYTES:
        return ParseFailure(
            1, 1, f"file too large to analyse (over the limit of {MAX_FILE_BYTES:,} bytes)"
        )
    encoding, bom, lossy = "utf-8", False, False
    verdict = python_verdict(source)
    if isinstance(source, bytes):
        try:
            text, encoding, bom = decode_source(source)
        except (SyntaxError, UnicodeError, LookupError) as exc:
            if verdict.tree is None:
                if isinstance(exc, UnicodeDecodeError):
                    return ParseFailure(1, 1, _undecodable(source, exc))
                reason = verdict.reason.removeprefix("syntax error: ")
                return ParseFailure(1, 1, f"cannot decode file: {_one_line(reason)}")
            # CPython accepts it (undecodable bytes in a comment): analyse a lossy text,
            # which the fix loop never writes back.
            try:
                text, encoding, bom = decode_source(source, "replace")
            except (SyntaxError, UnicodeError, LookupError):
                # The cookie scan itself rejects bad UTF-8 in the first two lines; CPython
                # read them as UTF-8 all the same.
                bom = source.startswith(b"\xef\xbb\xbf")
                text = source[3 if bom else 0 :].decode("utf-8", "replace")
            lossy = True
    else:
        text = source
    if verdict.tree is not None:
        depth, line = nesting_depth(verdict.tree, text)
        if depth > MAX_NESTING:
            reason = (
                f"too deeply nested to analyse (nesting depth about {depth}; "
                f"the limit is {MAX_NESTING})"
            )
            return _clamped(text, line, 1, reason)
    elif any(marker in verdict.reason for marker in _ALWAYS_INVALID):
        return _syntax_error(text, verdict.line, verdict.column, verdict.reason)
    try:
        module = cst.parse_module(text)
    except cst.ParserSyntaxError as exc:
        if verdict.tree is None:
            return _syntax_error(text, verdict.line, verdict.column, verdict.reason)
        reason = _one_line(exc.message) or "invalid syntax"
        # ``raw_line`` can point past the error (LibCST #1028); the message is closer.
        where = _ERROR_AT.search(exc.message)
        line, column = (int(where[1]), int(where[2])) if where else (exc.raw_line, exc.raw_column)
        reason = _ERROR_AT.sub("", reason.replace("parser error:", "")).strip(" :") or reason
        return _not_analysed(text, line, column, reason)
    except Exception as exc:  # LibCST raises other errors on some inputs (t-strings, ...)
        if verdict.tree is None:
            return _syntax_error(text, verdict.line, verdict.column, verdict.reason)
        return _not_analysed(text, 1, 1, f"{type(exc).__name__}: {_one_line(str(exc))}")
    source_file = SourceFile(
        module, text, path=path, display_path=display_path, encoding=encoding, bom=bom
    )
    source_file.lossy = lossy
    return source_file


#: Jinja/cookiecutter markup: ``{% if ... %}``, ``{%- for ... %}``, ``{{ name }}``.
_TEMPLATE = re.compile(r"\{%-?\s|\{\{-?\s*[A-Za-z_][\w.]*\s*-?\}\}")


def _syntax_error(text: str, line: int, column: int, reason: str) -> ParseFailure:
    """CPython's syntax error; a template named ``*.py`` gets a hint on how to exclude it."""
    if _TEMPLATE.search(text):
        reason += " (the file looks like a Jinja template: exclude it with `extend-exclude`)"
    return _clamped(text, line, column, reason)


def _undecodable(source: bytes, exc: UnicodeDecodeError) -> str:
    """Which byte, where, and which encoding was assumed (and why)."""
    bad = source[exc.start : exc.start + 1].hex()
    line = source.count(b"\n", 0, exc.start) + 1
    column = exc.start - (source.rfind(b"\n", 0, exc.start) + 1) + 1
    cookie = _COOKIE.search(b"\n".join(source.splitlines()[:2]))
    why = "named by its coding cookie" if cookie else "assumed: the file has no coding cookie"
    return f"cannot decode byte 0x{bad} at line {line}, column {column} as {exc.encoding} ({why})"


_COOKIE = re.compile(rb"^[ \t\f]*#.*?coding[:=][ \t]*[-\w.]+", re.MULTILINE)


def _not_analysed(text: str, line: int, column: int, reason: str) -> ParseFailure:
    """CPython accepts the file but LibCST cannot parse it: not the user's error."""
    failure = _clamped(text, line, column, f"valid Python that LibCST cannot parse: {reason}")
    return ParseFailure(failure.line, failure.column, failure.reason, valid=True)


def _clamped(text: str, line: int, column: int, reason: str) -> ParseFailure:
    """A failure whose line is within the file."""
    last = max(text.count("\n") + (0 if text.endswith("\n") else 1), 1)
    if line > last:
        line, column = last, 1
    return ParseFailure(max(line, 1), max(column, 1), reason)


def _one_line(text: str) -> str:
    return " ".join(text.split())


#: Lists the Python files of a project root (the run's discovery, with its excludes).
FileLister = Callable[[Path], Iterable[Path]]


class Project:
    """The files of one run and the project root they resolve imports against.

    ``list_files`` lists the project's Python files for the project-wide questions (which
    functions are dependencies, which registries are ``remove()``d); it is the same discovery
    the run uses, so excluded folders stay excluded.
    """

    def __init__(
        self,
        root: Path | None,
        list_files: FileLister | None = None,
        *,
        cwd: Path | None = None,
    ) -> None:
        self.root = root.resolve() if root is not None else None
        #: The current directory of the run, where absolute imports are looked for after the
        #: project's own folders (None when it cannot be known: it was deleted).
        self.cwd: Path | None
        try:
            self.cwd = (cwd if cwd is not None else Path.cwd()).resolve()
        except OSError:
            self.cwd = None
        self._list_files = list_files
        self._files: dict[Path, SourceFile | None] = {}
        self._scan: list[SourceFile] | None = None
        self._texts: list[tuple[Path, str]] | None = None
        self._modules: dict[tuple[Path, str], tuple[SourceFile, list[str]] | None] = {}
        #: What the analysis of this run looked into (see :class:`Trace`).
        self.trace = Trace()

    def add(self, source: SourceFile) -> None:
        """Register a file parsed by the caller (a file without a path is kept too)."""
        key = source.path.resolve() if source.path is not None else Path(f"<{id(source)}>")
        self._files[key] = source

    def replace(self, old: SourceFile, new: SourceFile) -> None:
        """Swap in a new version of a file (the fix loop re-parses each fixed file), also in
        the project-wide scan. Use a fresh :class:`Model` afterwards: models cache facts
        about the old file's nodes."""
        if old.path is None:
            self._files.pop(Path(f"<{id(old)}>"), None)
        self.add(new)
        # The caches derived from the files follow (the scan is recomputed from the texts).
        self._scan = None
        if self._texts is not None and new.path is not None:
            key = new.path.resolve()
            self._texts = [(p, new.text if p == key else t) for p, t in self._texts]
        for found, module in self._modules.items():
            if module is not None and module[0] is old:
                self._modules[found] = (new, module[1])

    def known(self, path: Path) -> SourceFile | None:
        """The file at ``path`` if it was read or added already (never reads the disk)."""
        return self._files.get(path.resolve())

    def remove(self, path: Path) -> None:
        """Forget the file at ``path`` (read it again when needed), and what was derived."""
        key = path.resolve()
        self._files.pop(key, None)
        self.forget_derived()

    def forget_derived(self) -> None:
        """Drop the caches derived from the files (the project-wide scan, the texts, the
        resolved imports): after files were added or removed behind them."""
        self._scan = None
        self._texts = None
        self._modules.clear()

    def load(self, path: Path) -> SourceFile | None:
        """The parsed file at ``path`` (read once), or None when it cannot be read or parsed."""
        key = path.resolve()
        if key in self._files:
            return self._files[key]
        source: SourceFile | None = None
        try:
            data = read_source(key)
        except OSError:
            data = None
        if data is not None:
            parsed = parse_source(data, path=key, display_path=str(path))
            source = parsed if isinstance(parsed, SourceFile) else None
        self._files[key] = source
        return source

    def files(self) -> list[SourceFile]:
        """The files read so far."""
        return [f for f in self._files.values() if f is not None]

    # -- modules --------------------------------------------------------------------------
    def _module_file(self, base: Path, parts: list[str]) -> Path | None:
        target = base.joinpath(*parts)
        candidate = target.with_name(target.name + ".py")
        if candidate.is_file():
            return candidate
        init = target / "__init__.py"
        if init.is_file():
            return init
        return None

    def _search_bases(self, importer: SourceFile) -> Iterator[Path]:
        """Where an absolute import of ``importer`` is looked for, in order: the folder above
        the importer's top-level package (walking up while ``__init__.py`` exists), the
        project root, ``<root>/src`` and the current directory; then, for apps run from
        inside one of their folders (``cd app && uvicorn main:app``), the folders between
        the importer and the root, nearest first. Only the current directory depends on how
        sessionlint is run (and it comes after the project's own folders), so every entry
        point resolves the project's imports the same way."""
        if importer.path is None:
            return
        directory = importer.path.resolve().parent
        top = directory
        while (top / "__init__.py").is_file() and top.parent != top:
            top = top.parent
        candidates = [top]
        if self.root is not None:
            candidates += [self.root, self.root / "src"]
        if self.cwd is not None:
            candidates.append(self.cwd)
        if self.root is not None and directory.is_relative_to(self.root):
            folder = directory
            while folder != self.root:
                candidates.append(folder)
                folder = folder.parent
        seen: set[Path] = set()
        for base in candidates:
            if base not in seen and base.is_dir():
                seen.add(base)
                yield base

    def find_module(self, dotted: str, importer: SourceFile) -> tuple[SourceFile, list[str]] | None:
        """Find the project module that ``dotted`` (maybe relative) names from ``importer``.

        Returns the module's file and the attribute names left over (``app.deps.get_db`` ->
        (``app/deps.py``, ``["get_db"]``)), or None when no project file matches.
        """
        if importer.path is None:
            return None
        key = (importer.path.parent, dotted)
        if key not in self._modules:
            self._modules[key] = self._find_module(dotted, importer)
        found = self._modules[key]
        if found is not None and found[0].path is not None:
            edges = self.trace.edges
            source = str(importer.path)
            if source not in edges:
                edges[source] = set()
            edges[source].add(str(found[0].path))
        return found

    def _find_module(
        self, dotted: str, importer: SourceFile
    ) -> tuple[SourceFile, list[str]] | None:
        assert importer.path is not None
        level = len(dotted) - len(dotted.lstrip("."))
        parts = [p for p in dotted[level:].split(".") if p]
        if level:
            base = importer.path.resolve().parent
            for _ in range(level - 1):
                base = base.parent
            bases: Iterator[Path] = iter([base])
        else:
            bases = self._search_bases(importer)
        for base in bases:
            for k in range(len(parts), 0 if level else 1 - 1, -1):
                if k == 0:
                    found = base / "__init__.py"
                    found_path: Path | None = found if found.is_file() else None
                else:
                    found_path = self._module_file(base, parts[:k])
                if found_path is None:
                    continue
                if found_path.resolve() == importer.path.resolve() and k < len(parts):
                    continue
                source = self.load(found_path)
                if source is not None:
                    return source, parts[k:]
        return None

    # -- the project-wide scan -------------------------------------------------------------
    def texts(self) -> list[tuple[Path, str]]:
        """(path, text) of every Python file of the project, read once per run."""
        if self._texts is None:
            self._texts = []
            if self.root is not None and self._list_files is not None:
                for path in self._list_files(self.root):
                    key = path.resolve()
                    known = self._files.get(key)
                    if known is not None:
                        self._texts.append((key, known.text))
                        continue
                    try:
                        text = key.read_text(encoding="utf-8", errors="replace")
                    except OSError:
                        continue
                    self._texts.append((key, text))
        return self._texts

    def files_matching(self, query: TextQuery) -> list[SourceFile]:
        """The files read so far and the project files whose text satisfies ``query`` (a
        cheap text test before any parse)."""
        self.trace.queries.add(query)
        matched = self.trace.matched
        found = {id(f): f for f in self.files() if query(f.text)}
        for path, text in self.texts():
            if query(text):
                matched.add(str(path))
                source = self.load(path)
                if source is not None:
                    found.setdefault(id(source), source)
        for source in found.values():
            if source.path is not None:
                matched.add(str(source.path))
        return list(found.values())

    def scan_files(self) -> list[SourceFile]:
        """Files that may register dependencies or routes: those that mention
        ``Depends``/``Security``/``add_api_route``."""
        if self._scan is None:
            self._scan = self.files_matching(SCAN_QUERY)
        return self._scan
