"""The benchmark (`python -m bench`, from the repository root). Its modules reuse the test
suite's service helpers (free ports, DynamoDB Local, the hostile documents) as the package
`tests`, importable from the root that `python -m` puts on the path."""

import os
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """The CPU a process has used so far (utime + stime from /proc/PID/stat)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime, stime


def stop(proc: subprocess.Popen, seconds: float) -> None:
    """Ask a server to stop; kill it if it has not within `seconds`."""
    proc.terminate()
    try:
        proc.wait(seconds)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
