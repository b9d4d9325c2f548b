"""GraphiQL as a newcomer opens it: served by the gateway itself once `npm ci` has installed
its scripts, else from the CDN with a page that says what is wrong when they do not load;
open on the README's example operations."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from tests.services import ROOT
from web.explorer import ASSETS, EXAMPLE, Explorer

BROWSER = shutil.which("chromium") or shutil.which("chromium-browser")


def graphiql(gateway) -> str:
    response = gateway.http.get("/graphql", headers={"accept": "text/html"})
    assert response.status_code == 200
    return response.text


def test_the_explorer_is_served_from_the_gateway_when_its_scripts_are_installed(gateway):
    assert (ROOT / "node_modules" / "graphiql" / "graphiql.min.js").is_file(), "run npm ci"
    page = graphiql(gateway)
    assert "https://unpkg.com" not in page
    for name, (path, _, _) in ASSETS.items():
        assert f"/graphiql/{name}" in page
        asset = gateway.http.get(f"/graphiql/{name}")
        assert asset.status_code == 200 and asset.content == (ROOT / "node_modules" / path).read_bytes()
        assert asset.headers["content-type"].startswith("text/javascript" if name.endswith(".js") else "text/css")


def test_the_explorer_opens_on_the_readme_examples_not_a_generic_welcome(gateway):
    page = graphiql(gateway)
    assert "Welcome to GraphiQL" not in page
    assert "mutation CreateCartQuote" in page and "query Products" in page
    cart = 'createCartQuote(input: {items: [{sku: "N-RED", quantity: 2}, {sku: "BUN-STATEMENT-DUO", quantity: 1}]})'
    assert cart in EXAMPLE and cart in (ROOT / "README.md").read_text()


def test_the_examples_in_the_explorer_run(gateway):
    body = gateway.post({"query": EXAMPLE, "operationName": "CreateCartQuote"}).json()
    assert body["data"]["createCartQuote"]["quote"]["total"]["amount"] > 0, body
    body = gateway.post({"query": EXAMPLE, "operationName": "Products"}).json()
    assert len(body["data"]["products"]) >= 18, body


def test_unknown_assets_are_404(gateway):
    assert gateway.http.get("/graphiql/../../server.py").status_code == 404
    assert gateway.http.get("/graphiql/secrets.json").status_code == 404


def test_without_the_scripts_the_page_uses_the_cdn_with_integrity_and_explains_a_failure(tmp_path):
    page = Explorer(node_modules=tmp_path).page()
    for _, url, integrity in ASSETS.values():
        assert f'crossorigin src="{url}" integrity="{integrity}"' in page or \
            f'crossorigin href="{url}" integrity="{integrity}"' in page
    assert "did not load" in page and "npm ci" in page and "curl -s" in page


def test_the_pinned_cdn_versions_are_the_installed_ones():
    import json

    lock = json.loads((ROOT / "package-lock.json").read_text())["packages"]
    for path, url, _ in ASSETS.values():
        package = "/".join(path.split("/")[:2]) if path.startswith("@") else path.split("/")[0]
        assert f"{package}@{lock['node_modules/' + package]['version']}/" in url


@pytest.mark.skipif(BROWSER is None, reason="no headless Chromium here (apt-get install chromium)")
def test_a_browser_shows_the_explorer_with_the_examples(gateway, tmp_path):
    assert BROWSER is not None
    dom = subprocess.run(
        [BROWSER, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         f"--user-data-dir={tmp_path}", "--virtual-time-budget=8000", "--dump-dom", f"{gateway.url}/graphql"],
        capture_output=True, text=True, timeout=90).stdout
    assert "graphiql-editor" in dom or "graphiql-query-editor" in dom, dom[-2000:]
    assert "CreateCartQuote" in dom and 'class="unavailable"' not in dom
