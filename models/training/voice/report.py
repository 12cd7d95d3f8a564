"""Markdown tables for the model card, generated from ``voice_emotion.metrics.json``.

Usage: ``python -m models.training.voice.report models/voice_emotion.metrics.json``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

ROWS: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("RAVDESS 4-class UAR", "ravdess", ("four_class", "uar")),
    ("RAVDESS 8-class UAR (calm=neutral)", "ravdess", ("eight_class", "uar")),
    ("RAVDESS 7-label UAR", "ravdess", ("uar_model_labels",)),
    ("RAVDESS accuracy (7 labels)", "ravdess", ("accuracy",)),
    ("RAVDESS macro-F1", "ravdess", ("macro_f1",)),
    ("RAVDESS arousal accuracy", "ravdess", ("arousal_accuracy",)),
    ("nEMO 4-class UAR", "nemo", ("four_class", "uar")),
    ("nEMO 6-label UAR", "nemo", ("uar_model_labels",)),
    ("nEMO accuracy", "nemo", ("accuracy",)),
    ("nEMO macro-F1", "nemo", ("macro_f1",)),
    ("nEMO arousal accuracy", "nemo", ("arousal_accuracy",)),
)


def _get(tree: dict[str, Any], keys: tuple[str, ...]) -> str:
    value: Any = tree
    for key in keys:
        value = value[key]
    return f"{value:.3f}"


def summary_table(metrics: dict[str, Any]) -> str:
    """CNN (TFLite) vs baseline, clean and 10 dB SNR."""
    cnn, base = metrics["test"], metrics["baseline"]
    lines = [
        "| Metric (test speakers) | CNN clean | CNN 10 dB | Baseline clean | Baseline 10 dB |",
        "|---|---|---|---|---|",
    ]
    for title, corpus, keys in ROWS:
        cells = [
            _get(src[cond][corpus], keys) for src in (cnn, base) for cond in ("clean", "snr10")
        ]
        lines.append(f"| {title} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def recall_table(metrics: dict[str, Any]) -> str:
    """Per-class recall of the CNN (clean / 10 dB) and predicted share, per corpus."""
    lines = [
        "| Corpus | Class | Recall clean | Recall 10 dB | Predicted share clean |",
        "|---|---|---|---|---|",
    ]
    for corpus in ("ravdess", "nemo"):
        clean, noisy = metrics["test"]["clean"][corpus], metrics["test"]["snr10"][corpus]
        for name, recall in clean["per_class_recall"].items():
            lines.append(
                f"| {corpus} | {name} | {recall:.3f} | {noisy['per_class_recall'][name]:.3f} | "
                f"{clean['predicted_share'][name]:.3f} |"
            )
    return "\n".join(lines)


def main() -> None:
    """Print both tables for the metrics file given on the command line."""
    metrics = json.loads(Path(sys.argv[1]).read_text())
    sys.stdout.write(summary_table(metrics) + "\n\n" + recall_table(metrics) + "\n")


if __name__ == "__main__":
    main()
