from pydantic import BaseModel, ConfigDict, Field


class ProductIn(BaseModel):
    sku: str = Field(min_length=1, max_length=32)
    name: str = Field(min_length=1, max_length=200)
    price_cents: int = Field(ge=0)
    stock: int = Field(default=0, ge=0)


class ProductOut(ProductIn):
    model_config = ConfigDict(from_attributes=True)

    id: int


class PriceUpdate(BaseModel):
    price_cents: int = Field(ge=0)


class OrderLineIn(BaseModel):
    product_id: int
    quantity: int = Field(gt=0)


class OrderIn(BaseModel):
    customer_id: int
    lines: list[OrderLineIn] = Field(min_length=1)


class OrderLineOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    product_id: int
    quantity: int
    unit_price_cents: int


class OrderOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    customer_id: int
    status: str
    lines: list[OrderLineOut]


class NoteIn(BaseModel):
    text: str = Field(min_length=1, max_length=2000)
    notify_customer: bool = False


class SalesSummary(BaseModel):
    orders: int
    revenue_cents: int


class TopProduct(BaseModel):
    sku: str
    units: int
