"""aiodataloader loaders, a fresh set per request (built by later issues)."""
