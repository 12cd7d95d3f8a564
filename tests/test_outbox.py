"""The outbox on its own: order, bound, persistence and recovery from corruption."""

import logging
import sqlite3
from pathlib import Path

import pytest

from edge.app import EdgeService
from edge.config import load_secrets
from edge.publish.outbox import Outbox
from edge.publish.publisher import DurablePublisher
from tests.conftest import make_config


def _fill(outbox: Outbox, count: int, start: int = 0) -> None:
    outbox.append([("t", str(i).encode()) for i in range(start, start + count)])


def test_events_come_back_in_order_after_a_reopen(tmp_path: Path) -> None:
    """A restart must resume exactly where the last process stopped."""
    path = tmp_path / "outbox.sqlite3"
    first = Outbox(path, max_events=1000)
    _fill(first, 10)
    first.delete([e.seq for e in first.fetch_after(0, 3)])
    first.close()
    reopened = Outbox(path, max_events=1000)
    assert [e.payload for e in reopened.fetch_after(0, 100)] == [
        str(i).encode() for i in range(3, 10)
    ]
    assert reopened.depth == 7


def test_the_bound_drops_the_oldest_and_the_count_survives_restarts(tmp_path: Path) -> None:
    """Loss under a long outage must stay visible after a reboot."""
    path = tmp_path / "outbox.sqlite3"
    outbox = Outbox(path, max_events=100)
    _fill(outbox, 80)
    assert outbox.append([("t", b"x")] * 50) == 30
    outbox.close()
    reopened = Outbox(path, max_events=100)
    assert (reopened.depth, reopened.dropped_total) == (100, 30)
    assert reopened.fetch_after(0, 1)[0].payload == b"30"


@pytest.mark.parametrize(
    "damage",
    [
        b"this is not a database at all" * 100,
        b"SQLite format 3\x00" + b"\xff" * 4000,
    ],
    ids=["garbage", "truncated-header"],
)
def test_a_corrupt_outbox_is_moved_aside_and_the_service_still_starts(
    tmp_path: Path, damage: bytes, caplog: pytest.LogCaptureFixture
) -> None:
    """A kiosk must never refuse to start because of a damaged file after a power cut."""
    config = make_config(tmp_path, None)
    path = tmp_path / "state" / "outbox.sqlite3"
    path.parent.mkdir(parents=True)
    path.write_bytes(damage)
    with caplog.at_level(logging.ERROR):
        service = EdgeService(config, load_secrets(config))
    assert service.health().outbox.recovered_corrupt_total == 1
    assert service.health().outbox.depth == 0
    aside = list(path.parent.glob("outbox.sqlite3.corrupt-*"))
    assert len(aside) == 1 and aside[0].read_bytes() == damage
    assert any("corrupt" in record.getMessage() for record in caplog.records)
    service.publisher.stop(1)


class FlakyOutbox(Outbox):
    """An outbox whose disk fails on the first write (full disk, I/O error)."""

    failures = 1

    def append(self, items: list[tuple[str, bytes]]) -> int:
        if self.failures:
            self.failures -= 1
            raise sqlite3.OperationalError("disk I/O error")
        return super().append(items)


def test_a_failed_write_is_retried_and_the_worker_keeps_running(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A transient disk error must neither lose the batch nor stop delivery for good."""
    outbox = FlakyOutbox(tmp_path / "outbox.sqlite3", max_events=1000)
    publisher = DurablePublisher(outbox, batch_max=100, inflight_max=100)
    publisher.start()
    with caplog.at_level(logging.ERROR):
        for i in range(10):
            publisher.submit("t", str(i).encode())
        assert publisher.flush(10)
    assert [e.payload for e in outbox.fetch_after(0, 100)] == [str(i).encode() for i in range(10)]
    assert any("Outbox worker failed" in r.getMessage() for r in caplog.records)
    publisher.stop(1)
