"""The shared control-flow helper, through small gen/kill problems."""

from __future__ import annotations

import libcst as cst

from sessionlint.model import flow
from sessionlint.model.index import ModuleIndex


def _exit_facts(source: str) -> set[str]:
    """Facts: 'w' after a call ``w()``, killed by ``k()``; returns what reaches an exit."""
    module = cst.parse_module(source)
    index = ModuleIndex(module)
    function = index.nodes(cst.FunctionDef)[0]
    events: dict[cst.CSTNode, list[str]] = {}
    for call in index.own_nodes(function, cst.Call):
        assert isinstance(call.func, cst.Name)
        unit = flow.unit_of(index, call)
        assert unit is not None
        events.setdefault(unit, []).append(call.func.value)

    def transfer(unit: cst.CSTNode, facts: frozenset[str]) -> frozenset[str]:
        for name in events.get(unit, ()):
            facts = facts | {"w"} if name == "w" else frozenset()
        return facts

    return set(flow.analyze(function, transfer).exit_facts())


def test_straight_line_kill() -> None:
    assert _exit_facts("def f():\n    w()\n    k()\n") == set()
    assert _exit_facts("def f():\n    k()\n    w()\n") == {"w"}


def test_branch_that_skips_the_kill_leaks() -> None:
    src = "def f(c):\n    w()\n    if c:\n        k()\n"
    assert _exit_facts(src) == {"w"}
    src = "def f(c):\n    w()\n    if c:\n        k()\n    else:\n        k()\n"
    assert _exit_facts(src) == set()


def test_raise_paths_do_not_count() -> None:
    src = "def f(c):\n    w()\n    if c:\n        raise ValueError\n    k()\n"
    assert _exit_facts(src) == set()


def test_early_return_counts() -> None:
    src = "def f(c):\n    w()\n    if c:\n        return 1\n    k()\n"
    assert _exit_facts(src) == {"w"}


def test_return_inside_try_runs_finally_first() -> None:
    src = "def f():\n    try:\n        w()\n        return 1\n    finally:\n        k()\n"
    assert _exit_facts(src) == set()


def test_break_runs_the_finally_inside_the_loop() -> None:
    src = (
        "def f(xs):\n    for x in xs:\n        try:\n            w()\n            break\n"
        "        finally:\n            k()\n"
    )
    assert _exit_facts(src) == set()


def test_loop_body_may_not_run() -> None:
    assert _exit_facts("def f(xs):\n    w()\n    for x in xs:\n        k()\n") == {"w"}
    assert _exit_facts("def f(xs):\n    for x in xs:\n        w()\n    k()\n") == set()


def test_infinite_loop_ends_only_by_break() -> None:
    src = "def f():\n    w()\n    while True:\n        k()\n        break\n"
    assert _exit_facts(src) == set()


def test_handlers_start_from_no_facts() -> None:
    src = "def f():\n    w()\n    try:\n        k()\n    except Exception:\n        pass\n"
    assert _exit_facts(src) == set()


def test_match_with_irrefutable_case_has_no_fallthrough() -> None:
    src = (
        "def f(v):\n    w()\n    match v:\n        case 1:\n            k()\n"
        "        case _:\n            k()\n"
    )
    assert _exit_facts(src) == set()
    src = "def f(v):\n    w()\n    match v:\n        case 1:\n            k()\n"
    assert _exit_facts(src) == {"w"}
