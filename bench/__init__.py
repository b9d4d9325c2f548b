"""The benchmark (`python -m bench`, from the repository root). Its modules reuse the test
suite's service helpers (free ports, DynamoDB Local, the hostile documents) as the package
`tests`, importable from the root that `python -m` puts on the path."""

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
