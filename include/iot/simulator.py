"""A fleet of simulated sensors publishing readings over MQTT: the IoT layer's devices.

Locally the readings go to the Mosquitto broker (``ASL_MQTT_HOST``/``ASL_MQTT_PORT``, default
127.0.0.1:1883) with paho-mqtt; in production to AWS IoT Core with the AWS IoT Device SDK v2
(``pip install 'asl-airflow[iot-device]'``): mutual TLS with the thing's certificate, the endpoint and
files from the settings ``ASL_IOT_ENDPOINT`` (``xxxx-ats.iot.<region>.amazonaws.com``),
``ASL_IOT_CERT``, ``ASL_IOT_KEY``, ``ASL_IOT_CA`` and ``ASL_IOT_CLIENT_ID``. Both publish QoS 1 and
wait for every PUBACK, so a reading the broker has not accepted is reported, not silently dropped.

    python include/iot/simulator.py --devices 5 --count 100 --rate 50            # Mosquitto
    python include/iot/simulator.py --target iot-core --count 100                # AWS IoT Core
    python include/iot/simulator.py --count 20 --bad 0.2 --print                 # a sample batch

Readings: ``{"reading_id", "device_id", "ts", "temperature_c", "humidity_pct", "battery_v"}`` on
topic ``<prefix>/<device_id>/telemetry``. ``--bad`` mixes in readings that break the contract
(out-of-range values, a missing field, a string where a number belongs) for the quality gates.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import time
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple

TOPIC_PREFIX = os.environ.get("ASL_IOT_TOPIC_PREFIX", "asl/sensors")
#: the contract of a reading: physical ranges of each measure (the GX suite include/gx/iot_readings.json
#: and the IoT machine apply the same ranges)
RANGES = {"temperature_c": (-40.0, 125.0), "humidity_pct": (0.0, 100.0), "battery_v": (0.0, 5.0)}


def topic_for(device_id: str, prefix: str = TOPIC_PREFIX) -> str:
    return f"{prefix}/{device_id}/telemetry"


def readings(devices: int = 5, count: int = 20, seed: int = 3, bad: float = 0.0,
             start: datetime | None = None, run: str = "r0") -> list[dict[str, Any]]:
    """``count`` readings round-robin over ``devices`` devices; a share ``bad`` of them broken on purpose.

    ``run`` goes into each reading id, so two runs of the simulator never produce the same id.
    """
    rng = random.Random(seed)
    start = start or datetime.now(UTC)
    out = []
    for i in range(count):
        device = f"dev-{i % devices:03d}"
        reading = {
            "reading_id": f"{device}-{run}-{i:06d}",
            "device_id": device,
            "ts": (start + timedelta(milliseconds=100 * i)).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z",
            "temperature_c": round(rng.gauss(21.0, 3.0), 2),
            "humidity_pct": round(min(max(rng.gauss(45.0, 8.0), 0.0), 100.0), 1),
            "battery_v": round(rng.uniform(3.3, 4.2), 3),
        }
        if bad and rng.random() < bad:
            flaw = rng.choice(["hot", "humidity", "missing", "text"])
            if flaw == "hot":
                reading["temperature_c"] = 900.0
            elif flaw == "humidity":
                reading["humidity_pct"] = -12.0
            elif flaw == "missing":
                del reading["battery_v"]
            else:
                reading["temperature_c"] = "21.5C"
        out.append(reading)
    return out


class Published(NamedTuple):
    count: int
    seconds: float
    first_at: float
    last_at: float


def _paced(items: list[dict[str, Any]], rate: float) -> Iterator[dict[str, Any]]:
    started = time.monotonic()
    for i, item in enumerate(items):
        if rate > 0:
            due = started + i / rate
            pause = due - time.monotonic()
            if pause > 0:
                time.sleep(pause)
        yield item


def publish_mosquitto(items: Iterable[dict[str, Any]], host: str | None = None, port: int | None = None,
                      rate: float = 0.0, prefix: str = TOPIC_PREFIX, client_id: str | None = None,
                      timeout: float = 30.0) -> Published:
    """Publish each reading QoS 1 with paho-mqtt and wait for all PUBACKs."""
    import paho.mqtt.client as mqtt

    host = host or os.environ.get("ASL_MQTT_HOST", "127.0.0.1")
    port = int(port or os.environ.get("ASL_MQTT_PORT", "1883"))
    items = list(items)
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id or "", protocol=mqtt.MQTTv311)
    client.max_inflight_messages_set(100)
    client.connect(host, port, keepalive=30)
    client.loop_start()
    try:
        t0 = time.time()
        infos = [client.publish(topic_for(r.get("device_id", "unknown"), prefix), json.dumps(r), qos=1)
                 for r in _paced(items, rate)]
        deadline = time.monotonic() + timeout
        for info in infos:
            info.wait_for_publish(max(deadline - time.monotonic(), 0.1))
            if not info.is_published():
                raise TimeoutError(f"the broker at {host}:{port} did not acknowledge message {info.mid}")
        t1 = time.time()
    finally:
        client.loop_stop()
        client.disconnect()
    return Published(len(items), t1 - t0, t0, t1)


def publish_iot_core(items: Iterable[dict[str, Any]], rate: float = 0.0, prefix: str = TOPIC_PREFIX,
                     timeout: float = 30.0) -> Published:
    """Publish each reading QoS 1 to AWS IoT Core over mutual TLS (AWS IoT Device SDK v2)."""
    try:
        from awscrt import mqtt as crt_mqtt
        from awsiot import mqtt_connection_builder
    except ImportError as exc:
        raise SystemExit("publishing to AWS IoT Core needs the AWS IoT Device SDK: "
                         "pip install 'asl-airflow[iot-device]'") from exc
    settings = {name: os.environ.get(name) for name in
                ("ASL_IOT_ENDPOINT", "ASL_IOT_CERT", "ASL_IOT_KEY", "ASL_IOT_CA", "ASL_IOT_CLIENT_ID")}
    missing = [name for name in ("ASL_IOT_ENDPOINT", "ASL_IOT_CERT", "ASL_IOT_KEY") if not settings[name]]
    if missing:
        raise SystemExit(f"AWS IoT Core settings missing: {', '.join(missing)}")
    connection = mqtt_connection_builder.mtls_from_path(
        endpoint=settings["ASL_IOT_ENDPOINT"], cert_filepath=settings["ASL_IOT_CERT"],
        pri_key_filepath=settings["ASL_IOT_KEY"], ca_filepath=settings["ASL_IOT_CA"],
        client_id=settings["ASL_IOT_CLIENT_ID"] or "asl-airflow-simulator", clean_session=False,
        keep_alive_secs=30)
    connection.connect().result(timeout)
    items = list(items)
    try:
        t0 = time.time()
        futures = [connection.publish(topic=topic_for(r.get("device_id", "unknown"), prefix),
                                      payload=json.dumps(r), qos=crt_mqtt.QoS.AT_LEAST_ONCE)[0]
                   for r in _paced(items, rate)]
        for future in futures:
            future.result(timeout)
        t1 = time.time()
    finally:
        connection.disconnect().result(timeout)
    return Published(len(items), t1 - t0, t0, t1)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--target", choices=["mosquitto", "iot-core"], default="mosquitto")
    parser.add_argument("--devices", type=int, default=5)
    parser.add_argument("--count", type=int, default=20)
    parser.add_argument("--rate", type=float, default=0.0, help="readings per second (0: as fast as acknowledged)")
    parser.add_argument("--bad", type=float, default=0.0, help="share of readings that break the contract")
    parser.add_argument("--seed", type=int, default=3)
    parser.add_argument("--prefix", default=TOPIC_PREFIX)
    parser.add_argument("--print", action="store_true", help="print the readings as JSON, publish nothing")
    args = parser.parse_args(argv)
    items = readings(args.devices, args.count, args.seed, args.bad, run=f"r{int(time.time())}")
    if args.print:
        json.dump(items, sys.stdout, indent=1)
        print()
        return 0
    publish = publish_iot_core if args.target == "iot-core" else publish_mosquitto
    done = publish(items, rate=args.rate, prefix=args.prefix)
    print(f"published {done.count} readings in {done.seconds:.3f}s "
          f"({done.count / done.seconds if done.seconds else float('inf'):.0f}/s, all acknowledged)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
