"""The IoT layer's MQTT trigger against the real broker (Mosquitto on 127.0.0.1:1883), in-process.

What the watcher relies on: each event carries the published readings; a trigger that stops (a
triggerer restart) and comes back with the same client id gets what was published meanwhile; a
batch that was received but never acknowledged (the triggerer killed before the event was
persisted) is delivered again; a dropped connection is re-established. The run a watcher event
starts, with the records in the lake, is tested with a real scheduler and triggerer in
``tests/deployment/test_streaming_watchers.py``.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import json
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

HOST = os.environ.get("ASL_MQTT_HOST", "127.0.0.1")
PORT = int(os.environ.get("ASL_MQTT_PORT", "1883"))
PROJECT = Path(__file__).resolve().parents[2]


def _broker_missing() -> str | None:
    try:
        import aiomqtt  # noqa: F401
    except ImportError:
        return "aiomqtt is not installed (the `streaming` extra; `uv sync` installs it with the dev group)"
    try:
        with socket.create_connection((HOST, PORT), timeout=2):
            return None
    except OSError as exc:
        return f"no MQTT broker on {HOST}:{PORT} ({exc}); start Mosquitto or set ASL_MQTT_HOST/ASL_MQTT_PORT"


pytestmark = pytest.mark.skipif(_broker_missing() is not None, reason=str(_broker_missing()))


def simulator():
    spec = importlib.util.spec_from_file_location("asl_iot_simulator", PROJECT / "include" / "iot" / "simulator.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def stream():
    """A topic prefix and client id of this test's own; the broker's session is removed afterwards."""
    from asl_airflow.airflow.triggers_mqtt import create_session

    name = f"asl-test-{uuid.uuid4().hex[:10]}"
    stream = {"prefix": f"asl-test/{name}", "filter": f"asl-test/{name}/+/telemetry", "client_id": name}
    # the session exists before anything is published, whenever the trigger gets to connect
    create_session(stream["filter"], name, hostname=HOST, port=PORT)
    yield stream
    import paho.mqtt.client as mqtt

    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=name, clean_session=True)
    client.connect(HOST, PORT)  # a clean session under the same id discards the stored one
    client.disconnect()


def _trigger(stream, **kwargs):
    from asl_airflow.airflow.triggers_mqtt import MqttTrigger

    kwargs.setdefault("batch_window", 0.5)
    return MqttTrigger(stream["filter"], stream["client_id"], hostname=HOST, port=PORT, **kwargs)


async def _collect(agen, want: int, timeout: float = 30.0) -> list[dict]:
    """Readings from the trigger's events until ``want`` distinct reading ids arrived."""
    seen: dict[str, dict] = {}
    deadline = time.monotonic() + timeout
    while len(seen) < want:
        event = await asyncio.wait_for(agen.__anext__(), max(deadline - time.monotonic(), 0.1))
        for message in event.payload["messages"]:
            seen[message["payload"]["reading_id"]] = message
    return list(seen.values())


async def _subscribed(agen) -> asyncio.Future:
    """Start the trigger (its first ``__anext__``) and give it a moment to connect and subscribe."""
    first = asyncio.ensure_future(agen.__anext__())
    await asyncio.sleep(1.0)
    return first


def _publish(sim, stream, items) -> None:
    sim.publish_mosquitto(items, HOST, PORT, prefix=stream["prefix"])


def test_event_carries_the_published_readings(stream):
    sim = simulator()
    items = sim.readings(devices=3, count=25, run=stream["client_id"])

    async def main():
        agen = _trigger(stream).run()
        first = await _subscribed(agen)
        _publish(sim, stream, items)
        event = await asyncio.wait_for(first, 20)
        got = [m["payload"] for m in event.payload["messages"]]
        got += [m["payload"] for m in await _collect(agen, len(items) - len(got))] if len(got) < len(items) else []
        await agen.aclose()
        return event.payload, got

    payload, got = asyncio.run(main())
    assert payload["topic_filter"] == stream["filter"] and payload["client_id"] == stream["client_id"]
    assert payload["count"] == len(payload["messages"]) >= 1
    message = payload["messages"][0]
    assert message["qos"] == 1 and message["topic"].startswith(stream["prefix"] + "/dev-")
    assert sorted(got, key=lambda r: r["reading_id"]) == sorted(items, key=lambda r: r["reading_id"])


