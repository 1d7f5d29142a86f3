"""`pip check` for the images: every installed distribution's requirements are met, except one swap made on purpose.

Usage (in a Dockerfile RUN): python pip_check.py [--replaced onnxruntime-gpu=onnxruntime]
The cpu image installs onnxruntime (64 MB) where kanserve's Linux metadata names onnxruntime-gpu (350 MB): the two
provide the same `onnxruntime` module, so that one unmet requirement is allowed when the replacement is installed.
"""
import argparse
import re
import subprocess
import sys
from importlib.metadata import PackageNotFoundError, version


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--replaced", action="append", default=[], metavar="WANTED=INSTALLED")
    args = p.parse_args()
    allowed = set()
    for pair in args.replaced:
        wanted, installed = pair.split("=")
        try:
            version(installed)
        except PackageNotFoundError:
            print(f"pip_check: {installed} (replacing {wanted}) is not installed", file=sys.stderr)
            return 1
        allowed.add(wanted)
    out = subprocess.run([sys.executable, "-m", "pip", "check"], capture_output=True, text=True, check=False)
    lines = [ln for ln in out.stdout.splitlines() if ln and not ln.startswith("No broken requirements")]
    broken = [ln for ln in lines if not re.search(r"requires (\S+), which is not installed", ln)
              or re.search(r"requires (\S+),", ln).group(1).lower() not in allowed]
    print("\n".join(broken) or f"pip check: ok (allowed: {', '.join(sorted(allowed)) or 'nothing'})")
    return 1 if broken else 0


if __name__ == "__main__":
    sys.exit(main())
