"""Jobs: reconciliation against Stripe (sync-orders) and dead-letter replay."""
