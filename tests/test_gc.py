"""Batch runs pause the cyclic garbage collector and restore its state afterwards."""

from __future__ import annotations

import gc
from pathlib import Path

import pytest

from sessionlint.api import batch_run, lint_paths
from sessionlint.fixes import fix_paths

SOURCE = "from sqlalchemy.orm import Session\n\ndef f(engine):\n    s = Session(engine)\n"


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'x'\n")
    (tmp_path / "m.py").write_text(SOURCE)
    return tmp_path


@pytest.mark.parametrize("enabled", [True, False])
def test_lint_and_fix_restore_the_gc_state(project: Path, enabled: bool) -> None:
    was = gc.isenabled()
    try:
        (gc.enable if enabled else gc.disable)()
        assert lint_paths([project], isolated=True).diagnostics  # the run did real work
        assert gc.isenabled() is enabled
        fix_paths([project], isolated=True, write=False)
        assert gc.isenabled() is enabled
    finally:
        (gc.enable if was else gc.disable)()


def test_the_gc_is_paused_during_the_run_and_back_after_an_error() -> None:
    seen: list[bool] = []

    @batch_run
    def boom() -> None:
        seen.append(gc.isenabled())
        raise RuntimeError("x")

    assert gc.isenabled()
    with pytest.raises(RuntimeError):
        boom()
    assert seen == [False]
    assert gc.isenabled()
