"""Train the facial-expression CNN on FER2013, then export and evaluate the TFLite model.

Run from the repository root::

    python -m models.training.face.train --epochs 60 --out models/

Checkpoints (model + optimizer state + epoch) are written every epoch under
``$MOODSENSE_CACHE/face/checkpoints/<run name>``; ``--resume`` continues an interrupted run.
``--teacher FILE.tflite`` distils a released model into this run; ``--oof-teachers RUN ...``
distils out-of-fold teacher runs made with ``--hold-out-fold K/N`` (see ``distill.py``).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

# Quieten TF's C++ start-up banner; must be set before tensorflow is imported.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras
import tensorflow as tf

from models.training.face import data, distill, export
from models.training.face.augment import augment_batch
from models.training.face.model import WEIGHT_DECAY_SKIP, build_model
from models.training.face.schedule import OneCycle

logger = logging.getLogger(__name__)

SMOKE_TRAIN_SIZE = 1024
SMOKE_VAL_SIZE = 512


@dataclass(frozen=True)
class Config:
    """Everything that defines a run; stored with checkpoints and checked on resume."""

    epochs: int
    batch_size: int
    width: float
    max_lr: float
    weight_decay: float
    label_smoothing: float
    class_weight_power: float
    dropout: float
    fine_stem: int
    augment_strength: float
    val_fraction: float
    seed: int
    smoke: bool
    # The validation split's own seed, so members with different training seeds share one split.
    split_seed: int = data.SPLIT_SEED
    # Distillation: the teacher file's sha256 (None: hard labels only), blend weight, temperature.
    teacher_sha256: str | None = None
    distill_weight: float = 0.0
    distill_temperature: float = 1.0
    # An out-of-fold teacher trains without fold ``hold_out_fold`` of ``n_folds`` (0: all faces).
    hold_out_fold: int = -1
    n_folds: int = 0


def parse_fold(text: str) -> tuple[int, int]:
    """``"K/N"`` -> ``(K, N)`` with ``0 <= K < N`` and ``N >= 2``."""
    try:
        fold, n_folds = (int(part) for part in text.split("/"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected K/N, e.g. 0/2, got {text!r}") from None
    if n_folds < 2 or not 0 <= fold < n_folds:
        raise argparse.ArgumentTypeError(f"need 0 <= K < N and N >= 2, got {text!r}")
    return fold, n_folds


def teacher_runs(args: argparse.Namespace) -> list[Path]:
    """Checkpoint folders of the ``--oof-teachers`` runs (none without the option)."""
    return [data.cache_dir() / "checkpoints" / name for name in args.oof_teachers or []]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Parse the command line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=60, help="fixed epoch budget")
    parser.add_argument("--out", type=Path, default=Path("models"), help="export folder")
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--width", type=float, default=1.0, help="channel width multiplier")
    parser.add_argument("--max-lr", type=float, default=3e-3, help="one-cycle peak (AdamW)")
    parser.add_argument("--weight-decay", type=float, default=0.05)
    parser.add_argument("--label-smoothing", type=float, default=0.1)
    parser.add_argument(
        "--class-weight-power", type=float, default=0.5, help="loss weight = count**-power"
    )
    parser.add_argument("--dropout", type=float, default=0.3)
    parser.add_argument(
        "--fine-stem", type=int, default=0, help="channels of a stride-1 conv before the stem"
    )
    parser.add_argument(
        "--augment-strength", type=float, default=1.0, help="scales augmentation ranges"
    )
    parser.add_argument("--val-fraction", type=float, default=0.1)
    teachers = parser.add_mutually_exclusive_group()
    teachers.add_argument("--teacher", type=Path, default=None, help="released .tflite to distil")
    teachers.add_argument(
        "--oof-teachers",
        nargs="+",
        default=None,
        metavar="RUN",
        help="checkpoint runs made with --hold-out-fold K/N, one per fold, to distil",
    )
    parser.add_argument(
        "--hold-out-fold",
        type=parse_fold,
        default=(-1, 0),
        metavar="K/N",
        help="train without fold K of N of the training part (an out-of-fold teacher)",
    )
    parser.add_argument(
        "--distill-weight", type=float, default=0.5, help="share of the teacher in the targets"
    )
    parser.add_argument(
        "--distill-temperature", type=float, default=2.0, help="softens the teacher's answers"
    )
    parser.add_argument("--seed", type=int, default=1234, help="weights, order, augmentation")
    parser.add_argument(
        "--split-seed", type=int, default=data.SPLIT_SEED, help="train/validation split"
    )
    parser.add_argument("--threads", type=int, default=2, help="TF intra-op threads")
    parser.add_argument("--run-name", default=None, help="checkpoint folder name")
    parser.add_argument("--resume", action="store_true", help="continue from last checkpoint")
    parser.add_argument(
        "--reschedule",
        action="store_true",
        help="on --resume, accept a new --epochs: the one-cycle schedule is recomputed for it",
    )
    parser.add_argument("--fresh", action="store_true", help="delete old checkpoints first")
    parser.add_argument("--no-export", action="store_true", help="train only")
    parser.add_argument("--smoke", action="store_true", help="1 short epoch on a tiny subset")
    return parser.parse_args(argv)


def make_config(args: argparse.Namespace) -> Config:
    """Build the run config; the smoke run forces a single epoch."""
    distilling = bool(args.teacher or args.oof_teachers)
    if args.oof_teachers and (args.smoke or args.hold_out_fold[1]):
        # A subset of the training part would not line up with the teachers' folds.
        raise SystemExit("--oof-teachers cannot be combined with --smoke or --hold-out-fold")
    if args.teacher:
        teacher_sha256: str | None = distill.file_sha256(args.teacher)
    elif args.oof_teachers:
        teacher_sha256 = distill.runs_sha256(teacher_runs(args))
    else:
        teacher_sha256 = None
    return Config(
        epochs=1 if args.smoke else args.epochs,
        batch_size=args.batch_size,
        width=args.width,
        max_lr=args.max_lr,
        weight_decay=args.weight_decay,
        label_smoothing=args.label_smoothing,
        class_weight_power=args.class_weight_power,
        dropout=args.dropout,
        fine_stem=args.fine_stem,
        augment_strength=args.augment_strength,
        val_fraction=args.val_fraction,
        seed=args.seed,
        smoke=args.smoke,
        split_seed=args.split_seed,
        teacher_sha256=teacher_sha256,
        distill_weight=args.distill_weight if distilling else 0.0,
        distill_temperature=args.distill_temperature if distilling else 1.0,
        hold_out_fold=args.hold_out_fold[0],
        n_folds=args.hold_out_fold[1],
    )


def train_dataset(
    images: tf.Tensor, targets: np.ndarray, weights: np.ndarray, config: Config, epoch: int
) -> tf.data.Dataset:
    """One epoch of shuffled, augmented batches with ``(N, 7)`` targets and sample ``weights``.

    The order and the augmentation are fully determined by the seed and the epoch number.
    """
    order = np.random.default_rng([config.seed, epoch]).permutation(len(targets))
    epoch_seed = tf.constant(config.seed * 10_000 + epoch, tf.int64)

    def load(batch_index: tf.Tensor, idx: tf.Tensor) -> tuple[tf.Tensor, ...]:
        batch = tf.cast(tf.gather(images, idx), tf.float32) / 255.0
        seed = tf.stack([epoch_seed, batch_index])
        return (
            augment_batch(batch, seed, config.augment_strength),
            tf.gather(targets, idx),
            tf.gather(weights, idx),
        )

    dataset = tf.data.Dataset.from_tensor_slices(order).batch(
        config.batch_size, drop_remainder=True
    )
    return dataset.enumerate().map(load, num_parallel_calls=2).prefetch(2)


def eval_dataset(split: data.Split, batch_size: int = 256) -> tf.data.Dataset:
    """Unaugmented images in [0, 1] with one-hot labels."""
    images = split.images[..., None].astype(np.float32) / 255.0
    labels = keras.utils.to_categorical(split.labels, len(data.LABELS)).astype(np.float32)
    return tf.data.Dataset.from_tensor_slices((images, labels)).batch(batch_size)


def compile_model(config: Config, steps_per_epoch: int) -> keras.Model:
    """Build and compile the model with AdamW on a one-cycle schedule."""
    model = build_model(
        len(data.LABELS), width=config.width, dropout=config.dropout, fine_stem=config.fine_stem
    )
    schedule = OneCycle(config.max_lr, total_steps=config.epochs * steps_per_epoch)
    optimizer = keras.optimizers.AdamW(learning_rate=schedule, weight_decay=config.weight_decay)
    # Decaying BatchNorm scales and biases only hurts; decay the conv/dense kernels.
    optimizer.exclude_from_weight_decay(var_names=list(WEIGHT_DECAY_SKIP))
    model.compile(
        optimizer=optimizer,
        loss=keras.losses.CategoricalCrossentropy(label_smoothing=config.label_smoothing),
        metrics=[keras.metrics.CategoricalAccuracy(name="accuracy")],
    )
    return model


class Checkpoints:
    """Per-epoch checkpoint folder: ``last.keras`` (model + optimizer), best weights, state."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.last = folder / "last.keras"
        self.best = folder / "best.weights.h5"
        self.state_path = folder / "state.json"

    def load_state(self) -> dict[str, Any] | None:
        """Return the saved state, or None for a new run."""
        if not self.state_path.exists():
            return None
        return json.loads(self.state_path.read_text())

    def save(self, model: keras.Model, state: dict[str, Any], is_best: bool) -> None:
        """Save atomically (temp file + rename) so a kill mid-save keeps the previous epoch."""
        self.folder.mkdir(parents=True, exist_ok=True)
        self._atomic(self.last, model.save)
        if is_best:
            self._atomic(self.best, model.save_weights)
        self._atomic(self.state_path, lambda path: Path(path).write_text(json.dumps(state)))

    @staticmethod
    def _atomic(target: Path, write: Callable[[str], object]) -> None:
        """Call ``write`` on a temporary name, then rename it over ``target``."""
        tmp = target.with_name("tmp-" + target.name)
        write(str(tmp))
        os.replace(tmp, target)


