"""End-to-end, resumable: feature cache -> train -> baseline -> TFLite export -> test metrics.

Reproduce the shipped model (from the repo root, ~1 h on 2 shared CPU cores)::

    nice -n 10 python -m models.training.voice.pipeline --epochs 100 --seed 1337 --mel-warp 0.15

Every stage skips work whose output already exists under ``--cache-dir`` (features,
checkpoints, baseline functionals), so a killed run continues where it stopped.
"""

from __future__ import annotations

import json
import logging
import platform
import sys
from pathlib import Path

from models.training.voice import data
from models.training.voice.baseline import evaluate_baseline
from models.training.voice.cache import build_cache
from models.training.voice.features import FEATURE_SPEC
from models.training.voice.train import TrainConfig, parse_args, setup, train

LOG = logging.getLogger(__name__)
REPO = Path(__file__).resolve().parents[3]
TFLITE_PATH = REPO / "models" / "voice_emotion.tflite"
METRICS_PATH = REPO / "models" / "voice_emotion.metrics.json"


def protocol() -> dict[str, object]:
    """The speaker split and label mapping, for the metrics file."""
    return {
        "test_speakers": sorted(data.TEST_SPEAKERS),
        "val_speakers": sorted(data.VAL_SPEAKERS),
        "train_speakers": "all other RAVDESS actors (01-16) and nEMO speakers",
        "labels": list(data.LABELS),
        "label_mapping": "RAVDESS calm -> neutral; nEMO anger/fear/happiness/sadness -> "
        "angry/fearful/happy/sad; disgusted only from RAVDESS",
        "four_class": "neutral(+calm), happy, sad, angry clips; argmax over those 4 outputs",
        "eight_class_ravdess": "mean recall over the 8 RAVDESS emotions; calm is correct when "
        "predicted neutral (the model has no calm output)",
        "arousal": "high = angry, happy, fearful, surprised, disgusted; low = neutral, calm, sad; "
        "predicted high when the derived arousal output > 0",
        "arousal_valence_table": data.AROUSAL_VALENCE,
        "utterance_scoring": "mean of window probabilities (2.5 s windows, 1.25 s hop)",
        "noise_condition": "additive noise at 10 dB SNR, type cycling white/pink/brown/babble "
        "(babble from validation speakers), seeded per clip",
    }


def training_summary(cfg: TrainConfig, argv: list[str]) -> dict[str, object]:
    """Seed, command, seconds and the validation scores used for model selection."""
    state = json.loads((cfg.run_dir / "state.json").read_text())
    best = next(h for h in state["history"] if h["epoch"] == state["best_epoch"])
    return {
        "command": "nice -n 10 python -m models.training.voice.pipeline " + " ".join(argv),
        "seed": cfg.seed,
        "epochs": cfg.epochs,
        "config": {k: str(v) for k, v in vars(cfg).items()},
        "train_seconds": round(state["seconds"], 1),
        "selected_epoch": state["best_epoch"],
        "selection": "best mean of per-corpus validation UAR (7 model labels)",
        "validation_at_selected_epoch": best,
        "python": platform.python_version(),
    }


def main(argv: list[str] | None = None) -> None:
    """Run every stage and write the .tflite and its metrics JSON."""
    setup()
    argv = sys.argv[1:] if argv is None else argv
    cfg = parse_args(argv)
    clips = data.all_clips()
    build_cache(clips, cfg.feature_dir, cfg.n_aug, cfg.seed)
    run_dir = train(cfg, clips)
    baseline = evaluate_baseline(clips, cfg.cache_dir / "baseline", cfg.seed)
    from models.training.voice.evaluate import evaluate_tflite
    from models.training.voice.export import export_tflite, sha256

    tflite = export_tflite(run_dir / "best.weights.h5", TFLITE_PATH, cfg.width)
    result = evaluate_tflite(tflite, clips)
    metrics = {
        "model": tflite.name,
        "sha256": sha256(tflite),
        "size_bytes": tflite.stat().st_size,
        "quantisation": "fp16 weights (float32 input/output)",
        "feature_spec": FEATURE_SPEC,
        "tensors": result.pop("tensors"),
        "protocol": protocol(),
        "training": training_summary(cfg, argv),
        "test": result,
        "baseline": {"description": "utterance functionals + logistic regression", **baseline},
    }
    METRICS_PATH.write_text(json.dumps(metrics, indent=1) + "\n")
    LOG.info("wrote %s", METRICS_PATH)


if __name__ == "__main__":
    main()
