"""The Stripe webhook route and its handlers (built by a later issue)."""
