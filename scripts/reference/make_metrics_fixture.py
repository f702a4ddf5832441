#!/usr/bin/env python3
"""Write the KatechonMetrics test fixture from scikit-learn's metrics.

Each binary case stores labels, scores and the expected ROC AUC (roc_auc_score),
the ROC curve points (roc_curve with drop_intermediate=True) and the ISIC 2024
partial AUC above 80% TPR. The partial AUC follows the challenge scorer's recipe:
flip labels and scores, build the ROC curve, cut it at FPR = 1 - min_tpr with a
linearly interpolated end point, and take the trapezoid area. Each multiclass
case stores labels, predictions and the expected balanced_accuracy_score,
recall_score(average=None) and confusion_matrix.

Run from the package root:
    python3 scripts/reference/make_metrics_fixture.py
Output: Tests/KatechonMetricsTests/Fixtures/metrics_fixture.json
"""

import json
import pathlib

import numpy as np
import sklearn
from sklearn.metrics import (auc, balanced_accuracy_score, confusion_matrix,
                             recall_score, roc_auc_score, roc_curve)

OUTPUT = pathlib.Path("Tests/KatechonMetricsTests/Fixtures/metrics_fixture.json")


def partial_auc_above_tpr(labels, scores, min_tpr=0.80):
    """Return the ISIC 2024 partial AUC: the area of the flipped ROC curve up to FPR 1 - min_tpr."""
    flipped_labels = 1 - np.asarray(labels)
    flipped_scores = 1.0 - np.asarray(scores, dtype=np.float64)
    max_fpr = 1 - min_tpr
    fpr, tpr, _ = roc_curve(flipped_labels, flipped_scores)
    stop = np.searchsorted(fpr, max_fpr, side="right")
    end_tpr = np.interp(max_fpr, [fpr[stop - 1], fpr[stop]], [tpr[stop - 1], tpr[stop]])
    truncated_fpr = np.append(fpr[:stop], max_fpr)
    truncated_tpr = np.append(tpr[:stop], end_tpr)
    return float(auc(truncated_fpr, truncated_tpr))


def binary_case(name, labels, scores):
    labels = np.asarray(labels, dtype=np.int32)
    scores = np.asarray(scores, dtype=np.float64)
    fpr, tpr, _ = roc_curve(labels, scores)
    return {
        "name": name,
        "labels": labels.tolist(),
        "scores": scores.tolist(),
        "auc": float(roc_auc_score(labels, scores)),
        "pauc_tpr80": partial_auc_above_tpr(labels, scores),
        "roc_fpr": fpr.tolist(),
        "roc_tpr": tpr.tolist(),
    }


def multiclass_case(name, labels, predictions, class_count):
    labels = np.asarray(labels, dtype=np.int32)
    predictions = np.asarray(predictions, dtype=np.int32)
    all_classes = list(range(class_count))
    # zero_division=nan marks classes with no true sample; the fixture stores them as null.
    recall = recall_score(labels, predictions, labels=all_classes, average=None,
                          zero_division=np.nan)
    return {
        "name": name,
        "class_count": class_count,
        "labels": labels.tolist(),
        "predictions": predictions.tolist(),
        "balanced_accuracy": float(balanced_accuracy_score(labels, predictions)),
        "recall": [None if np.isnan(value) else float(value) for value in recall],
        "confusion": confusion_matrix(labels, predictions, labels=all_classes).tolist(),
    }


