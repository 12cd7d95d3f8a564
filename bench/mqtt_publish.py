"""Throughput of the durable publisher vs a bare paho QoS 1 loop, same broker, same run.

Usage: python bench/mqtt_publish.py [--events N] [--rounds R] [--sync full|normal] [--json]

`ratio` is the median of per-round durable/bare ratios. Both sides publish the same
pre-built payloads to a Mosquitto started here on a free
loopback port, with the same paho in-flight window, and are timed from the first publish
to the broker's last PUBACK. Rounds alternate between the two; medians are reported.
"""

import argparse
import json
import platform
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from edge.config.model import MqttConfig
from edge.config.secrets import Secrets
from edge.publish.mqtt_link import MqttLink
from edge.publish.outbox import Outbox
from edge.publish.publisher import DurablePublisher
from tests import samples
from tests.broker import HOST, Mosquitto

TOPIC = "moodsense/v1/bench/kiosk-1/mood"


def bare_paho(port: int, payloads: list[bytes]) -> tuple[float, float]:
    """Events/s and CPU µs/event of a plain QoS 1 publish loop, paho's default window."""
    done = threading.Event()
    acked = 0

    def on_publish(*_args: object) -> None:
        nonlocal acked
        acked += 1
        if acked == len(payloads):
            done.set()

    client = mqtt.Client(callback_api_version=CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
    client.max_queued_messages_set(0)
    client.on_publish = on_publish
    client.connect(HOST, port)
    client.loop_start()
    start, cpu_start = time.perf_counter(), time.process_time()
    for payload in payloads:
        client.publish(TOPIC, payload, qos=1)
    done.wait(300)
    elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu_start
    client.disconnect()
    client.loop_stop()
    return len(payloads) / elapsed, cpu / len(payloads) * 1e6


def durable(port: int, payloads: list[bytes], sync: str, workdir: Path) -> tuple[float, float]:
    """Events/s and CPU µs/event through outbox + publisher + link, until all are acked."""
    outbox = Outbox(workdir / f"bench-{time.monotonic_ns()}.sqlite3", 1_000_000, sync)  # type: ignore[arg-type]
    publisher = DurablePublisher(outbox, batch_max=500, inflight_max=1000)
    config = MqttConfig(host=HOST, port=port, tls={"enabled": False})
    link = MqttLink(
        config,
        Secrets(None, None, None),
        client_id="bench-durable",
        will=("moodsense/v1/bench/kiosk-1/status", b"{}"),
        listener=publisher,
        max_queued=2000,
    )
    publisher.attach(link)
    publisher.start()
    link.start()
    while not link.connected:
        time.sleep(0.01)
    start, cpu_start = time.perf_counter(), time.process_time()
    for payload in payloads:
        publisher.submit(TOPIC, payload)
    # Waits on a condition (as the bare side waits on an Event): polling would take the GIL
    # from paho's network thread every few milliseconds.
    if not publisher.wait_delivered(300):
        raise RuntimeError("durable side did not deliver within 300 s")
    elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu_start
    publisher.stop(5)
    link.stop(None, 5)
    return len(payloads) / elapsed, cpu / len(payloads) * 1e6


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--sync", choices=["full", "normal"], default="full")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args()
    payloads = [samples.mood(t_rel_s=float(i)).to_json() for i in range(args.events)]
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        broker = Mosquitto(workdir / "broker")
        broker.start()
        bare_runs, durable_runs, bare_cpu, durable_cpu = [], [], [], []
        try:
            for _round in range(args.rounds):
                rate, cpu = bare_paho(broker.port, payloads)
                bare_runs.append(rate)
                bare_cpu.append(cpu)
                rate, cpu = durable(broker.port, payloads, args.sync, workdir)
                durable_runs.append(rate)
                durable_cpu.append(cpu)
        finally:
            broker.stop()
    bare, dur = statistics.median(bare_runs), statistics.median(durable_runs)
    # Rounds are paired (bare then durable, back to back), so the median of per-round
    # ratios cancels most of the machine's background noise.
    paired = [d / b for d, b in zip(durable_runs, bare_runs, strict=True)]
    result = {
        "events": args.events,
        "rounds": args.rounds,
        "payload_bytes": len(payloads[0]),
        "outbox_sync": args.sync,
        "durable_events_per_s": round(dur),
        "bare_events_per_s": round(bare),
        "ratio": round(statistics.median(paired), 3),
        "ratio_of_medians": round(dur / bare, 3),
        # CPU time of this process per event (all threads): steadier than wall time on a
        # busy machine, and what matters on a Pi.
        "durable_cpu_us_per_event": round(statistics.median(durable_cpu), 1),
        "bare_cpu_us_per_event": round(statistics.median(bare_cpu), 1),
        "durable_runs": [round(x) for x in durable_runs],
        "bare_runs": [round(x) for x in bare_runs],
        "python": platform.python_version(),
        "paho_mqtt": mqtt.__version__ if hasattr(mqtt, "__version__") else "2.x",
    }
    if args.json:
        print(json.dumps(result))
    else:
        for key, value in result.items():
            print(f"{key:>22}: {value}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
