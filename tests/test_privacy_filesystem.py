"""Privacy invariant 2 on a real run: a replay writes nothing but its allowed state.

The replay runs under strace, which records every file the process (and its threads) opens
for writing, creates, renames or removes. Allowed: the outbox, the consent ledger, the
calibration directory (profile, site baseline) and library caches (matplotlib's font list)
under `cache/`, all in the state directory. No frame, crop or audio
file may appear anywhere.
"""

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.scenario import Scenario
from tests.test_replay_e2e import scenario  # noqa: F401  (module fixture)

REPO = Path(__file__).resolve().parents[1]
WRITE = re.compile(r"O_WRONLY|O_RDWR|O_CREAT|rename|mkdir|unlink")
PATH = re.compile(r'"([^"]+)"')
ALLOWED_IN_STATE = ("outbox.sqlite3", "consent-ledger.jsonl", "calibration", "cache/")
HARMLESS = ("/dev/null", "/dev/shm/", "/proc/", "/sys/")


def written_paths(trace: Path) -> set[str]:
    """Paths the traced processes wrote, created, renamed or removed (successfully)."""
    paths = set()
    for line in trace.read_text().splitlines():
        if WRITE.search(line) and "= -1" not in line:
            paths.update(PATH.findall(line))
    return paths


@pytest.mark.skipif(shutil.which("strace") is None, reason="strace is not installed")
def test_a_replay_writes_only_outbox_ledger_calibration_and_caches(
    scenario: Scenario,  # noqa: F811
    tmp_path: Path,
) -> None:
    """Raw media must never touch the disk, not even as a temporary file."""
    state = tmp_path / "state"
    config = tmp_path / "edge.yaml"
    config.write_text(f"state_dir: {state}\n")
    trace = tmp_path / "trace.txt"
    command = ["strace", "-f", "-qq", "-o", str(trace)]
    command += ["-e", "trace=openat,creat,rename,renameat,renameat2,mkdir,mkdirat,unlink,unlinkat"]
    command += [sys.executable, "-m", "edge", "replay", "--video", str(scenario.video)]
    command += ["--audio", str(scenario.audio), "--config", str(config), "--consent", "granted"]
    env = {"PYTHONDONTWRITEBYTECODE": "1", "HOME": str(tmp_path / "home"), "PATH": "/usr/bin"}
    result = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-2000:]
    unexpected = set()
    for path in written_paths(trace):
        if path.startswith(HARMLESS) or path in (str(state), str(state / "cache")):
            continue
        relative = path.removeprefix(str(state) + "/")
        if relative == path or not relative.startswith(ALLOWED_IN_STATE):
            unexpected.add(path)
    assert unexpected == set()
    assert (state / "outbox.sqlite3").is_file() and (state / "consent-ledger.jsonl").is_file()
