"""The findings cache: files whose project did not change reuse the findings of last time.

Like ruff's cache, it lives in ``.sessionlint_cache/`` at the project root (with a
``CACHEDIR.TAG`` and a ``.gitignore`` of ``*``), or where ``--cache-dir`` /
``SESSIONLINT_CACHE_DIR`` say. An entry holds the findings of each file checked so far, under
a key covering everything those findings depend on: the sessionlint version and its own code
(an edited checkout is not a new version), the effective configuration, the current directory
(imports resolve against it), and the content hash of every Python file and every
dependency-metadata file (``pyproject.toml``, lock files, ``requirements*.txt``...) of the
projects checked. A file's findings do not depend on which other files a run checks (a run
on some files sees the same project-wide facts as a run on all of them), so a run on any
subset of a checked project, such as the files pre-commit passes, is answered from the entry,
and the flake8 plugin reads the same entries.

The key is deliberately coarse: any change in a project re-checks every file asked for (a
finer key, per module and the modules its findings consulted, is future work, see
docs/performance.md), so a cached answer is never stale. Content hashes are remembered by
(size, modification time, inode, change time), as git's index does, so a warm run reads no
file it has hashed before; a file modified in the last two seconds is always hashed again.
Entries are written atomically; an unreadable, corrupt or foreign entry is ignored and
rewritten, never an error.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import tempfile
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from sessionlint import __version__
from sessionlint.diagnostics import Applicability, Diagnostic, Fix, Severity

__all__ = [
    "CACHE_DIR_NAME",
    "ENV_VAR",
    "Digests",
    "FileFindings",
    "absolute",
    "cache_dir_for",
    "clean",
    "load",
    "project_key",
    "store",
    "store_one",
]

CACHE_DIR_NAME = ".sessionlint_cache"
ENV_VAR = "SESSIONLINT_CACHE_DIR"
FORMAT = 2

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


def absolute(path: Path) -> str:
    """The name a file is stored under: absolute and normalised, symbolic links kept (no
    system call, unlike ``Path.resolve``)."""
    return os.path.abspath(path)


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


def project_key(
    config_repr: str,
    project_files: Iterable[Path],
    roots: Iterable[Path],
    digests: Digests | None = None,
) -> str:
    """The key of the findings of files of these projects: see the module docstring."""
    digest = digests.digest if digests is not None else _digest
    h = hashlib.sha256()
    h.update(f"sessionlint {__version__} {_own_code()} format {FORMAT}\0".encode())
    h.update(f"{config_repr}\0".encode())
    with contextlib.suppress(OSError):
        h.update(f"cwd {Path.cwd().resolve()}\0".encode())
    for name in sorted({absolute(p) for p in project_files}):
        h.update(f"py {name} {digest(Path(name))}\0".encode())
    for root in sorted({r.resolve() for r in roots}):
        for name in sorted(
            [*METADATA, *(p.name for p in root.glob("requirements*.txt") if p.is_file())]
        ):
            candidate = root / name
            if candidate.is_file():
                h.update(f"meta {candidate} {_digest(candidate)}\0".encode())
    return h.hexdigest()


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


def load(directory: Path, key: str) -> dict[str, FileFindings]:
    """The stored findings under ``key``, by absolute file path (empty when none): the
    entry, and the files the flake8 plugin stored one by one since (:func:`store_one`)."""
    found: dict[str, FileFindings] = {}
    with contextlib.suppress(OSError, ValueError, KeyError, TypeError, AttributeError):
        data = json.loads(_entry(directory, key).read_text(encoding="utf-8"))
        if data.get("format") == FORMAT and data.get("version") == __version__:
            found = {str(n): FileFindings.from_json(str(n), i) for n, i in data["files"].items()}
    for fragment in _fragments(directory, key):
        with contextlib.suppress(OSError, ValueError, KeyError, TypeError, AttributeError):
            name, item = json.loads(fragment.read_text(encoding="utf-8"))
            found.setdefault(str(name), FileFindings.from_json(str(name), item))
    return found


def store(directory: Path, key: str, files: Mapping[str, FileFindings]) -> None:
    """Add the findings of ``files`` (by absolute path) to the entry under ``key``, merged
    with what another process may have stored meanwhile; written atomically, and skipped
    silently when the cache cannot be written. The one-file entries folded in are removed."""
    if not files:
        return
    fragments = _fragments(directory, key)
    merged = load(directory, key)
    merged.update(files)
    data = {
        "format": FORMAT,
        "version": __version__,
        "files": {name: f.to_json() for name, f in sorted(merged.items())},
    }
    with contextlib.suppress(OSError):
        _prepare(directory)
    if _write_json(_entry(directory, key), data):
        for fragment in fragments:
            with contextlib.suppress(OSError):
                fragment.unlink()


def store_one(directory: Path, key: str, name: str, findings: FileFindings) -> None:
    """Store one file's findings next to the entry under ``key`` (the flake8 plugin checks
    one file at a time, in several processes: no process rewrites the whole entry)."""
    with contextlib.suppress(OSError):
        _prepare(directory)
    digest = hashlib.sha256(name.encode("utf-8", "surrogatepass")).hexdigest()[:32]
    _write_json(_fragment_dir(directory, key) / f"{digest}.json", [name, findings.to_json()])


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