def restore(model: keras.Model, checkpoints: Checkpoints) -> None:
    """Load weights and optimizer state (including the step count) from ``last.keras``."""
    # The optimizer must own its variables before the archive can fill them.
    model.optimizer.build(model.trainable_variables)
    model.load_weights(str(checkpoints.last))
    logger.info("restored optimizer at step %d", int(model.optimizer.iterations.numpy()))


def initial_state(config: Config, command: str) -> dict[str, Any]:
    """State of a run before its first epoch."""
    return {
        "config": asdict(config),
        "command": command,
        "epoch": 0,
        "best_val_accuracy": -1.0,
        "best_epoch": 0,
        "history": [],
    }


def prepare_checkpoints(
    args: argparse.Namespace, config: Config, command: str
) -> tuple[Checkpoints, dict[str, Any]]:
    """Resolve the checkpoint folder and the state to start from."""
    name = args.run_name or f"w{config.width:g}-e{config.epochs}-s{config.seed}"
    if config.smoke:
        name += "-smoke"
    checkpoints = Checkpoints(data.cache_dir() / "checkpoints" / name)
    if (args.fresh or config.smoke) and checkpoints.folder.exists():
        shutil.rmtree(checkpoints.folder)
    state = checkpoints.load_state()
    if state is None:
        return checkpoints, initial_state(config, command)
    if not args.resume:
        raise SystemExit(f"{checkpoints.folder} has a run; pass --resume or --fresh")
    # A run checkpointed before split_seed existed split its data with its training seed;
    # one from before hold-out folds trained on every face.
    state["config"].setdefault("split_seed", data.split_seed(state["config"]))
    state["config"].setdefault("hold_out_fold", -1)
    state["config"].setdefault("n_folds", 0)
    if state["config"] != asdict(config):
        _reschedule(state, config, command, allowed=args.reschedule)
    return checkpoints, state


