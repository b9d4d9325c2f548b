# AWS SAM builds each function with these targets (deploy/template.yaml: BuildMethod: makefile),
# in a copy of the repository, with ARTIFACTS_DIR set to where the package goes.

PYTHON ?= python3

build-GatewayFunction build-SyncFunction build-EmailFunction build-StockSweepFunction:
	$(PYTHON) deploy/package_lambda.py "$(ARTIFACTS_DIR)"

.PHONY: build-GatewayFunction build-SyncFunction build-EmailFunction build-StockSweepFunction
