"""The value-origin layer (``Model.origins``, model/taint.py) and the SL501 behaviour that
depends on it across modules: sources named with their location, calls followed several
modules deep, recursion, the identifier suggestion."""

from __future__ import annotations

import textwrap
from pathlib import Path

import libcst as cst

from sessionlint.api import lint_paths, lint_source
from sessionlint.diagnostics import Diagnostic
from sessionlint.model.project import Project, SourceFile, parse_source
from sessionlint.model.semantic import Model
from sessionlint.model.taint import MAX_CALL_DEPTH, Origin


def _write(root: Path, files: dict[str, str]) -> None:
    (root / "pyproject.toml").write_text('[project]\nname = "shop"\n', encoding="utf-8")
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text), encoding="utf-8")


def _sl501(root: Path) -> list[Diagnostic]:
    return [d for d in lint_paths([root], select=["SL501"]).diagnostics]


ORIGINS = """
import os
from enum import Enum

from fastapi import FastAPI

app = FastAPI()
TABLE = "users"


class Color(Enum):
    RED = "red"


@app.get("/items")
def items(q: str, page: int, tag):
    a = TABLE
    b = Color.RED.value
    c = q.strip()
    d = page
    e = os.environ["HOME"]
    f = tag
    g = {"x": "y"}.get(q, "z")
    h = helper_value()
    return a, b, c, d, e, f, g, h
"""


def _values(source: str) -> tuple[Model, SourceFile, dict[str, cst.BaseExpression]]:
    parsed = parse_source(textwrap.dedent(source), path=None, display_path="app/items.py")
    assert isinstance(parsed, SourceFile)
    project = Project(None)
    project.add(parsed)
    model = Model(project)
    values: dict[str, cst.BaseExpression] = {}
    for assign in parsed.index.nodes(cst.Assign):
        target = assign.targets[0].target
        if isinstance(target, cst.Name) and len(target.value) == 1:
            values[target.value] = assign.value
    return model, parsed, values


def test_origin_is_constant_outside_or_unknown() -> None:
    model, file, values = _values(ORIGINS)
    found = {name: model.origins.origin(file, expr) for name, expr in values.items()}
    assert found == {
        "a": Origin.CONSTANT,  # a module constant
        "b": Origin.CONSTANT,  # an enum member's value
        "c": Origin.OUTSIDE,  # a query parameter, through a str method
        "d": Origin.CONSTANT,  # an int parameter: validated
        "e": Origin.OUTSIDE,  # os.environ
        "f": Origin.OUTSIDE,  # an unannotated route parameter is a query parameter
        "g": Origin.CONSTANT,  # a value of a constant mapping
        "h": Origin.UNKNOWN,  # what an unknown function returns
    }
    source = model.origins.outside(file, values["c"])
    assert source is not None
    assert str(source) == "query parameter `q` of route `GET /items`"


def test_three_calls_deep_across_modules(tmp_path: Path) -> None:
    _write(
        tmp_path,
        {
            "shop/__init__.py": "",
            "shop/api.py": """
                from fastapi import APIRouter

                from shop.service import lookup

                router = APIRouter(prefix="/v1")


                @router.get("/orders/{code}")
                def order(code: str):
                    return lookup(code)
            """,
            "shop/service.py": """
                from shop.store import Store


                def lookup(code):
                    return normalise_and_find(code.upper())


                def normalise_and_find(code):
                    return Store().find(code)
            """,
            "shop/store.py": """
                from sqlalchemy import create_engine, text

                engine = create_engine("sqlite://")


                class Store:
                    def find(self, code):
                        with engine.connect() as conn:
                            sql = "SELECT * FROM orders WHERE code = '%s'" % code
                            return conn.execute(text(sql))
            """,
        },
    )
    found = _sl501(tmp_path)
    assert [(Path(d.path).name, d.line) for d in found] == [("store.py", 11)]
    assert found[0].message.startswith(
        "SQL injection: path parameter `code` of route `GET /v1/orders/{code}` "
        "(via `lookup()` → `normalise_and_find()` → `find()`)"
    )


def test_call_chains_longer_than_the_limit_and_recursion_stay_silent(tmp_path: Path) -> None:
    hops = MAX_CALL_DEPTH + 1
    helpers = "\n\n".join(f"def h{i}(v):\n    return h{i + 1}(v)" for i in range(hops))
    _write(
        tmp_path,
        {
            "app/main.py": f"""
from fastapi import FastAPI
from sqlalchemy import create_engine, text

engine = create_engine("sqlite://")
app = FastAPI()


@app.get("/far")
def far(q: str):
    return h0(q)


{helpers}


def h{hops}(v):
    with engine.connect() as conn:
        return conn.execute(text(f"SELECT '{{v}}'"))


def ping(v, n: int):
    # Recursive: terminates, and the route's value still reaches it.
    if n:
        return pong(v, n - 1)
    with engine.connect() as conn:
        return conn.execute(text(f"SELECT '{{v}}'"))


def pong(v, n: int):
    return ping(v, n)


@app.get("/echo")
def echo(q: str):
    return ping(q, 3)
""",
        },
    )
    found = _sl501(tmp_path)
    lines = (tmp_path / "app/main.py").read_text(encoding="utf-8").splitlines()
    sinks = [n for n, line in enumerate(lines, 1) if "conn.execute" in line]
    # ``far`` is MAX_CALL_DEPTH + 1 calls away from h{hops}: not followed that far; the
    # recursive pair is analysed (and terminates).
    assert [d.line for d in found] == [sinks[1]]


SORTING = """
from fastapi import Depends, FastAPI
from sqlalchemy import text
from sqlalchemy.orm import Session

app = FastAPI()


def get_db(): ...


@app.get("/users")
def users(sort: str, name: str, db: Session = Depends(get_db)):
    ordered = db.execute(text(f"SELECT * FROM users ORDER BY {sort}"))
    named = db.execute(text(f"SELECT * FROM users WHERE name = '{name}'"))
    return ordered, named
"""


def test_identifier_positions_suggest_an_allow_list() -> None:
    found = {d.line: d for d in lint_source(textwrap.dedent(SORTING), "app/users.py")}
    ordered, named = found[14], found[15]
    assert ordered.message.endswith("where a table or column name goes")
    assert ordered.fix is not None and "allow-list" in ordered.fix.message
    assert "where a table or column name goes" not in named.message
    assert named.fix is not None and "bound parameters" in named.fix.message