def binary_cases(rng):
    cases = []

    labels = (rng.random(200) < 0.3).astype(np.int32)
    scores = np.clip(rng.normal(0.4 + 0.25 * labels, 0.2), 0.0, 1.0)
    cases.append(binary_case("random", labels, scores))

    labels = (rng.random(300) < 0.4).astype(np.int32)
    scores = np.round(np.clip(rng.normal(0.45 + 0.15 * labels, 0.2), 0.0, 1.0), 1)
    cases.append(binary_case("tied_one_decimal", labels, scores))

    labels = (rng.random(50) < 0.5).astype(np.int32)
    labels[:2] = [0, 1]
    cases.append(binary_case("all_equal", labels, np.full(50, 0.5)))

    labels = np.zeros(500, dtype=np.int32)
    labels[137] = 1
    cases.append(binary_case("single_positive", labels, rng.random(500)))

    labels = np.zeros(400, dtype=np.int32)
    labels[12] = 1
    cases.append(binary_case("single_positive_tied", labels, np.round(rng.random(400), 1)))

    labels = (rng.random(120) < 0.25).astype(np.int32)
    scores = np.where(labels == 1, 0.6 + 0.4 * rng.random(120), 0.5 * rng.random(120))
    cases.append(binary_case("perfect", labels, scores))
    cases.append(binary_case("inverted", labels, 1.0 - scores))

    labels = np.concatenate([np.zeros(2000, dtype=np.int32), np.ones(5, dtype=np.int32)])
    scores = np.concatenate([rng.beta(1.0, 8.0, 2000), rng.beta(3.0, 4.0, 5)])
    order = rng.permutation(labels.size)
    cases.append(binary_case("isic_imbalance", labels[order], scores[order]))

    # Scores this close to 0 become equal once flipped (1 - score rounds to 1.0), so the
    # partial AUC has ties that the plain AUC does not.
    labels = np.array([0, 1, 0, 1, 1, 0, 0, 1, 0, 0], dtype=np.int32)
    scores = np.array([1e-20, 3e-20, 2e-20, 4e-17, 0.9, 0.1, 5e-18, 1e-18, 0.3, 0.2])
    cases.append(binary_case("tiny_scores_merge_when_flipped", labels, scores))

    labels = (rng.random(1000) < 0.1).astype(np.int32)
    scores = np.round(rng.random(1000) ** (1.0 / (1.0 + labels)), 2)
    cases.append(binary_case("many_ties_imbalanced", labels, scores))

    return cases


def multiclass_cases(rng):
    cases = []

    labels = rng.integers(0, 3, 90)
    predictions = np.where(rng.random(90) < 0.6, labels, rng.integers(0, 3, 90))
    cases.append(multiclass_case("three_classes", labels, predictions, 3))

    weights = np.array([40, 25, 12, 8, 5, 4, 3, 2, 1], dtype=np.float64)
    labels = rng.choice(9, 400, p=weights / weights.sum())
    predictions = np.where(rng.random(400) < 0.5, labels, rng.integers(0, 9, 400))
    cases.append(multiclass_case("nine_classes_imbalanced", labels, predictions, 9))

    labels = rng.integers(0, 12, 600)
    predictions = np.where(rng.random(600) < 0.3, labels, rng.integers(0, 12, 600))
    cases.append(multiclass_case("twelve_classes", labels, predictions, 12))

    # Class 3 is predicted but never true, and class 4 appears nowhere.
    labels = rng.integers(0, 3, 60)
    predictions = np.where(rng.random(60) < 0.5, labels, rng.integers(0, 4, 60))
    cases.append(multiclass_case("class_without_true_sample", labels, predictions, 5))

    labels = rng.integers(0, 4, 40)
    cases.append(multiclass_case("perfect", labels, labels.copy(), 4))

    return cases


def main():
    rng = np.random.default_rng(20240611)
    fixture = {
        "generator": "scripts/reference/make_metrics_fixture.py",
        "sklearn_version": sklearn.__version__,
        "numpy_version": np.__version__,
        "binary": binary_cases(rng),
        "multiclass": multiclass_cases(rng),
    }
    OUTPUT.parent.mkdir(parents=True, exist_ok=True)
    OUTPUT.write_text(json.dumps(fixture) + "\n")
    print(f"wrote {OUTPUT}: {len(fixture['binary'])} binary and "
          f"{len(fixture['multiclass'])} multiclass cases")


if __name__ == "__main__":
    main()
