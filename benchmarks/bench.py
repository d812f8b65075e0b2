"""Time ``sessionlint check`` against a bare LibCST parse of the same files.

Corpus: the installed sources of sqlalchemy, fastapi, starlette, pydantic and sqlmodel (those
that are installed), plus the test fixtures and the example app, or (``--only``) the folders
given. Prints, against a bare single-process LibCST parse: a cold run with ``--jobs 1`` and
with the default jobs, a warm run (cache, nothing changed), a warm run after one file changed
(it edits five files of the corpus in turn, restoring each), 10 named files as pre-commit
passes them (cache warm, and without cache), flake8 with and without the shared cache, and
ruff for reference; plus the peak memory. Usage::

    python benchmarks/bench.py [--repeat N] [--only] [EXTRA_DIR ...]
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import libcst as cst

from sessionlint.api import lint_paths
from sessionlint.config import Config
from sessionlint.files import discover

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("sqlalchemy", "fastapi", "starlette", "pydantic", "sqlmodel")


def corpus_dirs(extra: list[str], *, defaults: bool = True) -> list[Path]:
    dirs: list[Path] = []
    for name in PACKAGES if defaults else ():
        spec = importlib.util.find_spec(name)
        if spec is not None and spec.submodule_search_locations:
            dirs.append(Path(next(iter(spec.submodule_search_locations))))
    if defaults:
        dirs += [ROOT / "tests" / "fixtures", ROOT / "examples"]
    dirs += [Path(e) for e in extra]
    return [d for d in dirs if d.is_dir()]


def bare_parse(files: list[Path]) -> float:
    start = time.perf_counter()
    for path in files:
        with contextlib.suppress(Exception):
            cst.parse_module(path.read_bytes())
    return time.perf_counter() - start


def lint(dirs: list[Path]) -> tuple[float, int]:
    start = time.perf_counter()
    result = lint_paths(dirs, config=Config())
    return time.perf_counter() - start, len(result.diagnostics)


def cli_run(dirs: list[Path], *extra: str, env: dict[str, str] | None = None) -> float:
    """Wall time of ``sessionlint check EXTRA... DIRS`` in a subprocess."""
    start = time.perf_counter()
    subprocess.run(
        [
            sys.executable,
            "-m",
            "sessionlint",
            "check",
            "--isolated",
            "--format",
            "json",
            *extra,
            *map(str, dirs),
        ],
        stdout=subprocess.DEVNULL,
        check=False,
        env={**os.environ, **(env or {})},
    )
    return time.perf_counter() - start


def peak_rss(dirs: list[Path], *extra: str) -> float:
    """Peak RSS (MiB) of the largest process of a ``sessionlint check`` run."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    cli_run(dirs, "--no-cache", *extra)
    return max(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, before) / 1024


def tool_run(
    *command: str, env: dict[str, str] | None = None, cwd: Path | None = None
) -> float | None:
    """Wall time of another tool (flake8, ruff) for reference; None when not installed."""
    if shutil.which(command[0]) is None and not command[0].startswith(sys.executable):
        return None
    start = time.perf_counter()
    subprocess.run(
        command,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        check=False,
        env={**os.environ, **(env or {})},
        cwd=cwd,
    )
    return time.perf_counter() - start


def _named(names: list[str], env: dict[str, str], *extra: str) -> float:
    """Wall time of ``sessionlint check`` on the named files, as pre-commit runs it."""
    start = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "sessionlint", "check", "--isolated", *extra, *names],
        stdout=subprocess.DEVNULL,
        check=False,
        env={**os.environ, **env},
    )
    return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument(
        "--only", action="store_true", help="time only the EXTRA_DIRs, not the default corpus"
    )
    parser.add_argument("extra", nargs="*")
    args = parser.parse_args()
    dirs = corpus_dirs(args.extra, defaults=not args.only)
    files = discover(dirs, Config())
    loc = sum(p.read_bytes().count(b"\n") for p in files)
    print(f"corpus: {len(files)} files, {loc:,} lines, from:")
    for d in dirs:
        print(f"  {os.path.relpath(d)}")
    print(f"machine: {os.cpu_count()} CPUs, Python {sys.version.split()[0]}")
    parse_t = min(bare_parse(files) for _ in range(args.repeat))
    peak = peak_rss(dirs)  # first: RUSAGE_CHILDREN keeps the largest child of the whole run
    _, findings = lint(dirs)
    rows: list[tuple[str, float | None]] = []

    def best(*extra: str, env: dict[str, str] | None = None) -> float:
        return min(cli_run(dirs, *extra, env=env) for _ in range(args.repeat))

    rows.append(("cold, --jobs 1", best("--no-cache", "--jobs", "1")))
    rows.append(("cold, default jobs", best("--no-cache")))
    ten = [str(f) for f in files[:: max(1, len(files) // 10)][:10]]
    with tempfile.TemporaryDirectory() as cache:
        env = {"SESSIONLINT_CACHE_DIR": cache}
        cli_run(dirs, env=env)  # fill the cache
        rows.append(("warm, nothing changed", best(env=env)))
        rows.append(("10 named files (pre-commit), warm", _named(ten, env)))
        # One module edited, for five modules spread over the corpus: the run checks again
        # the files that could see it (all of them when the project-wide facts came from it).
        edited = []
        for victim in files[len(files) // 10 :: max(1, len(files) // 5)][:5]:
            original = victim.read_bytes()
            try:
                victim.write_bytes(original + b"\n# benchmark edit\n")
                edited.append(cli_run(dirs, env=env))
            finally:
                victim.write_bytes(original)
                cli_run(dirs, env=env)  # back to the original state
        if edited:
            edited.sort()
            rows.append(("warm, one file changed (median of 5)", edited[len(edited) // 2]))
            rows.append(("  fastest / slowest of the 5", None))
            spread = f"{edited[0]:.2f} / {edited[-1]:.2f}"
        # flake8 runs from the corpus folder, as a user would: a file with no project marker
        # above it belongs to the current directory.
        flake8 = [sys.executable, "-m", "flake8", "--select", "SL", *map(str, dirs)]
        here = dirs[0] if len(dirs) == 1 else None
        tool_run(*flake8, env=env, cwd=here)  # its configuration may differ from --isolated's
        rows.append(("flake8 --select SL, warm cache", tool_run(*flake8, env=env, cwd=here)))
    rows.append(("10 named files (pre-commit), cold", _named(ten, {}, "--no-cache")))
    rows.append(
        ("flake8 --select SL, no cache", tool_run(*flake8, "--sessionlint-no-cache", cwd=here))
    )
    rows.append(
        (
            "ruff check --select ALL",
            tool_run(
                "ruff", "check", "--select", "ALL", "--no-cache", "--isolated", *map(str, dirs)
            ),
        )
    )
    print(f"findings: {findings}; bare single-process LibCST parse: {parse_t:.2f} s")
    print(f"peak RSS (default jobs, largest process): {peak:.0f} MiB")
    print(f"{'run':<36} {'seconds':>8} {'x parse':>8}")
    for name, seconds in rows:
        if name.startswith("  fastest"):
            print(f"{name:<36} {spread:>17}")
        elif seconds is None:
            print(f"{name:<36} {'-':>8} {'-':>8}")
        else:
            print(f"{name:<36} {seconds:8.2f} {seconds / parse_t:8.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
