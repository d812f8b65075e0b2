"""The findings cache: files whose findings cannot have changed are not checked again.

Like ruff's cache, it lives in ``.sessionlint_cache/`` at the project root (with a
``CACHEDIR.TAG`` and a ``.gitignore`` of ``*``), or where ``--cache-dir`` /
``SESSIONLINT_CACHE_DIR`` say. One entry (a :class:`State`) per :func:`shape_key`: the
sessionlint version and its own code (an edited checkout is not a new version), the effective
configuration, the current directory (imports resolve against it), which Python files the
projects have and the content of their dependency-metadata files (``pyproject.toml``, lock
files, ``requirements*.txt``...). A new or deleted module, or another configuration, starts
afresh.

Within a shape, the state holds each module's content hash, each checked file's findings
and the :class:`~sessionlint.model.trace.Trace` of the runs: which modules each module's
analysis looked into, and which files the project-wide facts (dependencies, route handlers,
what runs on each request) came from. After an edit, only the files whose analysis could
see the edited module are checked again (:meth:`State.still_valid`); an edit of a module
the project-wide facts came from, or one that makes a module match a project-wide text
query, checks everything again. A file's findings do not depend on which other files a run
names, so a run on some files of a checked project (pre-commit) reuses the entry, and the
flake8 plugin reads and writes the same entries. ``tests/test_cache.py`` edits every module
of every fixture project three ways and compares each cached run with a run without cache.

Content hashes are remembered by (size, modification time, change time, inode), as git's
index does, so a warm run reads no file it hashed before; a file modified in the last two
seconds is always hashed again. Modules outside the project (reached through the current
directory) are not hashed. Entries are written atomically; an unreadable, corrupt or foreign
entry is ignored and rewritten, never an error.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import stat
import tempfile
import time
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from sessionlint import __version__
from sessionlint.diagnostics import Applicability, Diagnostic, Fix, Severity
from sessionlint.model.trace import TextQuery, Trace

__all__ = [
    "CACHE_DIR_NAME",
    "ENV_VAR",
    "Digests",
    "FileFindings",
    "State",
    "cache_dir_for",
    "clean",
    "content_hashes",
    "real",
    "shape_key",
]

CACHE_DIR_NAME = ".sessionlint_cache"
ENV_VAR = "SESSIONLINT_CACHE_DIR"
FORMAT = 3

#: Files whose content decides versions, the project root or the configuration.
METADATA = (
    "pyproject.toml",
    "setup.cfg",
    "setup.py",
    "uv.lock",
    "poetry.lock",
    "sessionlint.toml",
    ".sessionlint.toml",
    ".gitignore",
)

#: A file modified this recently may change again within the same timestamp: its hash is
#: never remembered (git's "racily clean" entries).
_RACY_NS = 2_000_000_000


def cache_dir_for(root: Path, given: Path | None = None) -> Path:
    """``given`` (``--cache-dir``), else ``$SESSIONLINT_CACHE_DIR``, else the root's."""
    if given is not None:
        return given
    env = os.environ.get(ENV_VAR)
    if env:
        return Path(env)
    return root / CACHE_DIR_NAME


def real(path: Path) -> str:
    """The name a file is stored under: its real path (symbolic links resolved, as the
    semantic model names modules). Each folder is resolved once per process."""
    folder, name = os.path.split(os.path.abspath(path))
    resolved = _REAL_FOLDERS.get(folder)
    if resolved is None:
        resolved = _REAL_FOLDERS[folder] = os.path.realpath(folder)
    full = os.path.join(resolved, name)
    return os.path.realpath(full) if os.path.islink(full) else full


#: Folder -> its real path, for :func:`real` (a run lists thousands of files in few folders).
_REAL_FOLDERS: dict[str, str] = {}


def _digest(path: Path) -> str:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return "unreadable"


class Digests:
    """Content hashes of files, remembered across runs by their ``stat`` signature (size,
    modification and change times in nanoseconds, inode) in ``<cache>/v<version>/digests``."""

    def __init__(self, directory: Path) -> None:
        self._file = directory / f"v{__version__}" / "digests"
        self._known: dict[str, list[Any]] = {}
        self._changed = False
        with contextlib.suppress(OSError, ValueError, TypeError):
            data = json.loads(self._file.read_text(encoding="utf-8"))
            if isinstance(data, dict):
                self._known = data

    def digest(self, path: Path) -> str:
        """The content hash of ``path`` (``"missing"`` or ``"unreadable"`` when it cannot be
        read), from the remembered one when the file's signature is unchanged."""
        name = str(path)
        try:
            info = path.stat()
        except OSError:
            return "missing"
        if not stat.S_ISREG(info.st_mode):
            return "not a regular file"  # never read (a named pipe would block)
        signature = [info.st_size, info.st_mtime_ns, info.st_ctime_ns, info.st_ino]
        known = self._known.get(name)
        if (
            isinstance(known, list)
            and len(known) == 5
            and known[:4] == signature
            and isinstance(known[4], str)
        ):
            return known[4]
        value = _digest(path)
        racy = time.time_ns() - max(info.st_mtime_ns, info.st_ctime_ns) < _RACY_NS
        if value != "unreadable" and not racy:
            self._known[name] = [*signature, value]
            self._changed = True
        elif name in self._known:
            del self._known[name]
            self._changed = True
        return value

    def save(self) -> None:
        """Write the remembered hashes back (atomically) when they changed."""
        if self._changed:
            _write_json(self._file, self._known)
            self._changed = False


