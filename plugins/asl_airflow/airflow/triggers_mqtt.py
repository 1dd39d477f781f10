"""An MQTT event trigger for Airflow's event-driven scheduling (``Asset(watchers=[AssetWatcher(...)])``).

The Amazon provider has a Kinesis trigger but nothing reads MQTT, so this is one small
``BaseEventTrigger`` on aiomqtt (the maintained asyncio client on paho-mqtt). Each event carries a
batch of messages (up to ``batch_size`` messages or ``max_batch_bytes``, collected for at most
``batch_window`` seconds after the first one): the asset event's ``payload``, hence the execution
input of the run it starts.

Why no message is lost, across reconnects and triggerer restarts:

- the client id is fixed and the session persistent (MQTT 3.1.1 ``clean_session=False``; MQTT 5
  ``clean_start=False`` with a ``SessionExpiryInterval``), and the subscription is QoS 1: while the
  trigger is down the broker keeps the session and queues what is published;
- messages are acknowledged by hand (PUBACK), and only once the event made from them is safe. In
  the triggerer that is Airflow 3.3's *ack mode* for shared streams: ``create_shared_stream_producer``
  returns :class:`MqttStreamProducer`, the triggerer persists the trigger event in the metadata DB
  and only then calls :meth:`MqttStreamProducer.advance`, which sends the PUBACKs. A message that was
  received but not acknowledged when the triggerer died is redelivered by the broker when the same
  client id reconnects (MQTT requires it for QoS 1 in a persistent session). Delivery is therefore
  at least once: the consuming machine must be idempotent (the IoT layer keys what it writes by the
  reading's own id).
- Used directly (``run()``, e.g. by ``dag.test()`` tooling or an Airflow without shared streams) the
  batch is acknowledged when the triggerer asks for the next event, i.e. after it took this one.

Limits that come from MQTT, not from this code: the broker stops sending once its in-flight window
of unacknowledged QoS 1 messages is full (Mosquitto ``max_inflight_messages``, 20 by default; AWS IoT
Core 100), so batches are at most that large and throughput is bounded by that window per
persistence round trip; a broker queues a bounded number of messages per offline session
(Mosquitto ``max_queued_messages``, 1000 by default).

aiomqtt is imported inside the producer, never at DAG parse time.
"""

from __future__ import annotations

import asyncio
import base64
import json
import ssl
import time
from collections.abc import AsyncIterator, Hashable, Sequence
from datetime import UTC, datetime
from typing import Any

from airflow.triggers.base import BaseEventTrigger, TriggerEvent

try:  # Airflow 3.3: the triggerer's persistence-gated acknowledgement
    from airflow.triggers.shared_stream import AdvanceItem, SharedStreamProducer
except ImportError:  # pragma: no cover - older Airflow: run() only
    AdvanceItem = Any  # type: ignore[misc,assignment]
    SharedStreamProducer = object  # type: ignore[misc,assignment]

_CLASSPATH = "asl_airflow.airflow.triggers_mqtt.MqttTrigger"


class MqttDeliveryFailed(RuntimeError):
    """A batch was not persisted by the triggerer: its messages are left unacknowledged for redelivery."""


def decode_payload(raw: bytes | bytearray | str | int | float | None) -> Any:
    """A message payload as JSON when it is JSON, else text, else ``{"base64": ...}``: what a machine can read."""
    if raw is None or isinstance(raw, (int, float)):
        return raw
    data = raw.encode() if isinstance(raw, str) else bytes(raw)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return {"base64": base64.b64encode(data).decode("ascii")}
    try:
        return json.loads(text)
    except ValueError:
        return text


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


