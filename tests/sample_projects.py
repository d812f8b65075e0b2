"""Small project trees written into ``tmp_path`` by the CLI, flake8 and pre-commit tests.

``CROSS_MODULE`` needs facts from other modules for every finding in ``app/routers`` and
``app/jobs.py``: the session comes from ``get_db`` / ``SessionLocal`` defined in
``app/deps.py``, and nothing in the router says "Session".
"""

from __future__ import annotations

from pathlib import Path

PYPROJECT = """\
[project]
name = "shop"
version = "0.1.0"
dependencies = ["fastapi>=0.115", "sqlalchemy>=2.0"]
"""

DEPS = """\
from sqlalchemy import create_engine
from sqlalchemy.orm import sessionmaker

engine = create_engine("postgresql://localhost/shop")
SessionLocal = sessionmaker(bind=engine)


def get_db():
    db = SessionLocal()
    try:
        yield db
    finally:
        db.close()
"""

ITEMS = """\
from fastapi import APIRouter, Depends
from sqlalchemy import select

from app.deps import get_db
from app.models import Item

router = APIRouter()


@router.get("/items")
async def list_items(db=Depends(get_db)):
    return db.scalars(select(Item)).all()


@router.post("/items")
def create_item(name: str, db=Depends(get_db)):
    item = Item(name=name)
    db.add(item)
    return item


@router.get("/items/{item_id}")
def get_item(item_id: int, db=Depends(get_db)):
    return db.get(Item, item_id)
"""

JOBS = """\
from app.deps import SessionLocal

session = SessionLocal()
"""

MODELS = """\
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


class Item(Base):
    __tablename__ = "items"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str]
"""

CROSS_MODULE: dict[str, str] = {
    "pyproject.toml": PYPROJECT,
    "app/__init__.py": "",
    "app/deps.py": DEPS,
    "app/models.py": MODELS,
    "app/jobs.py": JOBS,
    "app/routers/__init__.py": "",
    "app/routers/items.py": ITEMS,
}

#: What ``CROSS_MODULE`` holds: (path, line, code).
CROSS_MODULE_FINDINGS = {
    ("app/jobs.py", 3, "SL101"),
    ("app/routers/items.py", 12, "SL301"),
    ("app/routers/items.py", 18, "SL201"),
}


def write_tree(root: Path, files: dict[str, str]) -> Path:
    """Write ``files`` (relative path -> text) below ``root``; return ``root``."""
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root
