"""Local stack seed for ``iot_ingestion``: the lake bucket its machine lands readings in.

The readings themselves come from MQTT (``include/iot/simulator.py`` publishing to Mosquitto), or,
for ``make run DAG=iot_ingestion``, from ``include/samples/iot_ingestion.json``: one batch as the MQTT
watcher's event carries it, with two readings that break the contract and one QoS 1 redelivery.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any


def _lake() -> Any:
    spec = importlib.util.spec_from_file_location("asl_seed_lake", Path(__file__).with_name("_lake.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def seed(endpoint: str, region: str) -> dict[str, str]:
    lake = _lake()
    s3 = lake.session(region).client("s3", endpoint_url=endpoint)
    lake.ensure_bucket(s3, lake.LAKE, region)
    return {}
