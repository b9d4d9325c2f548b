"""The shop's rules: catalog, pricing, quotes (and later orders). No HTTP, no GraphQL."""
