"""One-cycle learning-rate schedule keyed on the optimizer step (so resuming continues it)."""

from __future__ import annotations

import math
from typing import Any

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="moodsense")
class OneCycle(keras.optimizers.schedules.LearningRateSchedule):
    """Cosine warm-up from ``max_lr / div_factor`` to ``max_lr``, then cosine annealing down.

    The final rate is ``max_lr / (div_factor * final_div_factor)``, reached at ``total_steps``.
    """

    def __init__(
        self,
        max_lr: float,
        total_steps: int,
        pct_start: float = 0.25,
        div_factor: float = 25.0,
        final_div_factor: float = 1e3,
    ) -> None:
        self.max_lr = max_lr
        self.total_steps = total_steps
        self.pct_start = pct_start
        self.div_factor = div_factor
        self.final_div_factor = final_div_factor

    def __call__(self, step: Any) -> Any:
        """Return the learning rate at ``step``."""
        step = ops.cast(step, "float32")
        warm_steps = max(1, int(self.total_steps * self.pct_start))
        decay_steps = max(1, self.total_steps - warm_steps)
        initial = self.max_lr / self.div_factor
        final = initial / self.final_div_factor
        up = ops.minimum(step / warm_steps, 1.0)
        down = ops.clip((step - warm_steps) / decay_steps, 0.0, 1.0)
        rising = initial + (self.max_lr - initial) * (1.0 - ops.cos(math.pi * up)) / 2.0
        falling = final + (self.max_lr - final) * (1.0 + ops.cos(math.pi * down)) / 2.0
        return ops.where(step < warm_steps, rising, falling)

    def get_config(self) -> dict[str, Any]:
        """Serialise the constructor arguments."""
        return {
            "max_lr": self.max_lr,
            "total_steps": self.total_steps,
            "pct_start": self.pct_start,
            "div_factor": self.div_factor,
            "final_div_factor": self.final_div_factor,
        }
