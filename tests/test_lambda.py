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
QUOTE = ('mutation { createCartQuote(input: {items: [{sku: "N-RED", quantity: 2}]}) '
         '{ quote { signature total { amount } } } }')
quote = json.loads(call("POST", "/graphql", json.dumps({"query": QUOTE}))[1])
out["quote"] = quote
sig = quote["data"]["createCartQuote"]["quote"]["signature"]
READ = "query($s: ID!) { quote(signature: $s) { total { amount } } }"
out["read"] = call("POST", "/graphql", json.dumps({"query": READ, "variables": {"s": sig}}))
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


# The Lambda runtime's logging, as its bootstrap sets it up: one handler on the root logger
# that writes to the function's log stream (here: a file), its own text format with the
# invocation's request id, and the root level left at WARNING (no AWS_LAMBDA_LOG_LEVEL).
AS_THE_RUNTIME = r'''
import logging, sys
sink = logging.FileHandler(sys.argv[2])
sink.setFormatter(logging.Formatter("[%(levelname)s]\t%(asctime)s\t%(aws_request_id)s\t%(message)s"))
class RequestIdFilter(logging.Filter):
    def filter(self, record):
        record.aws_request_id = "8f5c2f6e-lambda"
        return True
sink.addFilter(RequestIdFilter())
logging.getLogger().addHandler(sink)
assert logging.getLogger().level == logging.WARNING
'''

FAULTS = r'''
import os
bad_mac = hmac.new(b"whsec_not_the_endpoints", f"{t}.{payload}".encode(), hashlib.sha256).hexdigest()
out["bad_signature"] = call("POST", "/stripe/webhook", payload, {"stripe-signature": f"t={t},v1={bad_mac}",
                                                                "x-request-id": "req-bad-signature-1"})
completed = json.dumps({"id": "evt_lambda_2", "type": "charge.refunded",  # read from Stripe, which is down
                        "data": {"object": {"id": "ch_lambda1", "object": "charge"}}})
mac = hmac.new(sys.argv[1].encode(), f"{t}.{completed}".encode(), hashlib.sha256).hexdigest()
out["failing"] = call("POST", "/stripe/webhook", completed, {"stripe-signature": f"t={t},v1={mac}"})
out["checkout"] = call("POST", "/graphql", json.dumps({"query":
    'mutation($s: ID!) { createCheckoutSession(input: {quoteSignature: $s, email: "a@example.com"}) '
    '{ checkoutSession { id } userErrors { code } } }', "variables": {"s": sig}}))
print(json.dumps(out), flush=True)
os._exit(0)
'''


def template_filters() -> dict[str, str]:
    import yaml

    class Loader(yaml.SafeLoader):
        pass

    Loader.add_multi_constructor("!", lambda loader, suffix, node: None)
    template = yaml.load((ROOT / "deploy" / "template.yaml").read_text(), Loader=Loader)
    return {r["Properties"]["MetricTransformations"][0]["MetricName"]: r["Properties"]["FilterPattern"]
            for r in template["Resources"].values() if r["Type"] == "AWS::Logs::MetricFilter"}


def test_on_lambda_every_line_is_json_and_the_alarm_filters_count_failures(tmp_path):
    """As the runtime sets logging up (root at WARNING, its own handler and format), a bad
    signature, a webhook that fails on Stripe, and a checkout with Stripe down each write a
    JSON line that the template's metric filter for its alarm counts."""
    from tests.cloudwatch_filters import matches
    from tests.services import free_port

    secret = "whsec_lambda_test_secret"
    log_file = tmp_path / "lambda.log"
    env = {**{k: v for k, v in os.environ.items() if not k.startswith(("STRIPE_", "COMMERCE_", "LOG_"))},
           "AWS_LAMBDA_FUNCTION_NAME": "gateway", "GATEWAY_DB": str(tmp_path / "g.db"),
           "STRIPE_WEBHOOK_SECRET": secret, "JWT_SECRET": "j" * 40, "QUOTE_SIGNING_SECRET": "q" * 40,
           # a Stripe that is down: nothing listens there
           "STRIPE_SECRET": "sk_test_lambda_down", "STRIPE_API_BASE": f"http://127.0.0.1:{free_port()}",
           "STRIPE_MAX_NETWORK_RETRIES": "0", "STRIPE_TIMEOUT_SECONDS": "2"}
    script = AS_THE_RUNTIME + INVOKE.split('out["unsigned"]')[0] + FAULTS
    result = subprocess.run([sys.executable, "-c", script, secret, str(log_file)], env=env, cwd=ROOT,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-3000:]
    out = json.loads(result.stdout.strip().splitlines()[-1])
    assert out["bad_signature"][0] == 400 and out["failing"][0] == 500
    assert "PAYMENT_PROVIDER_UNAVAILABLE" in out["checkout"][1]

    lines = log_file.read_text().splitlines()
    records = [json.loads(line) for line in lines]  # every line is one JSON object
    assert records and all({"timestamp", "level", "logger", "message"} <= set(r) for r in records)
    assert any(r["kind"] == "request" and r["level"] == "INFO" for r in records if "kind" in r)
    filters = template_filters()
    counted = {metric: sum(matches(pattern, line) for line in lines) for metric, pattern in filters.items()}
    assert counted == {"WebhookFailures": 1, "StripeErrors": 1, "DeadLetters": 0, "OrdersNeedingReview": 0,
                       "OrdersOutOfStock": 0,
                       "WebhookRefusedSignatures": 1, "EmailOldestPendingSeconds": 0, "EmailsPending": 0,
                       "EmailsGivenUp": 0}, counted
    [refused] = [r for r in records if r.get("outcome") == "bad-signature"]
    assert refused["requestId"] == "req-bad-signature-1" and refused["reason"] == "no valid v1 signature"
