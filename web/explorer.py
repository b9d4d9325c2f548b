"""GraphiQL, the explorer at GET /graphql in a browser.

Its scripts are npm packages (react, react-dom, graphiql, @graphiql/plugin-explorer, in
package.json at their exact versions). After `npm ci` in the repository they are served
by the gateway itself under /graphiql/, so the explorer works offline. Without them the
page loads the same versions from a CDN, with Subresource Integrity, and if the scripts have
not arrived after a few seconds it says so and shows how to query with curl instead.

The editor opens on the README's example operations, not on a generic welcome text.
"""

from __future__ import annotations

import html
import json
from pathlib import Path

from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Route

ASSET_PATH = "/graphiql"
NODE_MODULES = Path(__file__).resolve().parent.parent / "node_modules"

# name served -> (file inside node_modules, CDN URL, its SRI hash): the versions are the
# ones package.json pins; the hashes are the CDN files' (Strawberry's page uses the same).
ASSETS: dict[str, tuple[str, str, str]] = {
    "react.js": ("react/umd/react.production.min.js",
                 "https://unpkg.com/react@18.2.0/umd/react.production.min.js",
                 "sha384-tMH8h3BGESGckSAVGZ82T9n90ztNXxvdwvdM6UoR56cYcf+0iGXBliJ29D+wZ/x8"),
    "react-dom.js": ("react-dom/umd/react-dom.production.min.js",
                     "https://unpkg.com/react-dom@18.2.0/umd/react-dom.production.min.js",
                     "sha384-bm7MnzvK++ykSwVJ2tynSE5TRdN+xL418osEVF2DE/L/gfWHj91J2Sphe582B1Bh"),
    "graphiql.css": ("graphiql/graphiql.min.css",
                     "https://unpkg.com/graphiql@3.8.3/graphiql.min.css",
                     "sha384-Mq3vbRBY71jfjQAt/DcjxUIYY33ksal4cgdRt9U/hNPvHBCaT2JfJ/PTRiPKf0aM"),
    "explorer.css": ("@graphiql/plugin-explorer/dist/style.css",
                     "https://unpkg.com/@graphiql/plugin-explorer@1.0.2/dist/style.css",
                     "sha384-5DFJlDPW2tSATRbM8kzoP1j194jexLswuNmClWoRr2Q0x7R68JIQzPHZ02Faktwi"),
    "graphiql.js": ("graphiql/graphiql.min.js",
                    "https://unpkg.com/graphiql@3.8.3/graphiql.min.js",
                    "sha384-HbRVEFG0JGJZeAHCJ9Xm2+tpknBQ7QZmNlO/DgZtkZ0aJSypT96YYGRNod99l9Ie"),
    "explorer.js": ("@graphiql/plugin-explorer/dist/index.umd.js",
                    "https://unpkg.com/@graphiql/plugin-explorer@1.0.2/dist/index.umd.js",
                    "sha384-2oonKe47vfHIZnmB6ZZ10vl7T0Y+qrHQF2cmNTaFDuPshpKqpUMGMc9jgj9MLDZ9"),
}
MEDIA_TYPES = {".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8"}

EXAMPLE = """\
# The Babes Club commerce gateway: run an operation with ▶ (Ctrl-Enter).
# Money is an integer in minor units (cents).
# Signed in: Headers (below) {"Authorization": "Bearer <token>"};
# `.venv/bin/gateway token --sub you` mints a development token.

query Products {
  products { sku name price { amount currency } active bundleItems { sku quantity } }
}

mutation CreateCartQuote {
  createCartQuote(input: {items: [{sku: "N-RED", quantity: 2}, {sku: "BUN-STATEMENT-DUO", quantity: 1}]}) {
    quote { signature subtotal { amount } discount { amount } total { amount currency } expiresAt
            items { sku quantity unitPrice { amount } total { amount } discount { amount } } }
    userErrors { field code message }
  }
}

# Then, with the signature from above:
# mutation { createCheckoutSession(input: {quoteSignature: "…", email: "you@example.com"}) {
#   checkoutSession { id url status total { amount currency } } userErrors { field code message } } }
"""


