"""`sessionlint server` end to end: a real LSP client (pytest-lsp) drives the server process."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
import pytest_lsp
from lsprotocol import types
from pytest_lsp import ClientServerConfig, LanguageClient, client_capabilities

from sessionlint.api import lint_paths
from sessionlint.fixes import fix_paths

DEPS_OK = """\
from sqlalchemy import create_engine
from sqlalchemy.orm import sessionmaker

SessionLocal = sessionmaker(bind=create_engine("sqlite:///app.db"))


def get_db():
    with SessionLocal() as db:
        yield db
"""

DEPS_LEAKY = """\
from sqlalchemy import create_engine
from sqlalchemy.orm import sessionmaker

SessionLocal = sessionmaker(bind=create_engine("sqlite:///app.db"))


def get_db():
    db = SessionLocal()
    yield db
"""

ROUTES = """\
from fastapi import Depends, FastAPI
from sqlalchemy import text

from app.deps import get_db

app = FastAPI()


@app.get("/items")
async def items(db=Depends(get_db)):  # a session only through what get_db yields
    return db.execute(text("SELECT 1"))
"""

pytestmark = pytest.mark.asyncio

DEPS_NOT_A_SESSION = """\
def get_db():
    yield {"not": "a session"}
"""


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "svc"\n')
    (tmp_path / "app").mkdir()
    (tmp_path / "app" / "__init__.py").write_text("")
    (tmp_path / "app" / "deps.py").write_text(DEPS_LEAKY)
    (tmp_path / "app" / "main.py").write_text(ROUTES)
    return tmp_path


@pytest_lsp.fixture(
    config=ClientServerConfig(server_command=[sys.executable, "-m", "sessionlint", "server"])
)
async def client(lsp_client: LanguageClient, project: Path) -> AsyncIterator[None]:
    await lsp_client.initialize_session(
        types.InitializeParams(
            capabilities=client_capabilities("visual-studio-code"),
            root_uri=project.as_uri(),
        )
    )
    yield
    await lsp_client.shutdown_session()


async def _open(client: LanguageClient, path: Path, text: str | None = None) -> str:
    uri = path.as_uri()
    client.diagnostics.pop(uri, None)
    client.text_document_did_open(
        types.DidOpenTextDocumentParams(
            text_document=types.TextDocumentItem(
                uri=uri,
                language_id="python",
                version=1,
                text=path.read_text() if text is None else text,
            )
        )
    )
    await _until(client, lambda: uri in client.diagnostics)
    return uri


async def _change(client: LanguageClient, uri: str, text: str, version: int) -> None:
    client.text_document_did_change(
        types.DidChangeTextDocumentParams(
            text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=version),
            content_changes=[types.TextDocumentContentChangeWholeDocument(text=text)],
        )
    )


async def _until(client: LanguageClient, done: Callable[[], bool], timeout: float = 20) -> None:
    """Wait for published diagnostics until ``done()`` holds (the server publishes the changed
    document first, then every other open one)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not done():
        remaining = deadline - loop.time()
        if remaining <= 0:
            raise TimeoutError("the expected diagnostics were not published")
        await asyncio.wait_for(
            client.wait_for_notification(types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS), remaining
        )


def _codes(client: LanguageClient, uri: str) -> list[tuple[str, int]]:
    return sorted((str(d.code), d.range.start.line + 1) for d in client.diagnostics.get(uri, []))


def _apply(text: str, edit: types.WorkspaceEdit) -> str:
    assert edit.document_changes is not None
    (change,) = edit.document_changes
    assert isinstance(change, types.TextDocumentEdit)
    (text_edit,) = change.edits
    assert isinstance(text_edit, types.TextEdit)
    assert text_edit.range.start == types.Position(line=0, character=0)
    return text_edit.new_text


async def test_diagnostics_match_the_command_line(client: LanguageClient, project: Path) -> None:
    deps = await _open(client, project / "app" / "deps.py")
    main = await _open(client, project / "app" / "main.py")
    by_file: dict[str, list[tuple[str, int]]] = {}
    for d in lint_paths([project]).diagnostics:
        by_file.setdefault(Path(d.path).resolve().as_uri(), []).append((d.code, d.line))
    assert _codes(client, deps) == sorted(by_file[deps]) == [("SL102", 9)]
    assert _codes(client, main) == sorted(by_file[main])
    assert ("SL301", 11) in _codes(client, main)
    diagnostic = client.diagnostics[deps][0]
    assert diagnostic.source == "sessionlint"
    assert diagnostic.severity == types.DiagnosticSeverity.Error
    assert diagnostic.code_description is not None
    assert diagnostic.code_description.href.endswith("SL102.md")


