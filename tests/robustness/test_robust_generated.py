"""Generated programs (hypothesmith): no crash, no traceback, exit status 0 or 1.

Bounded and reproducible: derandomized (the examples are derived from the test's name, not
from a random seed), no example database, a small number of examples per strategy.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import hypothesmith
import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sessionlint.api import lint_source
from sessionlint.cli import main
from sessionlint.fixes import fix_source

pytestmark = pytest.mark.filterwarnings("ignore::SyntaxWarning")

BOUNDED = settings(
    max_examples=40,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=list(HealthCheck),
)

#: Prepended so that the session rules have something to look at.
HEADER = (
    "from fastapi import Depends, FastAPI\n"
    "from sqlalchemy.orm import Session, sessionmaker\n"
    "SessionLocal = sessionmaker()\n"
    "app = FastAPI()\n"
)

_programs = st.one_of(hypothesmith.from_grammar(), hypothesmith.from_node())


def _check(tmp: Path, code: str) -> None:
    path = tmp / "generated.py"
    path.write_text(code, encoding="utf-8", errors="surrogatepass")
    result = CliRunner().invoke(main, ["check", "--isolated", "--no-source", str(path)])
    assert result.exit_code in (0, 1), result.output
    assert "Traceback" not in result.output
    assert "internal error" not in result.output


@BOUNDED
@given(code=_programs)
def test_generated_programs_never_crash(code: str) -> None:
    lint_source(code, "app/generated.py")
    lint_source(HEADER + code, "app/generated.py")


@BOUNDED
@given(code=_programs)
def test_generated_programs_through_the_cli(
    tmp_path_factory: pytest.TempPathFactory, code: str
) -> None:
    _check(tmp_path_factory.mktemp("gen"), HEADER + code)


@BOUNDED
@given(code=_programs)
def test_fixing_generated_programs_keeps_them_valid(code: str) -> None:
    source = HEADER + code
    outcome = fix_source(source, "app/generated.py", unsafe=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SyntaxWarning)
        try:
            compile(source, "generated.py", "exec")
        except (SyntaxError, ValueError, RecursionError, MemoryError):
            return  # what the original does not compile, the fix loop does not promise either
        compile(outcome.output_text, "fixed.py", "exec")
