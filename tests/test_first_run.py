"""The front door: what a newcomer on a fresh clone meets first. A base install (no extras)
runs every command; `gateway serve` says what runs in a few lines, once it answers; the
commands print their own results, not the SDKs' request logs."""

from __future__ import annotations

import ast
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.services import ROOT, command_env, free_port, run_gateway

RUNTIME = ["server.py", "serving.py", "cli.py", "settings.py", "lambda_handler.py", "doctor.py",
           "schema", "resolvers", "loaders", "webhooks", "jobs", "web", "telemetry", "commerce", "payments", "store",
           "stripe_emulator"]
QUOTE = ('mutation { createCartQuote(input: {items: [{sku: "N-RED", quantity: 2}]}) '
         '{ quote { total { amount currency } } userErrors { code } } }')


def runtime_files() -> list[Path]:
    files: list[Path] = []
    for name in RUNTIME:
        path = ROOT / name
        files += sorted(path.rglob("*.py")) if path.is_dir() else [path]
    return files


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_top_levels(files: list[Path]) -> set[str]:
    """Every absolute import in the run-time code, at module level or inside functions
    (the commands import lazily), by its top-level name."""
    names: set[str] = set()
    for path in files:
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                names |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names.add(node.module.split(".")[0])
    return names - {"__future__"}


@pytest.fixture(scope="module")
def base_venv(tmp_path_factory) -> Path:
    """A throw-away venv with the project installed as `pip install .` installs it: the base
    dependencies only, and only the files the package declares."""
    import shutil

    base = tmp_path_factory.mktemp("base")
    venv, source = base / "venv", base / "source"
    # from a copy of the sources: a build in the work tree would leave build/ and *.egg-info there
    shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(
        ".git", ".venv", "node_modules", "var", "build", "*.egg-info", "__pycache__", "bench", "tests",
        "examples", ".hypothesis", ".pytest_cache"))
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    pip = subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet",
                          "--disable-pip-version-check", str(source)],
                         capture_output=True, text=True, timeout=600)
    assert pip.returncode == 0, pip.stderr[-3000:]
    return venv


def test_the_base_install_imports_every_module_the_commands_load(base_venv, tmp_path):
    files = runtime_files()
    ours = {module_name(path) for path in files}
    script = (
        "import importlib, json, sys\n"
        f"names = {sorted(imported_top_levels(files) | ours)!r}\n"
        "missing = {}\n"
        "for name in names:\n"
        "    try:\n"
        "        importlib.import_module(name)\n"
        "    except Exception as exc:\n"
        "        missing[name] = repr(exc)\n"
        "print(json.dumps(missing))\n"
    )
    # run from elsewhere, so nothing is imported from the repository instead of the install
    result = subprocess.run([str(base_venv / "bin" / "python"), "-c", script], capture_output=True,
                            text=True, cwd=tmp_path, timeout=120)
    assert result.returncode == 0, result.stderr[-3000:]
    assert json.loads(result.stdout) == {}


def test_the_base_install_runs_each_gateway_command(base_venv, tmp_path):
    gateway = str(base_venv / "bin" / "gateway")
    env = command_env(tmp_path)
    commands = [["--help"], ["serve", "--help"], ["create-table", "--help"], ["catalog", "sync", "--help"],
                ["sync-orders", "--help"], ["replay-dead-letters", "--help"], ["emulator", "--help"],
                ["token", "--help"], ["token", "--sub", "newcomer"], ["export-schema"]]
    for args in commands:
        result = subprocess.run([gateway, *args], capture_output=True, text=True, env=env, cwd=tmp_path,
                                timeout=60)
        assert result.returncode == 0, (args, result.stderr[-2000:])
    handler = subprocess.run([str(base_venv / "bin" / "python"), "-c", "import lambda_handler"],
                             capture_output=True, text=True, env=env, cwd=tmp_path, timeout=60)
    assert handler.returncode == 0, handler.stderr[-2000:]


