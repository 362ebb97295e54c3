"""Task metrics against reference implementations: jiwer for WER/CER, scikit-learn for
NDCG and average precision, hand-computed cases for detection mAP."""

from __future__ import annotations

import math

import jiwer
import numpy as np
import pytest
from sklearn.metrics import label_ranking_average_precision_score, ndcg_score

from rampup.errors import ValidationError
from rampup.tasks import detection_ap, detection_map, family, ranking_metrics, wer
from rampup.tasks.detection import average_precision
from rampup.tasks.ranking import ranking_stats
from rampup.tasks.transcription import cer, normalise, transcript_stats

REFS = ["turn on the kitchen lights", "what is the weather in oslo", "play some jazz",
        "call mom", "set a timer for ten minutes"]
HYPS = ["turn on kitchen light", "what is the weather in oslo today", "play sam jazz",
        "", "set timer for ten minutes please"]


def test_wer_and_cer_match_jiwer_on_a_corpus() -> None:
    refs = [normalise(r) for r in REFS]
    hyps = [normalise(h) for h in HYPS]
    nonempty = [i for i, h in enumerate(hyps) if h]
    # jiwer scores the whole corpus at once; ours sums per-utterance counts
    r = [refs[i] for i in nonempty]
    h = [hyps[i] for i in nonempty]
    assert wer(r, h) == pytest.approx(jiwer.wer(r, h))
    assert cer(r, h) == pytest.approx(jiwer.cer(r, h))


def test_an_empty_transcript_deletes_every_word() -> None:
    s = transcript_stats(["call mom"], [""])
    assert s.wer_edits.tolist() == [2.0]
    assert s.words.tolist() == [2.0]
    assert wer(["call mom"], [""]) == 1.0


def test_an_empty_reference_counts_insertions() -> None:
    s = transcript_stats(["", "a b"], ["hello there", "a b"])
    assert s.wer_edits.tolist() == [2.0, 0.0]
    assert wer(["", ""], ["", ""]) == 0.0


def test_normalisation_ignores_case_and_punctuation_unless_asked() -> None:
    assert wer(["Hello, World!"], ["hello world"]) == 0.0
    assert wer(["Hello World"], ["hello world"], lowercase=False) == 1.0


def test_per_row_counts_sum_to_the_corpus_wer() -> None:
    fam = family("transcription")
    parts = fam.parts(REFS, HYPS)
    num, den = parts["wer"]
    assert len(num) == len(REFS)
    assert fam.compute(REFS, HYPS)["wer"] == pytest.approx(num.sum() / den.sum())
    sub = fam.compute(REFS, HYPS, parts, rows=[0, 2])["wer"]
    assert sub == pytest.approx(wer([REFS[0], REFS[2]], [HYPS[0], HYPS[2]]))


def test_a_transcript_must_be_text() -> None:
    with pytest.raises(ValidationError, match="not a transcript"):
        wer(["a"], [3])


# -- ranking -------------------------------------------------------------------------------

def _random_rankings(seed: int, n: int = 40, items: int = 12):
    rng = np.random.default_rng(seed)
    y_true = (rng.random((n, items)) < 0.25).astype(int)
    y_true[y_true.sum(axis=1) == 0, 0] = 1  # every query has a relevant item
    scores = rng.random((n, items))  # continuous: no ties
    labels = [[f"i{j}" for j in np.flatnonzero(row)] for row in y_true]
    preds = [[{"id": f"i{j}", "score": float(s[j])} for j in range(items)] for s in scores]
    return y_true, scores, labels, preds


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_map_over_the_whole_list_is_sklearn_lrap(seed: int) -> None:
    y_true, scores, labels, preds = _random_rankings(seed)
    ours = ranking_metrics(labels, preds, k=y_true.shape[1])[f"map_at_{y_true.shape[1]}"]
    assert ours == pytest.approx(label_ranking_average_precision_score(y_true, scores))


@pytest.mark.parametrize(("seed", "k"), [(0, 3), (1, 5), (2, 12)])
def test_ndcg_at_k_is_sklearn_ndcg_score(seed: int, k: int) -> None:
    rng = np.random.default_rng(seed + 10)
    grades = rng.integers(0, 4, size=(30, 12))
    grades[grades.sum(axis=1) == 0, 0] = 2
    scores = rng.random((30, 12))
    labels = [{f"i{j}": int(g) for j, g in enumerate(row) if g} for row in grades]
    preds = [[{"id": f"i{j}", "score": float(s[j])} for j in range(12)] for s in scores]
    ours = ranking_metrics(labels, preds, k=k)[f"ndcg_at_{k}"]
    assert ours == pytest.approx(ndcg_score(grades, scores, k=k))


