import logging

from fastapi import APIRouter, BackgroundTasks, HTTPException, status
from sqlalchemy.orm import Session

from shop import crud
from shop.db import DbSession
from shop.models import Customer, Order, OrderLine, OrderNote
from shop.schemas import NoteIn, OrderIn, OrderOut

logger = logging.getLogger(__name__)
router = APIRouter(prefix="/orders", tags=["orders"])


@router.post("", response_model=OrderOut, status_code=status.HTTP_201_CREATED)
def place_order(payload: OrderIn, db: DbSession) -> Order:
    customer = db.get(Customer, payload.customer_id)
    if customer is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "customer not found")
    order = Order(customer=customer)
    for line in payload.lines:
        product = crud.get_product(db, line.product_id)
        if product is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, f"product {line.product_id} not found")
        try:
            crud.reserve_stock(product, line.quantity)
        except crud.OutOfStockError as exc:
            raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from exc
        order.lines.append(
            OrderLine(product=product, quantity=line.quantity, unit_price_cents=product.price_cents)
        )
    db.add(order)
    db.commit()
    db.refresh(order)
    return order


@router.get("/{order_id}", response_model=OrderOut)
def read_order(order_id: int, db: DbSession) -> Order:
    order = db.get(Order, order_id)
    if order is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "order not found")
    return order


@router.post("/{order_id}/cancel", response_model=OrderOut)
def cancel_order(order_id: int, db: DbSession) -> Order:
    order = db.get(Order, order_id)
    if order is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "order not found")
    if order.status == "shipped":
        raise HTTPException(status.HTTP_409_CONFLICT, "order already shipped")
    order.status = "cancelled"
    for line in order.lines:
        line.product.stock += line.quantity
    # Bug: nothing commits; get_db closes the session and all of this is rolled back.
    db.add(OrderNote(order_id=order.id, text="cancelled by the customer"))  # expect: SL201
    return order


@router.post("/{order_id}/notes", status_code=status.HTTP_201_CREATED)
def add_note(order_id: int, payload: NoteIn, db: DbSession) -> dict[str, int]:
    if db.get(Order, order_id) is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "order not found")
    note = OrderNote(order_id=order_id, text=payload.text)
    # Bug: only the branch that notifies the customer commits.
    db.add(note)  # expect: SL201
    db.flush()
    if payload.notify_customer:
        logger.info("emailing the customer of order %s", order_id)
        db.commit()
    return {"id": note.id}


def send_receipt(db: Session, order_id: int) -> None:
    order = db.get(Order, order_id)
    if order is not None:
        logger.info("receipt for order %s sent to %s", order.id, order.customer.email)


@router.post("/{order_id}/receipt", status_code=status.HTTP_202_ACCEPTED)
def email_receipt(order_id: int, background_tasks: BackgroundTasks, db: DbSession) -> None:
    # Bug: on FastAPI 0.106-0.117 (this project allows 0.115) get_db closes the session before
    # the response is sent, and the task runs after that, on a closed session.
    background_tasks.add_task(send_receipt, db, order_id)  # expect: SL105
