"""Data-access helpers. They take the session as a parameter and never commit: the caller
(the route handler) owns the transaction."""

import logging

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from shop.models import Customer, Product
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


def register_customer(db: Session, email: str, name: str) -> Customer | None:
    """The one helper that commits: sign-up is its own unit of work."""
    customer = Customer(email=email, name=name)
    db.add(customer)
    try:
        db.commit()
    # Bug: the failed commit is not rolled back; the caller's session raises
    # PendingRollbackError on its next use.
    except IntegrityError:  # expect: SL202
        logging.getLogger(__name__).info("email %s already registered", email)
        return None
    return customer
