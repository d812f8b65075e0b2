"""`shop-seed`: create the tables and a few products (a CLI entry point, run once)."""

from shop.db import SessionLocal, engine
from shop.models import Base, Customer, Product

PRODUCTS = [
    ("TEA-001", "Sencha, 100 g", 890, 40),
    ("TEA-002", "Assam, 250 g", 1290, 25),
    ("CUP-001", "Stoneware cup", 1500, 12),
]


def main() -> None:
    Base.metadata.create_all(engine)
    with SessionLocal.begin() as db:
        db.add_all(
            Product(sku=sku, name=name, price_cents=price, stock=stock)
            for sku, name, price, stock in PRODUCTS
        )
        db.add(Customer(email="ada@example.com", name="Ada Lovelace"))


if __name__ == "__main__":
    main()
