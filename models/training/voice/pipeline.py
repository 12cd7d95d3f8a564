"""End-to-end, resumable: feature cache -> train -> baseline -> TFLite export -> test metrics.

Reproduce the shipped model, version 6 (from the repo root; the feature cache takes ~4-6 min
on 2 cores): version 5's released file (three networks) averaged with a width-0.75 run
trained at one thread; the thread count is part of the result (same seed and count give
identical weights)::

    git show ed8c442:models/voice_emotion.tflite > v5/voice_v5.tflite
    git show ed8c442:models/voice_emotion.metrics.json > v5/voice_v5.metrics.json
    TF_NUM_INTRAOP_THREADS=1 python -m models.training.voice.train \
        --epochs 150 --mel-warp 0.15 --width 0.75
    python -m models.training.voice.pipeline --quantisation int8 \
        --released v5/voice_v5.tflite --member "--epochs 150 --mel-warp 0.15 --width 0.75"

Each ``--member`` is one training run (the options of ``models.training.voice.train``); each
``--released`` is an earlier released ``.tflite``, rebuilt by ``from_tflite`` (an ensemble file
gives each of its networks). The exported model averages all networks' class probabilities.
Without ``--member`` the pipeline's own training options make the single member. Members train
one after the other; to use both cores, start each member's ``python -m
models.training.voice.train`` with ``TF_NUM_INTRAOP_THREADS=1`` side by side first (~20-25 min
each that way on the 2026-12-06 VM), and the pipeline finds them finished. Every stage skips
work whose output already exists under ``--cache-dir`` (features, checkpoints, baseline
functionals), so a killed run continues where it stopped.
"""

from __future__ import annotations

import argparse
import json
import logging
import platform
import shlex
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
QUANTISATION_NOTES = {
    "fp16": "fp16 weights (float32 input/output)",
    "int8": "int8 weights, per-channel scales, float activations (dynamic range; float32 I/O)",
}


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


def training_summary(cfg: TrainConfig) -> dict[str, object]:
    """Seed, seconds and the validation scores used to pick one member's checkpoint."""
    state = json.loads((cfg.run_dir / "state.json").read_text())
    best = next(h for h in state["history"] if h["epoch"] == state["best_epoch"])
    return {
        "seed": cfg.seed,
        "epochs": cfg.epochs,
        "config": {k: str(v) for k, v in vars(cfg).items()},
        "train_seconds": round(state["seconds"], 1),
        "selected_epoch": state["best_epoch"],
        "selection": "best mean of per-corpus validation UAR (7 model labels)",
        "validation_at_selected_epoch": best,
        # Epochs logged before threads were recorded show as "unrecorded".
        "intra_op_threads": sorted({str(h.get("threads", "unrecorded")) for h in state["history"]}),
        "python": platform.python_version(),
    }


def released_summary(path: Path) -> dict[str, object]:
    """A released member: the file's sha256 and how its own metrics file says it was made."""
    from models.training.voice.export import sha256

    metrics_path = path.with_name(path.stem + ".metrics.json")
    made = json.loads(metrics_path.read_text())["training"] if metrics_path.exists() else {}
    return {"released_file_sha256": sha256(path), "training": made}


def parse_pipeline_args(argv: list[str]) -> tuple[list[TrainConfig], str, list[Path]]:
    """The members' training configs, the quantisation, and released ``.tflite`` members."""
    from models.training.voice.export import QUANTISATIONS  # TensorFlow: after setup()

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--member", action="append", default=[], help="training options")
    parser.add_argument(
        "--released",
        type=Path,
        action="append",
        default=[],
        help="an earlier released .tflite whose networks join the average "
        "(its .metrics.json beside it)",
    )
    parser.add_argument("--quantisation", choices=QUANTISATIONS, default="fp16")
    args, rest = parser.parse_known_args(argv)
    members = [parse_args(shlex.split(m)) for m in args.member] or [parse_args(rest)]
    if args.member and rest:
        parser.error(f"with --member, put training options inside it: {' '.join(rest)}")
    # The device computes one feature variant; every member must have been trained on it.
    if len({(m.norm, m.feature_dir) for m in members}) > 1:
        parser.error("all members must share --norm, --n-aug and --seed")
    return members, args.quantisation, args.released


def main(argv: list[str] | None = None) -> None:
    """Run every stage and write the .tflite and its metrics JSON."""
    setup()
    argv = sys.argv[1:] if argv is None else argv
    members, quantisation, released = parse_pipeline_args(argv)
    cfg = members[0]
    clips = data.all_clips()
    build_cache(clips, cfg.feature_dir, cfg.n_aug, cfg.seed)
    run_dirs = [train(member, clips) for member in members]
    baseline = evaluate_baseline(clips, cfg.cache_dir / "baseline", cfg.seed)
    from models.training.voice.evaluate import evaluate_tflite, validation_scores
    from models.training.voice.export import Member, export_tflite, sha256

    tflite = export_tflite(
        [Member(path) for path in released]
        + [
            Member(d / "best.weights.h5", m.width, m.view)
            for d, m in zip(run_dirs, members, strict=True)
        ],
        TFLITE_PATH,
        quantisation,
    )
    result = evaluate_tflite(tflite, clips)
    metrics = {
        "model": tflite.name,
        "sha256": sha256(tflite),
        "size_bytes": tflite.stat().st_size,
        "quantisation": QUANTISATION_NOTES[quantisation],
        "feature_spec": FEATURE_SPEC,
        "tensors": result.pop("tensors"),
        "protocol": protocol(),
        "training": {
            "command": "nice -n 10 python -m models.training.voice.pipeline " + shlex.join(argv),
            "python": platform.python_version(),
            "members": [training_summary(m) for m in members],
            "released_members": [released_summary(path) for path in released],
            "ensemble": "mean of the members' class probabilities per window",
            "validation_of_exported_model": validation_scores(tflite, clips),
        },
        "test": result,
        "baseline": {"description": "utterance functionals + logistic regression", **baseline},
    }
    METRICS_PATH.write_text(json.dumps(metrics, indent=1) + "\n")
    LOG.info("wrote %s", METRICS_PATH)


if __name__ == "__main__":
    main()