def test_batches_are_bounded_by_size(stream):
    sim = simulator()
    items = sim.readings(devices=2, count=12, run=stream["client_id"])

    async def main():
        agen = _trigger(stream, batch_size=5, batch_window=2.0).run()
        first = await _subscribed(agen)
        _publish(sim, stream, items)
        sizes = [(await asyncio.wait_for(first, 20)).payload["count"]]
        while sum(sizes) < len(items):
            sizes.append((await asyncio.wait_for(agen.__anext__(), 20)).payload["count"])
        await agen.aclose()
        return sizes

    sizes = asyncio.run(main())
    assert max(sizes) <= 5 and sum(sizes) == len(items)


def test_messages_published_while_the_trigger_is_down_arrive_after_it_restarts(stream):
    """A triggerer restart: the persistent session (fixed client id, QoS 1) queues what is published meanwhile."""
    sim = simulator()
    before = sim.readings(devices=2, count=3, run=stream["client_id"] + "-a")
    during = sim.readings(devices=4, count=40, run=stream["client_id"] + "-b")

    async def first_life():
        agen = _trigger(stream).run()
        first = await _subscribed(agen)
        _publish(sim, stream, before)
        await asyncio.wait_for(first, 20)
        await agen.aclose()  # the triggerer stops the trigger

    async def second_life():
        agen = _trigger(stream).run()
        got = await _collect(agen, len(during))
        await agen.aclose()
        return got

    asyncio.run(first_life())
    _publish(sim, stream, during)  # nobody connected: the broker queues them for the session
    got = asyncio.run(second_life())
    ids = {m["payload"]["reading_id"] for m in got}
    assert {r["reading_id"] for r in during} <= ids
    # the first life's batch was handed out but not acknowledged (the trigger never asked for the
    # next event), so it may come again: at least once, never lost
    assert ids - {r["reading_id"] for r in during} <= {r["reading_id"] for r in before}


_KILLED_CHILD = """
import asyncio, json, sys
from asl_airflow.airflow.triggers_mqtt import MqttTrigger

async def main():
    agen = MqttTrigger(sys.argv[1], sys.argv[2], hostname=sys.argv[3], port=int(sys.argv[4]), batch_window=1.0).run()
    print("subscribing", flush=True)
    event = await agen.__anext__()
    print(json.dumps(event.payload), flush=True)
    await asyncio.sleep(3600)  # never asks for the next event: the batch stays unacknowledged

asyncio.run(main())
"""


def test_a_batch_not_yet_acknowledged_when_the_process_is_killed_is_delivered_again(stream, tmp_path):
    """SIGKILL after the event left the trigger but before it was acknowledged: the broker redelivers it."""
    sim = simulator()
    items = sim.readings(devices=3, count=10, run=stream["client_id"])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(PROJECT), os.environ.get("PYTHONPATH")]))}
    child = subprocess.Popen([sys.executable, "-c", _KILLED_CHILD, stream["filter"], stream["client_id"], HOST,
                              str(PORT)], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env,
                             start_new_session=True)
    try:
        assert child.stdout.readline().strip() == "subscribing"
        time.sleep(3.0)  # imports and the connection
        _publish(sim, stream, items)
        first = json.loads(child.stdout.readline())
        assert first["count"] >= 1
    finally:
        os.killpg(child.pid, signal.SIGKILL)
        child.wait()

    async def restarted():
        agen = _trigger(stream).run()
        got = await _collect(agen, len(items))
        await agen.aclose()
        return got

    got = asyncio.run(restarted())
    ids = {m["payload"]["reading_id"] for m in got}
    assert ids == {r["reading_id"] for r in items}
    # what the killed process had already taken came again (at least once; never lost)
    assert {m["payload"]["reading_id"] for m in first["messages"]} <= ids


