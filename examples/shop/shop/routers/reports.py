from fastapi import APIRouter, Query
from sqlalchemy import create_engine, func, select

from shop.config import settings
from shop.db import ReportingSession
from shop.models import Order, OrderLine, Product
from shop.schemas import SalesSummary, TopProduct

router = APIRouter(prefix="/reports", tags=["reports"])


@router.get("/sales", response_model=SalesSummary)
def sales_summary(db: ReportingSession) -> SalesSummary:
    orders = db.scalar(select(func.count(Order.id)).where(Order.status != "cancelled"))
    revenue = db.scalar(
        select(func.coalesce(func.sum(OrderLine.quantity * OrderLine.unit_price_cents), 0))
    )
    return SalesSummary(orders=orders or 0, revenue_cents=revenue or 0)


@router.get("/top-products", response_model=list[TopProduct])
def top_products(db: ReportingSession, limit: int = Query(10, ge=1, le=100)) -> list[TopProduct]:
    units = func.sum(OrderLine.quantity).label("units")
    rows = db.execute(
        select(Product.sku, units)
        .join(OrderLine, OrderLine.product_id == Product.id)
        .group_by(Product.sku)
        .order_by(units.desc())
        .limit(limit)
    )
    return [TopProduct(sku=sku, units=total) for sku, total in rows]


@router.get("/export")
def export_orders() -> list[dict[str, int]]:
    # Bug: a new engine (and connection pool) for every request; connections pile up.
    export_engine = create_engine(settings.database_url)  # expect: SL401
    with export_engine.connect() as connection:
        rows = connection.execute(select(Order.id, Order.customer_id))
        return [{"id": order_id, "customer_id": customer_id} for order_id, customer_id in rows]
