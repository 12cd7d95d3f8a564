"""How different are an ensemble's networks? Measured on validation.

Run from the repository root with the training environment::

    python -m models.training.face.member_study --model models/face_expression.tflite \
        --run-name w1-oof-e90-s2032

Averaging helps only where networks err on different faces. For every network of the released
``.tflite`` (rebuilt by ``from_tflite``) and every ``--run-name`` checkpoint, each scored with
flip averaging as the file scores a face, this prints its validation accuracy and, per pair,
how often the two agree and what share of the faces either gets wrong both get wrong; then the
accuracy of the average of every subset of two or more networks. The test set is not touched.
"""

from __future__ import annotations

import itertools
import json

import numpy as np

from models.training.face import data, from_tflite
from models.training.face.export import PROBE_FACES, flip_averaged, load_run
from models.training.face.study_cli import study_args, train_and_validation


def study(probs: dict[str, np.ndarray], labels: np.ndarray) -> dict[str, object]:
    """Accuracy per network, agreement and shared errors per pair, accuracy per subset."""
    wrong = {name: p.argmax(axis=1) != labels for name, p in probs.items()}
    pairs = {}
    for a, b in itertools.combinations(probs, 2):
        either = wrong[a] | wrong[b]
        pairs[f"{a} + {b}"] = {
            "agreement": round(float(np.mean(probs[a].argmax(1) == probs[b].argmax(1))), 3),
            "shared_errors": round(float(np.sum(wrong[a] & wrong[b]) / np.sum(either)), 3),
        }
    subsets = {}
    for size in range(2, len(probs) + 1):
        for names in itertools.combinations(probs, size):
            mean = np.mean([probs[name] for name in names], axis=0)
            subsets[" + ".join(names)] = round(float(np.mean(mean.argmax(1) == labels)), 4)
    accuracy = {name: round(float(np.mean(~w)), 4) for name, w in wrong.items()}
    return {"accuracy": accuracy, "pairs": pairs, "ensembles": subsets}


def main(argv: list[str] | None = None) -> None:
    args = study_args(__doc__, argv, with_runs=True)
    _, val = train_and_validation(args)
    networks = from_tflite.load(args.model, val.images[:PROBE_FACES])
    probs = {
        f"{args.model.stem}[{k}]": flip_averaged(m, val.images) for k, m in enumerate(networks)
    }
    for name in args.run_name:
        model, _ = load_run(data.cache_dir() / "checkpoints" / name)
        probs[name] = flip_averaged(model, val.images)
    print(json.dumps(study(probs, val.labels), indent=1))


if __name__ == "__main__":
    main()