class MqttStreamProducer(SharedStreamProducer):  # type: ignore[misc,valid-type]
    """Owns one MQTT connection: yields message batches, acknowledges them when told they are safe.

    Reconnects with exponential backoff (``reconnect_delay`` doubling up to ``max_reconnect_delay``);
    acknowledgements of a connection that was lost are dropped, because the broker redelivers those
    messages on the next connection of the same session.
    """

    def __init__(self, kwargs: dict[str, Any]) -> None:
        self.kwargs = kwargs
        self._client: Any = None
        self._connection = 0
        self.connections = 0  # how many times a connection was established (tests, logs)

    # -- connection ------------------------------------------------------------------------------

    def _tls_context(self) -> ssl.SSLContext | None:
        k = self.kwargs
        if not (k.get("tls") or k.get("ca_path") or k.get("cert_path")):
            return None
        context = ssl.create_default_context(cafile=k.get("ca_path") or None)
        if k.get("cert_path"):
            context.load_cert_chain(k["cert_path"], k.get("key_path") or None)
        return context

    def _new_client(self) -> Any:
        import aiomqtt
        from paho.mqtt.packettypes import PacketTypes
        from paho.mqtt.properties import Properties

        k = self.kwargs
        v5 = int(k.get("protocol", 4)) == 5
        options: dict[str, Any] = {
            "identifier": k["client_id"],
            "port": int(k.get("port", 1883)),
            "keepalive": int(k.get("keepalive", 30)),
            "username": k.get("username"),
            "password": k.get("password"),
            "tls_context": self._tls_context(),
            "timeout": float(k.get("connect_timeout", 10.0)),
        }
        if v5:
            properties = Properties(PacketTypes.CONNECT)
            properties.SessionExpiryInterval = int(k.get("session_expiry_seconds", 7 * 24 * 3600))
            options.update(protocol=aiomqtt.ProtocolVersion.V5, clean_start=False, properties=properties)
        else:
            options.update(protocol=aiomqtt.ProtocolVersion.V311, clean_session=False)
        client = aiomqtt.Client(k.get("hostname", "127.0.0.1"), **options)
        # aiomqtt 2.x has no manual acknowledgement of its own; the paho client it wraps does. Set
        # before connecting: the broker replays the session's unacknowledged messages right after CONNACK.
        client._client.manual_ack_set(True)  # noqa: SLF001
        return client

    async def open_stream(self) -> AsyncIterator[tuple[dict[str, Any], tuple[int, list[int]]]]:
        import aiomqtt

        k = self.kwargs
        delay = float(k.get("reconnect_delay", 1.0))
        max_delay = float(k.get("max_reconnect_delay", 30.0))
        while True:
            client = self._new_client()
            try:
                async with client:
                    self._client = client
                    self._connection += 1
                    self.connections += 1
                    await client.subscribe(k["topic_filter"], qos=int(k.get("qos", 1)))
                    delay = float(k.get("reconnect_delay", 1.0))
                    async for batch, mids in self._batches(client):
                        yield batch, (self._connection, mids)
            except aiomqtt.MqttError as exc:
                self._client = None
                _log().warning("MQTT connection to %s:%s lost (%s); reconnecting in %.1fs",
                               k.get("hostname"), k.get("port"), exc, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, max_delay)
            finally:
                self._client = None

    async def _batches(self, client: Any) -> AsyncIterator[tuple[dict[str, Any], list[int]]]:
        """Batches of messages. The read of the next message is one task that outlives a batch's
        time window (``asyncio.wait`` does not cancel it): cancelling a read that had just taken a
        message off aiomqtt's queue would drop that message until the next connection."""
        k = self.kwargs
        size = int(k.get("batch_size", 100))
        window = float(k.get("batch_window", 1.0))
        max_bytes = int(k.get("max_batch_bytes", 128 * 1024))
        messages = aiter(client.messages)
        reading: asyncio.Future[Any] | None = None
        carried: Any = None  # a message that did not fit the previous batch
        try:
            while True:
                batch: list[dict[str, Any]] = []
                mids: list[int] = []
                used, started = 0, None
                while len(batch) < size:
                    if carried is not None:
                        message, carried = carried, None
                    else:
                        if reading is None:
                            reading = asyncio.ensure_future(anext(messages))
                        left = None if started is None else window - (time.monotonic() - started)
                        if left is not None and left <= 0:
                            break
                        done, _ = await asyncio.wait({reading}, timeout=left)
                        if not done:
                            break
                        message, reading = reading.result(), None
                    record = {"topic": str(message.topic), "payload": decode_payload(message.payload),
                              "qos": message.qos, "retain": bool(message.retain), "received_at": _now()}
                    cost = len(json.dumps(record, default=str))
                    if batch and used + cost > max_bytes:
                        carried = message
                        break
                    batch.append(record)
                    mids.append(message.mid)
                    used += cost
                    started = started if started is not None else time.monotonic()
                yield {
                    "broker": f"{k.get('hostname')}:{k.get('port')}",
                    "topic_filter": k["topic_filter"],
                    "client_id": k["client_id"],
                    "count": len(batch),
                    "messages": batch,
                }, mids
        finally:
            if reading is not None:
                reading.cancel()

    # -- acknowledgement ---------------------------------------------------------------------------

    def ack(self, broker_payload: tuple[int, list[int]]) -> int:
        """PUBACK the batch's messages on the connection they came from; 0 when that connection is gone."""
        connection, mids = broker_payload
        client = self._client
        if client is None or connection != self._connection:
            return 0
        qos = int(self.kwargs.get("qos", 1))
        for mid in mids:
            client._client.ack(mid, qos)  # noqa: SLF001
        return len(mids)

    async def advance(self, batch: Sequence[AdvanceItem]) -> None:
        for item in batch:
            outcome = item.outcome
            if outcome.failed or (not outcome.acked and not outcome.rejected):
                # not persisted (ack timeout, or nobody subscribed): leave the messages unacknowledged
                # and end the group, so the next connection of the session gets them again
                raise MqttDeliveryFailed(
                    f"MQTT batch of {len(item.broker_payload[1])} messages not persisted "
                    f"({outcome}); left for the broker to redeliver")
            self.ack(item.broker_payload)

    def get_advance_lane(self, broker_payload: Any) -> Hashable:
        return None

    async def aclose(self) -> None:
        self._client = None


