"""``sessionlint server``: a Language Server (LSP over stdio) built on pygls.

A thin layer over :class:`sessionlint.api.EditorSession`: the findings of an open file are the
ones ``sessionlint check`` reports for it, with the unsaved buffers of the other open files
taking the place of their saved text (an edit in ``deps.py`` changes the findings of the routers
that use its ``get_db``, and every open document is re-published). It offers:

- diagnostics on open, change and save (``code`` and ``codeDescription`` link the rule page);
- code actions: each finding's fix (safe ones preferred; unsafe ones say so), computed on the
  buffer and applied only when the result parses, and "Disable SLxxx for this line" (a
  ``# noqa: SLxxx`` merged into the line's noqa list);
- hover on a finding: the rule's summary and its docs link.

An internal error is logged to the client (``window/logMessage``) and the server goes on.
"""

from __future__ import annotations

import traceback
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TypeVar

from lsprotocol import types
from pygls.lsp.server import LanguageServer
from pygls.uris import to_fs_path

from sessionlint import __version__
from sessionlint.adopt import add_noqa
from sessionlint.api import EditorSession, cyclic_gc_paused
from sessionlint.config import ConfigError
from sessionlint.diagnostics import Applicability, Diagnostic, Severity
from sessionlint.registry import RULES_BY_CODE

__all__ = ["SessionlintServer", "create_server", "main"]

SOURCE = "sessionlint"

T = TypeVar("T")


class SessionlintServer(LanguageServer):
    """The language server, with the session that keeps the projects in memory."""

    def __init__(self) -> None:
        super().__init__("sessionlint", __version__)
        self.session = EditorSession()
        #: The findings last published, per document URI, each with its range in the
        #: client's position units (code actions and hover read them).
        self.findings: dict[str, list[tuple[Diagnostic, types.Range]]] = {}

    def guarded(self, what: str, action: Callable[[], T], default: T) -> T:
        """Run ``action``; an exception is logged to the client and ``default`` returned."""
        try:
            return action()
        except ConfigError as exc:
            self.log(types.MessageType.Error, f"sessionlint: {exc}")
        except Exception as exc:  # the server must survive its own bugs
            self.log(
                types.MessageType.Error,
                f"sessionlint: internal error while {what}: {type(exc).__name__}: {exc}\n"
                + traceback.format_exc(),
            )
        return default

    def log(self, kind: types.MessageType, message: str) -> None:
        self.window_log_message(types.LogMessageParams(type=kind, message=message))

    # -- diagnostics ------------------------------------------------------------------------
    def publish(self, uri: str) -> None:
        path = _path(uri)
        if path is None:
            return
        result = self.guarded(f"checking {path}", lambda: self.session.lint(path), None)
        findings = list(result.diagnostics) if result is not None else []
        if result is not None:
            for error in result.internal_errors:
                self.log(types.MessageType.Error, f"sessionlint: {error.describe()}")
        document = self.workspace.get_text_document(uri)
        codec = self.workspace.position_codec  # UTF-16 unless the client chose otherwise
        placed = [(d, codec.range_to_client_units(document.lines, _range(d))) for d in findings]
        self.findings[uri] = placed
        self.text_document_publish_diagnostics(
            types.PublishDiagnosticsParams(
                uri=uri, diagnostics=[_lsp(d, r) for d, r in placed], version=document.version
            )
        )

    def refresh(self, changed_uri: str) -> None:
        """A document changed: re-check it, then every other open document (they may use a
        fact of the changed one)."""
        self.publish(changed_uri)
        for uri in list(self.workspace.text_documents):
            if uri != changed_uri:
                self.publish(uri)

    def buffer_changed(self, uri: str) -> None:
        path = _path(uri)
        if path is None:
            return
        if not self.session.folders:
            self.session.folders = _workspace_folders(self)
        text = self.workspace.get_text_document(uri).source
        # A full collection of the kept trees takes seconds: none while an edit is handled
        # (as in a batch run); the collector runs between edits, when little is allocated.
        with cyclic_gc_paused():
            self.guarded(f"reading {path}", lambda: self.session.update(path, text), None)
            self.refresh(uri)


def _workspace_folders(server: LanguageServer) -> list[Path]:
    """The workspace folders (else the root) the client named, as paths."""
    uris = [folder.uri for folder in server.workspace.folders.values()]
    if not uris and server.workspace.root_uri:
        uris = [server.workspace.root_uri]
    paths = [to_fs_path(uri) for uri in uris]
    return [Path(p).resolve() for p in paths if p is not None]


def _path(uri: str) -> str | None:
    path = to_fs_path(uri)
    return path if path is not None and path.endswith((".py", ".pyi")) else None


def _range(d: Diagnostic) -> types.Range:
    start = types.Position(line=max(d.line - 1, 0), character=max(d.column - 1, 0))
    end_line = max(d.end_line - 1, start.line)
    end_character = max(d.end_column - 1, 0)
    if end_line == start.line and end_character < start.character:
        end_character = start.character
    return types.Range(start=start, end=types.Position(line=end_line, character=end_character))


def _lsp(d: Diagnostic, where: types.Range) -> types.Diagnostic:
    return types.Diagnostic(
        range=where,
        message=d.message,
        severity=(
            types.DiagnosticSeverity.Error
            if d.severity is Severity.ERROR
            else types.DiagnosticSeverity.Warning
        ),
        code=d.code,
        code_description=types.CodeDescription(href=d.url) if d.url else None,
        source=SOURCE,
        data={"line": d.line, "column": d.column},
    )


