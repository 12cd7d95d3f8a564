"""Child process for the disk-full test: the real service on a nearly full small filesystem.

Run inside a private mount namespace where DIRECTORY is a fresh tmpfs of a few MiB (the test
starts it with `unshare --user --map-root-user --mount`, no root needed). A ballast file
leaves FREE_MIB free; the service (no broker) then keeps accepting mood events, batch after
batch, while its serve loop runs as in production. Prints one JSON line: what was sent, what
the outbox holds, what health says, and whether any write failed for lack of space.

Usage: python -m tests.helpers.small_disk DIRECTORY FREE_MIB EVENTS
"""

import json
import logging
import sqlite3
import sys
import threading
from pathlib import Path

from edge.app import EdgeService
from edge.appliance.disk_guard import free_bytes
from edge.config import load_secrets
from edge.events.topics import Leaf
from tests import samples
from tests.conftest import make_config

BATCH = 250
_MIB = 1024 * 1024


class Errors(logging.Handler):
    """Counts ERROR records (a failed outbox write is logged at ERROR)."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.count = 0

    def emit(self, record: logging.LogRecord) -> None:
        self.count += 1


def main() -> int:
    directory, free_mib, count = Path(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3])
    ballast = directory / "ballast"
    with ballast.open("wb") as filler:
        filler.write(b"\0" * max(0, free_bytes(directory) - int(free_mib * _MIB)))
    errors = Errors()
    logging.getLogger().addHandler(errors)
    config = make_config(directory, None, metrics={"enabled": False})
    service = EdgeService(config, load_secrets(config))
    service.start()
    stop = threading.Event()
    serving = threading.Thread(target=service.serve, args=(stop,))
    serving.start()
    sent: list[str] = []
    for start in range(0, count, BATCH):
        for i in range(start, min(count, start + BATCH)):
            payload = samples.mood(t_rel_s=float(i))
            sent.append(payload.id)
            service.emit(Leaf.MOOD, payload)
        if not service.publisher.flush(30):
            print(json.dumps({"error": "flush timed out"}), flush=True)
            return 1
        stop.wait(0.1)  # ~2,500 events/s: far faster than a kiosk, slower than the 1 s check
    health = service.health()
    stop.set()
    serving.join()
    service.shutdown()
    with sqlite3.connect(config.state_dir / "outbox.sqlite3") as db:  # type: ignore[operator]
        kept = [
            json.loads(row[0])["id"]
            for row in db.execute("SELECT payload FROM events ORDER BY seq")
        ]
    result = {
        "sent": sent,
        "kept": kept,
        "depth": health.outbox.depth,
        "dropped_total": health.outbox.dropped_total,
        "errors": errors.count,
        "free_mib": free_bytes(directory) / _MIB,
        "guard_low": service.disk_guard.low,
    }
    print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
