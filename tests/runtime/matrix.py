"""Run the version-dependent runtime tests under several FastAPI / SQLAlchemy versions.

Not collected by pytest (the name does not start with ``test_``). For each version pair, a
throwaway virtual environment gets sessionlint (from this checkout), the pair and the test
dependencies; the runtime tests whose outcome the spec ties to a version run there and record
what they saw (``SESSIONLINT_RUNTIME_EVIDENCE``). A table of "harm seen" per version and case
is printed (markdown), ready for docs/runtime-evidence.md.

    python tests/runtime/matrix.py                       # the spec's boundary pairs
    python tests/runtime/matrix.py --pair 0.117:2.1 --pair 0.118:2.1
    python tests/runtime/matrix.py --fastapi 0.110 --fastapi 0.121 --sqlalchemy 2.0

A version is a prefix (``0.117`` installs the newest 0.117.x); ``newest`` lets pip choose.
Each test run asserts the spec's expectation for its installed versions, so a failing cell
means the behaviour differs from what the spec (and the linter) assume.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
RUNTIME = Path(__file__).resolve().parent

#: FastAPI versions where the spec's verdicts change (SL105/SL106/SL204), with SQLAlchemy newest.
FASTAPI_BOUNDARIES = ["0.105", "0.106", "0.109", "0.110", "0.117", "0.118", "0.121", "newest"]
#: SQLAlchemy versions where they change (SL203), with FastAPI newest.
SQLALCHEMY_BOUNDARIES = ["1.4", "2.0", "newest"]

#: The tests whose expected outcome depends on a version (pytest -k expression), and the
#: modules that hold them (test_async.py needs SQLAlchemy 2).
FASTAPI_TESTS = "sl105 or sl106 or sl204"
SQLALCHEMY_TESTS = "sl203 or sl402"
MODULES = ["test_lifecycle.py", "test_transactions.py", "test_engine.py"]


@dataclass
class Pair:
    fastapi: str
    sqlalchemy: str
    tests: str

    @property
    def name(self) -> str:
        return f"fastapi-{self.fastapi}_sqlalchemy-{self.sqlalchemy}"


@dataclass
class Outcome:
    pair: Pair
    installed: dict[str, str] = field(default_factory=dict)
    evidence: list[dict[str, object]] = field(default_factory=list)
    passed: bool = False
    summary: str = ""
    seconds: float = 0.0


def requirement(package: str, version: str) -> str:
    return package if version == "newest" else f"{package}=={version}.*"


def default_pairs() -> list[Pair]:
    both = f"{FASTAPI_TESTS} or {SQLALCHEMY_TESTS}"
    pairs = [
        Pair(v, "newest", both if v == "newest" else FASTAPI_TESTS) for v in FASTAPI_BOUNDARIES
    ]
    pairs += [Pair("newest", v, SQLALCHEMY_TESTS) for v in SQLALCHEMY_BOUNDARIES if v != "newest"]
    return pairs


def _old(version: str, below: tuple[int, int]) -> bool:
    if version == "newest":
        return False
    major, minor = (int(part) for part in version.split(".")[:2])
    return (major, minor) < below


def install_args(pair: Pair) -> list[str]:
    args = [
        str(ROOT),
        "pytest",
        requirement("fastapi", pair.fastapi),
        requirement("sqlalchemy[asyncio]", pair.sqlalchemy),
        "aiosqlite",
        # Starlette's TestClient before 0.37 passes `app=` to httpx.Client (removed in 0.28)
        "httpx<0.28" if _old(pair.fastapi, (0, 112)) else "httpx",
    ]
    if not _old(pair.sqlalchemy, (2, 0)):
        args.append("sqlmodel")  # needs SQLAlchemy 2
    return args


def run_pair(pair: Pair, workdir: Path, keep: bool) -> Outcome:
    started = time.monotonic()
    outcome = Outcome(pair)
    venv = workdir / pair.name
    log = workdir / f"{pair.name}.log"
    try:
        with log.open("w", encoding="utf-8") as out:
            if not (venv / "bin" / "python").exists():
                subprocess.run(
                    [sys.executable, "-m", "venv", str(venv)], check=True, stdout=out, stderr=out
                )
                subprocess.run(
                    [
                        str(venv / "bin" / "python"),
                        "-m",
                        "pip",
                        "install",
                        "-q",
                        *install_args(pair),
                    ],
                    check=True,
                    stdout=out,
                    stderr=out,
                )
            python = str(venv / "bin" / "python")
            versions = subprocess.run(
                [
                    python,
                    "-c",
                    "import fastapi, sqlalchemy; "
                    "print(fastapi.__version__, sqlalchemy.__version__)",
                ],
                check=True,
                capture_output=True,
                text=True,
            ).stdout.split()
            outcome.installed = {"fastapi": versions[0], "sqlalchemy": versions[1]}
            evidence = workdir / f"{pair.name}.jsonl"
            evidence.unlink(missing_ok=True)
            env = {**os.environ, "SESSIONLINT_RUNTIME_EVIDENCE": str(evidence)}
            result = subprocess.run(
                [
                    python,
                    "-m",
                    "pytest",
                    "-q",
                    "-p",
                    "no:cacheprovider",
                    "-k",
                    pair.tests,
                    *(str(RUNTIME / module) for module in MODULES),
                ],
                cwd=ROOT,
                env=env,
                capture_output=True,
                text=True,
            )
            out.write(result.stdout + result.stderr)
            outcome.passed = result.returncode == 0
            lines = [line for line in result.stdout.splitlines() if line.strip()]
            outcome.summary = lines[-1] if lines else f"exit {result.returncode}"
            if evidence.exists():
                outcome.evidence = [
                    json.loads(line) for line in evidence.read_text().splitlines() if line
                ]
    except subprocess.CalledProcessError as error:
        outcome.summary = (
            f"set-up failed ({error.cmd[2] if len(error.cmd) > 2 else error}): see {log}"
        )
    finally:
        if not keep:
            shutil.rmtree(venv, ignore_errors=True)
    outcome.seconds = time.monotonic() - started
    return outcome


def table(outcomes: Sequence[Outcome]) -> str:
    """Markdown: one row per version pair, one column per (rule, case)."""
    columns: list[tuple[str, str]] = []
    for outcome in outcomes:
        for entry in outcome.evidence:
            key = (str(entry["rule"]), str(entry["case"]))
            if key not in columns:
                columns.append(key)
    columns.sort()
    head = ["FastAPI", "SQLAlchemy", *(f"{rule} {case}" for rule, case in columns), "tests"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for outcome in outcomes:
        seen = {(str(e["rule"]), str(e["case"])): bool(e["harm"]) for e in outcome.evidence}
        cells = [
            outcome.installed.get("fastapi", outcome.pair.fastapi),
            outcome.installed.get("sqlalchemy", outcome.pair.sqlalchemy),
        ]
        for key in columns:
            cells.append("" if key not in seen else ("**harm**" if seen[key] else "ok"))
        cells.append(("pass" if outcome.passed else "FAIL") + f": {outcome.summary}")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def tests_for(fastapi: str, sqlalchemy: str) -> str:
    """SQLAlchemy 1.4 runs only the SQLAlchemy cases (the others need SQLAlchemy 2 pools and
    SQLModel)."""
    if _old(sqlalchemy, (2, 0)):
        return SQLALCHEMY_TESTS
    return f"{FASTAPI_TESTS} or {SQLALCHEMY_TESTS}"


def parse_pairs(args: argparse.Namespace) -> list[Pair]:
    pairs = []
    for text in args.pair or []:
        fastapi, _, sqlalchemy = text.partition(":")
        fastapi, sqlalchemy = fastapi or "newest", sqlalchemy or "newest"
        pairs.append(Pair(fastapi, sqlalchemy, tests_for(fastapi, sqlalchemy)))
    if args.fastapi or args.sqlalchemy:
        for fastapi in args.fastapi or ["newest"]:
            for sqlalchemy in args.sqlalchemy or ["newest"]:
                pairs.append(Pair(fastapi, sqlalchemy, tests_for(fastapi, sqlalchemy)))
    return pairs or default_pairs()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fastapi", action="append", help="FastAPI version (repeatable)")
    parser.add_argument("--sqlalchemy", action="append", help="SQLAlchemy version (repeatable)")
    parser.add_argument("--pair", action="append", help="FASTAPI:SQLALCHEMY (repeatable)")
    parser.add_argument("--jobs", type=int, default=2, help="environments built at once")
    parser.add_argument("--workdir", type=Path, help="where the environments go (kept)")
    parser.add_argument("--json", type=Path, help="also write the outcomes as JSON here")
    args = parser.parse_args(argv)
    pairs = parse_pairs(args)
    keep = args.workdir is not None
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="sessionlint-matrix-"))
    workdir.mkdir(parents=True, exist_ok=True)
    with ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        outcomes = list(pool.map(lambda p: run_pair(p, workdir, keep), pairs))
    for outcome in outcomes:
        print(f"{outcome.pair.name}: {outcome.summary} ({outcome.seconds:.0f} s)", file=sys.stderr)
    print(table(outcomes))
    if args.json:
        args.json.write_text(
            json.dumps(
                [
                    {
                        "pair": [o.pair.fastapi, o.pair.sqlalchemy],
                        "installed": o.installed,
                        "passed": o.passed,
                        "summary": o.summary,
                        "evidence": o.evidence,
                    }
                    for o in outcomes
                ],
                indent=2,
            )
        )
    if not keep:
        shutil.rmtree(workdir, ignore_errors=True)
    return 0 if all(o.passed for o in outcomes) else 1


if __name__ == "__main__":
    raise SystemExit(main())
