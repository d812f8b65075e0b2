from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from sqlalchemy import text

from shop.db import DbSession, engine
from shop.models import Base
from shop.routers import admin, orders, products, reports


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    Base.metadata.create_all(engine)
    yield
    engine.dispose()


app = FastAPI(title="Shop", version="0.1.0", lifespan=lifespan)
app.include_router(products.router)
app.include_router(orders.router)
app.include_router(reports.router)
app.include_router(admin.router)


@app.get("/health")
def health(db: DbSession) -> dict[str, str]:
    db.execute(text("SELECT 1"))
    return {"status": "ok"}
