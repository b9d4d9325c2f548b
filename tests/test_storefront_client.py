"""The storefront's typed client, generated from its operations and schema.graphql with
graphql-codegen, type-checks (tsc --strict) and runs against the gateway (Node), sending
trusted document ids to a gateway that runs nothing else (TRUSTED_DOCUMENTS=only, as in
production); and the committed manifest is the one codegen writes."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from tests.live_gateway import gateway_env, running_gateway

ROOT = Path(__file__).resolve().parent.parent
STOREFRONT = ROOT / "examples" / "storefront"
BIN = ROOT / "node_modules" / ".bin"


def run(*command: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(list(command), cwd=STOREFRONT, capture_output=True, text=True, timeout=300,
                          env={**os.environ, **(env or {})})


@pytest.fixture(scope="module")
def generated():
    done = run(str(BIN / "graphql-codegen"), "--config", "codegen.yml")
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.fixture(scope="module")
def trusted_only(tmp_path_factory):
    with running_gateway(gateway_env(tmp_path_factory.mktemp("trusted-only"), TRUSTED_DOCUMENTS="only")) as client:
        yield client


def test_the_committed_manifest_is_the_one_codegen_writes(generated):
    written = json.loads((STOREFRONT / "generated" / "persisted-documents.json").read_text())
    committed = json.loads((STOREFRONT / "persisted-documents.json").read_text())
    assert committed == written, "stale manifest: run scripts/persisted-documents and commit the result"


def test_the_generated_client_type_checks_and_runs_against_a_trusted_only_gateway(generated, trusted_only):
    checked = run(str(BIN / "tsc"), "-p", "tsconfig.json")
    assert checked.returncode == 0, checked.stdout + checked.stderr
    token = trusted_only.token("typed-client", email="typed@example.com")
    ran = run(str(BIN / "tsx"), "run-client.ts", env={"GATEWAY_URL": trusted_only.url, "GATEWAY_TOKEN": token})
    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert '"quote":6000' in ran.stdout and '"viewer":"Typed"' in ran.stdout
    free_text = trusted_only.post({"query": "{ __typename }"})
    assert free_text.status_code == 400  # the client got through by ids alone
