"""Time ``sessionlint check`` against a bare LibCST parse of the same files.

Corpus: the installed sources of sqlalchemy, fastapi, starlette, pydantic and sqlmodel (those
that are installed), plus the test fixtures and the example app. Prints the file count, the
lines of code, the times, the ratio and the peak memory of a CLI run. Usage::

    python benchmarks/bench.py [--repeat N] [--only] [EXTRA_DIR ...]
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import os
import resource
import subprocess
import sys
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


def cli_run(dirs: list[Path]) -> tuple[float, float]:
    """Wall time and peak RSS (MiB) of ``sessionlint check`` in a subprocess."""
    start = time.perf_counter()
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    subprocess.run(
        [
            sys.executable,
            "-m",
            "sessionlint",
            "check",
            "--isolated",
            "--format",
            "json",
            *map(str, dirs),
        ],
        stdout=subprocess.DEVNULL,
        check=False,
    )
    elapsed = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return elapsed, max(peak, before) / 1024


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
    parse_times, lint_times = [], []
    findings = 0
    for _ in range(args.repeat):
        parse_times.append(bare_parse(files))
        elapsed, findings = lint(dirs)
        lint_times.append(elapsed)
    parse_t, lint_t = min(parse_times), min(lint_times)
    cli_t, peak = cli_run(dirs)
    print(f"bare LibCST parse:        {parse_t:7.2f} s")
    print(f"sessionlint (in-process): {lint_t:7.2f} s  ({findings} findings)")
    print(f"sessionlint check (CLI):  {cli_t:7.2f} s  peak RSS {peak:.0f} MiB")
    print(f"ratio lint / parse:       {lint_t / parse_t:7.2f}x")
    print(f"throughput:               {loc / lint_t:,.0f} lines/s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
