"""Fleet benchmark: N virtual devices -> one Mosquitto -> 1..3 sink processes -> PostgreSQL.

Usage: python bench/fleet.py [--devices 500] [--rate 2] [--seconds 20] [--sinks 1,2,3]
                             [--workers 4] [--backlog 20000] [--json]

Per sink count, on a fresh database:
- **live**: the devices (real `EdgeService`, spread over `--workers` processes) emit mood events
  at `--rate` per device for `--seconds`; reported: events, end-to-end events/s (rows over the
  span from first submit to last row), and latency from `emit()` to the row's `received_at`
  (p50/p95/p99, both clocks are this machine's);
- **drain**: the sinks stop cleanly, `--backlog` events are published while they are down (the
  broker keeps them in the sinks' persistent sessions), the sinks start again; reported: rows/s
  until the backlog is stored. This is the sinks' capacity, independent of the offered load.

Mosquitto and PostgreSQL (fsync on) are started here on free loopback ports and removed after.
"""

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import psycopg
from paho.mqtt.enums import CallbackAPIVersion

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests import samples
from tests.broker import HOST, Mosquitto
from tests.collector import wait_until
from tests.postgres import Postgres, find_bin_dir
from tests.sink_fleet import SinkProcess, count, sink_settings

HERE = Path(__file__).resolve().parent


def _send(worker: subprocess.Popen[str], line: str) -> None:
    if worker.stdin is None:
        raise RuntimeError("worker has no stdin")
    worker.stdin.write(line + "\n")
    worker.stdin.flush()


def _receive(worker: subprocess.Popen[str]) -> str:
    if worker.stdout is None:
        raise RuntimeError("worker has no stdout")
    return worker.stdout.readline().strip()


