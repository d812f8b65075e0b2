"""Data-access helpers. They take the session as a parameter and never commit: the caller
(the route handler) owns the transaction."""

from sqlalchemy import select
from sqlalchemy.orm import Session

from shop.models import Product
from shop.schemas import ProductIn


class OutOfStockError(Exception):
    def __init__(self, product: Product, requested: int) -> None:
        super().__init__(f"only {product.stock} of {product.sku} left, {requested} requested")
        self.product = product


def get_product(db: Session, product_id: int) -> Product | None:
    return db.get(Product, product_id)


def get_product_by_sku(db: Session, sku: str) -> Product | None:
    return db.scalar(select(Product).where(Product.sku == sku))


def list_products(db: Session, *, offset: int = 0, limit: int = 50) -> list[Product]:
    stmt = select(Product).order_by(Product.id).offset(offset).limit(limit)
    return list(db.scalars(stmt))


def create_product(db: Session, data: ProductIn) -> Product:
    product = Product(**data.model_dump())
    db.add(product)
    db.flush()
    return product


def reserve_stock(product: Product, quantity: int) -> None:
    if product.stock < quantity:
        raise OutOfStockError(product, quantity)
    product.stock -= quantity