async def test_a_change_updates_the_document_and_the_files_that_use_it(
    client: LanguageClient, project: Path
) -> None:
    deps = await _open(client, project / "app" / "deps.py")
    main = await _open(client, project / "app" / "main.py")
    assert ("SL301", 11) in _codes(client, main)
    # an unsaved edit of deps.py: get_db no longer yields a session
    await _change(client, deps, DEPS_NOT_A_SESSION, 2)
    await _until(client, lambda: ("SL301", 11) not in _codes(client, main))
    assert _codes(client, deps) == []
    # and back: a fixed, session-yielding get_db
    await _change(client, deps, DEPS_OK, 3)
    await _until(client, lambda: ("SL301", 11) in _codes(client, main))
    assert _codes(client, deps) == []


async def test_the_fix_action_gives_what_the_command_line_fix_gives(
    client: LanguageClient, project: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    path = project / "app" / "deps.py"
    deps = await _open(client, path)
    (diagnostic,) = client.diagnostics[deps]
    actions = await client.text_document_code_action_async(
        types.CodeActionParams(
            text_document=types.TextDocumentIdentifier(uri=deps),
            range=diagnostic.range,
            context=types.CodeActionContext(diagnostics=[diagnostic]),
        )
    )
    assert actions is not None
    by_title = {a.title: a for a in actions if isinstance(a, types.CodeAction)}
    fix = next(a for t, a in by_title.items() if t.startswith("Fix SL102: "))
    assert fix.is_preferred and fix.edit is not None
    fixed = _apply(DEPS_LEAKY, fix.edit)
    compile(fixed, "deps.py", "exec")
    # the command line's --fix on a copy of the file
    copy = tmp_path_factory.mktemp("cli") / "deps.py"
    copy.write_text(DEPS_LEAKY)
    fix_paths([copy])
    assert fixed == copy.read_text()

    noqa = by_title["Disable SL102 for this line"]
    assert noqa.edit is not None
    assert "    yield db  # noqa: SL102\n" in _apply(DEPS_LEAKY, noqa.edit)


async def test_hover_shows_the_rule_and_its_docs(client: LanguageClient, project: Path) -> None:
    deps = await _open(client, project / "app" / "deps.py")
    (diagnostic,) = client.diagnostics[deps]
    hover = await client.text_document_hover_async(
        types.HoverParams(
            text_document=types.TextDocumentIdentifier(uri=deps), position=diagnostic.range.start
        )
    )
    assert hover is not None and isinstance(hover.contents, types.MarkupContent)
    assert "SL102 dependency-without-cleanup" in hover.contents.value
    assert "SL102.md" in hover.contents.value
    nothing = await client.text_document_hover_async(
        types.HoverParams(
            text_document=types.TextDocumentIdentifier(uri=deps),
            position=types.Position(line=0, character=0),
        )
    )
    assert nothing is None


async def test_a_file_that_does_not_parse_is_sl001_and_the_server_goes_on(
    client: LanguageClient, project: Path
) -> None:
    broken = project / "app" / "broken.py"
    broken.write_text("def f(:\n    pass\n")
    uri = await _open(client, broken)
    assert [str(d.code) for d in client.diagnostics[uri]] == ["SL001"]
    deps = await _open(client, project / "app" / "deps.py")
    assert _codes(client, deps) == [("SL102", 9)]


async def test_positions_are_in_the_clients_utf16_units(
    client: LanguageClient, project: Path
) -> None:
    source = 'from sqlalchemy.orm import Session\n\nlabel = "\U0001f600"; shared = Session()\n'
    path = project / "app" / "emoji.py"
    path.write_text(source, encoding="utf-8")
    uri = await _open(client, path)
    (diagnostic,) = client.diagnostics[uri]
    assert diagnostic.code == "SL101"
    code_points = source.splitlines()[2].index("Session()")
    assert diagnostic.range.start.character == code_points + 1  # the emoji is 2 UTF-16 units