def _overlaps(found: types.Range, wanted: types.Range) -> bool:
    before = (found.end.line, found.end.character) < (wanted.start.line, wanted.start.character)
    after = (found.start.line, found.start.character) > (wanted.end.line, wanted.end.character)
    return not (before or after)


def _whole_document(text: str, new: str, uri: str, version: int | None) -> types.WorkspaceEdit:
    lines = text.split("\n")
    end = types.Position(line=len(lines) - 1, character=len(lines[-1]))
    edit = types.TextEdit(
        range=types.Range(start=types.Position(line=0, character=0), end=end), new_text=new
    )
    document = types.OptionalVersionedTextDocumentIdentifier(uri=uri, version=version)
    return types.WorkspaceEdit(
        document_changes=[types.TextDocumentEdit(text_document=document, edits=[edit])]
    )


def _code_actions(
    server: SessionlintServer, params: types.CodeActionParams
) -> list[types.CodeAction]:
    uri = params.text_document.uri
    path = _path(uri)
    if path is None:
        return []
    document = server.workspace.get_text_document(uri)
    text, version = document.source, document.version
    actions: list[types.CodeAction] = []
    wanted: Sequence[tuple[Diagnostic, types.Range]] = [
        (d, where) for d, where in server.findings.get(uri, []) if _overlaps(where, params.range)
    ]
    for d, where in wanted:
        fix = d.fix
        if fix is not None and fix.applicability is not Applicability.DISPLAY_ONLY:
            new = server.session.fixed_text(path, d.code, d.line, d.column)
            if new is not None and new != text:
                unsafe = fix.applicability is Applicability.UNSAFE
                actions.append(
                    types.CodeAction(
                        title=f"Fix {d.code}{' (unsafe)' if unsafe else ''}: {fix.message}",
                        kind=types.CodeActionKind.QuickFix,
                        diagnostics=[_lsp(d, where)],
                        is_preferred=not unsafe,
                        edit=_whole_document(text, new, uri, version),
                    )
                )
        marked = add_noqa([d], lambda _: text)
        if d.path in marked.texts:
            new = marked.texts[d.path]
            actions.append(
                types.CodeAction(
                    title=f"Disable {d.code} for this line",
                    kind=types.CodeActionKind.QuickFix,
                    diagnostics=[_lsp(d, where)],
                    edit=_whole_document(text, new, uri, version),
                )
            )
    return actions


def _hover(server: SessionlintServer, params: types.HoverParams) -> types.Hover | None:
    here = types.Range(start=params.position, end=params.position)
    uri = params.text_document.uri
    found = [d for d, where in server.findings.get(uri, []) if _overlaps(where, here)]
    if not found:
        return None
    parts = []
    for d in found:
        rule = RULES_BY_CODE.get(d.code)
        summary = rule.summary if rule is not None else d.name
        link = f" ([docs]({d.url}))" if d.url else ""
        parts.append(f"**{d.code} {d.name}**: {summary}.{link}\n\n{d.message}")
    return types.Hover(
        contents=types.MarkupContent(
            kind=types.MarkupKind.Markdown, value="\n\n---\n\n".join(parts)
        )
    )


def create_server() -> SessionlintServer:
    server = SessionlintServer()

    @server.feature(types.TEXT_DOCUMENT_DID_OPEN)
    def did_open(ls: SessionlintServer, params: types.DidOpenTextDocumentParams) -> None:
        ls.buffer_changed(params.text_document.uri)

    @server.feature(types.TEXT_DOCUMENT_DID_CHANGE)
    def did_change(ls: SessionlintServer, params: types.DidChangeTextDocumentParams) -> None:
        ls.buffer_changed(params.text_document.uri)

    @server.feature(types.TEXT_DOCUMENT_DID_SAVE)
    def did_save(ls: SessionlintServer, params: types.DidSaveTextDocumentParams) -> None:
        ls.buffer_changed(params.text_document.uri)

    @server.feature(types.TEXT_DOCUMENT_DID_CLOSE)
    def did_close(ls: SessionlintServer, params: types.DidCloseTextDocumentParams) -> None:
        uri = params.text_document.uri
        path = _path(uri)
        if path is not None:
            ls.guarded(f"closing {path}", lambda: ls.session.forget(path), None)
        ls.findings.pop(uri, None)
        ls.text_document_publish_diagnostics(
            types.PublishDiagnosticsParams(uri=uri, diagnostics=[])
        )

    @server.feature(
        types.TEXT_DOCUMENT_CODE_ACTION,
        types.CodeActionOptions(code_action_kinds=[types.CodeActionKind.QuickFix]),
    )
    def code_action(
        ls: SessionlintServer, params: types.CodeActionParams
    ) -> list[types.CodeAction]:
        return ls.guarded("computing code actions", lambda: _code_actions(ls, params), [])

    @server.feature(types.TEXT_DOCUMENT_HOVER)
    def hover(ls: SessionlintServer, params: types.HoverParams) -> types.Hover | None:
        return ls.guarded("computing a hover", lambda: _hover(ls, params), None)

    return server


def main(argv: Sequence[str] | None = None) -> int:
    """Serve LSP on standard input and output until the client says exit."""
    del argv
    create_server().start_io()
    return 0