def create_session(topic_filter: str, client_id: str, *, hostname: str = "127.0.0.1", port: int = 1883,
                   qos: int = 1, timeout: float = 10.0) -> None:
    """Make the broker keep a persistent session with the subscription for ``client_id`` now.

    Until the watcher's trigger first connects, the broker has no session to queue messages for:
    what devices publish before then is not delivered to anyone. Run this once when deploying (or
    before a test publishes) and the session exists from that moment, exactly as the trigger's own
    connection makes it (MQTT 3.1.1, ``clean_session=False``, QoS ``qos``).
    """
    import threading

    import paho.mqtt.client as mqtt

    subscribed = threading.Event()
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id, clean_session=False,
                         protocol=mqtt.MQTTv311)
    client.on_subscribe = lambda *args: subscribed.set()
    client.connect(hostname, port, keepalive=30)
    client.loop_start()
    try:
        client.subscribe(topic_filter, qos=qos)
        if not subscribed.wait(timeout):
            raise TimeoutError(f"the broker at {hostname}:{port} did not acknowledge the subscription")
    finally:
        client.disconnect()
        client.loop_stop()


def _log() -> Any:
    import logging

    return logging.getLogger(__name__)


class MqttTrigger(BaseEventTrigger):
    """Fire one event per batch of MQTT messages on ``topic_filter`` (QoS 1, persistent session).

    :param topic_filter: e.g. ``asl/sensors/+/telemetry``.
    :param client_id: fixed client id: the broker keeps the session (subscription and queued
        messages) under it, so every watcher of the same stream needs its own, stable id.
    :param hostname, port: the broker (Mosquitto ``127.0.0.1:1883`` locally; the AWS IoT Core
        ATS endpoint, port 8883 with ``cert_path``/``key_path``/``ca_path``, in production).
    :param protocol: 4 (MQTT 3.1.1, ``clean_session=False``) or 5 (``clean_start=False`` and
        ``session_expiry_seconds``).
    :param batch_size, batch_window, max_batch_bytes: one event per at most this many messages,
        seconds after the first message, serialized bytes (keep it under Step Functions' 256 KiB input).
    """

    def __init__(
        self,
        topic_filter: str,
        client_id: str,
        *,
        hostname: str = "127.0.0.1",
        port: int = 1883,
        protocol: int = 4,
        qos: int = 1,
        username: str | None = None,
        password: str | None = None,
        tls: bool = False,
        ca_path: str | None = None,
        cert_path: str | None = None,
        key_path: str | None = None,
        batch_size: int = 100,
        batch_window: float = 1.0,
        max_batch_bytes: int = 128 * 1024,
        keepalive: int = 30,
        reconnect_delay: float = 1.0,
        max_reconnect_delay: float = 30.0,
        session_expiry_seconds: int = 7 * 24 * 3600,
    ) -> None:
        super().__init__()
        if qos not in (1, 2):
            raise ValueError("qos must be 1 or 2: QoS 0 messages are not queued for an offline session")
        if protocol not in (4, 5):
            raise ValueError("protocol must be 4 (MQTT 3.1.1) or 5 (MQTT 5)")
        if not client_id:
            raise ValueError("client_id must be a fixed, non-empty id: the broker keeps the session under it")
        if not 1 <= batch_size <= 10_000:
            raise ValueError("batch_size must be between 1 and 10000")
        self.kwargs: dict[str, Any] = {
            "topic_filter": topic_filter, "client_id": client_id, "hostname": hostname, "port": port,
            "protocol": protocol, "qos": qos, "username": username, "password": password, "tls": tls,
            "ca_path": ca_path, "cert_path": cert_path, "key_path": key_path, "batch_size": batch_size,
            "batch_window": batch_window, "max_batch_bytes": max_batch_bytes, "keepalive": keepalive,
            "reconnect_delay": reconnect_delay, "max_reconnect_delay": max_reconnect_delay,
            "session_expiry_seconds": session_expiry_seconds,
        }

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return _CLASSPATH, dict(self.kwargs)

    # -- the triggerer's ack mode (Airflow 3.3 shared streams) ---------------------------------------

    def shared_stream_key(self) -> Hashable | None:
        k = self.kwargs
        return ("mqtt", k["hostname"], str(k["port"]), k["client_id"], k["topic_filter"])

    @classmethod
    def create_shared_stream_producer(cls, kwargs: dict[str, Any]) -> MqttStreamProducer:
        return MqttStreamProducer(kwargs)

    async def filter_shared_stream(self, shared_stream: AsyncIterator[Any]) -> AsyncIterator[TriggerEvent]:
        async for batch in shared_stream:
            yield TriggerEvent(batch)

    # -- standalone ---------------------------------------------------------------------------------

    async def run(self) -> AsyncIterator[TriggerEvent]:
        producer = MqttStreamProducer(self.kwargs)
        try:
            async for batch, broker_payload in producer.open_stream():
                yield TriggerEvent(batch)
                # the caller came back for the next event: it has taken this one
                producer.ack(broker_payload)
        finally:
            await producer.aclose()
