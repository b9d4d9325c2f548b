"""The benchmark (`python -m bench`). Its modules reuse the test suite's service helpers
(free ports, DynamoDB Local), so tests/ goes on the import path once, here."""

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT / "tests") not in sys.path:
    sys.path.insert(0, str(ROOT / "tests"))