class Explorer:
    def __init__(self, node_modules: Path = NODE_MODULES) -> None:
        self.node_modules = node_modules
        self.local = all((node_modules / path).is_file() for path, _, _ in ASSETS.values())

    def page(self, graphql_path: str = "/graphql") -> str:
        def src(name: str) -> str:
            if self.local:
                return f'src="{ASSET_PATH}/{name}"'
            _, url, integrity = ASSETS[name]
            return f'crossorigin src="{url}" integrity="{integrity}"'

        def href(name: str) -> str:
            if self.local:
                return f'href="{ASSET_PATH}/{name}"'
            _, url, integrity = ASSETS[name]
            return f'crossorigin href="{url}" integrity="{integrity}"'

        curl = (f"curl -s {{origin}}{graphql_path} -H 'content-type: application/json' "
                "-d '{\"query\": \"{ products { sku name price { amount } } }\"}'")
        return PAGE.format(
            react=src("react.js"), react_dom=src("react-dom.js"), graphiql_css=href("graphiql.css"),
            explorer_css=href("explorer.css"), graphiql_js=src("graphiql.js"),
            explorer_js=src("explorer.js"), example=_script_string(EXAMPLE),
            curl=_script_string(curl), local="true" if self.local else "false",
            title=html.escape("The Babes Club — GraphiQL"))

    async def asset(self, request: Request) -> Response:
        entry = ASSETS.get(request.path_params["name"])
        if entry is None or not self.local:
            return JSONResponse({"error": "no such asset"}, status_code=404)
        path = self.node_modules / entry[0]
        return FileResponse(path, media_type=MEDIA_TYPES[path.suffix],
                            headers={"cache-control": "public, max-age=86400"})

    def routes(self) -> list[Route]:
        return [Route(ASSET_PATH + "/{name}", self.asset, methods=["GET"])]


def _script_string(text: str) -> str:
    """A JS string literal that is safe inside <script> (no `</script>` can end it)."""
    return json.dumps(text).replace("</", "<\\/")


PAGE = """<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>{title}</title>
  <style>
    body {{ height: 100%; margin: 0; width: 100%; overflow: auto; }}
    #graphiql {{ height: 100vh; display: flex; }}
    #graphiql.unavailable {{ display: block; height: auto; font-family: sans-serif; max-width: 46em;
                            margin: 3em auto; line-height: 1.4; }}
    .unavailable pre {{ background: #f4f4f4; padding: 1em; white-space: pre-wrap; word-break: break-all; }}
  </style>
  <link rel="stylesheet" {graphiql_css}>
  <link rel="stylesheet" {explorer_css}>
  <script {react}></script>
  <script {react_dom}></script>
</head>
<body>
  <div id="graphiql">Loading the explorer…</div>
  <script {graphiql_js}></script>
  <script {explorer_js}></script>
  <script>
    const EXAMPLE = {example};
    const LOCAL = {local};
    const url = window.location.href.split("?")[0];

    function unavailable() {{
      const box = document.getElementById("graphiql");
      box.className = "unavailable";
      box.innerHTML = "<h1>The explorer's scripts did not load</h1>" +
        "<p>" + (LOCAL ? "The gateway could not serve them." :
          "They come from a CDN (unpkg.com), which this browser cannot reach: offline, or blocked. " +
          "To serve them from the gateway, run <code>npm ci</code> in the repository and restart it.") +
        "</p><p>The API itself works. Query it with curl:</p><pre></pre>" +
        "<p>or open the README's example operations in any GraphQL client.</p>";
      box.querySelector("pre").textContent = {curl}.replace("{{origin}}", window.location.origin);
    }}

    function start() {{
      if (typeof GraphiQL === "undefined" || typeof React === "undefined" ||
          typeof GraphiQLPluginExplorer === "undefined") {{
        return false;
      }}
      const fetcher = GraphiQL.createFetcher({{ url }});
      const explorer = GraphiQLPluginExplorer.explorerPlugin();
      ReactDOM.createRoot(document.getElementById("graphiql")).render(
        React.createElement(GraphiQL, {{
          fetcher, plugins: [explorer], defaultQuery: EXAMPLE, defaultEditorToolsVisibility: true,
          isHeadersEditorEnabled: true, shouldPersistHeaders: true, inputValueDeprecation: true,
        }}));
      return true;
    }}

    if (!start()) {{
      // a script that failed or is still loading: give it a few seconds, then say why
      let waited = 0;
      const timer = setInterval(() => {{
        waited += 500;
        if (start()) {{ clearInterval(timer); }}
        else if (waited >= 4000) {{ clearInterval(timer); unavailable(); }}
      }}, 500);
    }}
  </script>
</body>
</html>
"""
