"""Write include/sagemaker_images.json: SageMaker built-in algorithm images per region, from the SDK.

DAG files must not import the sagemaker SDK at parse time (it takes over a second), so the image
URIs it computes are generated once with ``make sagemaker-images`` and read as plain JSON.
"""

from __future__ import annotations

import json
from pathlib import Path

ALGORITHMS = {"xgboost": "1.7-1"}
REGIONS = [
    "us-east-1", "us-east-2", "us-west-1", "us-west-2", "eu-west-1", "eu-west-2", "eu-central-1",
    "eu-north-1", "ap-southeast-1", "ap-southeast-2", "ap-northeast-1", "ap-south-1", "ca-central-1",
    "sa-east-1",
]
OUT = Path(__file__).resolve().parents[1] / "sagemaker_images.json"


def build() -> dict[str, dict[str, str]]:
    from sagemaker.core import image_uris

    return {
        algo: {region: image_uris.retrieve(algo, region, version=version) for region in REGIONS}
        for algo, version in ALGORITHMS.items()
    }


if __name__ == "__main__":
    OUT.write_text(json.dumps(build(), indent=2, sort_keys=True) + "\n")
    print(f"wrote {OUT}")
