"""sessionlint: finds database-session misuse in FastAPI + SQLAlchemy / SQLModel code."""

from __future__ import annotations

__version__ = "0.2.0"
