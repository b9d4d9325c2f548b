"""Serve one of bench.apps under the same uvicorn settings for all of them: one worker,
access log off, the same HTTP stack (`--stack`: `fast` is uvloop and httptools, what
`gateway serve` runs; `plain` is asyncio and h11, for comparison), the gateway CLI's logging
(so the gateway writes its JSON request lines, as in production).

    python -m bench.serve {gateway,peer,ceiling,floor,same_bytes} --port 8000 [--stack fast|plain]
"""

from __future__ import annotations

import argparse
from typing import Any

import uvicorn

from bench import apps
from telemetry.logs import configure_logging, logging_config

STACKS: dict[str, dict[str, Any]] = {"fast": {"loop": "uvloop", "http": "httptools"},
                                     "plain": {"loop": "asyncio", "http": "h11"}}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("app", choices=["gateway", "peer", "ceiling", "floor", "same_bytes"])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--stack", choices=sorted(STACKS), default="fast")
    args = parser.parse_args()
    configure_logging("json", "INFO")
    uvicorn.run(getattr(apps, args.app), factory=True, host="127.0.0.1", port=args.port, workers=1,
                access_log=False, log_level="warning", proxy_headers=False,
                log_config=logging_config("json", "INFO"), **STACKS[args.stack])


if __name__ == "__main__":
    main()