def _reschedule(state: dict[str, Any], config: Config, command: str, allowed: bool) -> None:
    """Accept a changed epoch budget on resume (e.g. to meet a deadline), recording it.

    Only ``epochs`` may change; the learning rate then follows the new one-cycle curve from the
    current step, a small jump while the schedule is in its decay phase.
    """
    old = dict(state["config"])
    if not allowed or old | {"epochs": config.epochs} != asdict(config):
        raise SystemExit(f"config differs from the checkpointed run: {old}")
    if config.epochs <= state["epoch"]:
        raise SystemExit(f"run already has {state['epoch']} epochs")
    logger.warning(
        "epoch budget %d -> %d at epoch %d", old["epochs"], config.epochs, state["epoch"]
    )
    state.setdefault("schedule_changes", []).append(
        {"at_epoch": state["epoch"], "from_epochs": old["epochs"], "to_epochs": config.epochs}
    )
    state["config"] = asdict(config)
    state["command"] += f" ; resumed at epoch {state['epoch']} with: {command}"


def training_targets(
    train: data.Split, config: Config, teacher: Path | None, oof_teachers: list[Path]
) -> np.ndarray:
    """One-hot labels, blended with the teacher's soft answers when distilling."""
    one_hot = keras.utils.to_categorical(train.labels, len(data.LABELS)).astype(np.float32)
    if teacher is not None:
        probs = distill.teacher_probabilities(teacher, train.images)
    elif oof_teachers:
        probs = distill.oof_teacher_probabilities(oof_teachers, train, config.split_seed)
    else:
        return one_hot
    agreement = float((probs.argmax(axis=1) == train.labels).mean())
    logger.info("teacher agrees with %.3f of the training labels", agreement)
    return distill.blended_targets(
        one_hot, probs, config.distill_weight, config.distill_temperature
    )


