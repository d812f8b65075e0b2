"""Engine, session factory and the request-scoped session dependencies."""

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends
from sqlalchemy import create_engine
from sqlalchemy.orm import Session, sessionmaker

from shop.config import settings

engine = create_engine(settings.database_url, pool_pre_ping=True)
SessionLocal = sessionmaker(bind=engine, autoflush=False, expire_on_commit=False)


def get_db() -> Iterator[Session]:
    """One session per request, closed even when the endpoint raises."""
    db = SessionLocal()
    try:
        yield db
    finally:
        db.close()


def get_reporting_db() -> Iterator[Session]:
    """A read-only session for the reporting endpoints."""
    db = SessionLocal()
    db.info["readonly"] = True
    # Bug: when an endpoint raises, FastAPI throws the exception in here at the `yield` and
    # the close() below never runs; the connection is not returned to the pool.
    yield db  # expect: SL102
    db.close()


DbSession = Annotated[Session, Depends(get_db)]
ReportingSession = Annotated[Session, Depends(get_reporting_db)]
