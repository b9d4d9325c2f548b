"""Log lines: one JSON object per record in production, on Lambda and off a terminal; short
console lines for a person at a terminal in development; the level from LOG_LEVEL."""

from __future__ import annotations

import io
import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from telemetry.logs import ConsoleLines, JsonLines, log_format, log_level, logging_config
from tests.services import free_port, wait_for_port

ROOT = Path(__file__).resolve().parent.parent


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.mark.parametrize("env, stream, expected", [
    ({}, Terminal(), "console"),
    ({}, io.StringIO(), "json"),  # a pipe or a file: a log collector reads it
    ({"ENVIRONMENT": "production"}, Terminal(), "json"),
    ({"AWS_LAMBDA_FUNCTION_NAME": "gateway"}, Terminal(), "json"),
    ({"LOG_FORMAT": "json"}, Terminal(), "json"),
    ({"LOG_FORMAT": "console", "ENVIRONMENT": "production"}, io.StringIO(), "console"),
])
def test_the_format_is_json_unless_a_person_reads_a_development_terminal(env, stream, expected):
    assert log_format(env, stream) == expected


def test_the_level_comes_from_log_level_with_info_by_default():
    assert log_level({}) == "INFO" and log_level({"LOG_LEVEL": "debug"}) == "DEBUG"
    assert log_level({"LOG_LEVEL": "loud"}) == "INFO"
    config = logging_config("json", "INFO")
    assert config["loggers"]["stripe"]["level"] == "WARNING" and config["loggers"]["httpx"]["level"] == "WARNING"
    assert logging_config("json", "DEBUG")["loggers"]["httpx"]["level"] == "DEBUG"


def test_a_json_line_has_timestamp_level_logger_message_and_the_extra_fields():
    record = logging.makeLogRecord({"name": "gateway.access", "levelname": "INFO", "levelno": 20,
                                    "msg": "webhook %s", "args": ("x",), "kind": "webhook", "status": 400})
    line = json.loads(JsonLines().format(record))
    assert {"timestamp", "level", "logger", "message"} <= set(line)
    assert (line["level"], line["logger"], line["message"], line["kind"], line["status"]) == (
        "INFO", "gateway.access", "webhook x", "webhook", 400)
    try:
        raise ValueError("boom")
    except ValueError:
        failed = logging.makeLogRecord({"name": "g", "levelname": "ERROR", "msg": "failed",
                                        "exc_info": sys.exc_info()})
    text = JsonLines().format(failed)
    assert "\n" not in text and "ValueError: boom" in json.loads(text)["exc_info"]
    assert ConsoleLines().format(record) == "INFO gateway.access: webhook x kind=webhook status=400"


def serve_and_read_stderr(tmp_path, **env: str) -> list[str]:
    clean = {k: v for k, v in os.environ.items()
             if not k.startswith(("STRIPE_", "COMMERCE_", "LOG_", "JWT_", "QUOTE_"))}
    port = free_port()
    proc = subprocess.Popen([sys.executable, str(ROOT / "cli.py"), "serve", "--port", str(port)],
                            env={**clean, "GATEWAY_DB": str(tmp_path / "g.db"), **env}, cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        wait_for_port(port, proc, timeout=30)
        httpx.post(f"http://127.0.0.1:{port}/stripe/webhook", content=b"{}",
                   headers={"x-request-id": "req-serve-log-1"})
    finally:
        proc.terminate()
        _, err = proc.communicate(timeout=15)
    return err.strip().splitlines()


def test_gateway_serve_off_a_terminal_writes_only_json_lines(tmp_path):
    lines = serve_and_read_stderr(tmp_path)
    # every line is one JSON object: log records, uvicorn's too, and the few lines
    # `gateway serve` announces itself with (serving.say), off a terminal
    records = [json.loads(line) for line in lines]
    announced = [r for r in records if r["logger"] == "gateway.serve"]
    assert 0 < len(announced) <= 10 and any("GraphiQL" in r["message"] for r in announced)
    loggers = {r["logger"] for r in records}
    assert {"gateway", "gateway.access", "gateway.webhooks", "gateway.settings"} <= loggers
    [refused] = [r for r in records if r.get("kind") == "webhook" and r.get("requestId") == "req-serve-log-1"]
    assert refused["outcome"] == "bad-signature" and refused["status"] == 400


def test_log_level_warning_keeps_info_lines_out(tmp_path):
    records = [json.loads(line) for line in serve_and_read_stderr(tmp_path, LOG_LEVEL="WARNING")
               if line.startswith("{")]
    assert records and all(r["level"] in ("WARNING", "ERROR", "CRITICAL") for r in records)