def _own_code() -> str:
    """Size and modification time of sessionlint's own modules: an edited checkout (the same
    version number, other rules) never reuses findings of the code it had before."""
    h = hashlib.sha256()
    package = Path(__file__).resolve().parent
    for module in sorted(package.rglob("*.py")):
        with contextlib.suppress(OSError):
            info = module.stat()
            h.update(f"{module.relative_to(package)} {info.st_size} {info.st_mtime_ns}\0".encode())
    return h.hexdigest()


def shape_key(config_repr: str, modules: Iterable[str], roots: Iterable[Path]) -> str:
    """The key of what every finding of these projects depends on besides the content of
    their modules: sessionlint's version and code, the configuration, the current directory,
    which Python files the projects have (``modules``, by :func:`real` path; not their
    content: see :class:`State`) and the content of their dependency-metadata files."""
    h = hashlib.sha256()
    h.update(f"sessionlint {__version__} {_own_code()} format {FORMAT}\0".encode())
    h.update(f"{config_repr}\0".encode())
    with contextlib.suppress(OSError):
        h.update(f"cwd {Path.cwd().resolve()}\0".encode())
    for name in sorted(set(modules)):
        h.update(f"py {name}\0".encode())
    for root in sorted({r.resolve() for r in roots}):
        for name in sorted(
            [*METADATA, *(p.name for p in root.glob("requirements*.txt") if p.is_file())]
        ):
            candidate = root / name
            if candidate.is_file():
                h.update(f"meta {candidate} {_digest(candidate)}\0".encode())
    return h.hexdigest()


def content_hashes(modules: Mapping[str, Path], digests: Digests) -> dict[str, str]:
    """The content hash of every module (``modules``: real path -> path)."""
    return {name: digests.digest(path) for name, path in modules.items()}


def _entry(directory: Path, key: str) -> Path:
    return directory / f"v{__version__}" / f"{key}.json"


def _to_json(d: Diagnostic) -> dict[str, Any]:
    data = d.to_dict()
    if d.fix is not None:
        data["fix"]["applies"] = d.fix.is_applicable
    return data


def _from_json(data: dict[str, Any]) -> Diagnostic:
    fix = data["fix"]
    return Diagnostic(
        path=str(data["path"]),
        line=int(data["line"]),
        column=int(data["column"]),
        end_line=int(data["end_line"]),
        end_column=int(data["end_column"]),
        code=str(data["code"]),
        name=str(data["name"]),
        severity=Severity(data["severity"]),
        message=str(data["message"]),
        url=data["url"],
        fix=(
            Fix(Applicability(fix["applicability"]), str(fix["message"]), applies=fix["applies"])
            if fix is not None
            else None
        ),
    )


class FileFindings:
    """The stored findings of one file: what ``lint_paths`` reported for it, and what a
    ``# noqa`` comment silenced (flake8 applies ``# noqa`` itself), without the path it was
    given by (a run may name the same file ``app/x.py`` or ``./app/x.py``)."""

    __slots__ = ("diagnostics", "notices")

    def __init__(self, diagnostics: list[dict[str, Any]], notices: list[str]) -> None:
        #: As ``Diagnostic.to_dict`` without ``path``; ``"noqa": true`` on silenced ones.
        self.diagnostics = diagnostics
        self.notices = notices

    @classmethod
    def of(
        cls,
        display: str,
        diagnostics: Iterable[Diagnostic],
        silenced: Iterable[Diagnostic] = (),
        notices: Iterable[str] = (),
    ) -> FileFindings:
        stored = []
        for noqa, group in ((False, diagnostics), (True, silenced)):
            for d in group:
                data = _to_json(d)
                del data["path"]
                if noqa:
                    data["noqa"] = True
                stored.append(data)
        return cls(stored, [n.removeprefix(display) for n in notices])

    def diagnostics_for(self, display: str, *, silenced: bool = False) -> list[Diagnostic]:
        """The findings, as reported for ``display``; with ``silenced``, also those a
        ``# noqa`` silenced, in line order (what flake8's plugin reports)."""
        found = [
            _from_json({**data, "path": display})
            for data in self.diagnostics
            if silenced or not data.get("noqa")
        ]
        return sorted(found, key=lambda d: d.sort_key) if silenced else found

    def notices_for(self, display: str) -> list[str]:
        return [display + notice for notice in self.notices]

    def to_json(self) -> list[Any]:
        return [self.diagnostics, self.notices]

    @classmethod
    def from_json(cls, name: str, item: Any) -> FileFindings:
        """Raises ``ValueError`` (or ``KeyError``, ``TypeError``) when ``item`` is foreign."""
        diagnostics, notices = item
        if not isinstance(diagnostics, list) or not isinstance(notices, list):
            raise ValueError("not a findings entry")
        findings = cls(diagnostics, [str(n) for n in notices])
        findings.diagnostics_for(name, silenced=True)  # validate now, not when it is used
        return findings


