"""The post-interaction survey's answers ("How do you feel now?", five faces).

Answers go to a `SurveySink`; the live service's sink publishes them as `survey/1`
(edge/pipeline/survey.py), the default here only logs them.
"""

import logging
from typing import Protocol

from pydantic import BaseModel, ConfigDict, Field

logger = logging.getLogger(__name__)


class SurveyArgs(BaseModel):
    """The kiosk's survey answer: 1 (very unhappy) .. 5 (very happy)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    answer: int = Field(ge=1, le=5)


class SurveySink(Protocol):
    """Where a self-reported answer goes, with the random id of the interaction it rates."""

    def record(self, interaction_id: str, answer: int) -> None:
        """Keep or send the answer; must not block for long (called off the event loop)."""


class LogSurveySink:
    """Without a publishing sink: log them (no person in them, only a random id)."""

    def record(self, interaction_id: str, answer: int) -> None:
        """Log the answer at INFO."""
        logger.info("Survey answer %d for interaction ...%s", answer, interaction_id[-6:])
