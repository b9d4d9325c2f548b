"""Build the AWS Lambda package: the gateway's code and its pinned base dependencies, nothing
else (no tests, bench, examples, node_modules, var/, .ci, nor the Stripe emulator, which
production never mounts).

SAM calls it through the Makefile (`BuildMethod: makefile` in deploy/template.yaml):

    python3 deploy/package_lambda.py ARTIFACTS_DIR

Dependencies come from deploy/requirements.lock as wheels for the function's runtime and
architecture (CPython 3.13, arm64), so no Docker is needed. `--lock` re-resolves that file
from pyproject.toml's base dependencies.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import tomllib
from fnmatch import fnmatch
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LOCK = ROOT / "deploy" / "requirements.lock"
PYTHON_VERSION = "3.13"  # deploy/template.yaml: Runtime python3.13
PLATFORM = "manylinux2014_aarch64"  # Architectures: [arm64]
NOT_SHIPPED = ("stripe_emulator*",)  # development only: production never mounts it
# The catalog, and the manifest of trusted documents (settings.trusted_documents_path's default).
DATA = ("catalog/products.json", "examples/storefront/persisted-documents.json")
# What the function never loads, measured on the first build (83 MB of files):
# botocore's models of the ~400 AWS services (24 MB) but the ones we call and its credential
# chain uses; the stripe SDK's request-parameter TypedDicts, imported only under
# TYPE_CHECKING (8 MB); boto3's resource models but DynamoDB's; the server (uvicorn, click:
# API Gateway is the server; uvloop and httptools, its fast stack); requests and its charset
# detector (the SDK is given httpx).
BOTOCORE_SERVICES = ("dynamodb", "ssm", "sts", "sso", "sso-oidc")
PRUNED = ("stripe/params", "bin", "uvicorn", "uvloop", "httptools", "click", "requests", "charset_normalizer")
# Debug symbols in compiled extensions (11 MB of the 55 MB left): dropped with a strip that
# reads arm64 ELF files (Debian: llvm, or binutils-aarch64-linux-gnu); without one the
# package still works, 11 MB larger.
STRIP_TOOLS = ("llvm-strip", "aarch64-linux-gnu-strip")
LOCK_HEADER = """\
# The base dependencies (pyproject.toml), pinned with everything they pull in: what the Lambda
# package (deploy/package_lambda.py) and the Dockerfile install. Resolved for the Lambda
# runtime (CPython 3.13, manylinux aarch64); regenerate after changing pyproject.toml with
#   python deploy/package_lambda.py --lock
"""


def pip_target_args(native: bool = False) -> list[str]:
    if native:  # this machine's Python and platform: a package this process can import
        return ["--only-binary=:all:"]
    return ["--python-version", PYTHON_VERSION, "--platform", PLATFORM, "--implementation", "cp",
            "--only-binary=:all:"]


def code_paths() -> list[Path]:
    """The gateway's own modules and packages, as pyproject.toml lists them for setuptools."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    paths = [ROOT / f"{module}.py" for module in config["py-modules"]]
    patterns = [p for p in config["packages"]["find"]["include"]
                if not any(fnmatch(p, n) for n in NOT_SHIPPED)]
    for child in sorted(ROOT.iterdir()):
        if child.is_dir() and (child / "__init__.py").exists() and any(fnmatch(child.name, p) for p in patterns):
            paths.append(child)
    return paths + [ROOT / d for d in DATA]


def build(target: Path, *, native: bool = False) -> None:
    """The package in `target`; `native` builds it for this machine instead of Lambda's,
    so a test can import and run it."""
    target.mkdir(parents=True, exist_ok=True)
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                    "--no-compile", "--no-deps", "--target", str(target), *pip_target_args(native),
                    "-r", str(LOCK)], check=True)
    for path in code_paths():
        destination = target / path.relative_to(ROOT)
        if path.is_dir():
            shutil.copytree(path, destination, dirs_exist_ok=True,
                            ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        else:
            destination.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, destination)
    prune(target)
    for cache in target.rglob("__pycache__"):
        shutil.rmtree(cache, ignore_errors=True)


def prune(target: Path) -> None:
    for name in PRUNED:
        shutil.rmtree(target / name, ignore_errors=True)
    for name in ("uvicorn", "uvloop", "httptools", "click", "requests", "charset_normalizer"):
        for info in target.glob(f"{name}-*.dist-info"):
            shutil.rmtree(info)
    models = target / "botocore" / "data"
    for entry in models.iterdir():
        if entry.is_dir() and entry.name not in BOTOCORE_SERVICES:
            shutil.rmtree(entry)
    for entry in (target / "boto3" / "data").iterdir():
        if entry.is_dir() and entry.name != "dynamodb":
            shutil.rmtree(entry)
    strip = next((tool for tool in map(shutil.which, STRIP_TOOLS) if tool), None)
    if strip:
        for library in target.rglob("*.so"):
            subprocess.run([strip, "--strip-unneeded", str(library)], check=True)


def lock() -> None:
    base = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    with tempfile.TemporaryDirectory() as scratch:
        report = Path(scratch) / "report.json"
        subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--dry-run", "--ignore-installed",
                        "--target", scratch, "--report", str(report), *pip_target_args(), *base], check=True)
        installs = json.loads(report.read_text())["install"]
    pins = sorted(f"{i['metadata']['name'].lower()}=={i['metadata']['version']}" for i in installs)
    LOCK.write_text(LOCK_HEADER + "\n".join(pins) + "\n")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("target", nargs="?", type=Path, help="the directory to build into (ARTIFACTS_DIR)")
    parser.add_argument("--lock", action="store_true", help="re-resolve deploy/requirements.lock")
    parser.add_argument("--native", action="store_true", help="for this machine, not Lambda (tests)")
    args = parser.parse_args()
    if args.lock:
        lock()
        return 0
    if args.target is None:
        parser.error("name the target directory")
    build(args.target, native=args.native)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
