"""The explicit, sorted tuple of every rule sessionlint knows."""

from __future__ import annotations

from sessionlint.rule import Rule
from sessionlint.rules.async_expire_on_commit import AsyncExpireOnCommit
from sessionlint.rules.blocking_session_in_async import BlockingSessionInAsync
from sessionlint.rules.commit_after_response import CommitAfterResponse
from sessionlint.rules.concurrent_async_session import ConcurrentAsyncSession
from sessionlint.rules.dependency_swallows_exception import DependencySwallowsException
from sessionlint.rules.dependency_without_cleanup import DependencyWithoutCleanup
from sessionlint.rules.engine_per_request import EnginePerRequest
from sessionlint.rules.manual_dependency_call import ManualDependencyCall
from sessionlint.rules.parse_error import ParseError
from sessionlint.rules.raw_sql_interpolation import RawSqlInterpolation
from sessionlint.rules.removed_in_sqlalchemy_2 import RemovedInSqlalchemy2
from sessionlint.rules.returned_session_dependency import ReturnedSessionDependency
from sessionlint.rules.scoped_session_in_fastapi import ScopedSessionInFastapi
from sessionlint.rules.session_escapes_request import SessionEscapesRequest
from sessionlint.rules.shared_session import SharedSession
from sessionlint.rules.sqlite_thread_config import SqliteThreadConfig
from sessionlint.rules.swallowed_flush_error import SwallowedFlushError
from sessionlint.rules.unawaited_async_session_call import UnawaitedAsyncSessionCall
from sessionlint.rules.unclosed_session import UnclosedSession
from sessionlint.rules.write_without_commit import WriteWithoutCommit

ALL_RULES: tuple[type[Rule], ...] = tuple(
    sorted(
        (
            ParseError,
            SharedSession,
            DependencyWithoutCleanup,
            ReturnedSessionDependency,
            UnclosedSession,
            DependencySwallowsException,
            ManualDependencyCall,
            WriteWithoutCommit,
            SwallowedFlushError,
            RemovedInSqlalchemy2,
            BlockingSessionInAsync,
            UnawaitedAsyncSessionCall,
            ConcurrentAsyncSession,
            AsyncExpireOnCommit,
            ScopedSessionInFastapi,
            SessionEscapesRequest,
            CommitAfterResponse,
            EnginePerRequest,
            SqliteThreadConfig,
            RawSqlInterpolation,
        ),
        key=lambda rule: rule.code,
    )
)

RULES_BY_CODE: dict[str, type[Rule]] = {r.code: r for r in ALL_RULES}

if len(RULES_BY_CODE) != len(ALL_RULES):  # pragma: no cover - a packaging mistake
    raise RuntimeError("two rules share a code")
