"""Logs for journald: one line per state change, repeats rate-limited, no people."""

import io
import logging
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from edge.appliance.log_limit import RepeatLimiter
from edge.appliance.state_log import log_consent_change
from edge.events.ids import coarse_utc, new_event_id, new_random_id
from edge.events.state_payloads import ConsentPayload
from edge.events.topics import Leaf

REPO = Path(__file__).resolve().parents[1]


class Clock:
    """Monotonic seconds the test moves by hand."""

    def __init__(self) -> None:
        self.now_s = 0.0

    def __call__(self) -> float:
        return self.now_s


Rig = tuple[logging.Logger, io.StringIO, RepeatLimiter, Clock]


def _attach(name: str) -> Rig:
    """Logger `name` writing plain messages through a limiter with a 60 s interval."""
    stream, clock = io.StringIO(), Clock()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(message)s"))
    limiter = RepeatLimiter(handler, interval_s=60.0, clock=clock)
    handler.addFilter(limiter)
    log = logging.getLogger(name)
    log.handlers[:], log.propagate = [handler], False
    log.setLevel(logging.INFO)
    return log, stream, limiter, clock


@pytest.fixture
def limited() -> Iterator[Rig]:
    """A test logger behind a limiter."""
    rig = _attach("test.limited")
    yield rig
    rig[0].handlers.clear()


@pytest.fixture
def consent_log() -> Iterator[Rig]:
    """The consent logger behind a limiter, restored afterwards."""
    rig = _attach("edge.appliance.state_log")
    yield rig
    rig[0].handlers.clear()
    rig[0].propagate = True


def _lines(stream: io.StringIO) -> list[str]:
    return stream.getvalue().splitlines()


def test_repeats_are_held_back_and_counted_in_the_next_line(limited: Rig) -> None:
    """A camera retrying every second for an hour must not write 3,600 journal lines."""
    log, stream, _limiter, clock = limited
    for _ in range(13):
        log.warning("Camera %s still lost", "cam0")
        clock.now_s += 1
    assert _lines(stream) == ["Camera cam0 still lost"]
    clock.now_s = 61
    log.warning("Camera %s still lost", "cam0")
    assert _lines(stream)[-1] == "Camera cam0 still lost (12 repeats suppressed)"
    log.warning("Camera %s still lost", "cam0")  # a new interval has begun: held back again
    assert len(_lines(stream)) == 2


def test_flush_writes_held_back_lines_in_order_so_the_log_ends_on_the_true_state(
    limited: Rig,
) -> None:
    """A flapping camera that ends up lost must not leave "opened" as the last word."""
    log, stream, limiter, clock = limited
    for _ in range(3):
        log.warning("Camera lost")
        clock.now_s += 1
        log.info("Camera opened")
        clock.now_s += 1
    log.warning("Camera lost")
    assert _lines(stream) == ["Camera lost", "Camera opened"]
    assert limiter.flush() == 0  # intervals not over yet
    clock.now_s = 70
    assert limiter.flush() == 2
    assert _lines(stream)[2:] == [
        "Camera opened (2 repeats suppressed)",
        "Camera lost (3 repeats suppressed)",
    ]
    assert limiter.flush() == 0


def test_different_states_are_changes_not_repeats(consent_log: Rig) -> None:
    """Each consent change gets its line even when they share a message template."""
    _log, stream, _limiter, _clock = consent_log
    for state, reason in [("granted", "granted"), ("active", "interaction_started")]:
        payload = ConsentPayload(
            id=new_event_id(),
            time=coarse_utc(0),
            state=state,
            mode="opt_in",
            interaction_id=new_random_id(),
            reason=reason,
            source="kiosk",
        )
        log_consent_change(Leaf.CONSENT, payload)
        log_consent_change(Leaf.CONSENT, payload)  # the same again: a repeat, held back
    lines = _lines(stream)
    assert lines == [
        "Consent granted (granted, via kiosk)",
        "Consent active (interaction_started, via kiosk)",
    ]
    assert all(payload.interaction_id not in line for line in lines)  # nothing per person


def _log_from_child(tmp_path: Path, journal: bool) -> str:
    """Run the real logging setup in a child whose stderr is a file; return that file."""
    err = tmp_path / "stderr.txt"
    code = (
        "import logging; from edge.logsetup import configure_logging; "
        "configure_logging('INFO'); logging.getLogger('edge.x').warning('Camera lost')"
    )
    env = {k: v for k, v in os.environ.items() if k != "JOURNAL_STREAM"}
    with err.open("w") as stderr:
        if journal:
            stat = os.fstat(stderr.fileno())
            env["JOURNAL_STREAM"] = f"{stat.st_dev}:{stat.st_ino}"
        subprocess.run([sys.executable, "-c", code], cwd=REPO, env=env, stderr=stderr, check=True)
    return err.read_text()


def test_under_journald_lines_carry_a_priority_and_no_timestamp(tmp_path: Path) -> None:
    """journald stamps lines itself and maps `<4>` to its warning priority."""
    assert _log_from_child(tmp_path, journal=True) == "<4>WARNING edge.x: Camera lost\n"
    by_hand = _log_from_child(tmp_path, journal=False)
    assert by_hand.endswith(" WARNING edge.x: Camera lost\n")
    assert by_hand[:4].isdigit()  # run by hand, the line starts with the time
