"""Classification metrics as the issues define them (UAR = unweighted average recall)."""

from dataclasses import dataclass
from typing import Any

import numpy as np
from sklearn.metrics import accuracy_score, confusion_matrix, f1_score, recall_score


@dataclass(frozen=True, slots=True)
class Scores:
    """Everything `moodsense eval --json` reports."""

    labels: tuple[str, ...]
    accuracy: float
    uar: float
    macro_f1: float
    per_class_recall: dict[str, float]
    confusion: list[list[int]]
    """Rows: true label, columns: predicted label, both in `labels` order."""
    n_scored: int

    @property
    def predicted_share(self) -> dict[str, float]:
        """Share of all predictions that went to each label: shows a class that swallows them."""
        column_sums = np.asarray(self.confusion, dtype=float).reshape(-1, len(self.labels)).sum(0)
        total = max(column_sums.sum(), 1.0)
        return {label: float(n / total) for label, n in zip(self.labels, column_sums, strict=True)}

    def as_json(self) -> dict[str, Any]:
        """The JSON object of the evaluation command (without skip counts)."""
        return {
            "accuracy": round(self.accuracy, 4),
            "uar": round(self.uar, 4),
            "macro_f1": round(self.macro_f1, 4),
            "per_class_recall": {k: round(v, 4) for k, v in self.per_class_recall.items()},
            "predicted_share": {k: round(v, 4) for k, v in self.predicted_share.items()},
            "confusion": {"labels": list(self.labels), "matrix": self.confusion},
            "n_scored": self.n_scored,
        }


def score(truth: list[str], predicted: list[str], labels: tuple[str, ...]) -> Scores:
    """Metrics over `labels`; classes absent from `truth` are left out of UAR and macro F1."""
    present = tuple(label for label in labels if label in set(truth))
    recalls = recall_score(truth, predicted, labels=list(present), average=None, zero_division=0)
    return Scores(
        labels=labels,
        accuracy=float(accuracy_score(truth, predicted)) if truth else 0.0,
        uar=float(np.mean(recalls)) if present else 0.0,
        macro_f1=float(
            f1_score(truth, predicted, labels=list(present), average="macro", zero_division=0)
        )
        if present
        else 0.0,
        per_class_recall={label: float(r) for label, r in zip(present, recalls, strict=True)},
        confusion=confusion_matrix(truth, predicted, labels=list(labels)).tolist() if truth else [],
        n_scored=len(truth),
    )
