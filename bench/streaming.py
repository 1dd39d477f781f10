"""Throughput and latency of the IoT layer's MQTT trigger against the real broker, in-process.

Publishes N sensor readings (QoS 1, the device simulator) to the broker and reads them back through
``MqttTrigger.run()`` (a fixed client id and persistent session, batches acknowledged as they are
taken), the way the triggerer runs the watcher: prints readings/s and events/s through the trigger
. The baseline in the same run is a bare paho-mqtt subscriber
(QoS 1, auto-acknowledged) on the same broker: what the broker gives any client.

Run: ``.venv/bin/python bench/streaming.py [N]`` (Mosquitto on ASL_MQTT_HOST:ASL_MQTT_PORT, default
127.0.0.1:1883). The end-to-end figure through a real scheduler and triggerer (publish to curated
zone) is printed by ``tests/deployment/test_streaming_watchers.py``.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import os
import statistics
import sys
import threading
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
HOST = os.environ.get("ASL_MQTT_HOST", "127.0.0.1")
PORT = int(os.environ.get("ASL_MQTT_PORT", "1883"))
N = int(sys.argv[1]) if len(sys.argv) > 1 else 2000


def simulator():
    spec = importlib.util.spec_from_file_location("asl_iot_simulator", ROOT / "include" / "iot" / "simulator.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def forget(client_id: str) -> None:
    import paho.mqtt.client as mqtt

    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id, clean_session=True)
    client.connect(HOST, PORT)
    client.disconnect()


def through_trigger(sim, n: int) -> dict:
    from asl_airflow.airflow.triggers_mqtt import MqttTrigger, create_session

    name = f"asl-bench-{uuid.uuid4().hex[:8]}"
    prefix = f"asl-bench/{name}"
    items = sim.readings(devices=10, count=n, run=name)
    create_session(f"{prefix}/+/telemetry", name, hostname=HOST, port=PORT)

    async def main() -> dict:
        agen = MqttTrigger(f"{prefix}/+/telemetry", name, hostname=HOST, port=PORT, batch_window=0.2).run()
        pending = asyncio.ensure_future(agen.__anext__())
        await asyncio.sleep(1.0)

        publisher = threading.Thread(target=sim.publish_mosquitto, args=(items, HOST, PORT),
                                     kwargs={"prefix": prefix})
        start = time.perf_counter()
        publisher.start()
        got, events = set(), 0
        while len(got) < n:
            event = await asyncio.wait_for(pending, 60)
            events += 1
            got.update(message["payload"]["reading_id"] for message in event.payload["messages"])
            pending = asyncio.ensure_future(agen.__anext__())
        seconds = time.perf_counter() - start
        pending.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await pending
        await agen.aclose()
        publisher.join()
        return {"seconds": seconds, "events": events, "received": len(got)}

    try:
        return asyncio.run(main())
    finally:
        forget(name)


def bare_paho(sim, n: int) -> dict:
    import paho.mqtt.client as mqtt

    name = f"asl-bench-{uuid.uuid4().hex[:8]}"
    prefix = f"asl-bench/{name}"
    items = sim.readings(devices=10, count=n, run=name)
    done = threading.Event()
    got: set[str] = set()

    def on_message(client, userdata, message):
        got.add(message.payload)
        if len(got) >= n:
            done.set()

    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=name, clean_session=True)
    client.on_message = on_message
    client.connect(HOST, PORT)
    client.subscribe(f"{prefix}/+/telemetry", qos=1)
    client.loop_start()
    time.sleep(1.0)
    start = time.perf_counter()
    sim.publish_mosquitto(items, HOST, PORT, prefix=prefix)
    done.wait(60)
    seconds = time.perf_counter() - start
    client.loop_stop()
    client.disconnect()
    return {"seconds": seconds, "received": len(got)}


def main() -> int:
    sim = simulator()
    runs = [through_trigger(sim, N) for _ in range(3)]
    bare = [bare_paho(sim, N) for _ in range(3)]
    trig = statistics.median(r["seconds"] for r in runs)
    base = statistics.median(r["seconds"] for r in bare)
    events = statistics.median(r["events"] for r in runs)
    print(f"MQTT trigger, {N} readings published QoS 1 at once, median of 3: {trig:.2f}s "
          f"({N / trig:,.0f} readings/s, {events:.0f} events: {events / trig:.1f} events/s, "
          f"{N / events:.0f} readings/event)")
    print(f"bare paho subscriber, same broker: {base:.2f}s ({N / base:,.0f} readings/s); "
          f"ratio trigger/bare {trig / base:.2f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
