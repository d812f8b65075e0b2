"""Run sessionlint over the real-code audit set and score the findings against judgments.

Usage::

    python benchmarks/realworld/run.py MIRROR_ROOT [--out findings.jsonl]
        [--judgments benchmarks/realworld/judgments.jsonl] [--only owner/name ...]
        [--cache DIR]

``MIRROR_ROOT`` holds one bare mirror per repository, laid out as ``<owner>+<name>/...``
(the git directory is found below it). Each listed commit is extracted with ``git archive``
into ``<cache>/<owner>+<name>-<sha12>`` (reused when present) and linted through
:func:`sessionlint.api.lint_paths`. No network access.

Every finding gets a ``key``: the sha1 of repository, path, code and the stripped text of the
reported line, so a judgment survives line shifts.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import io
import json
import subprocess
import sys
import tarfile
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

from sessionlint.api import clear_project_cache, lint_paths

HERE = Path(__file__).resolve().parent
REPOS_FILE = HERE / "repos.txt"
DEFAULT_CACHE = Path("/tmp/sessionlint-realworld")
VERDICTS = ("true", "false", "noise")


def read_repos(path: Path = REPOS_FILE) -> list[tuple[str, str, str]]:
    """The ``(owner/name, commit, note)`` entries of the repository list."""
    entries = []
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        repo, commit, *note = line.split(maxsplit=2)
        entries.append((repo, commit, note[0] if note else ""))
    return entries


def find_git_dir(mirror_root: Path, repo: str) -> Path | None:
    """The git directory of ``repo``'s mirror (``<owner>+<name>/repo``, ``.../repo/.git``...)."""
    base = mirror_root / repo.replace("/", "+")
    if not base.is_dir():
        return None
    candidates = [base, base / "repo", base / "repo" / ".git", base / ".git"]
    candidates += sorted(p.parent for p in base.glob("**/HEAD") if (p.parent / "objects").is_dir())
    for candidate in candidates:
        if (candidate / "HEAD").is_file() and (candidate / "objects").is_dir():
            return candidate
    return None


def extract(git_dir: Path, commit: str, dest: Path) -> None:
    """Write the tree of ``commit`` into ``dest`` (once; reused afterwards)."""
    if (dest / ".extracted").is_file():
        return
    dest.mkdir(parents=True, exist_ok=True)
    archived = subprocess.run(
        ["git", f"--git-dir={git_dir}", "archive", "--format=tar", commit],
        capture_output=True,
    )
    if archived.returncode == 0:
        with tarfile.open(fileobj=io.BytesIO(archived.stdout)) as archive:
            members = [m for m in archive.getmembers() if m.isfile() or m.isdir()]
            archive.extractall(dest, members=members, filter="data")
    else:
        # Snapshots lack their largest blobs, which makes ``git archive`` fail: write the
        # blobs that are present one by one instead.
        extract_present_blobs(git_dir, commit, dest)
    (dest / ".extracted").write_text(commit + "\n", encoding="utf-8")


def extract_present_blobs(git_dir: Path, commit: str, dest: Path) -> None:
    """Write every regular file of ``commit`` whose blob the mirror holds."""
    listing = subprocess.run(
        ["git", f"--git-dir={git_dir}", "ls-tree", "-r", "-z", commit],
        check=True,
        capture_output=True,
    ).stdout.decode("utf-8", errors="surrogateescape")
    entries = []
    for record in listing.split("\0"):
        if not record:
            continue
        meta, _, name = record.partition("\t")
        mode, kind, sha = meta.split()
        if kind == "blob" and mode in ("100644", "100755"):
            entries.append((sha, name))
    batch = subprocess.run(
        ["git", f"--git-dir={git_dir}", "cat-file", "--batch"],
        input="".join(f"{sha}\n" for sha, _ in entries).encode(),
        check=True,
        capture_output=True,
    ).stdout
    pos = 0
    root = dest.resolve()
    for _sha, name in entries:
        end = batch.index(b"\n", pos)
        header = batch[pos:end].split()
        pos = end + 1
        if header[-1] == b"missing":
            continue
        size = int(header[2])
        body = batch[pos : pos + size]
        pos += size + 1
        target = (dest / name).resolve()
        if root not in target.parents:
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(body)


def finding_key(repo: str, path: str, code: str, line_text: str, occurrence: int = 0) -> str:
    """The stable fingerprint of a finding.

    ``occurrence`` tells apart findings of one rule on identical lines of one file (counted
    in line order); the first keeps the plain fingerprint.
    """
    parts = [repo, path, code, line_text.strip()]
    if occurrence:
        parts.append(str(occurrence))
    blob = "\0".join(parts)
    return hashlib.sha1(blob.encode("utf-8")).hexdigest()


