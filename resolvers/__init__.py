"""One module per domain: auth checks, input -> commerce call -> result."""
