"""A Lambda cold start (`import lambda_handler`, as deploy/template.yaml configures it) loads
what serving needs and nothing else: not the Stripe emulator, the benchmark, the CLI, the
worker supervisor, uvicorn, the reconciliation job or the DynamoDB SDK (opened on the first
request). Measured with `python -X importtime -c 'import lambda_handler'` (README)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

PRODUCTION = {
    "ENVIRONMENT": "production", "COMMERCE_TABLE": "commerce-cold-start", "AWS_DEFAULT_REGION": "us-east-1",
    "STRIPE_SECRET_PARAMETER": "/gateway/stripe-secret", "STRIPE_WEBHOOK_SECRET_PARAMETER": "/gateway/webhook",
    "JWT_SECRET": "cold-start-jwt-secret-0123456789abcdefghij",
    "QUOTE_SIGNING_SECRET": "cold-start-quote-0123456789abcdefghijkl",
    "CHECKOUT_SUCCESS_URL": "https://shop.example/ok", "CHECKOUT_CANCEL_URL": "https://shop.example/cancel",
    "TRUSTED_DOCUMENTS": "only",
}
NOT_FOR_SERVING = ("stripe_emulator", "bench", "cli", "doctor", "serving", "uvicorn", "jobs.reconcile",
                   "aioboto3", "boto3", "matplotlib", "schemathesis", "pytest")


def modules_after_import(module: str, env: dict[str, str]) -> set[str]:
    probe = f"import sys, json; import {module}; print(json.dumps(sorted(sys.modules)))"
    done = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, timeout=120,
                          env={**{k: v for k, v in os.environ.items() if not k.startswith(("STRIPE", "GATEWAY"))},
                               **env})
    assert done.returncode == 0, done.stderr
    return set(json.loads(done.stdout.splitlines()[-1]))


def test_importing_the_lambda_handler_loads_none_of_the_tools():
    loaded = modules_after_import("lambda_handler", PRODUCTION)
    assert "server" in loaded and "schema" in loaded and "mangum" in loaded  # the probe sees imports
    assert sorted(m for m in loaded if any(m == name or m.startswith(name + ".") for name in NOT_FOR_SERVING)) == []


def test_importing_the_schema_package_builds_no_schema():
    loaded = modules_after_import("schema", {})
    assert "strawberry.schema.schema_converter" in loaded  # Strawberry itself is there
    probe = "import schema; print('schema' in vars(schema))"
    done = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.stdout.strip() == "False", done.stderr