def source_line(file: Path, line: int) -> str:
    try:
        lines = file.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return ""
    return lines[line - 1] if 0 < line <= len(lines) else ""


def lint_repo(repo: str, tree: Path) -> tuple[list[dict[str, Any]], int, int]:
    """The findings of one extracted repository, plus its file and line counts."""
    clear_project_cache()
    result = lint_paths([tree], isolated=True)
    findings = []
    seen: Counter[tuple[str, str, str]] = Counter()
    for diag in result.diagnostics:
        file = Path(diag.path)
        if not file.is_absolute():
            file = (Path.cwd() / file).resolve()
        try:
            rel = file.relative_to(tree.resolve()).as_posix()
        except ValueError:
            rel = diag.path
        text = source_line(file, diag.line)
        occurrence = seen[(rel, diag.code, text.strip())]
        seen[(rel, diag.code, text.strip())] += 1
        findings.append(
            {
                "repo": repo,
                "path": rel,
                "line": diag.line,
                "code": diag.code,
                "severity": str(diag.severity.value)
                if hasattr(diag.severity, "value")
                else str(diag.severity),
                "message": diag.message,
                "key": finding_key(repo, rel, diag.code, text, occurrence),
            }
        )
    lines = 0
    for py in tree.rglob("*.py"):
        with contextlib.suppress(OSError):
            lines += py.read_bytes().count(b"\n")
    return findings, result.files_checked, lines


def load_judgments(path: Path) -> dict[str, dict[str, Any]]:
    judged: dict[str, dict[str, Any]] = {}
    if not path.is_file():
        return judged
    for raw in path.read_text(encoding="utf-8").splitlines():
        if raw.strip():
            entry = json.loads(raw)
            judged[entry["key"]] = entry
    return judged


def report(findings: list[dict[str, Any]], judged: dict[str, dict[str, Any]]) -> None:
    """Print rule x verdict counts with precision, then the unjudged findings."""
    table: dict[str, Counter[str]] = defaultdict(Counter)
    unjudged = []
    for finding in findings:
        verdict = judged.get(finding["key"], {}).get("verdict")
        row = table[finding["code"]]
        row["findings"] += 1
        if verdict in VERDICTS:
            row[verdict] += 1
        else:
            row["unjudged"] += 1
            unjudged.append(finding)
    total: Counter[str] = Counter()
    for row in table.values():
        total.update(row)
    header = (
        f"{'rule':<7}{'findings':>9}{'true':>6}{'false':>6}{'noise':>6}{'unjudged':>9}  precision"
    )
    print(header)
    print("-" * len(header))
    for code in [*sorted(table), "total"]:
        row = total if code == "total" else table[code]
        judged_n = row["true"] + row["false"] + row["noise"]
        precision = f"{row['true'] / judged_n:.0%}" if judged_n else "-"
        print(
            f"{code:<7}{row['findings']:>9}{row['true']:>6}{row['false']:>6}"
            f"{row['noise']:>6}{row['unjudged']:>9}  {precision}"
        )
    if unjudged:
        print(f"\n{len(unjudged)} unjudged finding(s):")
        for f in unjudged:
            print(f"  {f['repo']} {f['path']}:{f['line']} {f['code']} {f['message']} [{f['key']}]")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("mirror_root", type=Path)
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--judgments", type=Path, default=None)
    parser.add_argument("--only", nargs="+", default=None, metavar="OWNER/NAME")
    parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE)
    args = parser.parse_args(argv)

    all_findings: list[dict[str, Any]] = []
    files_total = lines_total = 0
    for repo, commit, _note in read_repos():
        if args.only and repo not in args.only:
            continue
        git_dir = find_git_dir(args.mirror_root, repo)
        if git_dir is None:
            print(f"skip {repo}: no mirror under {args.mirror_root}", file=sys.stderr)
            continue
        tree = args.cache / f"{repo.replace('/', '+')}-{commit[:12]}"
        try:
            extract(git_dir, commit, tree)
        except subprocess.CalledProcessError as error:
            print(f"skip {repo}: git archive failed: {error.stderr!r}", file=sys.stderr)
            continue
        findings, files, lines = lint_repo(repo, tree)
        files_total += files
        lines_total += lines
        print(f"{repo}: {files} files, {lines} lines, {len(findings)} findings", file=sys.stderr)
        all_findings.extend(findings)

    print(f"total: {files_total} files, {lines_total} lines of Python", file=sys.stderr)
    if args.out is not None:
        with args.out.open("w", encoding="utf-8") as out:
            for finding in all_findings:
                out.write(json.dumps(finding, sort_keys=True) + "\n")
    report(all_findings, load_judgments(args.judgments) if args.judgments else {})
    return 0


if __name__ == "__main__":
    sys.exit(main())
