"""The deployment template and the container definition."""

from __future__ import annotations

import ast
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
    for name in ("GatewayFunction", "SyncFunction"):
        module, function = template["Resources"][name]["Properties"]["Handler"].split(".")
        assert module == "lambda_handler" and function in functions


def test_the_dockerfile_runs_as_non_root_with_a_healthcheck():
    text = (ROOT / "Dockerfile").read_text()
    assert "USER gateway" in text and "HEALTHCHECK" in text and "/healthz" in text
    assert "--workers" in text
