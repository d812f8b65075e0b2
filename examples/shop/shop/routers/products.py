from fastapi import APIRouter, HTTPException, Query, status
from sqlalchemy import select

from shop import crud
from shop.config import settings
from shop.db import DbSession
from shop.models import Product
from shop.schemas import PriceUpdate, ProductIn, ProductOut

router = APIRouter(prefix="/products", tags=["products"])


@router.get("", response_model=list[ProductOut])
def list_products(
    db: DbSession,
    offset: int = Query(0, ge=0),
    limit: int = Query(settings.page_size, ge=1, le=settings.max_page_size),
) -> list[Product]:
    return crud.list_products(db, offset=offset, limit=limit)


@router.get("/{product_id}", response_model=ProductOut)
async def read_product(product_id: int, db: DbSession) -> Product:
    # `async def` with a sync session: the helper's query blocks the event loop.
    product = crud.get_product(db, product_id)  # expect: SL301
    if product is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "product not found")
    return product


@router.get("/by-sku/{sku}", response_model=ProductOut)
async def read_product_by_sku(sku: str, db: DbSession) -> Product:
    product = db.scalar(select(Product).where(Product.sku == sku))  # expect: SL301
    if product is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "product not found")
    return product


@router.post("", response_model=ProductOut, status_code=status.HTTP_201_CREATED)
def create_product(payload: ProductIn, db: DbSession) -> Product:
    if crud.get_product_by_sku(db, payload.sku) is not None:
        raise HTTPException(status.HTTP_409_CONFLICT, "sku already exists")
    product = crud.create_product(db, payload)
    db.commit()
    db.refresh(product)
    return product


@router.patch("/{product_id}/price", response_model=ProductOut)
def update_price(product_id: int, payload: PriceUpdate, db: DbSession) -> Product:
    product = crud.get_product(db, product_id)
    if product is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "product not found")
    product.price_cents = payload.price_cents
    db.commit()
    return product


@router.delete("/{product_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_product(product_id: int, db: DbSession) -> None:
    product = crud.get_product(db, product_id)
    if product is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "product not found")
    db.delete(product)
    db.commit()
