"""Time ``sessionlint server``: a one-character edit of a file until its diagnostics arrive.

Starts the server as an editor would (a subprocess over stdio, driven by pytest-lsp's client),
opens FILE (a module of the project under PROJECT_DIR), waits for its first diagnostics (the
cold start: the project's facts are read then), then appends a comment line N times and prints
the time from each ``didChange`` to the new ``publishDiagnostics`` of that file. Usage::

    python benchmarks/lsp_bench.py PROJECT_DIR FILE [--edits N]

Goal (issue 11): under 0.5 s per edit on a 700-file project on the 2-core reference machine.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from pathlib import Path

from lsprotocol import types
from pytest_lsp import ClientServerConfig, LanguageClient, client_capabilities


async def _published(client: LanguageClient, uri: str, version: int) -> None:
    """Until the diagnostics of ``uri`` at document ``version`` are published."""
    while True:
        params = await client.wait_for_notification(types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)
        if params.uri == uri and params.version == version:
            return


async def run(project: Path, file: Path, edits: int) -> None:
    config = ClientServerConfig(server_command=[sys.executable, "-m", "sessionlint", "server"])
    client = await config.start()
    assert isinstance(client, LanguageClient)
    await client.initialize_session(
        types.InitializeParams(
            capabilities=client_capabilities("visual-studio-code"), root_uri=project.as_uri()
        )
    )
    uri = file.resolve().as_uri()
    text = file.read_text(encoding="utf-8")
    start = time.perf_counter()
    client.text_document_did_open(
        types.DidOpenTextDocumentParams(
            text_document=types.TextDocumentItem(
                uri=uri, language_id="python", version=1, text=text
            )
        )
    )
    await _published(client, uri, 1)
    cold = time.perf_counter() - start
    times = []
    for n in range(edits):
        text += f"# edit {n}\n"
        start = time.perf_counter()
        client.text_document_did_change(
            types.DidChangeTextDocumentParams(
                text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=n + 2),
                content_changes=[types.TextDocumentContentChangeWholeDocument(text=text)],
            )
        )
        await _published(client, uri, n + 2)
        times.append(time.perf_counter() - start)
    await client.shutdown_session()
    await client.stop()
    files = sum(1 for _ in project.rglob("*.py"))
    print(f"project: {project} ({files} Python files), file: {file}")
    print(f"open (cold, reads the project's facts): {cold:.2f} s")
    print(
        f"edit -> diagnostics over {edits} edits: median {statistics.median(times):.3f} s, "
        f"max {max(times):.3f} s (goal: < 0.5 s)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("project", type=Path)
    parser.add_argument("file", type=Path)
    parser.add_argument("--edits", type=int, default=10)
    args = parser.parse_args()
    asyncio.run(run(args.project.resolve(), args.file.resolve(), args.edits))


if __name__ == "__main__":
    main()
