"""Train the voice-emotion CNN on cached log-mel windows (resumable, fixed seed and budget).

Usage: ``nice -n 10 python -m models.training.voice.train --epochs 40 --seed 1337``.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from models.training.voice import features
from models.training.voice.cache import FeatureSet, build_cache, load_set
from models.training.voice.data import LABELS, Clip, all_clips
from models.training.voice.features import VIEWS, WINDOW_FRAMES, normalise_window

LOG = logging.getLogger(__name__)
# Same root as the face training (MOODSENSE_CACHE); the default is where earlier runs cached.
DEFAULT_CACHE = Path(os.environ.get("MOODSENSE_CACHE", "/work/cache/moodsense")) / "voice"


@dataclass
class TrainConfig:
    """Hyper-parameters; everything that changes the result is in here and in the seed."""

    epochs: int = 40
    batch_size: int = 64
    peak_lr: float = 3e-3
    weight_decay: float = 1e-3
    warmup_epochs: int = 2
    label_smoothing: float = 0.05
    n_aug: int = 3
    seed: int = 1337
    cache_dir: Path = DEFAULT_CACHE
    arch: str = "conv1d"
    norm: str = "scalar"
    mel_warp: float = 0.0
    mixup: float = 0.0
    width: float = 1.0
    view: str = "scalar"
    speaker_adversary: float = 0.0

    @property
    def feature_dir(self) -> Path:
        """Feature cache for this augmentation setting."""
        return self.cache_dir / f"features_v1_aug{self.n_aug}_seed{self.seed}"

    @property
    def run_dir(self) -> Path:
        """Checkpoint directory for this run."""
        tag = "" if self.norm == "scalar" else f"_{self.norm}"
        tag += f"_warp{self.mel_warp:g}" if self.mel_warp > 0 else ""
        tag += f"_mixup{self.mixup:g}" if self.mixup > 0 else ""
        tag += f"_w{self.width:g}" if self.width != 1.0 else ""
        tag += f"_view{self.view}" if self.view != "scalar" else ""
        tag += f"_adv{self.speaker_adversary:g}" if self.speaker_adversary > 0 else ""
        return self.cache_dir / f"run_{self.arch}{tag}_e{self.epochs}_seed{self.seed}"


def sample_weights(clips: list[Clip], train_ids: np.ndarray) -> np.ndarray:
    """Per-clip loss weights: classes balanced, and within a class the corpora balanced.

    Class balance counters the small disgust class (RAVDESS only); corpus balance stops nEMO
    (3x more training clips) from drowning RAVDESS.  Normalised to mean 1.
    """
    labels = [clips[i].label for i in train_ids]
    cells = [(clips[i].label, clips[i].corpus) for i in train_ids]
    corpora_per_label = {lab: len({c for lab2, c in cells if lab2 == lab}) for lab in set(labels)}
    cell_count: dict[tuple[str, str], int] = {}
    for cell in cells:
        cell_count[cell] = cell_count.get(cell, 0) + 1
    w = np.array([1.0 / (corpora_per_label[lab] * cell_count[(lab, c)]) for lab, c in cells])
    return (w / w.mean()).astype(np.float32)


def spec_augment(window: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Two time masks (<= 25 frames) and two mel masks (<= 8 bands), filled with 0 (the mean)."""
    out = window.copy()
    for _ in range(2):
        width = int(rng.integers(0, 26))
        start = int(rng.integers(0, out.shape[0] - width + 1))
        out[start : start + width] = 0.0
        width = int(rng.integers(0, 9))
        start = int(rng.integers(0, out.shape[1] - width + 1))
        out[:, start : start + width] = 0.0
    return out