def fit(
    model: keras.Model,
    splits: tuple[data.Split, data.Split],
    config: Config,
    checkpoints: Checkpoints,
    state: dict[str, Any],
    targets: np.ndarray,
) -> dict[str, Any]:
    """Train epoch by epoch from ``state['epoch']``, checkpointing after each one."""
    train, val = splits
    weights = data.class_weights(train.labels, config.class_weight_power)
    logger.info(
        "class weights %s",
        {k: round(float(w), 3) for k, w in zip(data.LABELS, weights, strict=True)},
    )
    images = tf.constant(train.images[..., None])
    val_ds = eval_dataset(val)
    for epoch in range(state["epoch"], config.epochs):
        started = time.monotonic()
        result = model.fit(
            train_dataset(images, targets, weights[train.labels], config, epoch),
            validation_data=val_ds,
            initial_epoch=epoch,
            epochs=epoch + 1,
            shuffle=False,  # the dataset is already shuffled per epoch
            verbose=2,
        ).history
        seconds = time.monotonic() - started
        val_accuracy = float(result["val_accuracy"][-1])
        is_best = val_accuracy > state["best_val_accuracy"]
        if is_best:
            state["best_val_accuracy"], state["best_epoch"] = val_accuracy, epoch + 1
        state["epoch"] = epoch + 1
        state["history"].append(
            {"epoch": epoch + 1, "seconds": round(seconds, 1)}
            | {key: round(float(values[-1]), 5) for key, values in result.items()}
        )
        checkpoints.save(model, state, is_best)
        logger.info(
            "epoch %d/%d %.0fs val_acc %.4f (best %.4f @ %d)",
            epoch + 1,
            config.epochs,
            seconds,
            val_accuracy,
            state["best_val_accuracy"],
            state["best_epoch"],
        )
    return state


def load_splits(config: Config) -> tuple[data.Split, data.Split, data.Split]:
    """Train/validation split of ``train/`` plus the held-out test set."""
    train, val = data.train_val_split(
        data.load_split("train"), config.val_fraction, config.split_seed
    )
    test = data.load_split("test")
    if config.n_folds:
        keep = (
            data.fold_ids(train.labels, config.n_folds, config.split_seed) != config.hold_out_fold
        )
        train = data.Split(train.images[keep], train.labels[keep])
    if config.smoke:
        train = data.subset(train, SMOKE_TRAIN_SIZE, config.seed)
        val = data.subset(val, SMOKE_VAL_SIZE, config.seed)
        test = data.subset(test, SMOKE_VAL_SIZE, config.seed)
    return train, val, test


def main(argv: list[str] | None = None) -> None:
    """Train, then export and evaluate the best checkpoint."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    args = parse_args(argv)
    config = make_config(args)
    command = "python -m models.training.face.train " + " ".join(
        sys.argv[1:] if argv is None else argv
    )
    tf.config.threading.set_intra_op_parallelism_threads(args.threads)
    tf.config.threading.set_inter_op_parallelism_threads(args.threads)
    keras.utils.set_random_seed(config.seed)
    train, val, test = load_splits(config)
    checkpoints, state = prepare_checkpoints(args, config, command)
    model = compile_model(config, len(train.labels) // config.batch_size)
    logger.info(
        "params %d, train %d, val %d", model.count_params(), len(train.labels), len(val.labels)
    )
    if state["epoch"] > 0:
        restore(model, checkpoints)
    targets = training_targets(train, config, args.teacher, teacher_runs(args))
    state = fit(model, (train, val), config, checkpoints, state, targets)
    if args.no_export:
        return
    out = data.cache_dir() / "smoke" if config.smoke else args.out
    export.export_runs([checkpoints.folder], out, (train, val, test))


if __name__ == "__main__":
    main()
