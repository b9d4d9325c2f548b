"""A Lambda cold start: `python -X importtime -c 'import lambda_handler'`, in a fresh process
each time, configured as deploy/template.yaml configures the function (production, DynamoDB,
secrets from SSM, TRUSTED_DOCUMENTS=only; nothing is contacted at import). Best and median of
the repeats: on a shared machine the best is the one least disturbed."""

from __future__ import annotations

import os
import re
import statistics
import subprocess
import sys

from bench import ROOT

PRODUCTION = {
    "ENVIRONMENT": "production", "COMMERCE_TABLE": "bench-cold-start", "AWS_DEFAULT_REGION": "us-east-1",
    "STRIPE_SECRET_PARAMETER": "/bench/stripe-secret", "STRIPE_WEBHOOK_SECRET_PARAMETER": "/bench/webhook",
    "JWT_SECRET": "bench-cold-start-jwt-0123456789abcdefghijk",
    "QUOTE_SIGNING_SECRET": "bench-cold-start-quote-0123456789abcdefg",
    "CHECKOUT_SUCCESS_URL": "https://shop.example/ok", "CHECKOUT_CANCEL_URL": "https://shop.example/cancel",
    "TRUSTED_DOCUMENTS": "only",
}
LINE = re.compile(r"import time:\s+(\d+) \|\s+(\d+) \|( *)(\S+)")


def import_seconds() -> tuple[float, dict[str, float]]:
    """One fresh import: its total, and the cumulative time of each package the server imports."""
    env = {**{k: v for k, v in os.environ.items() if not k.startswith(("STRIPE", "GATEWAY"))}, **PRODUCTION}
    done = subprocess.run([sys.executable, "-X", "importtime", "-c", "import lambda_handler"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120, check=True)
    total, parts = 0.0, dict[str, float]()
    for line in done.stderr.splitlines():
        match = LINE.match(line)
        if not match:
            continue
        cumulative, depth, name = int(match.group(2)) / 1e6, len(match.group(3)), match.group(4)
        if name == "lambda_handler":
            total = cumulative
        elif depth == 5 and name.split(".")[0] not in sys.stdlib_module_names:  # what server imports
            parts[name] = max(parts.get(name, 0.0), cumulative)
    return total, parts


def run(*, repeats: int) -> dict:
    runs = [import_seconds() for _ in range(repeats)]
    best_total, best_parts = min(runs, key=lambda r: r[0])
    largest = dict(sorted(best_parts.items(), key=lambda kv: -kv[1])[:8])
    return {"repeats": repeats, "best_s": round(best_total, 3),
            "median_s": round(statistics.median(r[0] for r in runs), 3),
            "runs_s": [round(r[0], 3) for r in runs], "largest_s": {k: round(v, 3) for k, v in largest.items()}}
