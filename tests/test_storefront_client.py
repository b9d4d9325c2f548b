"""The storefront's typed client, generated from its operations and schema.graphql with
graphql-codegen, type-checks (tsc --strict) and runs against the gateway (Node)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
STOREFRONT = ROOT / "examples" / "storefront"
BIN = ROOT / "node_modules" / ".bin"


def run(*command: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(list(command), cwd=STOREFRONT, capture_output=True, text=True, timeout=300,
                          env={**os.environ, **(env or {})})


def test_the_generated_client_type_checks_and_runs_against_the_gateway(gateway):
    generated = run(str(BIN / "graphql-codegen"), "--config", "codegen.yml")
    assert generated.returncode == 0, generated.stdout + generated.stderr
    checked = run(str(BIN / "tsc"), "-p", "tsconfig.json")
    assert checked.returncode == 0, checked.stdout + checked.stderr
    token = gateway.token("typed-client", email="typed@example.com")
    ran = run(str(BIN / "tsx"), "run-client.ts", env={"GATEWAY_URL": gateway.url, "GATEWAY_TOKEN": token})
    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert '"quote":6000' in ran.stdout and '"viewer":"Typed"' in ran.stdout
