"""Child process for crash tests: runs the real service and emits mood events.

Prints `accepted <id>` only after the event is committed to the outbox (the publisher's
definition of accepted), then keeps running until killed, or with `--drain` until the outbox
is empty and it shuts down cleanly.

With `--pause-after N` it prints `paused` after N accepted events and waits for a line on
stdin, so a test can change the world (freeze the broker) at a known point. SIGTERM stops it the
way it stops `moodsense run`: emitting ends, the service shuts down, it prints `stopped`.

Usage: python -m tests.helpers.emit_events CONFIG_JSON COUNT [--pause-after N] [--drain]
"""

import sys
import time
from pathlib import Path

from edge.app import EdgeService
from edge.appliance.signals import stop_on_signals
from edge.config import EdgeConfig, load_secrets
from edge.events.topics import Leaf
from tests import samples

BATCH = 50


def main() -> int:
    config = EdgeConfig.model_validate_json(Path(sys.argv[1]).read_text())
    count = int(sys.argv[2])
    pause_after = (
        int(sys.argv[sys.argv.index("--pause-after") + 1]) if "--pause-after" in sys.argv else -1
    )
    stop = stop_on_signals()
    service = EdgeService(config, load_secrets(config))
    service.start()
    print("started", flush=True)
    for start in range(0, count, BATCH):
        if stop.is_set():
            break
        batch = [samples.mood(t_rel_s=float(i)) for i in range(start, min(count, start + BATCH))]
        for payload in batch:
            service.emit(Leaf.MOOD, payload)
        if not service.publisher.flush(10.0):
            print("flush timed out", file=sys.stderr, flush=True)
            return 1
        print("\n".join(f"accepted {p.id}" for p in batch), flush=True)
        if start + BATCH == pause_after:
            print("paused", flush=True)
            sys.stdin.readline()
    if "--drain" in sys.argv:
        while service.publisher.stats().depth > 0:
            time.sleep(0.05)
        service.shutdown()
        print("drained", flush=True)
        return 0
    stop.wait()
    service.shutdown()
    print("stopped", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
