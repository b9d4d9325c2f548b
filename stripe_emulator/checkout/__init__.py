"""Checkout sessions: creation, totals, shipping, settlement and expiry."""
