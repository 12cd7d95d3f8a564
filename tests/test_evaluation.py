"""Evaluation plumbing: label mapping, skip counts and the metrics the issues define."""

from pathlib import Path

import pytest

from edge.evaluation.manifest import ManifestError, read_manifest
from edge.evaluation.metrics import score


def test_uar_is_the_mean_of_per_class_recall_not_accuracy() -> None:
    """With imbalanced classes accuracy flatters a model that predicts one class."""
    truth = ["happy"] * 8 + ["sad"] * 2
    predicted = ["happy"] * 10
    scores = score(truth, predicted, ("happy", "sad"))
    assert scores.accuracy == pytest.approx(0.8)
    assert scores.uar == pytest.approx(0.5)
    assert scores.per_class_recall == {"happy": 1.0, "sad": 0.0}
    assert scores.confusion == [[8, 0], [2, 0]]
    assert scores.predicted_share == {"happy": 1.0, "sad": 0.0}


def test_manifest_maps_spellings_folds_calm_and_counts_what_it_skips(tmp_path: Path) -> None:
    """Other teams' corpora use other spellings; nothing may be dropped silently."""
    for name in ("a.wav", "b.wav", "c.wav", "d.wav"):
        (tmp_path / name).write_bytes(b"")
    (tmp_path / "eval.csv").write_text(
        "path,label\na.wav,Anger\nb.wav,calm\nc.wav,contempt\nd.wav,happiness\nnope.wav,sad\n"
    )
    manifest = read_manifest(
        tmp_path / "eval.csv", ("neutral", "happy", "sad", "angry"), {"calm": "neutral"}
    )
    assert [(i.path.name, i.label) for i in manifest.items] == [
        ("a.wav", "angry"),
        ("b.wav", "neutral"),
        ("d.wav", "happy"),
    ]
    assert manifest.skipped == {"label:contempt": 1, "missing_file": 1}


def test_a_manifest_without_the_columns_is_refused(tmp_path: Path) -> None:
    """A wrong CSV must not score zero items and look like a result."""
    (tmp_path / "eval.csv").write_text("file,emotion\na.wav,happy\n")
    with pytest.raises(ManifestError, match="'path' and 'label'"):
        read_manifest(tmp_path / "eval.csv", ("happy",))
