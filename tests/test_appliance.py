"""systemd integration: readiness, and a watchdog fed only while work progresses."""

import socket
from pathlib import Path

import pytest

from edge.appliance.sdnotify import SystemdNotifier, watchdog_interval_s
from edge.appliance.watchdog import ProgressWatchdog


@pytest.fixture
def notify_socket(tmp_path: Path):  # type: ignore[no-untyped-def]
    """A datagram socket standing where systemd's NOTIFY_SOCKET would be."""
    path = tmp_path / "notify"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(path))
    sock.settimeout(2)
    yield str(path), sock
    sock.close()


def test_ready_and_watchdog_messages_reach_the_notify_socket(notify_socket) -> None:  # type: ignore[no-untyped-def]
    """Type=notify units only count as started after READY=1."""
    address, sock = notify_socket
    notifier = SystemdNotifier(address)
    assert notifier.ready("running")
    assert sock.recv(1024) == b"READY=1\nSTATUS=running"
    assert notifier.watchdog()
    assert sock.recv(1024) == b"WATCHDOG=1"


def test_without_systemd_notifications_are_a_no_op(monkeypatch: pytest.MonkeyPatch) -> None:
    """Run from a shell, the service must not fail for lack of systemd."""
    monkeypatch.delenv("NOTIFY_SOCKET", raising=False)
    monkeypatch.delenv("WATCHDOG_USEC", raising=False)
    assert not SystemdNotifier().ready("running")
    assert watchdog_interval_s() is None


def test_the_watchdog_interval_is_half_of_watchdog_sec(monkeypatch: pytest.MonkeyPatch) -> None:
    """Pinging at half the deadline survives one late tick."""
    monkeypatch.setenv("WATCHDOG_USEC", "30000000")
    monkeypatch.delenv("WATCHDOG_PID", raising=False)
    assert watchdog_interval_s() == 15.0


def test_a_stalled_probe_withholds_the_ping(notify_socket) -> None:  # type: ignore[no-untyped-def]
    """A hung camera read must end in a restart, not in a silently dead kiosk."""
    address, sock = notify_socket
    counters = {"pipeline": 0, "camera": 0}
    watchdog = ProgressWatchdog(
        SystemdNotifier(address),
        interval_s=60,
        probes={name: (lambda n=name: counters[n]) for name in counters},
    )
    counters["pipeline"] += 1
    counters["camera"] += 1
    assert watchdog.check() == []
    assert sock.recv(1024) == b"WATCHDOG=1"
    counters["pipeline"] += 1  # the camera thread is stuck in a driver call
    assert watchdog.check() == ["camera"]
    assert watchdog.pings == 1
