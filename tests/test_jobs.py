"""`--jobs`: checking in forked worker processes gives exactly what one process gives."""

from __future__ import annotations

import json
import multiprocessing
from pathlib import Path

import pytest
from click.testing import CliRunner

from sessionlint import api
from sessionlint.api import lint_paths
from sessionlint.cli import main

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures"
TREES = [
    FIXTURES,
    ROOT / "examples",
    *sorted(p for p in (FIXTURES / "projects").iterdir() if p.is_dir()),
]

pytestmark = pytest.mark.skipif(
    "fork" not in multiprocessing.get_all_start_methods(), reason="workers are forked"
)


def _json(result: api.LintResult) -> str:
    return json.dumps([d.to_dict() for d in result.diagnostics], indent=2)


@pytest.mark.parametrize("tree", TREES, ids=lambda p: p.name)
def test_workers_find_exactly_what_one_process_finds(
    tree: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(api, "MIN_FILES_PER_JOB", 1)  # fork even for small trees
    calls: list[int] = []
    original = api._lint_parallel

    def spy(run: api._Run, workers: int, progress: object) -> api.LintResult:
        calls.append(workers)
        return original(run, workers, progress)  # type: ignore[arg-type]

    monkeypatch.setattr(api, "_lint_parallel", spy)
    one = lint_paths([tree], jobs=1)
    several = lint_paths([tree], jobs=2)
    assert calls == ([2] if one.files_checked >= 2 else [])
    assert _json(several) == _json(one)
    assert several.files_checked == one.files_checked
    assert several.versions == one.versions
    assert several.uses_fastapi == one.uses_fastapi
    assert several.code_kinds == one.code_kinds
    # fixability survives the trip from the worker
    assert [d.fix.is_applicable if d.fix else None for d in several.diagnostics] == [
        d.fix.is_applicable if d.fix else None for d in one.diagnostics
    ]


def test_the_cli_output_does_not_depend_on_jobs(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(api, "MIN_FILES_PER_JOB", 1)
    runner = CliRunner()
    outputs = {
        jobs: runner.invoke(
            main, ["check", "--isolated", "--format", "json", "--jobs", jobs, str(FIXTURES)]
        ).stdout
        for jobs in ("1", "2", "3")
    }
    assert outputs["1"] == outputs["2"] == outputs["3"]
    assert json.loads(outputs["1"])
