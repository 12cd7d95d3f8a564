"""Where the device keeps its (non-media) state files, derived from the config in one place."""

from dataclasses import dataclass
from pathlib import Path

from edge.config.loader import resolve_state_dir
from edge.config.model import EdgeConfig


@dataclass(frozen=True, slots=True)
class StatePaths:
    """Every file the service writes (docs/privacy.md lists the same set)."""

    outbox: Path
    ledger: Path
    baseline: Path
    calibration: Path

    @classmethod
    def of(cls, config: EdgeConfig) -> "StatePaths":
        """The paths for `config` (`outbox.path` may override the outbox's place)."""
        root = resolve_state_dir(config)
        return cls(
            outbox=config.outbox.path or root / "outbox.sqlite3",
            ledger=root / "consent-ledger.jsonl",
            baseline=root / "calibration" / "baseline.json",
            calibration=root / "calibration" / "profile.json",
        )
