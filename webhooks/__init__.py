"""The Stripe webhook route: signature, durable receipts and leases, the map "event type → handler", dead letters."""
