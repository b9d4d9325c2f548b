"""The benchmark (`python -m bench`, from the repository root). Its modules reuse the test
suite's service helpers (free ports, DynamoDB Local, the hostile documents) as the package
`tests`, importable from the root that `python -m` puts on the path."""

import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def stop(proc: subprocess.Popen, seconds: float) -> None:
    """Ask a server to stop; kill it if it has not within `seconds`."""
    proc.terminate()
    try:
        proc.wait(seconds)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
