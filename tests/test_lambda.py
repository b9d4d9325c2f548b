"""The Lambda handler answers API Gateway (HTTP API, payload v2) events: GraphQL and a
signed webhook, in one warm container that opens its services once."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

INVOKE = r'''
import base64, hashlib, hmac, json, sys, time
import lambda_handler as lh

def event(method, path, body, headers):
    return {"version": "2.0", "routeKey": "$default", "rawPath": path, "rawQueryString": "",
            "headers": {"content-type": "application/json", **headers},
            "requestContext": {"http": {"method": method, "path": path, "protocol": "HTTP/1.1",
                                        "sourceIp": "198.51.100.20", "userAgent": "test"},
                               "requestId": "r1", "routeKey": "$default", "stage": "$default",
                               "accountId": "1", "apiId": "a", "domainName": "x", "timeEpoch": 0},
            "body": body, "isBase64Encoded": False}

def call(method, path, body="", headers=None):
    answer = lh.lambda_handler(event(method, path, body, headers or {}), None)
    text = base64.b64decode(answer["body"]).decode() if answer.get("isBase64Encoded") else answer["body"]
    return answer["statusCode"], text

out = {}
out["products"] = call("POST", "/graphql", json.dumps({"query": "{ products { sku } }"}))
services = lh.app.state.services
quote = json.loads(call("POST", "/graphql", json.dumps({"query":
    'mutation { createCartQuote(input: {items: [{sku: "N-RED", quantity: 2}]}) { quote { signature total { amount } } } }'}))[1])
out["quote"] = quote
sig = quote["data"]["createCartQuote"]["quote"]["signature"]
out["read"] = call("POST", "/graphql", json.dumps({"query": "query($s: ID!) { quote(signature: $s) { total { amount } } }",
                                                   "variables": {"s": sig}}))
payload = json.dumps({"id": "evt_lambda_1", "type": "customer.created", "data": {"object": {"id": "cus_1"}}})
t = int(time.time())
mac = hmac.new(sys.argv[1].encode(), f"{t}.{payload}".encode(), hashlib.sha256).hexdigest()
out["webhook"] = call("POST", "/stripe/webhook", payload, {"stripe-signature": f"t={t},v1={mac}"})
out["unsigned"] = call("POST", "/stripe/webhook", payload)
out["health"] = call("GET", "/healthz")
out["same_services"] = lh.app.state.services is services
print(json.dumps(out), flush=True)
import os
os._exit(0)  # a Lambda container is frozen, never shut down: its store thread is still open
'''


def test_the_lambda_handler_serves_graphql_and_signed_webhooks(tmp_path):
    secret = "whsec_lambda_test_secret"
    env = {**{k: v for k, v in os.environ.items() if not k.startswith(("STRIPE_", "COMMERCE_"))},
           "GATEWAY_DB": str(tmp_path / "g.db"), "STRIPE_WEBHOOK_SECRET": secret,
           "JWT_SECRET": "j" * 40, "QUOTE_SIGNING_SECRET": "q" * 40}
    result = subprocess.run([sys.executable, "-c", INVOKE, secret], env=env, cwd=ROOT,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-3000:]
    out = json.loads(result.stdout.strip().splitlines()[-1])
    status, body = out["products"]
    assert status == 200 and len(json.loads(body)["data"]["products"]) == 20
    assert out["quote"]["data"]["createCartQuote"]["quote"]["total"]["amount"] == 6000
    status, body = out["read"]
    assert status == 200 and json.loads(body)["data"]["quote"]["total"]["amount"] == 6000
    status, body = out["webhook"]
    assert status == 200 and json.loads(body)["outcome"] == "ignored"
    assert out["unsigned"][0] == 400
    assert out["health"][0] == 200
    assert out["same_services"] is True  # opened once, reused by the warm container
