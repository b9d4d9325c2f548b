"""The deployment template and the container definition."""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent


def test_the_sam_template_passes_cfn_lint():
    cfn_lint = Path(sys.executable).parent / "cfn-lint"
    result = subprocess.run([str(cfn_lint), str(ROOT / "deploy" / "template.yaml")],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_template_keeps_the_seed_table_and_points_at_real_handlers():
    class Loader(yaml.SafeLoader):
        pass

    Loader.add_multi_constructor("!", lambda loader, suffix, node: None)
    template = yaml.load((ROOT / "deploy" / "template.yaml").read_text(), Loader=Loader)
    table = template["Resources"]["CommerceTable"]["Properties"]
    assert [k["AttributeName"] for k in table["KeySchema"]] == ["PK", "SK"]
    assert table["GlobalSecondaryIndexes"][0]["IndexName"] == "stripeCustomerId-index"
    assert table["TimeToLiveSpecification"] == {"AttributeName": "expiresAt", "Enabled": True}
    assert table["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"] is True
    # Read, not imported: importing it builds the app and Mangum's event loop in this process.
    source = ast.parse((ROOT / "lambda_handler.py").read_text())
    functions = {node.name for node in source.body if isinstance(node, ast.FunctionDef)}
    for name in ("GatewayFunction", "SyncFunction", "EmailFunction", "StockSweepFunction"):
        module, function = template["Resources"][name]["Properties"]["Handler"].split(".")
        assert module == "lambda_handler" and function in functions


def test_the_dockerfile_runs_as_non_root_with_a_healthcheck():
    text = (ROOT / "Dockerfile").read_text()
    assert "USER gateway" in text and "HEALTHCHECK" in text and "/healthz" in text
    assert "--workers" in text


def package_files(root: Path) -> dict[str, int]:
    return {str(p.relative_to(root)): p.stat().st_size for p in root.rglob("*") if p.is_file()}


def test_the_lambda_package_is_the_code_and_base_dependencies_only(tmp_path):
    """Built as SAM builds it (BuildMethod: makefile: the Makefile's target, ARTIFACTS_DIR)."""
    artifacts = tmp_path / "GatewayFunction"
    result = subprocess.run(["make", "--no-print-directory", "-C", str(ROOT), "build-GatewayFunction",
                             f"ARTIFACTS_DIR={artifacts}", f"PYTHON={sys.executable}"],
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout + result.stderr
    files = package_files(artifacts)
    size = sum(files.values())
    print(f"lambda package: {size / 1e6:.1f} MB unzipped in {len(files)} files")
    assert size < 50_000_000
    tops = {name.split("/")[0] for name in files}
    assert {"lambda_handler.py", "server.py", "cli.py", "catalog", "schema", "webhooks", "store"} <= tops
    for unwanted in ("var", "node_modules", "tests", "bench", ".ci", ".git", ".venv",
                     "stripe_emulator", "deploy", "scripts", "package.json"):
        assert unwanted not in tops, unwanted
    # of the examples, only the manifest of trusted documents, which the gateway loads at start
    assert [n for n in files if n.startswith("examples/")] == ["examples/storefront/persisted-documents.json"]
    assert not [n for n in files if n.endswith(("gateway.db", "dev-secrets.json", ".pyc"))]
    template = (ROOT / "deploy" / "template.yaml").read_text()
    assert template.count("BuildMethod: makefile") == 4 and "Runtime: python3.13" in template


SERVE_FROM_PACKAGE = r'''
import base64, hashlib, hmac, json, os, sys, time
sys.path.insert(0, sys.argv[1])
import lambda_handler as lh

def call(method, path, body="", headers=None):
    event = {"version": "2.0", "routeKey": "$default", "rawPath": path, "rawQueryString": "",
             "headers": {"content-type": "application/json", **(headers or {})},
             "requestContext": {"http": {"method": method, "path": path, "protocol": "HTTP/1.1",
                                         "sourceIp": "198.51.100.20", "userAgent": "t"},
                                "requestId": "r", "routeKey": "$default", "stage": "$default",
                                "accountId": "1", "apiId": "a", "domainName": "x", "timeEpoch": 0},
             "body": body, "isBase64Encoded": False}
    answer = lh.lambda_handler(event, None)
    text = base64.b64decode(answer["body"]).decode() if answer.get("isBase64Encoded") else answer["body"]
    return answer["statusCode"], json.loads(text)

out = {}
quote = call("POST", "/graphql", json.dumps({"query":
    'mutation { createCartQuote(input: {items: [{sku: "N-RED", quantity: 2}]}) { quote { signature } } }'}))[1]
sig = quote["data"]["createCartQuote"]["quote"]["signature"]
out["checkout"] = call("POST", "/graphql", json.dumps({"query":
    'mutation($s: ID!) { createCheckoutSession(input: {quoteSignature: $s, email: "p@example.com"}) '
    '{ checkoutSession { id total { amount } } userErrors { code } } }', "variables": {"s": sig}}))[1]
payload = json.dumps({"id": "evt_pkg_1", "type": "customer.created", "data": {"object": {"id": "cus_1"}}})
t = int(time.time())
mac = hmac.new(os.environ["STRIPE_WEBHOOK_SECRET"].encode(), f"{t}.{payload}".encode(), hashlib.sha256).hexdigest()
out["webhook"] = call("POST", "/stripe/webhook", payload, {"stripe-signature": f"t={t},v1={mac}"})
out["ready"] = call("GET", "/readyz")
manifest = json.load(open(sys.argv[1] + "/examples/storefront/persisted-documents.json"))
products = next(k for k, v in manifest.items() if v.startswith("query Products"))
out["products"] = call("POST", "/graphql", json.dumps({"documentId": "sha256:" + products}))[1]
out["modules"] = sorted({m.split(".")[0] for m in sys.modules if getattr(sys.modules[m], "__file__", None)
                         and sys.modules[m].__file__.startswith(sys.argv[1])})
print(json.dumps(out), flush=True)
os._exit(0)
'''


def test_the_package_alone_serves_graphql_checkout_and_webhooks_on_dynamodb(tmp_path, dynamodb_local,
                                                                           stripe_emulator_url):
    """The same build for this machine, run with nothing but the standard library and the
    package on the path (python -S): nothing it needs was pruned."""
    import asyncio

    from tests.services import fresh_dynamodb_table

    package = tmp_path / "package"
    build = subprocess.run([sys.executable, str(ROOT / "deploy" / "package_lambda.py"), "--native", str(package)],
                           capture_output=True, text=True, timeout=600)
    assert build.returncode == 0, build.stderr
    env = {"PATH": "/usr/bin:/bin", "ENVIRONMENT": "production", "AWS_LAMBDA_FUNCTION_NAME": "gateway",
           **{k: v for k, v in os.environ.items() if k.startswith("AWS_")},
           "COMMERCE_TABLE": asyncio.run(fresh_dynamodb_table(dynamodb_local)),
           "STRIPE_SECRET": "sk_test_package", "STRIPE_API_BASE": stripe_emulator_url,
           "STRIPE_WEBHOOK_SECRET": "whsec_package_test", "JWT_SECRET": "j" * 40, "QUOTE_SIGNING_SECRET": "q" * 40,
           "CHECKOUT_SUCCESS_URL": "https://shop.example/ok", "CHECKOUT_CANCEL_URL": "https://shop.example/no",
           "CATALOG_PATH": str(package / "catalog" / "products.json")}
    result = subprocess.run([sys.executable, "-S", "-c", SERVE_FROM_PACKAGE, str(package)], env=env,
                            cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-3000:]
    out = json.loads(result.stdout.strip().splitlines()[-1])
    session = out["checkout"]["data"]["createCheckoutSession"]
    assert session["userErrors"] == [] and session["checkoutSession"]["total"]["amount"] == 6000
    assert out["webhook"] == [200, {"received": True, "outcome": "ignored"}]
    assert {p["sku"] for p in out["products"]["data"]["products"]} >= {"N-RED"}  # a trusted document by id
    assert out["ready"] == [200, {"status": "ok", "store": "ok"}]
    assert "stripe_emulator" not in out["modules"] and "uvicorn" not in out["modules"]


def test_the_dockerfile_installs_pinned_dependencies_before_the_code():
    lines = [line for line in (ROOT / "Dockerfile").read_text().splitlines() if line and not line.startswith("#")]
    lock_install = next(i for i, line in enumerate(lines) if "-r deploy/requirements.lock" in line)
    code_copy = lines.index("COPY . .")
    assert lock_install < code_copy and lines[0].startswith("FROM python:3.13")
    pins = [line for line in (ROOT / "deploy" / "requirements.lock").read_text().splitlines()
            if line and line[0] != "#"]
    assert pins and all("==" in p for p in pins)
    import tomllib

    base = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    import re

    def normal(name: str) -> str:
        return re.sub(r"[-_.]+", "-", name).lower()

    pinned = {normal(p.split("==")[0]) for p in pins}
    names = {normal(re.split(r"[<>=\[ ]", d)[0]) for d in base}
    assert names <= pinned, names - pinned  # every base dependency is in the lock
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert {"var", "node_modules", "tests", ".venv"} <= set(ignored)
