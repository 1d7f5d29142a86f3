"""Extract the OpenAPI v3 schemas of KServe's InferenceService (v1beta1) and ServingRuntime (v1alpha1) from KServe's
published CRDs into tests/deploy/schemas/, for validating deploy/kserve/*.yaml without a cluster.

Usage: python scripts/kserve_schemas.py KSERVE_CHECKOUT [COMMIT]   (a clone of github.com/kserve/kserve)
Descriptions are dropped (they are 80 % of the 2 MB CRD and validate nothing); everything else is KServe's text.
"""
import json
import subprocess
import sys
from pathlib import Path

import yaml

SOURCES = {"inferenceservice-v1beta1": ("config/crd/full/serving.kserve.io_inferenceservices.yaml", "v1beta1"),
           "servingruntime-v1alpha1": ("config/crd/full/serving.kserve.io_servingruntimes.yaml", "v1alpha1")}
OUT = Path(__file__).resolve().parents[1] / "tests" / "deploy" / "schemas"


def strip_descriptions(node):
    if isinstance(node, dict):
        return {k: strip_descriptions(v) for k, v in node.items() if k != "description" or not isinstance(v, str)}
    if isinstance(node, list):
        return [strip_descriptions(v) for v in node]
    return node


def main(checkout: str, commit: str = "HEAD") -> None:
    sha = subprocess.run(["git", "-C", checkout, "rev-parse", commit], capture_output=True, text=True,
                         check=True).stdout.strip()
    OUT.mkdir(parents=True, exist_ok=True)
    for name, (path, version) in SOURCES.items():
        text = subprocess.run(["git", "-C", checkout, "show", f"{sha}:{path}"], capture_output=True, text=True,
                              check=True).stdout
        crd = next(d for d in yaml.safe_load_all(text) if d)
        schema = next(v for v in crd["spec"]["versions"] if v["name"] == version)["schema"]["openAPIV3Schema"]
        doc = {"source": f"https://github.com/kserve/kserve/blob/{sha}/{path}", "commit": sha,
               "crd": crd["metadata"]["name"], "version": version, "note": "descriptions removed",
               "schema": strip_descriptions(schema)}
        (OUT / f"{name}.json").write_text(json.dumps(doc, sort_keys=True, separators=(",", ":")) + "\n")
        print(f"wrote {OUT / name}.json from {path}@{sha[:12]}")


if __name__ == "__main__":
    main(*sys.argv[1:])
