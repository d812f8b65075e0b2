"""Issue 12, "never lose a byte": what ``--fix`` writes, and what it refuses to write."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from sessionlint import fixes
from sessionlint.fixes import fix_paths, fix_source, remove_stale_temporary_files

SOURCE = """\
from sqlalchemy import create_engine
from sqlalchemy.orm import sessionmaker

SessionLocal = sessionmaker(bind=create_engine("sqlite:///app.db"))


def get_db():
    db = SessionLocal()
    yield db
"""

FIXED = """\
from sqlalchemy import create_engine
from sqlalchemy.orm import sessionmaker

SessionLocal = sessionmaker(bind=create_engine("sqlite:///app.db"))


def get_db():
    db = SessionLocal()
    try:
        yield db
    finally:
        db.close()
"""


def _files(root: Path, **files: str | bytes) -> dict[str, Path]:
    (root / "pyproject.toml").write_text('[project]\nname = "demo"\n')
    paths = {}
    for name, text in files.items():
        path = root / f"{name}.py"
        if isinstance(text, bytes):
            path.write_bytes(text)
        else:
            path.write_text(text)
        paths[name] = path
    return paths


def _temporary_files(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".sessionlint"))


# -- an edit saved while fixing -------------------------------------------------------------


def test_an_edit_saved_during_the_write_is_not_overwritten(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    paths = _files(tmp_path, a=SOURCE, b=SOURCE)
    real_fsync = os.fsync
    edited = SOURCE + "# saved by the editor meanwhile\n"

    def fsync_then_edit(fd: int) -> None:
        # After the content check, while the temporary file is written: an editor saves a.py.
        real_fsync(fd)
        if paths["a"].read_text() == SOURCE:
            paths["a"].write_text(edited)

    monkeypatch.setattr(os, "fsync", fsync_then_edit)
    result = fix_paths([tmp_path])
    by_path = {o.path: o for o in result.outcomes}
    assert "changed while it was being fixed" in (by_path[str(paths["a"])].error or "")
    assert paths["a"].read_text() == edited  # the user's edit survives
    assert paths["b"].read_text() == FIXED  # the other file is still fixed
    assert _temporary_files(tmp_path) == []


def test_a_same_size_edit_with_the_old_mtime_is_caught_by_the_hash(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    paths = _files(tmp_path, a=SOURCE)
    before = paths["a"].stat()
    real_fsync = os.fsync

    def fsync_then_edit(fd: int) -> None:
        real_fsync(fd)
        with open(paths["a"], "r+b") as handle:  # same inode, same size...
            handle.write(b"#")
        os.utime(paths["a"], ns=(before.st_atime_ns, before.st_mtime_ns))  # ...same mtime

    monkeypatch.setattr(os, "fsync", fsync_then_edit)
    (outcome,) = fix_paths([paths["a"]]).outcomes
    assert "changed while" in (outcome.error or "")
    assert paths["a"].read_bytes().startswith(b"#")


def test_a_file_replaced_by_another_inode_is_not_overwritten(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    paths = _files(tmp_path, a=SOURCE)
    real_fsync = os.fsync

    def fsync_then_swap(fd: int) -> None:
        real_fsync(fd)
        swap = tmp_path / "swap.tmp"
        swap.write_text(SOURCE)  # same content, another inode (an editor's atomic save)
        os.replace(swap, paths["a"])

    monkeypatch.setattr(os, "fsync", fsync_then_swap)
    (outcome,) = fix_paths([paths["a"]]).outcomes
    assert "changed while" in (outcome.error or "")
    assert paths["a"].read_text() == SOURCE


# -- permissions, owner, mode -----------------------------------------------------------------


def test_a_file_the_user_may_not_write_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # os.access is what decides (as root it always says yes): simulated here; the real
    # non-root case is the test below.
    paths = _files(tmp_path, a=SOURCE, b=SOURCE)
    real_access = os.access

    def access(path: object, mode: int, **kwargs: object) -> bool:
        if mode == os.W_OK and Path(str(path)).name == "a.py":
            return False
        return real_access(path, mode)  # type: ignore[arg-type]

    monkeypatch.setattr(os, "access", access)
    result = fix_paths([tmp_path])
    (failed,) = result.errors
    assert failed.path == str(paths["a"]) and "permission denied" in (failed.error or "")
    assert paths["a"].read_text() == SOURCE and paths["b"].read_text() == FIXED


@pytest.fixture
def shared_folder() -> Iterator[Path]:
    """A folder everyone may write in (outside pytest's private tmp folder)."""
    folder = Path(tempfile.mkdtemp(prefix="sessionlint-shared-"))
    folder.chmod(0o777)
    try:
        yield folder
    finally:
        shutil.rmtree(folder)


@pytest.mark.skipif(
    os.name != "posix" or os.geteuid() != 0 or shutil.which("setpriv") is None,
    reason="needs root to create the files and setpriv to drop to nobody",
)
def test_nobody_cannot_replace_a_root_owned_file_in_a_writable_folder(
    shared_folder: Path,
) -> None:
    root_owned = shared_folder / "owned.py"
    root_owned.write_text(SOURCE)
    root_owned.chmod(0o644)
    theirs = shared_folder / "theirs.py"
    theirs.write_text(SOURCE)
    os.chown(theirs, 65534, 65534)
    (shared_folder / "pyproject.toml").write_text('[project]\nname = "demo"\n')
    command = [sys.executable, "-m", "sessionlint", "check", "--isolated", "--fix", "."]
    probe = subprocess.run(
        [
            "setpriv",
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            sys.executable,
            "-c",
            "import sessionlint",
        ],
        capture_output=True,
        cwd=shared_folder,
    )
    if probe.returncode != 0:
        pytest.skip("nobody cannot run this Python")
    done = subprocess.run(
        ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", *command],
        capture_output=True,
        text=True,
        cwd=shared_folder,
    )
    assert done.returncode == 2, done.stderr
    assert "owned.py: cannot write the fixed file: permission denied" in done.stderr
    assert root_owned.read_text() == SOURCE
    assert root_owned.stat().st_uid == 0  # not replaced by a file owned by nobody
    assert theirs.read_text() == FIXED and theirs.stat().st_uid == 65534
    assert _temporary_files(shared_folder) == []


@pytest.mark.skipif(os.name != "posix" or os.geteuid() != 0, reason="chown needs root")
def test_owner_group_and_setuid_setgid_bits_are_kept(tmp_path: Path) -> None:
    paths = _files(tmp_path, a=SOURCE)
    os.chown(paths["a"], 65534, 65534)
    paths["a"].chmod(0o6755)  # chown clears these bits: chmod must come after it
    result = fix_paths([paths["a"]])
    assert not result.errors and paths["a"].read_text() == FIXED
    info = paths["a"].stat()
    assert (info.st_uid, info.st_gid) == (65534, 65534)
    assert stat.S_IMODE(info.st_mode) == 0o6755


def test_a_file_whose_owner_cannot_be_kept_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    paths = _files(tmp_path, a=SOURCE)
    real_stat = os.stat

    def stat_other_owner(path: object, *args: object, **kwargs: object) -> os.stat_result:
        info = real_stat(path, *args, **kwargs)  # type: ignore[arg-type]
        if str(path).endswith(".sessionlint"):  # the temporary file: somebody else's
            values = list(info)
            values[stat.ST_UID] = info.st_uid + 1
            return os.stat_result(values)
        return info

    def refuse(*args: object) -> None:
        raise PermissionError(1, "Operation not permitted")

    monkeypatch.setattr(os, "stat", stat_other_owner)
    monkeypatch.setattr(os, "chown", refuse)
    (outcome,) = fix_paths([paths["a"]]).outcomes
    assert "owner" in (outcome.error or "")
    assert paths["a"].read_text() == SOURCE
    assert _temporary_files(tmp_path) == []


# -- encodings that cannot be written back ----------------------------------------------------


def test_an_idna_cookie_drops_the_fix_and_the_others_go_on(tmp_path: Path) -> None:
    paths = _files(tmp_path, a=b"# coding: idna\n" + SOURCE.encode(), b=SOURCE)
    done = subprocess.run(
        [sys.executable, "-m", "sessionlint", "check", "--isolated", "--fix", str(tmp_path)],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 1, done.stderr  # a finding remains, no abort
    assert "Traceback" not in done.stderr and "error:" not in done.stderr
    assert "fix not applied: the file's encoding (idna)" in done.stderr
    assert paths["a"].read_bytes() == b"# coding: idna\n" + SOURCE.encode()
    assert paths["b"].read_text() == FIXED


def test_a_fix_that_idna_cannot_encode_is_dropped() -> None:
    outcome = fix_source(b"# coding: idna\n" + SOURCE.encode(), "a.py")
    assert not outcome.changed and not outcome.fixed
    assert outcome.dropped and "idna" in outcome.dropped[0].reason


def test_a_file_with_undecodable_bytes_is_never_rewritten(tmp_path: Path) -> None:
    data = b"# caf\xe9\n" + SOURCE.encode()
    paths = _files(tmp_path, a=data)
    result = fix_paths([paths["a"]])
    assert paths["a"].read_bytes() == data
    (outcome,) = result.outcomes
    assert not outcome.fixed and "not valid utf-8" in outcome.dropped[0].reason


# -- temporary files left by a killed run ------------------------------------------------------


def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_stale_temporary_files_of_ours_are_removed_and_nothing_else(tmp_path: Path) -> None:
    _files(tmp_path, a=SOURCE)
    dead = tmp_path / f".a.py.sl{_dead_pid()}-abcd1234.sessionlint"
    alive = tmp_path / f".a.py.sl{os.getppid()}-abcd1234.sessionlint"  # a live writer
    legacy_old = tmp_path / ".a.py.zz9_zz9z.sessionlint"  # no pid, an hour old
    legacy_new = tmp_path / ".a.py.yy8_yy8y.sessionlint"  # no pid, just written
    orphan = tmp_path / f".gone.py.sl{_dead_pid()}-abcd1234.sessionlint"  # no gone.py
    user_file = tmp_path / ".a.py.notes.sessionlint"  # not our name pattern
    for path in (dead, alive, legacy_old, legacy_new, orphan, user_file):
        path.write_text("partial")
    hour_ago = time.time() - 3600
    os.utime(legacy_old, (hour_ago, hour_ago))
    link = tmp_path / f".a.py.sl{_dead_pid()}-linklink.sessionlint"
    link.symlink_to(tmp_path / "a.py")

    removed = remove_stale_temporary_files(tmp_path)
    assert sorted(p.name for p in removed) == sorted([dead.name, legacy_old.name])
    for kept in (alive, legacy_new, orphan, user_file, link):
        assert kept.is_symlink() or kept.exists()
    assert (tmp_path / "a.py").read_text() == SOURCE


def test_a_fix_run_cleans_up_after_a_killed_one(tmp_path: Path) -> None:
    paths = _files(tmp_path, a=SOURCE)
    leftover = tmp_path / f".a.py.sl{_dead_pid()}-q1w2e3r4.sessionlint"
    leftover.write_text(FIXED[:40])
    fix_paths([paths["a"]])
    assert _temporary_files(tmp_path) == []
    assert paths["a"].read_text() == FIXED


def test_a_fix_run_with_nothing_to_fix_cleans_up_too(tmp_path: Path) -> None:
    paths = _files(tmp_path, a=FIXED)
    (tmp_path / f".a.py.sl{_dead_pid()}-q1w2e3r4.sessionlint").write_text(FIXED[:40])
    fix_paths([paths["a"]])
    assert _temporary_files(tmp_path) == []
    fix_paths([paths["a"]], write=False)  # --diff writes nothing, removes nothing


def test_the_temporary_file_name_carries_the_writer_pid(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    paths = _files(tmp_path, a=SOURCE)
    seen: list[str] = []
    real_replace = os.replace

    def spy(src: str, dst: object) -> None:
        seen.append(Path(src).name)
        real_replace(src, dst)  # type: ignore[arg-type]

    monkeypatch.setattr(os, "replace", spy)
    fix_paths([paths["a"]])
    (name,) = seen
    match = fixes._TEMPORARY.match(name)
    assert match is not None and match["pid"] == str(os.getpid()) and match["name"] == "a.py"


@pytest.mark.skipif(os.name != "posix", reason="signals")
def test_sigkill_during_fix_leaves_a_file_the_next_run_removes(tmp_path: Path) -> None:
    paths = _files(tmp_path, a=SOURCE)
    script = (
        "import os, signal, sys\n"
        "from sessionlint import fixes\n"
        "real = os.replace\n"
        "def die(*a):\n"
        "    os.kill(os.getpid(), signal.SIGKILL)\n"
        "os.replace = die\n"
        f"fixes.fix_paths([{str(paths['a'])!r}])\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True)
    assert done.returncode == -9
    assert len(_temporary_files(tmp_path)) == 1
    assert paths["a"].read_text() == SOURCE
    fix_paths([paths["a"]])
    assert _temporary_files(tmp_path) == []
    assert paths["a"].read_text() == FIXED