def _trace_to_json(trace: Trace) -> dict[str, Any]:
    return {
        "edges": {source: sorted(targets) for source, targets in sorted(trace.edges.items())},
        "matched": sorted(trace.matched),
        "queries": sorted([list(q.words), q.pattern] for q in trace.queries),
    }


def _trace_from_json(data: Any) -> Trace:
    """Raises ``ValueError`` (or ``KeyError``, ``TypeError``) when ``data`` is foreign."""
    trace = Trace()
    for source, targets in data["edges"].items():
        if not isinstance(targets, list):
            raise ValueError("not a trace")
        trace.edges[str(source)] = {str(t) for t in targets}
    trace.matched = {str(m) for m in data["matched"]}
    for words, pattern in data["queries"]:
        if not isinstance(words, list) or not (pattern is None or isinstance(pattern, str)):
            raise ValueError("not a query")
        trace.queries.add(TextQuery(tuple(str(w) for w in words), pattern))
    return trace


def _fingerprint(hashes: Mapping[str, str]) -> str:
    h = hashlib.sha256()
    for name, digest in sorted(hashes.items()):
        h.update(f"{name} {digest}\0".encode())
    return h.hexdigest()


class State:
    """What the cache holds for one :func:`shape_key`: the content hash of every module when
    the findings were stored, the findings of each file checked, and the :class:`Trace` of
    the runs that checked them (every run adds to it).

    :meth:`still_valid` says which stored findings an edit leaves valid: a file's findings
    depend on the modules its analysis looked into, transitively (``trace.edges``), and on
    the project-wide facts, which come from the files the text queries matched and what
    those looked into. So after an edit of ``deps.py``, the routers that import it are
    checked again and the rest is not; an edit of a file the project-wide facts came from,
    or one that makes a file match a query (a new ``Depends``), checks everything again."""

    def __init__(
        self,
        hashes: dict[str, str] | None = None,
        files: dict[str, FileFindings] | None = None,
        trace: Trace | None = None,
    ) -> None:
        self.hashes = hashes if hashes is not None else {}
        self.files = files if files is not None else {}
        self.trace = trace if trace is not None else Trace()
        #: The one-file entries read with the state (folded in, or stale): :meth:`store`
        #: removes them, and only them (another process may be writing new ones).
        self.seen: list[Path] = []

    def still_valid(self, now: Mapping[str, str], read_text: Callable[[str], str]) -> set[str]:
        """The stored files whose findings hold for the modules' content ``now``."""
        if now == self.hashes:
            return set(self.files)
        if set(now) != set(self.hashes):
            return set()  # another set of modules: the shape key should have said so
        changed = {name for name, digest in now.items() if self.hashes[name] != digest}
        edges = self.trace.edges
        facts = _reachable(self.trace.matched, edges)
        if changed & facts:
            return set()
        for name in changed:
            try:
                text = read_text(name)
            except (OSError, ValueError):
                return set()
            if any(query(text) for query in self.trace.queries):
                return set()  # the file now takes part in a project-wide fact
        reverse: dict[str, set[str]] = {}
        for source, targets in edges.items():
            for target in targets:
                reverse.setdefault(target, set()).add(source)
        affected = _reachable(changed, reverse)
        return {name for name in self.files if name not in affected}

    def updated(
        self,
        now: dict[str, str],
        keep: set[str],
        fresh: Mapping[str, FileFindings],
        trace: Trace,
    ) -> State:
        """The state after a run: the findings kept and the fresh ones, against ``now``.
        The trace drops what the changed modules looked into (their imports may have
        changed; every file that looked through them was checked again) and adds the run's."""
        changed = {name for name, digest in now.items() if self.hashes.get(name) != digest}
        merged = Trace(
            {s: set(t) for s, t in self.trace.edges.items() if s not in changed},
            set(self.trace.matched),
            set(self.trace.queries),
        )
        merged.merge(trace)
        files = {name: f for name, f in self.files.items() if name in keep}
        files.update(fresh)
        state = State(now, files, merged)
        state.seen = self.seen
        return state

    # -- storage -------------------------------------------------------------------------
    @classmethod
    def load(cls, directory: Path, key: str) -> State:
        """The state stored under ``key`` (empty when none, corrupt or foreign), with the
        files the flake8 plugin stored one by one since (:meth:`store_one`)."""
        state = cls()
        with contextlib.suppress(OSError, ValueError, KeyError, TypeError, AttributeError):
            data = json.loads(_entry(directory, key).read_text(encoding="utf-8"))
            if data.get("format") == FORMAT and data.get("version") == __version__:
                hashes = {str(n): str(d) for n, d in data["hashes"].items()}
                files = {
                    str(n): FileFindings.from_json(str(n), i) for n, i in data["files"].items()
                }
                state = cls(hashes, files, _trace_from_json(data["trace"]))
        state.seen = _fragments(directory, key)
        if state.hashes:
            fingerprint = _fingerprint(state.hashes)
            for fragment in state.seen:
                with contextlib.suppress(OSError, ValueError, KeyError, TypeError, AttributeError):
                    name, item, trace, against = json.loads(fragment.read_text(encoding="utf-8"))
                    if against == fingerprint and str(name) not in state.files:
                        state.files[str(name)] = FileFindings.from_json(str(name), item)
                        state.trace.merge(_trace_from_json(trace))
        return state

    def store(self, directory: Path, key: str) -> None:
        """Write the state atomically (skipped silently when the cache cannot be written);
        the one-file entries read with it are removed."""
        data = {
            "format": FORMAT,
            "version": __version__,
            "hashes": dict(sorted(self.hashes.items())),
            "files": {name: f.to_json() for name, f in sorted(self.files.items())},
            "trace": _trace_to_json(self.trace),
        }
        with contextlib.suppress(OSError):
            _prepare(directory)
        if _write_json(_entry(directory, key), data):
            for fragment in self.seen:
                with contextlib.suppress(OSError):
                    fragment.unlink()

    def store_one(
        self, directory: Path, key: str, name: str, findings: FileFindings, trace: Trace
    ) -> None:
        """Store one file's findings, checked against this state's hashes, next to the state
        (the flake8 plugin checks one file at a time, in several processes: no process
        rewrites the whole state for each file)."""
        self.files[name] = findings
        digest = hashlib.sha256(name.encode("utf-8", "surrogatepass")).hexdigest()[:32]
        item = [name, findings.to_json(), _trace_to_json(trace), _fingerprint(self.hashes)]
        _write_json(_fragment_dir(directory, key) / f"{digest}.json", item)


