"""The findings cache: a run whose inputs did not change reuses the findings of last time.

Like ruff's cache, it lives in ``.sessionlint_cache/`` at the project root (with a
``CACHEDIR.TAG`` and a ``.gitignore`` of ``*``), or where ``--cache-dir`` /
``SESSIONLINT_CACHE_DIR`` say. An entry is keyed on everything a run's findings depend on:
the sessionlint version and its own code (an edited checkout is not a new version), the
effective configuration, the current directory (imports resolve
against it), the files of the run, and the content hash of every Python file and every
dependency-metadata file (``pyproject.toml``, lock files, ``requirements*.txt``...) of the
projects they belong to. This key is deliberately coarse: any change in a project re-checks
the whole run (a finer, per-module key is future work, see docs/performance.md), so a cached
answer is never stale. Entries are written atomically; an unreadable, corrupt or foreign
entry is ignored and rewritten, never an error.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from sessionlint import __version__
from sessionlint.diagnostics import Applicability, Diagnostic, Fix, Severity

__all__ = ["CACHE_DIR_NAME", "ENV_VAR", "cache_dir_for", "clean", "key", "load", "store"]

CACHE_DIR_NAME = ".sessionlint_cache"
ENV_VAR = "SESSIONLINT_CACHE_DIR"
FORMAT = 1

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


def cache_dir_for(root: Path, given: Path | None = None) -> Path:
    """``given`` (``--cache-dir``), else ``$SESSIONLINT_CACHE_DIR``, else the root's."""
    if given is not None:
        return given
    env = os.environ.get(ENV_VAR)
    if env:
        return Path(env)
    return root / CACHE_DIR_NAME


def _digest(path: Path) -> str:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return "unreadable"


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


def key(
    config_repr: str,
    files: Sequence[Path],
    project_files: Iterable[Path],
    roots: Iterable[Path],
) -> str:
    """The key of a run: see the module docstring."""
    h = hashlib.sha256()
    h.update(f"sessionlint {__version__} {_own_code()} format {FORMAT}\0".encode())
    h.update(f"{config_repr}\0".encode())
    with contextlib.suppress(OSError):
        h.update(f"cwd {Path.cwd().resolve()}\0".encode())
    for path in files:
        h.update(f"run {path}\0".encode())
    for path in sorted({p.resolve() for p in project_files}):
        h.update(f"py {path} {_digest(path)}\0".encode())
    for root in sorted({r.resolve() for r in roots}):
        for name in sorted(
            [*METADATA, *(p.name for p in root.glob("requirements*.txt") if p.is_file())]
        ):
            candidate = root / name
            if candidate.is_file():
                h.update(f"meta {candidate} {_digest(candidate)}\0".encode())
    return h.hexdigest()


def _entry(directory: Path, run_key: str) -> Path:
    return directory / f"v{__version__}" / f"{run_key}.json"


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


def load(directory: Path, run_key: str) -> tuple[list[Diagnostic], list[str], int] | None:
    """(findings, notices, files checked) stored under ``run_key``, or None."""
    try:
        data = json.loads(_entry(directory, run_key).read_text(encoding="utf-8"))
        if data.get("format") != FORMAT or data.get("version") != __version__:
            return None
        findings = [_from_json(d) for d in data["diagnostics"]]
        return findings, [str(n) for n in data["notices"]], int(data["files_checked"])
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None  # missing, corrupt or foreign: recompute and rewrite


def store(
    directory: Path,
    run_key: str,
    diagnostics: Sequence[Diagnostic],
    notices: Sequence[str],
    files_checked: int,
) -> None:
    """Write the entry atomically; a cache that cannot be written is skipped silently."""
    entry = _entry(directory, run_key)
    data = {
        "format": FORMAT,
        "version": __version__,
        "files_checked": files_checked,
        "notices": list(notices),
        "diagnostics": [_to_json(d) for d in diagnostics],
    }
    with contextlib.suppress(OSError):
        _prepare(directory)
        entry.parent.mkdir(parents=True, exist_ok=True)
        fd, temporary = tempfile.mkstemp(prefix=".tmp-", dir=entry.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                json.dump(data, out)
            os.replace(temporary, entry)
        except OSError:
            with contextlib.suppress(OSError):
                os.unlink(temporary)


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