def random_window(log_mel: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Random time crop of one window: the sentence position must not be a cue."""
    extra = log_mel.shape[0] - WINDOW_FRAMES
    start = int(rng.integers(0, extra + 1)) if extra > 0 else 0
    return normalise_window(log_mel[start : start + WINDOW_FRAMES])


def _keras() -> Any:
    import keras

    return keras


class TrainBatches:
    """Factory for the Keras ``PyDataset`` that draws one variant per clip per epoch."""

    @staticmethod
    def create(
        variants: list[list[np.ndarray]],
        labels: np.ndarray,
        weights: np.ndarray,
        cfg: TrainConfig,
        first_epoch: int,
        speakers: np.ndarray | None = None,
    ) -> Any:
        """Batches of (windows, one-hot emotions, loss weights); with ``speakers`` the
        targets are (emotions, speaker indices), the second for the adversarial head."""
        keras = _keras()
        dataset_base: Any = keras.utils.PyDataset

        class _Batches(dataset_base):
            def __init__(self) -> None:
                super().__init__()
                self.epoch = first_epoch
                self._shuffle()

            def _shuffle(self) -> None:
                rng = np.random.default_rng([cfg.seed, self.epoch, 7])
                self.order = rng.permutation(len(variants))

            def __len__(self) -> int:
                return int(np.ceil(len(variants) / cfg.batch_size))

            def __getitem__(self, idx: int) -> tuple[np.ndarray, Any, np.ndarray]:
                rng = np.random.default_rng([cfg.seed, self.epoch, idx])
                ids = self.order[idx * cfg.batch_size : (idx + 1) * cfg.batch_size]
                x = np.stack([_draw(variants[i], rng, cfg.mel_warp) for i in ids])[..., None]
                y = keras.utils.to_categorical(labels[ids], len(LABELS))
                if speakers is not None:
                    return x, (y, speakers[ids]), weights[ids]
                return mixup(x, y, weights[ids], cfg.mixup, rng)

            def on_epoch_end(self) -> None:
                self.epoch += 1
                self._shuffle()

        return _Batches()


def mel_warp(window: np.ndarray, max_warp: float, rng: np.random.Generator) -> np.ndarray:
    """Stretch the mel axis by a random factor in [1 - max_warp, 1 + max_warp] (VTLP-like).

    Moves formants and pitch harmonics as a different vocal tract would, so the model sees more
    "speakers" than the 22 it is trained on.
    """
    if max_warp <= 0:
        return window
    pos = np.clip(np.arange(window.shape[1]) * rng.uniform(1 - max_warp, 1 + max_warp), 0, None)
    pos = np.minimum(pos, window.shape[1] - 1.001)
    lo = pos.astype(int)
    frac = (pos - lo).astype(np.float32)
    return window[:, lo] * (1 - frac) + window[:, lo + 1] * frac


def mixup(
    x: np.ndarray, y: np.ndarray, w: np.ndarray, alpha: float, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Blend each example with a random partner from the batch (mixup, Zhang et al. 2018).

    Partners are mostly other speakers (and often the other corpus), so the model is pushed to
    behave linearly between speakers instead of snapping an unfamiliar voice onto one class.
    ``lam = max(lam, 1 - lam)`` keeps the own example dominant; targets and loss weights are
    mixed with the same factor.  ``alpha <= 0`` returns the batch unchanged.
    """
    if alpha <= 0:
        return x, y, w
    lam = rng.beta(alpha, alpha, size=len(x)).astype(np.float32)
    lam = np.maximum(lam, 1 - lam)
    partner = rng.permutation(len(x))
    lam_x = lam.reshape(-1, *([1] * (x.ndim - 1)))
    mixed_x = lam_x * x + (1 - lam_x) * x[partner]
    mixed_y = lam[:, None] * y + (1 - lam[:, None]) * y[partner]
    return mixed_x, mixed_y, lam * w + (1 - lam) * w[partner]


def _draw(choices: list[np.ndarray], rng: np.random.Generator, max_warp: float = 0.0) -> np.ndarray:
    """Pick clean or one augmented copy uniformly, crop a window, warp and SpecAugment it."""
    log_mel = choices[int(rng.integers(len(choices)))].astype(np.float32)
    return spec_augment(mel_warp(random_window(log_mel, rng), max_warp, rng), rng)


def train_variants(
    clean: FeatureSet, aug: FeatureSet, train_ids: np.ndarray
) -> list[list[np.ndarray]]:
    """For each training clip: its clean log-mel followed by its augmented copies."""
    pos = {int(c): k for k, c in enumerate(train_ids)}
    variants: list[list[np.ndarray]] = [
        [clean.mels[clean.offsets[c] : clean.offsets[c + 1]]] for c in train_ids
    ]
    for j, c in enumerate(aug.clip_index):
        variants[pos[int(c)]].append(aug.mels[aug.offsets[j] : aug.offsets[j + 1]])
    return variants


def validation_score(
    probs: np.ndarray, labels: np.ndarray, corpora: np.ndarray
) -> dict[str, float]:
    """Per-corpus UAR over the model labels and their mean (the model-selection criterion)."""
    from sklearn.metrics import balanced_accuracy_score

    pred = probs.argmax(axis=1)
    out = {
        f"val_uar_{c}": float(balanced_accuracy_score(labels[corpora == c], pred[corpora == c]))
        for c in sorted(set(corpora))
    }
    out["val_uar_mean"] = float(np.mean(list(out.values())))
    return out


def make_checkpointer(
    cfg: TrainConfig, val_mels: list[np.ndarray], labels: np.ndarray, corpora: np.ndarray
) -> Any:
    """Keras callback: validation UAR each epoch, keep the best weights, save a resumable state.

    The best weights are the emotion classifier's alone (a speaker head is dropped), so they
    load into ``build_classifier`` for export; ``last.keras`` is the whole training model.
    """
    from models.training.voice.adversary import emotion_classifier

    callback_base: Any = _keras().callbacks.Callback
    state_path = cfg.run_dir / "state.json"
    # Same seed and thread count give bit-identical weights; another count does not.
    threads = os.environ.get("TF_NUM_INTRAOP_THREADS", "default")

    class _Checkpointer(callback_base):
        def on_train_begin(self, logs: dict[str, float] | None = None) -> None:
            # Built once: it shares the training model's layers, so it sees every update.
            self.classifier = emotion_classifier(self.model)

        def on_epoch_end(self, epoch: int, logs: dict[str, float] | None = None) -> None:
            state = json.loads(state_path.read_text()) if state_path.exists() else {}
            classifier = self.classifier
            scores = validation_score(_predict_windows(classifier, val_mels), labels, corpora)
            scores.update({k: float(v) for k, v in (logs or {}).items()})
            history = [*state.get("history", []), {"epoch": epoch, "threads": threads, **scores}]
            if scores["val_uar_mean"] > state.get("best_score", -1.0):
                classifier.save_weights(cfg.run_dir / "best.weights.h5")
                state.update(best_score=scores["val_uar_mean"], best_epoch=epoch)
            self.model.save(cfg.run_dir / "last.keras")
            state.update(history=history, last_epoch=epoch, seconds=_elapsed(state))
            state_path.write_text(json.dumps(state, indent=1))
            LOG.info("epoch %d %s", epoch, json.dumps(scores))

    return _Checkpointer()


_T0 = time.time()


def _elapsed(state: dict[str, Any]) -> float:
    """Training seconds, accumulated across resumed invocations."""
    global _T0
    now = time.time()
    total = state.get("seconds", 0.0) + (now - _T0)
    _T0 = now
    return total


def _predict_windows(model: Any, log_mels: list[np.ndarray]) -> np.ndarray:
    from models.training.voice.scoring import score_utterances

    return score_utterances(log_mels, lambda x: model.predict(x, batch_size=256, verbose=0))


def _build_or_resume(cfg: TrainConfig, steps_per_epoch: int, n_speakers: int) -> tuple[Any, int]:
    """Fresh compiled model, or the last checkpoint of an interrupted run with its epoch.

    With ``cfg.speaker_adversary`` the model has a second, speaker output (``n_speakers``).
    """
    keras = _keras()
    # Imported before loading: it registers the gradient-reversal layer a resumed run needs.
    from models.training.voice.adversary import with_speaker_adversary
    from models.training.voice.model import build_classifier

    state_path = cfg.run_dir / "state.json"
    if (cfg.run_dir / "last.keras").exists() and state_path.exists():
        state = json.loads(state_path.read_text())
        LOG.info("resuming %s after epoch %d", cfg.run_dir, state["last_epoch"])
        return keras.models.load_model(cfg.run_dir / "last.keras"), state["last_epoch"] + 1

    model = build_classifier(width=cfg.width, view=cfg.view)
    emotion_loss = keras.losses.CategoricalCrossentropy(label_smoothing=cfg.label_smoothing)
    losses: Any = emotion_loss
    metrics: Any = ["accuracy"]
    if cfg.speaker_adversary > 0:
        model = with_speaker_adversary(model, n_speakers)
        # Lists in output order: Keras 3 does not match dict targets to a list of outputs.
        losses = [emotion_loss, keras.losses.SparseCategoricalCrossentropy()]
        metrics = [["accuracy"], ["accuracy"]]
    schedule = keras.optimizers.schedules.CosineDecay(
        initial_learning_rate=cfg.peak_lr / 20,
        decay_steps=(cfg.epochs - cfg.warmup_epochs) * steps_per_epoch,
        warmup_target=cfg.peak_lr,
        warmup_steps=cfg.warmup_epochs * steps_per_epoch,
        alpha=0.01,
    )
    model.compile(
        optimizer=keras.optimizers.AdamW(schedule, weight_decay=cfg.weight_decay),
        loss=losses,
        weighted_metrics=metrics,
    )
    return model, 0


def train(cfg: TrainConfig, clips: list[Clip]) -> Path:
    """Run (or resume) training; returns the run directory with ``best.weights.h5``."""
    keras = _keras()
    from models.training.voice.adversary import make_ramp_callback, speaker_indices

    keras.utils.set_random_seed(cfg.seed)
    cfg.run_dir.mkdir(parents=True, exist_ok=True)
    clean = load_set(cfg.feature_dir / "clean.npz")
    aug = load_set(cfg.feature_dir / "aug.npz")
    splits = np.array([c.split for c in clips])
    labels = np.array([c.label_index for c in clips])
    corpora = np.array([c.corpus for c in clips])
    train_ids, val_ids = np.flatnonzero(splits == "train"), np.flatnonzero(splits == "val")
    steps = int(np.ceil(train_ids.size / cfg.batch_size))
    speakers, n_speakers = speaker_indices(clips, train_ids)
    model, first_epoch = _build_or_resume(cfg, steps, n_speakers)
    if first_epoch >= cfg.epochs:
        LOG.info("run %s already finished", cfg.run_dir)
        return cfg.run_dir
    batches = TrainBatches.create(
        train_variants(clean, aug, train_ids),
        labels[train_ids],
        sample_weights(clips, train_ids),
        cfg,
        first_epoch,
        speakers if cfg.speaker_adversary > 0 else None,
    )
    val_mels = [clean.item(int(i)) for i in val_ids]
    callbacks = [make_checkpointer(cfg, val_mels, labels[val_ids], corpora[val_ids])]
    if cfg.speaker_adversary > 0:
        # Before the checkpointer's epoch end: set at each epoch's start.
        callbacks.insert(0, make_ramp_callback(cfg.epochs, cfg.speaker_adversary))
    model.fit(batches, epochs=cfg.epochs, initial_epoch=first_epoch, callbacks=callbacks, verbose=2)
    return cfg.run_dir


def parse_args(argv: list[str] | None = None) -> TrainConfig:
    """Command-line options -> ``TrainConfig``."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--epochs", type=int, default=TrainConfig.epochs)
    parser.add_argument("--seed", type=int, default=TrainConfig.seed)
    parser.add_argument("--n-aug", type=int, default=TrainConfig.n_aug)
    parser.add_argument("--cache-dir", type=Path, default=DEFAULT_CACHE)
    parser.add_argument("--norm", choices=("scalar", "band"), default=features.NORM_MODE)
    parser.add_argument("--mel-warp", type=float, default=TrainConfig.mel_warp)
    parser.add_argument(
        "--mixup", type=float, default=TrainConfig.mixup, help="Beta(alpha, alpha); 0 = off"
    )
    parser.add_argument(
        "--width", type=float, default=TrainConfig.width, help="channel multiplier of the CNN"
    )
    parser.add_argument(
        "--view", choices=VIEWS, default=TrainConfig.view, help="what the first layer sees"
    )
    parser.add_argument(
        "--speaker-adversary",
        type=float,
        default=TrainConfig.speaker_adversary,
        help="peak gradient-reversal strength of a speaker head; 0 = off",
    )
    args = parser.parse_args(argv)
    if args.speaker_adversary > 0 and args.mixup > 0:
        parser.error("--speaker-adversary and --mixup do not combine (mixed speakers)")
    # The window normalisation is a module setting so the device function keeps one signature.
    features.NORM_MODE = args.norm
    return TrainConfig(
        epochs=args.epochs,
        seed=args.seed,
        n_aug=args.n_aug,
        cache_dir=args.cache_dir,
        norm=args.norm,
        mel_warp=args.mel_warp,
        mixup=args.mixup,
        width=args.width,
        view=args.view,
        speaker_adversary=args.speaker_adversary,
    )


def setup(threads: int = 2) -> None:
    """Logging and a small thread budget (the machine is shared)."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    os.environ.setdefault("TF_NUM_INTRAOP_THREADS", str(threads))
    os.environ.setdefault("TF_NUM_INTEROP_THREADS", "1")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def main(argv: list[str] | None = None) -> None:
    """Build the feature cache if needed, then train."""
    setup()
    cfg = parse_args(argv)
    clips = all_clips()
    build_cache(clips, cfg.feature_dir, cfg.n_aug, cfg.seed)
    train(cfg, clips)


if __name__ == "__main__":
    main()
