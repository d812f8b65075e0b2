"""SL001 is reported at the line of the error, as Python reports it, never past the end."""

from __future__ import annotations

import pytest

from sessionlint.api import lint_source

CASES = [
    ("if True\n    pass\n", 3),
    ("def f(:\n    pass\n", 3),
    ("class A\n    pass\n", 3),
    ("x = (1,\ny = 2\n", 3),
    ("x = 1 +\n", 3),
    ("x = [1, 2\n\n", 3),
    ("s = 'abc\n", 3),
    ("x = = 1\n", 3),
    ('print "hello"\n', 3),
    ("{% if user %}\n", 3),
]


@pytest.mark.parametrize(("faulty", "line"), CASES, ids=[c[0].split("\n")[0] for c in CASES])
def test_parse_error_line(faulty: str, line: int) -> None:
    source = "import os\n\n" + faulty
    (found,) = lint_source(source, "app/broken.py")
    assert found.code == "SL001"
    assert found.line == line
    assert found.line <= len(source.splitlines())
    assert found.message.startswith("syntax error: ")


def test_only_parse_errors_are_reported_for_a_broken_file() -> None:
    source = "from sqlalchemy.orm import Session\nshared = Session()\ndef broken(:\n"
    assert [d.code for d in lint_source(source)] == ["SL001"]


@pytest.mark.parametrize(
    "template",
    [
        "from {{cookiecutter.project_name}}.settings import settings\n",
        "{%- if cookiecutter.orm == 'sqlalchemy' %}\nimport sqlalchemy\n{%- endif %}\n",
        "def f():\n    {% for x in xs %}\n    pass\n",
    ],
)
def test_a_template_named_py_is_reported_with_how_to_exclude_it(template: str) -> None:
    (found,) = lint_source(template, "template/app/db.py")
    assert found.code == "SL001"
    assert "looks like a Jinja template" in found.message
    assert "extend-exclude" in found.message


def test_a_plain_syntax_error_gets_no_template_hint() -> None:
    (found,) = lint_source("x = {'a': 1} {{\n", "app/broken.py")
    assert found.code == "SL001"
    assert "template" not in found.message


def test_a_decoding_error_names_the_byte_its_place_and_the_encoding_assumed() -> None:
    (found,) = lint_source(b'x = 1\ns = "caf\xe9"\n', "app/legacy.py")
    assert (found.code, found.line) == ("SL001", 1)
    assert found.message == (
        "cannot decode byte 0xe9 at line 2, column 9 as utf-8 "
        "(assumed: the file has no coding cookie)"
    )
    (cookie,) = lint_source(b'# -*- coding: ascii -*-\ns = "\xe9"\n', "app/legacy.py")
    assert cookie.message == (
        "cannot decode byte 0xe9 at line 2, column 6 as ascii (named by its coding cookie)"
    )
