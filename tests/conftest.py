"""Test-session set-up shared by every test module."""

from __future__ import annotations

import os
import tempfile

# The command line caches findings at the project root by default; the tests lint projects
# inside the repository (tests/fixtures, examples) and must not leave caches there. One
# throw-away cache folder for the whole session (tests/test_cache.py checks the default
# location with the variable removed).
os.environ["SESSIONLINT_CACHE_DIR"] = tempfile.mkdtemp(prefix="sessionlint-test-cache-")
