"""The site's normal range: a bounded, decaying histogram of negative intensity.

"Normal" differs per site (a pharmacy queue is not a toy shop), so alerts compare with this
site's own distribution, learned online from consented interactions. Old observations decay
(half-life in samples) so the baseline follows the site, and it starts from a documented
prior so a new kiosk alerts sensibly on day one.

Prior: 200 pseudo-observations with density proportional to exp(-x / 0.15) on [0, 1], i.e.
most moments are not negative at all; its 0.9 quantile is about 0.35.
"""

import json
import logging
import math
import os
from pathlib import Path

logger = logging.getLogger(__name__)

BINS = 50
PRIOR_WEIGHT = 200.0
PRIOR_SCALE = 0.15


def _prior_counts() -> list[float]:
    centres = [(i + 0.5) / BINS for i in range(BINS)]
    density = [math.exp(-c / PRIOR_SCALE) for c in centres]
    total = sum(density)
    return [PRIOR_WEIGHT * d / total for d in density]


class BaselineSketch:
    """Histogram over [0, 1] with exponential forgetting; fixed size (BINS floats)."""

    def __init__(
        self, half_life_samples: float = 20_000.0, counts: list[float] | None = None
    ) -> None:
        self.half_life_samples = half_life_samples
        self._decay = 0.5 ** (1.0 / half_life_samples)
        self.counts = list(counts) if counts is not None else _prior_counts()

    def add(self, value: float) -> None:
        """Observe one negative-intensity value (clipped to [0, 1])."""
        self.counts = [c * self._decay for c in self.counts]
        index = min(BINS - 1, max(0, int(min(1.0, max(0.0, value)) * BINS)))
        self.counts[index] += 1.0

    def quantile(self, q: float) -> float:
        """The value below which a fraction `q` of the (decayed) mass lies."""
        target = q * sum(self.counts)
        running = 0.0
        for index, count in enumerate(self.counts):
            if running + count >= target and count > 0:
                return (index + (target - running) / count) / BINS
            running += count
        return 1.0

    def save(self, path: Path) -> None:
        """Write atomically (temp file + rename): a power cut leaves the old or the new."""
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_name(path.name + ".part")
        document = {"format": "moodsense-baseline/1", "bins": BINS}
        document |= {"half_life_samples": self.half_life_samples, "counts": self.counts}
        temporary.write_text(json.dumps(document), encoding="utf-8")
        os.replace(temporary, path)

    @classmethod
    def load(cls, path: Path, half_life_samples: float = 20_000.0) -> "BaselineSketch":
        """The stored sketch, or the prior if there is none or it is unreadable (logged)."""
        if not path.exists():
            return cls(half_life_samples)
        try:
            document = json.loads(path.read_text(encoding="utf-8"))
            counts = [float(c) for c in document["counts"]]
            if document.get("format") != "moodsense-baseline/1" or len(counts) != BINS:
                raise ValueError("unexpected format")
            if any(c < 0 or not math.isfinite(c) for c in counts):
                raise ValueError("negative or non-finite counts")
        except (OSError, ValueError, KeyError, TypeError) as exc:
            logger.warning("Baseline %s unreadable (%s); starting from the prior", path, exc)
            return cls(half_life_samples)
        return cls(half_life_samples, counts)