def _reachable(seeds: Iterable[str], edges: Mapping[str, set[str]]) -> set[str]:
    seen = set(seeds)
    stack = list(seen)
    while stack:
        for target in edges.get(stack.pop(), ()):
            if target not in seen:
                seen.add(target)
                stack.append(target)
    return seen


def _fragment_dir(directory: Path, key: str) -> Path:
    return directory / f"v{__version__}" / f"{key}.files"


def _fragments(directory: Path, key: str) -> list[Path]:
    try:
        return sorted(_fragment_dir(directory, key).glob("*.json"))
    except OSError:
        return []


def _write_json(target: Path, data: object) -> bool:
    """Write ``data`` to ``target`` atomically (a temporary file renamed over it); an
    unwritable cache is skipped silently (False)."""
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, temporary = tempfile.mkstemp(prefix=".tmp-", dir=target.parent)
    except OSError:
        return False
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            json.dump(data, out)
        os.replace(temporary, target)
        return True
    except OSError:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        return False


def _prepare(directory: Path) -> None:
    """Create the cache folder with its ``CACHEDIR.TAG`` and ``.gitignore``."""
    directory.mkdir(parents=True, exist_ok=True)
    tag = directory / "CACHEDIR.TAG"
    if not tag.exists():
        tag.write_text(
            "Signature: 8a477f597d28d172789f06886806bc55\n"
            "# This file is a cache directory tag created by sessionlint.\n"
            "# For information about cache directory tags see https://bford.info/cachedir/\n",
            encoding="utf-8",
        )
    ignore = directory / ".gitignore"
    if not ignore.exists():
        ignore.write_text("# Automatically created by sessionlint.\n*\n", encoding="utf-8")


def clean(directory: Path) -> bool:
    """Remove the cache folder (only if it is a sessionlint cache); True if removed."""
    if not (directory / "CACHEDIR.TAG").is_file():
        return False
    shutil.rmtree(directory, ignore_errors=True)
    return True
