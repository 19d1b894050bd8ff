"""The evaluation report against a case computed by hand, and its storage."""

from __future__ import annotations

import csv
import io
import math

import numpy as np
import pytest

from studio.evaluation.compare import NotComparable, accuracy_difference, per_class_deltas
from studio.evaluation.metrics import (
    calibration,
    classification_report,
    confusion_order,
    top_k_accuracy,
)
from studio.evaluation.report import (
    build_report,
    collect_mistakes,
    current_report,
    per_class_csv,
    read_mistakes,
    write_mistakes,
)
from studio.evaluation.text import format_deltas, format_report
from studio.runs import artifacts

NAMES = ["cat", "dog", "owl"]
LABELS = np.array([0, 0, 1, 1, 2, 2])
PROBS = np.array(
    [
        [0.70, 0.20, 0.10],  # cat, right (0.7)
        [0.20, 0.60, 0.20],  # cat taken for a dog (0.6)
        [0.10, 0.80, 0.10],  # dog, right (0.8)
        [0.10, 0.50, 0.40],  # dog, right (0.5)
        [0.30, 0.30, 0.40],  # owl, right (0.4)
        [0.05, 0.90, 0.05],  # owl taken for a dog (0.9)
    ]
)


def test_report_matches_the_hand_computed_case():
    r = classification_report(PROBS, LABELS, NAMES)
    assert r["images"] == 6
    assert r["accuracy"] == pytest.approx(4 / 6)
    assert r["accuracy_se"] == pytest.approx(math.sqrt(4 / 6 * 2 / 6 / 6))
    assert r["top3"] == 1.0 and r["top5"] == 1.0  # three classes: top-3 is everything
    assert r["loss"] == pytest.approx(-np.mean(np.log([0.7, 0.2, 0.8, 0.5, 0.4, 0.05])))
    assert r["confusion"] == [[1, 1, 0], [0, 2, 0], [0, 1, 1]]
    assert sum(map(sum, r["confusion"])) == len(LABELS)
    rows = {row["class"]: row for row in r["per_class"]}
    # dog: 2 right of 4 predicted; cat and owl: 1 of 1 predicted, 1 of 2 found.
    assert rows["dog"]["precision"] == pytest.approx(0.5) and rows["dog"]["recall"] == 1.0
    assert rows["cat"]["precision"] == 1.0 and rows["cat"]["recall"] == pytest.approx(0.5)
    for row in rows.values():
        assert row["f1"] == pytest.approx(2 / 3) and row["support"] == 2
    assert r["macro"]["precision"] == pytest.approx(2.5 / 3)
    assert r["macro"]["recall"] == pytest.approx(2 / 3)
    assert r["weighted"]["f1"] == pytest.approx(2 / 3)
    assert r["confused_pairs"] == [
        {"true": "cat", "predicted": "dog", "count": 1, "share": 0.5},
        {"true": "owl", "predicted": "dog", "count": 1, "share": 0.5},
    ]


def test_label_smoothing_enters_the_loss_as_in_training():
    smooth = classification_report(PROBS, LABELS, NAMES, label_smoothing=0.3)["loss"]
    target = np.full((6, 3), 0.1)
    target[np.arange(6), LABELS] += 0.7
    assert smooth == pytest.approx(-(target * np.log(PROBS)).sum(axis=1).mean())


def test_top_k_counts_ties_for_the_true_class():
    assert top_k_accuracy(PROBS, LABELS, 1) == pytest.approx(4 / 6)
    # Image 1's cat (0.2) ties with owl behind dog; image 5's owl (0.05) ties with cat.
    assert top_k_accuracy(PROBS, LABELS, 2) == 1.0


def test_expected_calibration_error_by_hand():
    result = calibration(PROBS, LABELS, bins=2)
    # (0, .5]: confidences .5 and .4, both right; (.5, 1]: .7 .6 .8 .9, two right.
    low, high = result["bins"]
    assert (low["count"], high["count"]) == (2, 4)
    assert low["confidence"] == pytest.approx(0.45) and low["accuracy"] == 1.0
    assert high["confidence"] == pytest.approx(0.75) and high["accuracy"] == 0.5
    assert result["ece"] == pytest.approx(2 / 6 * 0.55 + 4 / 6 * 0.25)
    empty = calibration(PROBS, LABELS, bins=10)["bins"][0]
    assert empty["count"] == 0 and empty["accuracy"] is None


