"""Issue 12, hostile configuration: one clear error naming the file and key, no hang."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from sessionlint.config import Config, ConfigError, _glob_matches, load_config
from sessionlint.globs import MAX_ALTERNATIVES, GlobError, compile_glob
from sessionlint.versions import VersionDetector


def _pyproject(folder: Path, table: str) -> Path:
    path = folder / "pyproject.toml"
    path.write_text("[tool.sessionlint]\n" + table + "\n")
    return path


def _cli(folder: Path) -> subprocess.CompletedProcess[str]:
    (folder / "a.py").write_text("x = 1\n")
    return subprocess.run(
        [sys.executable, "-m", "sessionlint", "check", "a.py"],
        capture_output=True,
        text=True,
        cwd=folder,
        timeout=60,
    )


@pytest.mark.parametrize(
    ("table", "key", "words"),
    [
        ('per-file-ignores = {"[z-a].py" = ["SL101"]}', "per-file-ignores.[z-a].py", "reversed"),
        (
            'per-file-ignores = {"app/{a,b}{c,d}{e,f}{g,h}{i,j}{k,l}{m,n}{o,p}{q,r}.py" = ["SL1"]}',
            "per-file-ignores.app/{a,b}{c,d}{e,f}{g,h}{i,j}{k,l}{m,n}{o,p}{q,r}.py",
            "alternatives",
        ),
        ("select = " + "[" * 500 + "]" * 500, "select", "nested too deeply"),
        ('select = ["SL9X"]', "select", "invalid rule selector"),
        ('target-fastapi = "banana"', "target-fastapi", "not a valid version"),
    ],
    ids=["reversed-range", "brace-explosion", "500-deep-array", "selector", "version"],
)
def test_a_bad_configuration_is_one_error_naming_file_and_key(
    tmp_path: Path, table: str, key: str, words: str
) -> None:
    path = _pyproject(tmp_path, table)
    with pytest.raises(ConfigError) as raised:
        load_config(tmp_path)
    assert raised.value.path == path and raised.value.key == key
    assert words in str(raised.value) and "pyproject.toml" in str(raised.value)
    done = _cli(tmp_path)
    assert done.returncode == 2
    assert done.stderr.startswith("sessionlint: error: pyproject.toml:")
    assert "Traceback" not in done.stderr and "internal error" not in done.stderr


def test_a_glob_with_many_stars_matches_in_linear_time(tmp_path: Path) -> None:
    pattern = "*a" * 40 + "*b"  # 53 s per match with a backtracking regex
    name = "a" * 200 + ".py"
    started = time.monotonic()
    assert not compile_glob(pattern).match(name)
    assert compile_glob(pattern).match("a" * 40 + "b")
    cfg = Config(per_file_ignores=((pattern, ("SL101",)),), root=tmp_path)
    assert not cfg.is_ignored_for("SL101", tmp_path / name)
    assert time.monotonic() - started < 1


GLOB_CASES = [
    ("*.py", "a.py", True),
    ("*.py", "a.pyc", False),
    ("tests/*", "tests/unit/test_a.py", True),  # `*` matches `/` (ruff's globset)
    ("**/migrations/*.py", "migrations/0001.py", True),
    ("**/migrations/*.py", "app/db/migrations/0001.py", True),
    ("**/migrations/*.py", "app/migrations_old/0001.py", False),
    ("app/**/*.py", "app/x.py", True),
    ("test_?.py", "test_a.py", True),
    ("test_?.py", "test_ab.py", False),
    ("[ab].py", "a.py", True),
    ("[!ab].py", "a.py", False),
    ("[!ab].py", "c.py", True),
    ("[^a-c]x.py", "dx.py", True),
    ("[a-c]x.py", "dx.py", False),
    ("[]]x.py", "]x.py", True),
    ("[x.py", "[x.py", True),  # no closing `]`: literal
    ("{api,web}/*.py", "web/x.py", True),
    ("{api,web}/*.py", "cli/x.py", False),
    ("a{b,c{d,e}}f", "acef", True),
    ("*{xab,a}*b", "xab", True),  # needs backtracking into the alternation
    ("\\*.py", "*.py", True),
    ("\\*.py", "a.py", False),
    ("*", "", True),
    ("a*", "", False),
]


@pytest.mark.parametrize(("pattern", "text", "expected"), GLOB_CASES)
def test_glob_semantics(pattern: str, text: str, expected: bool) -> None:
    assert compile_glob(pattern).match(text) is expected


def test_glob_errors() -> None:
    with pytest.raises(GlobError, match="reversed"):
        compile_glob("[9-0]")
    with pytest.raises(GlobError, match=str(MAX_ALTERNATIVES)):
        compile_glob("{a,b}" * 9)
    assert compile_glob("{a,b}" * 8).match("ab" * 4)


def test_bare_name_and_folder_globs_still_apply(tmp_path: Path) -> None:
    assert _glob_matches("migrations", tmp_path / "app/migrations/x.py", tmp_path)
    assert _glob_matches("app/*", tmp_path / "app/sub/x.py", tmp_path)
    assert not _glob_matches("app/*", tmp_path / "lib/x.py", tmp_path)


# -- requirement files -------------------------------------------------------------------------


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes")
def test_r_to_a_fifo_does_not_hang(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "pipe.txt")
    (tmp_path / "requirements.txt").write_text("-r pipe.txt\nfastapi==0.100.1\n")
    (tmp_path / "app.py").write_text("import fastapi\n")
    script = (
        "from sessionlint.versions import VersionDetector\n"
        f"print(VersionDetector().for_path({str(tmp_path / 'app.py')!r}).fastapi)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=30
    )
    assert done.stdout.strip() == "0.100.1"


@pytest.mark.skipif(not Path("/dev/zero").exists(), reason="needs /dev/zero")
def test_r_to_a_device_is_not_read(tmp_path: Path) -> None:
    (tmp_path / "requirements.txt").write_text("-r /dev/zero\nsqlalchemy==1.4.50\n")
    (tmp_path / "app.py").write_text("import fastapi\n")
    started = time.monotonic()
    found = VersionDetector().for_path(tmp_path / "app.py")
    assert str(found.sqlalchemy) == "1.4.50"
    assert time.monotonic() - started < 5


def test_an_oversized_requirements_include_is_skipped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sessionlint import versions

    monkeypatch.setattr(versions, "_MAX_FILE_BYTES", 1000)
    (tmp_path / "big.txt").write_text("fastapi==0.99.0\n" + "# padding\n" * 200)
    (tmp_path / "requirements.txt").write_text("-r big.txt\nsqlalchemy==2.0.1\n")
    (tmp_path / "app.py").write_text("import fastapi\n")
    found = VersionDetector().for_path(tmp_path / "app.py")
    assert found.fastapi is None and str(found.sqlalchemy) == "2.0.1"


def test_config_error_messages_name_the_key_they_are_about(tmp_path: Path) -> None:
    bad = {
        "select": '"SL1"',
        "exclude": "[1]",
        "per-file-ignores": '"x"',
        "session-factories": '["nope"]',
        "target-sqlalchemy": "2",
    }
    for key, value in bad.items():
        _pyproject(tmp_path, f"{key} = {value}")
        with pytest.raises(ConfigError) as raised:
            load_config(tmp_path)
        assert raised.value.key == key
        assert re.search(rf"pyproject\.toml: \[tool\.sessionlint\] '{key}'", str(raised.value))
