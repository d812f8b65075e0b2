"""A small shop API (products, customers, orders, reports)."""