class Serving:
    """`gateway serve` in its own process, its stderr read line by line as it comes."""

    def __init__(self, env: dict, *args: str) -> None:
        self.port = free_port()
        self.proc = subprocess.Popen(
            [sys.executable, str(ROOT / "cli.py"), "serve", "--port", str(self.port), *args],
            env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self.lines: list[str] = []

    def read_until(self, text: str, timeout: float = 45) -> list[str]:
        """Lines up to and including the first that holds `text`; on each line, whether
        the port accepted a connection at that moment."""
        deadline = time.monotonic() + timeout
        assert self.proc.stdout is not None
        while time.monotonic() < deadline:
            line = self.proc.stdout.readline()
            if not line:
                raise AssertionError(f"gateway exited ({self.proc.wait()}): {self.lines}")
            self.lines.append(line.rstrip("\n"))
            if text in line:
                return self.lines
        raise AssertionError(f"no {text!r} in {self.lines}")

    def listening(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                return True
        except OSError:
            return False

    def stop(self) -> str:
        self.proc.terminate()
        rest, _ = self.proc.communicate(timeout=15)
        return rest


def test_serve_says_what_runs_then_the_urls_once_it_answers_in_few_lines(tmp_path):
    server = Serving(command_env(tmp_path))
    try:
        head = server.read_until("GraphiQL")
        assert server.listening(), "the GraphiQL URL came before the port was listening"
        lines = server.read_until("ready")
        base = f"http://127.0.0.1:{server.port}"
        quote = httpx.post(f"{base}/graphql", json={"query": QUOTE}).json()
        assert quote["data"]["createCartQuote"]["quote"]["total"] == {"amount": 6000, "currency": "USD"}
        time.sleep(1.5)  # anything the start-up left behind (webhook deliveries) has printed by now
    finally:
        rest = server.stop()
    output = "\n".join(lines)
    assert len(lines) <= 15, output
    assert "EMULATED" in head[0] or any("EMULATED" in line for line in head), output
    assert "SQLite" in output and "development" in output
    assert f"{base}/graphql" in output and f"{base}/_stripe" in output and f"{base}/stripe/webhook" in output
    later = rest.splitlines()
    assert not [line for line in lines + later if line.startswith(("INFO stripe", "INFO httpx", "INFO:"))]
    assert not [line for line in later if "503" in line or "delivery of" in line], rest


def test_the_emulated_stripe_sends_the_gateway_only_the_events_it_handles(tmp_path):
    server = Serving(command_env(tmp_path))
    try:
        server.read_until("ready")
        base = f"http://127.0.0.1:{server.port}/_stripe"
        headers = {"authorization": "Bearer sk_test_look"}
        products = httpx.get(f"{base}/v1/events", params={"type": "product.created", "limit": 100},
                             headers=headers).json()
        settings = httpx.get(f"{base}/_emulator/webhooks").json()
    finally:
        server.stop()
    assert len(products["data"]) == 20  # the catalog sync made them ...
    assert {event["pending_webhooks"] for event in products["data"]} == {0}  # ... for no endpoint
    assert "checkout.session.completed" in settings["enabled_events"]
    assert "product.created" not in settings["enabled_events"]


@pytest.mark.parametrize("command", ["serve", "emulator"])
def test_a_port_in_use_fails_at_once_naming_the_port(tmp_path, command):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        started = time.monotonic()
        result = run_gateway(command, "--port", str(port), env=command_env(tmp_path))
        seconds = time.monotonic() - started
    assert result.returncode == 2
    assert f"port {port}" in result.stderr and "in use" in result.stderr
    assert "Traceback" not in result.stderr and len(result.stderr.splitlines()) == 1
    assert seconds < 5  # it never got to the catalog, the store or the emulator
    assert not (tmp_path / "g.db").exists()


def test_serve_on_every_interface_prints_where_it_listens_and_a_url_that_opens(tmp_path):
    env = command_env(tmp_path)
    server = Serving(env, "--host", "0.0.0.0")
    try:
        lines = server.read_until("ready")
    finally:
        server.stop()
    output = "\n".join(lines)
    assert f"listening on 0.0.0.0:{server.port} (every interface)" in output
    assert "http://0.0.0.0" not in output
    assert f"http://127.0.0.1:{server.port}/graphql" in output


def test_no_graphiql_url_when_graphiql_is_off(tmp_path):
    server = Serving({**command_env(tmp_path), "GRAPHIQL": "false"})
    try:
        lines = server.read_until("ready")
        page = httpx.get(f"http://127.0.0.1:{server.port}/graphql", headers={"accept": "text/html"})
    finally:
        server.stop()
    assert not [line for line in lines if line.strip().startswith("GraphiQL")]
    assert any("GraphiQL is off" in line for line in lines)
    assert "GraphiQL" not in page.text


def test_moving_to_dynamodb_with_aws_region_only_works_as_the_readme_says(tmp_path, dynamodb_local):
    env = {**command_env(tmp_path), **{k: os.environ[k] for k in os.environ if k.startswith("AWS_")}}
    env.pop("AWS_DEFAULT_REGION")
    env["AWS_REGION"] = "eu-west-1"
    table = f"readme-{os.getpid()}-{time.monotonic_ns() % 10**6}"
    created = run_gateway("create-table", "--table", table, env=env)
    assert created.returncode == 0, created.stderr
    assert "must specify a region" not in created.stderr.lower()
    assert "AWS_DEFAULT_REGION is unset: using AWS_REGION=eu-west-1" in created.stderr  # said, once


@pytest.mark.parametrize("args, says", [
    (["catalog", "sync"], "catalog synced:"),
    (["sync-orders"], "synced:"),
])
def test_commands_print_their_own_result_not_the_sdk_request_log(tmp_path, args, says):
    from stripe_emulator import Emulator
    from tests.services import ServerThread

    server = ServerThread(Emulator(webhook_urls=[], webhook_secret=None, public_url=None).app).start()
    try:
        env = {**command_env(tmp_path), "STRIPE_SECRET": "sk_test_quiet", "STRIPE_API_BASE": server.url}
        result = run_gateway(*args, env=env)
    finally:
        server.stop()
    assert result.returncode == 0, result.stderr
    lines = (result.stdout + result.stderr).splitlines()
    assert len(lines) <= 2 and says in result.stdout, lines


def test_the_sdk_request_log_comes_back_with_log_level_debug(tmp_path):
    from stripe_emulator import Emulator
    from tests.services import ServerThread

    server = ServerThread(Emulator(webhook_urls=[], webhook_secret=None, public_url=None).app).start()
    try:
        env = {**command_env(tmp_path), "STRIPE_SECRET": "sk_test_loud", "STRIPE_API_BASE": server.url,
               "LOG_LEVEL": "DEBUG"}
        result = run_gateway("catalog", "sync", env=env)
    finally:
        server.stop()
    assert result.returncode == 0, result.stderr
    assert '"level":"INFO","logger":"stripe"' in result.stderr and "/v1/prices" in result.stderr


def test_ctrl_c_during_start_up_stops_without_a_traceback(tmp_path):
    import signal

    proc = subprocess.Popen([sys.executable, str(ROOT / "cli.py"), "serve", "--port", str(free_port())],
                            env=command_env(tmp_path), cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    time.sleep(0.4)  # importing, before the server took over SIGINT
    proc.send_signal(signal.SIGINT)
    out, _ = proc.communicate(timeout=30)
    assert "Traceback" not in out, out
