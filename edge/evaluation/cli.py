"""`moodsense eval face|voice --manifest CSV [--labels a,b] [--json]`."""

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from edge.evaluation.manifest import ManifestError, read_manifest
from edge.inference.registry import DEFAULT_MODELS_DIR, ModelError, ModelRegistry
from edge.labels import canonical

EXIT_USAGE = 2


def add_eval_parser(commands: Any) -> None:
    """Register `eval face` and `eval voice` on the top-level subparsers."""
    evaluate = commands.add_parser("eval", help="score a model on a labelled manifest")
    kinds = evaluate.add_subparsers(dest="eval_kind", required=True)
    for kind, default_model in (("face", "face_expression"), ("voice", "voice_emotion")):
        parser = kinds.add_parser(kind, help=f"evaluate the {kind} model")
        parser.add_argument("--manifest", type=Path, required=True, help="CSV with path,label")
        parser.add_argument("--labels", help="comma-separated labels to score and argmax over")
        parser.add_argument("--json", action="store_true", help="last line: one JSON object")
        parser.add_argument("--model", default=default_model, help="manifest entry to evaluate")
        parser.add_argument("--models-dir", type=Path, default=DEFAULT_MODELS_DIR)
        parser.set_defaults(func=_run_eval)


def _allowed_labels(option: str | None, supported: tuple[str, ...]) -> tuple[str, ...]:
    if option is None:
        return supported
    wanted = []
    for raw in option.split(","):
        label = canonical(raw) or raw.strip().lower()
        if label not in supported:
            raise ValueError(f"--labels: the model cannot output '{raw.strip()}'")
        wanted.append(label)
    return tuple(dict.fromkeys(wanted))


def _run_eval(args: argparse.Namespace) -> int:
    try:
        registry = ModelRegistry(args.models_dir)
        spec, model = registry.open(args.model)
        allowed = _allowed_labels(args.labels, spec.labels)
        manifest = read_manifest(args.manifest, allowed, {"calm": "neutral"})
    except (ModelError, ManifestError, ValueError) as error:
        print(f"eval: {error}", file=sys.stderr)
        return EXIT_USAGE
    if args.eval_kind == "face":
        from edge.evaluation.face_eval import run_face_eval

        truth, predicted, extra = run_face_eval(registry, spec, model, manifest.items, allowed)
    else:
        from edge.evaluation.voice_eval import run_voice_eval

        truth, predicted, extra = run_voice_eval(spec, model, manifest.items, allowed)
    from edge.evaluation.metrics import score  # scikit-learn: seconds to import, so late

    result = score(truth, predicted, allowed).as_json()
    skipped = manifest.skipped + extra.pop("skipped")
    result |= {"n_skipped": sum(skipped.values()), "skipped": dict(skipped), **extra}
    result |= {"model": spec.name, "model_sha256": spec.sha256}
    _print(result, args.json)
    return 0


def _print(result: dict[str, Any], as_json: bool) -> None:
    if as_json:
        print(json.dumps(result))
        return
    print(f"model {result['model']}: {result['n_scored']} scored, {result['n_skipped']} skipped")
    for key in ("accuracy", "uar", "macro_f1", "arousal_accuracy"):
        if result.get(key) is not None:  # arousal: voice only
            print(f"  {key:<16} {result[key]:.3f}")
    shares = result["predicted_share"]
    for label, recall in result["per_class_recall"].items():
        print(f"  recall {label:<10} {recall:.3f}   share of predictions {shares[label]:.3f}")
