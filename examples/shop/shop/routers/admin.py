"""Back-office statistics."""

from fastapi import APIRouter
from sqlalchemy import func, select

from shop.db import SessionLocal
from shop.models import Customer, Order, Product

router = APIRouter(prefix="/admin", tags=["admin"])

# Bug: one session for every request and every threadpool thread. Sessions are not
# thread-safe, and this one keeps a connection (and stale objects) for the process lifetime.
admin_db = SessionLocal()  # expect: SL101


@router.get("/stats")
def stats() -> dict[str, int]:
    return {
        "products": admin_db.scalar(select(func.count(Product.id))) or 0,
        "customers": admin_db.scalar(select(func.count(Customer.id))) or 0,
        "orders": admin_db.scalar(select(func.count(Order.id))) or 0,
    }