def test_ranking_by_hand() -> None:
    # relevant {a, c}; ranking b, a, c, d
    s = ranking_stats([["a", "c"]], [["b", "a", "c", "d"]], k=2)
    assert s.rr.tolist() == [0.5]
    assert s.recall.tolist() == [0.5]
    # AP@2 = (precision@2 = 1/2) / min(2, 2)
    assert s.ap.tolist() == [0.25]
    assert s.ndcg[0] == pytest.approx((1 / math.log2(3)) / (1 + 1 / math.log2(3)))
    # AP@k normalised by min(k, #relevant): a perfect top-1 scores 1 with 2 relevant
    assert ranking_stats([["a", "c"]], [["a", "b"]], k=1).ap.tolist() == [1.0]


def test_queries_without_relevant_items_are_left_out() -> None:
    m = ranking_metrics([["a"], []], [["a"], ["b"]], k=1)
    assert m["mrr"] == 1.0
    assert math.isnan(ranking_metrics([[]], [["a"]], k=1)["mrr"])


def test_bad_ranking_inputs_name_the_fix() -> None:
    with pytest.raises(ValidationError, match="list of relevant ids"):
        ranking_metrics(["a"], [["a"]])
    with pytest.raises(ValidationError, match="cut-off"):
        ranking_metrics([["a"]], [["a"]], k=0)
    with pytest.raises(ValidationError, match="no 'id'"):
        ranking_metrics([["a"]], [[{"score": 1}]])


# -- detection -----------------------------------------------------------------------------

def _box(x1: float, y1: float, x2: float, y2: float, cls: str = "car",
         score: float | None = None) -> dict[str, object]:
    b: dict[str, object] = {"box": [x1, y1, x2, y2], "class": cls}
    if score is not None:
        b["score"] = score
    return b


def test_all_point_ap_by_hand() -> None:
    # 3 objects; detections by score: TP, FP, TP, FP, TP
    # precision 1, .5, .667, .5, .6 ; recall .333, .333, .667, .667, 1
    # envelope 1, .667, .667, .6, .6 -> AP = 1/3 * 1 + 1/3 * 2/3 + 1/3 * 0.6
    ap = average_precision([0.9, 0.8, 0.7, 0.6, 0.5], [True, False, True, False, True], 3)
    assert ap == pytest.approx((1 + 2 / 3 + 0.6) / 3)


def test_map_at_iou_half_by_hand() -> None:
    gt = [[_box(0, 0, 10, 10), _box(20, 20, 30, 30, "person")],
          [_box(0, 0, 10, 10)]]
    det = [[_box(1, 1, 10, 10, score=0.9),          # IoU .81: TP car
            _box(0, 0, 10, 10, score=0.8),          # duplicate: FP car
            _box(20, 20, 30, 26, "person", 0.7)],   # IoU .6: TP person
           [_box(5, 0, 15, 10, score=0.95)]]        # IoU 1/3: FP car
    aps = detection_ap(gt, det)
    # car: by score FP(.95) TP(.9) FP(.8); 2 objects -> precision .5 at recall .5
    assert aps["car"] == pytest.approx(0.25)
    assert aps["person"] == 1.0
    assert detection_map(gt, det) == pytest.approx(0.625)


def test_a_match_needs_the_same_class_and_iou_of_a_half() -> None:
    gt = [[_box(0, 0, 10, 10)]]
    assert detection_map(gt, [[_box(0, 0, 10, 10, "truck", 0.9)]]) == 0.0
    assert detection_map(gt, [[_box(0, 0, 10, 5, score=0.9)]]) == 1.0  # IoU exactly .5
    assert detection_map(gt, [[_box(0, 0, 10, 4.9, score=0.9)]]) == 0.0
    assert detection_map(gt, [[]]) == 0.0
    assert math.isnan(detection_map([[]], [[_box(0, 0, 1, 1, score=0.5)]]))


def test_detection_recall_and_precision_per_image_are_ratios() -> None:
    gt = [[_box(0, 0, 10, 10), _box(20, 20, 30, 30)], [_box(0, 0, 5, 5)]]
    det = [[_box(0, 0, 10, 10, score=0.9), _box(50, 50, 60, 60, score=0.4)],
           [_box(0, 0, 5, 5, score=0.3)]]
    m = family("detection").compute(gt, det)
    assert m["recall_50"] == pytest.approx(1 / 3)   # the .3 detection is below 0.5
    assert m["precision_50"] == 1.0
    assert family("detection", score_threshold=0.2).compute(gt, det)["recall_50"] == \
        pytest.approx(2 / 3)


def test_bad_boxes_name_the_fix() -> None:
    with pytest.raises(ValidationError, match="x1, y1, x2, y2"):
        detection_map([[{"box": [0, 0], "class": "a"}]], [[]])
    with pytest.raises(ValidationError, match="x2 < x1"):
        detection_map([[_box(5, 0, 1, 1)]], [[]])
    with pytest.raises(ValidationError, match="unknown task"):
        family("segmentation")