def test_confused_classes_sit_together():
    # 0 and 2 are mistaken for each other, so are 1 and 3.
    confusion = np.array(
        [[50, 0, 40, 0], [0, 50, 0, 30], [35, 0, 50, 1], [0, 25, 0, 50]], dtype=float
    )
    order = confusion_order(confusion)
    assert sorted(order) == [0, 1, 2, 3]
    position = {c: i for i, c in enumerate(order)}
    assert abs(position[0] - position[2]) == 1 and abs(position[1] - position[3]) == 1
    assert confusion_order(np.eye(4) * 10) == [0, 1, 2, 3]


def test_report_refuses_mismatched_inputs():
    with pytest.raises(ValueError, match="do not match"):
        classification_report(PROBS[:, :2], LABELS, NAMES)
    with pytest.raises(ValueError, match="no test images"):
        classification_report(np.zeros((0, 3)), np.zeros(0, int), NAMES)


def test_mistakes_most_confident_first_and_filtered(tmp_path):
    images = np.arange(6 * 2 * 2 * 3, dtype=np.uint8).reshape(6, 2, 2, 3)
    mistakes = collect_mistakes(images, PROBS, LABELS)
    assert mistakes.total == 2 and list(mistakes.index) == [5, 1]
    assert mistakes.top[0].tolist() == [1, 0, 2]
    assert mistakes.probs[0].tolist() == pytest.approx([0.9, 0.05, 0.05])
    assert list(mistakes.select(true=2)) == [0]
    assert list(mistakes.select(predicted=1)) == [0, 1]
    assert list(mistakes.select(true=1)) == []
    write_mistakes(tmp_path, mistakes)
    back = read_mistakes(tmp_path)
    assert back is not None and back.total == 2
    assert np.array_equal(back.images, images[[5, 1]])
    # Over the byte budget, the most confident mistake is kept and the total still told.
    small = collect_mistakes(images, PROBS, LABELS, budget=12)
    assert list(small.index) == [5] and small.total == 2
    assert read_mistakes(tmp_path / "nowhere") is None


def test_stored_report_belongs_to_one_model_file(tmp_path):
    report = build_report(PROBS, LABELS, NAMES, model_sha256="a" * 64)
    artifacts.write_evaluation(tmp_path, report)
    assert current_report(tmp_path, "a" * 64)["accuracy"] == pytest.approx(4 / 6)
    assert current_report(tmp_path, "b" * 64) is None  # retrained since: stale
    (tmp_path / artifacts.EVALUATION).write_text("{not json")
    assert current_report(tmp_path, "a" * 64) is None


def test_per_class_csv_and_text():
    report = build_report(PROBS, LABELS, NAMES, model_sha256="a" * 64)
    rows = list(csv.DictReader(io.StringIO(per_class_csv(report))))
    assert [r["class"] for r in rows] == NAMES
    assert float(rows[1]["precision"]) == pytest.approx(0.5) and rows[1]["support"] == "2"
    text = format_report(report)
    assert "top-1 66.7%" in text and "cat -> dog: 1 images (50% of cat)" in text


def test_two_runs_per_class_deltas():
    a = classification_report(PROBS, LABELS, NAMES)
    better = PROBS.copy()
    better[1] = [0.8, 0.1, 0.1]  # B gets the second cat right
    b = classification_report(better, LABELS, NAMES)
    rows = {r["class"]: r for r in per_class_deltas(a, b)}
    assert rows["cat"]["delta_recall"] == pytest.approx(0.5)
    assert rows["owl"]["delta_recall"] == 0.0
    assert rows["dog"]["delta_precision"] == pytest.approx(2 / 3 - 1 / 2)
    diff = accuracy_difference(a, b)
    assert diff["delta"] == pytest.approx(1 / 6)
    se_a, se_b = a["accuracy_se"], b["accuracy_se"]
    assert diff["noise95"] == pytest.approx(1.96 * math.sqrt(se_a**2 + se_b**2))
    assert diff["beyond_noise"] is False  # six images prove nothing
    assert "cat" in format_deltas(list(rows.values()), diff, "run-a", "run-b")
    other = classification_report(PROBS, LABELS, ["cat", "dog", "emu"])
    with pytest.raises(NotComparable, match="only in the first: owl; only in the second: emu"):
        per_class_deltas(a, other)
