"""The command line shared by the validation studies of a released face model."""

from __future__ import annotations

import argparse
from pathlib import Path

from models.training.face import data


def study_args(
    description: str, argv: list[str] | None, with_runs: bool = False
) -> argparse.Namespace:
    """``--model`` (the .tflite to study), ``--val-fraction`` and ``--split-seed`` of the split;
    ``with_runs`` adds ``--run-name`` (repeatable: training runs to study beside the file).

    ``--split-seed`` has the same name and meaning as in ``train``; ``--seed`` is its old name.
    """
    parser = argparse.ArgumentParser(description=description)
    if with_runs:
        parser.add_argument("--run-name", action="append", default=[], help="checkpoint run")
    parser.add_argument("--model", type=Path, default=Path("models/face_expression.tflite"))
    parser.add_argument("--val-fraction", type=float, default=0.1)
    parser.add_argument(
        "--split-seed",
        "--seed",
        dest="split_seed",
        type=int,
        default=data.SPLIT_SEED,
        help="split seed of the studied model",
    )
    return parser.parse_args(argv)


def train_and_validation(args: argparse.Namespace) -> tuple[data.Split, data.Split]:
    """The training split's own train/validation parts, as the training run drew them."""
    return data.train_val_split(data.load_split("train"), args.val_fraction, args.split_seed)
