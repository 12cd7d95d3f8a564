"""Worker of bench/fleet.py: runs COUNT virtual devices (the real `EdgeService`, each with its
own client id, outbox and last will) and emits mood events at RATE per device when told.

Protocol on stdin/stdout: prints `ready` once every device is connected; each line
`go SECONDS OUTFILE` runs one phase, writes `<event id> <submit time, unix s>` per event to
OUTFILE and prints `done N` once every outbox is empty. EOF on stdin stops the devices.

Usage: python bench/fleet_devices.py PORT WORKDIR FIRST COUNT RATE
"""

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from edge.app import EdgeService
from tests import samples
from tests.collector import wait_until
from tests.sink_fleet import emit, start_device

DEVICES_PER_SITE = 10


def run_phase(devices: list[EdgeService], rate_hz: float, seconds: float, out: Path) -> int:
    """Emit round-robin at `rate_hz` per device for `seconds`; returns the events emitted."""
    interval_s = 1.0 / (rate_hz * len(devices))
    lines: list[str] = []
    start = time.monotonic()
    step = 0
    while (now := time.monotonic()) - start < seconds:
        due = start + step * interval_s
        if due > now:
            time.sleep(due - now)  # pacing the load generator, not waiting for a condition
        payload = samples.mood(t_rel_s=float(step))
        submitted = time.time()
        emit(devices[step % len(devices)], payload)
        lines.append(f"{payload.id} {submitted:.6f}")
        step += 1
    wait_until(lambda: all(d.publisher.stats().depth == 0 for d in devices), 120)
    out.write_text("\n".join(lines) + "\n")
    return len(lines)


def main() -> int:
    """Start the devices, then run phases until stdin closes."""
    port, workdir = int(sys.argv[1]), Path(sys.argv[2])
    first, count, rate_hz = int(sys.argv[3]), int(sys.argv[4]), float(sys.argv[5])
    devices = [
        start_device(
            workdir,
            port,
            f"store-{i // DEVICES_PER_SITE}",
            f"kiosk-{i}",
            outbox={"sync": "normal"},  # each real device has its own disk; one fsync here each
        )
        for i in range(first, first + count)
    ]
    wait_until(lambda: all(d.link is not None and d.link.connected for d in devices), 120)
    print("ready", flush=True)
    for line in sys.stdin:
        _go, seconds, outfile = line.split()
        emitted = run_phase(devices, rate_hz, float(seconds), Path(outfile))
        print(f"done {emitted}", flush=True)
    for device in devices:
        device.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