def test_ack_mode_acknowledges_only_persisted_batches(stream):
    """The triggerer's ack mode: ``advance`` PUBACKs a clean batch; a failed one (not persisted) is
    left unacknowledged, the group ends, and the next connection of the session gets it again."""
    from airflow.triggers.shared_stream import AdvanceItem, AdvanceOutcome
    from asl_airflow.airflow.triggers_mqtt import MqttDeliveryFailed, MqttStreamProducer

    sim = simulator()
    kept = sim.readings(devices=1, count=3, run=stream["client_id"] + "-kept")
    lost = sim.readings(devices=1, count=3, run=stream["client_id"] + "-lost")
    kwargs = _trigger(stream).serialize()[1]

    async def one_batch(producer, stream_iter, items):
        _publish(sim, stream, items)
        batch, payload = await asyncio.wait_for(stream_iter.__anext__(), 20)
        return batch, payload

    async def main():
        producer = MqttStreamProducer(kwargs)
        it = producer.open_stream()
        pending = asyncio.ensure_future(it.__anext__())
        await asyncio.sleep(1.0)
        _publish(sim, stream, kept)
        batch, payload = await asyncio.wait_for(pending, 20)
        await producer.advance([AdvanceItem(payload, AdvanceOutcome(acked=1, failed=0))])
        _publish(sim, stream, lost)
        batch2, payload2 = await asyncio.wait_for(it.__anext__(), 20)
        with pytest.raises(MqttDeliveryFailed):
            await producer.advance([AdvanceItem(payload2, AdvanceOutcome(acked=0, failed=1))])
        await it.aclose()
        await producer.aclose()
        # the next life of the session: only the batch that was not persisted comes back
        agen = _trigger(stream, batch_window=2.0).run()
        again = await _collect(agen, len(lost))
        await agen.aclose()
        return batch, batch2, again

    batch, batch2, again = asyncio.run(main())
    assert {m["payload"]["reading_id"] for m in batch["messages"]} == {r["reading_id"] for r in kept}
    assert {m["payload"]["reading_id"] for m in batch2["messages"]} == {r["reading_id"] for r in lost}
    assert {m["payload"]["reading_id"] for m in again} == {r["reading_id"] for r in lost}


def test_reconnects_after_the_connection_is_lost(stream):
    """The broker drops the connection (here: a session takeover); the trigger reconnects and goes on."""
    import paho.mqtt.client as mqtt
    from asl_airflow.airflow.triggers_mqtt import MqttStreamProducer

    sim = simulator()
    items = sim.readings(devices=2, count=6, run=stream["client_id"])
    kwargs = {**_trigger(stream).serialize()[1], "reconnect_delay": 0.5}

    async def main():
        producer = MqttStreamProducer(kwargs)
        it = producer.open_stream()
        pending = asyncio.ensure_future(it.__anext__())
        await asyncio.sleep(1.0)
        intruder = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=stream["client_id"], clean_session=False)
        intruder.connect(HOST, PORT)  # the broker disconnects the trigger's connection
        intruder.loop(0.5)
        intruder.disconnect()
        await asyncio.sleep(2.0)  # the trigger's backoff, then its new connection
        _publish(sim, stream, items)
        got = {}
        while len(got) < len(items):
            batch, payload = await asyncio.wait_for(pending, 20)
            producer.ack(payload)
            got.update({m["payload"]["reading_id"]: m for m in batch["messages"]})
            pending = asyncio.ensure_future(it.__anext__())
        pending.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await pending
        await it.aclose()
        return producer.connections, got

    connections, got = asyncio.run(main())
    assert connections >= 2
    assert set(got) == {r["reading_id"] for r in items}


def test_trigger_serializes_and_refuses_settings_that_would_lose_messages():
    from asl_airflow.airflow.triggers_mqtt import MqttTrigger

    classpath, kwargs = MqttTrigger("a/+/b", "fixed-id", port=1884, batch_size=7).serialize()
    assert classpath == "asl_airflow.airflow.triggers_mqtt.MqttTrigger"
    assert MqttTrigger(**kwargs).serialize() == (classpath, kwargs)
    assert MqttTrigger(**kwargs).shared_stream_key() == ("mqtt", "127.0.0.1", "1884", "fixed-id", "a/+/b")
    with pytest.raises(ValueError, match="QoS 0"):
        MqttTrigger("a/b", "id", qos=0)
    with pytest.raises(ValueError, match="client_id"):
        MqttTrigger("a/b", "")