def start_workers(
    args: argparse.Namespace, port: int, workdir: Path
) -> list[subprocess.Popen[str]]:
    """Device worker processes, each with its share of the devices, once all are connected."""
    per_worker = -(-args.devices // args.workers)
    workers = []
    for first in range(0, args.devices, per_worker):
        n = min(per_worker, args.devices - first)
        command = [sys.executable, str(HERE / "fleet_devices.py"), str(port), str(workdir)]
        workers.append(
            subprocess.Popen(
                [*command, str(first), str(n), str(args.rate)],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                text=True,
            )
        )
    for worker in workers:
        if _receive(worker) != "ready":
            raise RuntimeError("a device worker failed to start")
    return workers


def live_phase(
    workers: list[subprocess.Popen[str]], seconds: float, dsn: str, tmp: Path
) -> dict[str, Any]:
    """Offer the load; wait for every row; latency and end-to-end rate."""
    outs = [tmp / f"sent-{i}-{time.monotonic_ns()}.txt" for i in range(len(workers))]
    for worker, out in zip(workers, outs, strict=True):
        _send(worker, f"go {seconds} {out}")
    for worker in workers:
        _receive(worker)
    submitted: dict[str, float] = {}
    for out in outs:
        pairs = out.read_text().split("\n")
        submitted |= {p.split()[0]: float(p.split()[1]) for p in pairs if p}
    wait_until(lambda: count(dsn, "SELECT count(*) FROM mood_events") >= len(submitted), 300)
    with psycopg.connect(dsn) as conn:
        rows = conn.execute(
            b"SELECT id, extract(epoch FROM received_at) FROM mood_events"
        ).fetchall()
    stored = {str(r[0]): float(r[1]) for r in rows}
    latencies = sorted(stored[i] - t for i, t in submitted.items())
    span = max(stored.values()) - min(submitted.values())
    quantiles = statistics.quantiles(latencies, n=100)
    return {
        "events": len(submitted),
        "rows": len(stored),
        "events_per_s": round(len(stored) / span, 1),
        "latency_p50_s": round(quantiles[49], 3),
        "latency_p95_s": round(quantiles[94], 3),
        "latency_p99_s": round(quantiles[98], 3),
        "latency_max_s": round(latencies[-1], 3),
    }


def publish_backlog(port: int, events: int) -> None:
    """`events` mood payloads from 100 device topics at QoS 1, as fast as the broker takes them."""
    client = mqtt.Client(callback_api_version=CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
    client.max_inflight_messages_set(1000)
    client.connect(HOST, port)
    client.loop_start()
    infos = [
        client.publish(
            f"moodsense/v1/store-{i % 10}/kiosk-{i % 100}/mood", samples.mood().to_json(), qos=1
        )
        for i in range(events)
    ]
    for info in infos:
        info.wait_for_publish(60)
    client.disconnect()
    client.loop_stop()


def drain_phase(sinks: list[SinkProcess], port: int, dsn: str, backlog: int) -> dict[str, Any]:
    """Rows/s while the sinks work off a backlog the broker held for them, timed by the rows'
    own `received_at` (first to last), so process start-up is not counted."""
    for sink in sinks:
        sink.stop()
    with psycopg.connect(dsn) as conn:
        marker = conn.execute(b"SELECT clock_timestamp()").fetchone()
    publish_backlog(port, backlog)
    for sink in sinks:
        sink.start()
    query = "SELECT count(*) FROM mood_events WHERE received_at > %s"
    wait_until(lambda: count(dsn, query, marker[0] if marker else None) >= backlog, 600)
    with psycopg.connect(dsn) as conn:
        span = conn.execute(
            b"SELECT extract(epoch FROM max(received_at) - min(received_at)) "
            b"FROM mood_events WHERE received_at > %s",
            marker,
        ).fetchone()
    seconds = float(span[0]) if span else float("nan")
    return {
        "backlog": backlog,
        "drain_s": round(seconds, 2),
        "rows_per_s": round(backlog / seconds, 1),
    }


def one_round(args: argparse.Namespace, n_sinks: int, env: dict[str, Any]) -> dict[str, Any]:
    """Live and drain phases with `n_sinks` sink processes on a fresh database."""
    name = f"fleet_{n_sinks}"
    with psycopg.connect(env["pg"].dsn(), autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}".encode())
    dsn = env["pg"].dsn(name)
    tmp: Path = env["tmp"]
    sinks = [
        SinkProcess(
            tmp / f"sink-{n_sinks}-{i}.yaml",
            sink_settings(env["port"], dsn, group=f"bench{n_sinks}", client_id=f"s{n_sinks}-{i}"),
        ).start()
        for i in range(n_sinks)
    ]
    try:
        live = live_phase(env["workers"], args.seconds, dsn, tmp)
        drain = drain_phase(sinks, env["port"], dsn, args.backlog) if args.backlog else {}
    finally:
        for sink in sinks:
            sink.stop()
    return {"sinks": n_sinks, "live": live, "drain": drain}


def main() -> int:
    """Run the benchmark; print a table or JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--devices", type=int, default=500)
    parser.add_argument("--rate", type=float, default=2.0, help="events/s per device")
    parser.add_argument("--seconds", type=float, default=20.0, help="live phase length")
    parser.add_argument("--sinks", default="1,2,3")
    parser.add_argument("--workers", type=int, default=4, help="device processes")
    parser.add_argument("--backlog", type=int, default=20_000, help="0 skips the drain phase")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    bin_dir = find_bin_dir()
    if bin_dir is None:
        print("PostgreSQL server binaries not found (apt install postgresql)", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory() as tmp_dir:
        tmp = Path(tmp_dir)
        broker, pg = Mosquitto(tmp / "broker"), Postgres(bin_dir, durable=True)
        broker.start()
        pg.start()
        workers = start_workers(args, broker.port, tmp / "devices")
        env = {"pg": pg, "port": broker.port, "tmp": tmp, "workers": workers}
        try:
            rounds = [one_round(args, int(n), env) for n in args.sinks.split(",")]
        finally:
            for worker in workers:
                worker.communicate(timeout=120)  # closes stdin: the devices shut down
            pg.stop()
            broker.stop()
    result = {
        "devices": args.devices,
        "rate_per_device_hz": args.rate,
        "offered_events_per_s": args.devices * args.rate,
        "seconds": args.seconds,
        "machine": f"{platform.machine()}, {os.cpu_count()} cores",
        "rounds": rounds,
    }
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        for r in rounds:
            print(r)
    return 0


if __name__ == "__main__":
    sys.exit(main())
