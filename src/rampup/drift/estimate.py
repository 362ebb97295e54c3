"""Label-free performance of a binary classifier: what its decisions are worth before
the labels arrive (confidence-based performance estimation, as NannyML's CBPE).

The model's probability of the positive class is first **calibrated on the reference
set** (isotonic regression of the label on the probability: the
:class:`~rampup.automation.confidence.Calibrator` rampup already uses), so ``p_i`` is the
chance that row ``i`` is positive. The model **decides** ``probability >= threshold``
(its own threshold: not always 0.5). Then, without labels,

* a decision is right with probability ``c_i = p_i`` (positive) or ``1 - p_i``
  (negative): expected accuracy ``mean(c_i)``;
* the confusion matrix is expected: ``TP = Σ p_i`` over positive decisions, ``FP =
  Σ (1 - p_i)`` there, ``FN = Σ p_i`` over negative ones, and F1 = ``2TP / (2TP + FP +
  FN)``;
* ROC AUC: each row counts as ``p_i`` of a positive and ``1 - p_i`` of a negative, and
  the AUC of those weighted scores is read off the weighted ranks.

Where the reference is thin the isotonic map is not trusted alone: each of its blocks is
shrunk towards a two-parameter logistic calibration on the probability's logit by its size
(an end block of a few rows is often exactly 0 or 1), and probabilities outside the range
the reference covered (a covariate shift pushes rows there) use the logistic curve, which
extrapolates, instead of the isotonic map's flat ends (which called every such row
certain: +0.03 accuracy on applicants 15 years older than the reference).

At registration (:func:`reference_estimator`) a binary classifier with class
probabilities and a labelled reference gets its estimator stored in
``profile["label_free"]``; the live drift check (:func:`rampup.drift.check.check_model`)
then estimates the logged decisions of any window before labels arrive
(``concept.estimated_accuracy`` / ``_f1`` / ``_roc_auc`` for alert rules).

The raw probability is not used as is: a model is rarely calibrated, and using its
max-class probability was always too low on the car-loan data (MAE 0.022, band held
the realised accuracy in 0 of 10 chunks); calibrated, 0.0034 and 9 of 10.

**Intervals** add two uncertainties: the outcomes' own (each decision is right with
probability ``c_i``: variance ``Σ c_i(1 - c_i) / n²`` for accuracy, simulated for F1 and
AUC) and the calibration's (the map was fitted on ``n_ref`` reference rows: the spread
of the estimate over calibrators refitted on bootstrap resamples of the reference).
Valid under covariate shift (the inputs move, the relation between score and label does
not); a change of that relation (concept drift) is invisible without labels.

>>> rng = np.random.default_rng(0)
>>> score = rng.random(4000); label = (rng.random(4000) < score).astype(int)
>>> est = Estimator.fit(score, label, threshold=0.5, seed=0)
>>> e = est.estimate(rng.random(2000) * 0.8)
>>> round(e["accuracy"].value, 2), e["accuracy"].lo < e["accuracy"].value < e["accuracy"].hi
(0.7, True)
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy import special

from rampup.automation.confidence import Calibrator, fit_calibrator
from rampup.errors import ValidationError

Floats = npt.NDArray[np.float64]
METRICS = ("accuracy", "f1", "roc_auc")
#: bootstrap refits of the calibration map, for its share of the interval.
BOOTSTRAP = 30
#: outcome draws for the F1 and ROC AUC intervals.
DRAWS = 200


@dataclass(frozen=True)
class Estimate:
    """One estimated metric with its interval (``level``) on ``n`` predictions."""

    metric: str
    value: float
    lo: float
    hi: float
    n: int
    outcome_sd: float
    calibration_sd: float

    def to_dict(self) -> dict[str, Any]:
        return {k: (None if isinstance(v, float) and math.isnan(v) else v)
                for k, v in asdict(self).items()}


def expected_metrics(p: Floats, decision: npt.NDArray[np.bool_], score: Floats
                     ) -> dict[str, float]:
    """Expected accuracy, F1 and ROC AUC when row ``i`` is positive with probability
    ``p[i]`` (see the module docstring).

    >>> p = np.array([0.9, 0.8, 0.2, 0.1]); d = p >= 0.5
    >>> {k: round(v, 3) for k, v in expected_metrics(p, d, p).items()}
    {'accuracy': 0.85, 'f1': 0.85, 'roc_auc': 0.929}
    """
    n = len(p)
    if n == 0:
        return dict.fromkeys(METRICS, math.nan)
    c = np.where(decision, p, 1.0 - p)
    tp = float(p[decision].sum())
    fp = float((1.0 - p[decision]).sum())
    fn = float(p[~decision].sum())
    f1 = 2 * tp / (2 * tp + fp + fn) if tp + fp + fn > 0 else math.nan
    return {"accuracy": float(c.mean()), "f1": f1, "roc_auc": weighted_auc(score, p)}


def weighted_auc(score: Floats, p: Floats) -> float:
    """ROC AUC with row ``i`` counted as ``p[i]`` positive and ``1 - p[i]`` negative:
    ``P(score of a positive > score of a negative)``, ties counted half, pairs of two
    different rows only (expected pair counts over expected pairs).

    >>> weighted_auc(np.array([0.1, 0.9]), np.array([0.0, 1.0]))
    1.0
    """
    pos, neg = float(p.sum()), float((1.0 - p).sum())
    if pos <= 0 or neg <= 0:
        return math.nan
    order = np.argsort(score, kind="stable")
    s, w_pos, w_neg = score[order], p[order], 1.0 - p[order]
    # negatives strictly below each value, plus half of those tied with it
    _, start, counts = np.unique(s, return_index=True, return_counts=True)
    cum_neg = np.concatenate([[0.0], np.cumsum(w_neg)])
    below = cum_neg[start]
    tied = cum_neg[start + counts] - below
    group_pos = np.add.reduceat(w_pos, start)
    # a row paired with itself is a tie counted in both sums: take it out of both
    own = float((p * (1.0 - p)).sum())
    pairs = pos * neg - own
    if pairs <= 0:
        return math.nan
    return float((((below + tied / 2) * group_pos).sum() - own / 2) / pairs)


@dataclass(frozen=True)
class Estimator:
    """A calibration map fitted on the reference (and its bootstrap refits) plus the
    model's decision threshold: everything the estimate needs, storable as JSON with a
    version's profile (:meth:`to_dict`)."""

    calibrator: Calibrator
    threshold: float = 0.5
    bootstrap: tuple[Calibrator, ...] = ()
    n_ref: int = 0
    reference: Mapping[str, float] = field(default_factory=dict)
    #: ``(a, b)`` of ``p -> sigmoid(a * logit(p) + b)`` fitted on the same rows: used for
    #: probabilities outside the range the isotonic map saw (where it is flat, often at
    #: exactly 0 or 1, and would call every shifted row certain)
    tail: tuple[float, float] | None = None

    @classmethod
    def fit(cls, probability: Sequence[float] | Floats, label: Sequence[Any] | Floats, *,
            threshold: float = 0.5, positive: Any = 1, bootstrap: int = BOOTSTRAP,
            seed: int = 0) -> Estimator:
        """Fit on the reference's probabilities of the positive class and its labels."""
        if not 0.0 < threshold < 1.0:
            raise ValidationError(f"decision threshold must be between 0 and 1, got "
                                  f"{threshold}", fix="use the model's threshold, e.g. 0.5",
                                  field="threshold")
        prob = np.asarray(probability, dtype=np.float64)
        y = np.asarray([v == positive for v in np.asarray(label).tolist()], dtype=np.float64)
        keep = np.isfinite(prob)
        prob, y = prob[keep], y[keep]
        if len(np.unique(y)) < 2:
            raise ValidationError("the reference labels have only one class",
                                  fix="fit the estimate on a reference with both classes",
                                  field="labels")
        tail = _logit_fit(prob, y)
        main = _shrunk(fit_calibrator(prob, y), prob, tail)
        rng = np.random.default_rng(seed)
        boots = []
        for _ in range(bootstrap):
            idx = rng.integers(0, len(prob), len(prob))
            boots.append(_shrunk(fit_calibrator(prob[idx], y[idx]), prob[idx], tail))
        realised = {"accuracy": float(((prob >= threshold) == (y == 1)).mean())}
        return cls(main, threshold, tuple(boots), len(prob), realised, tail)

    def calibrated(self, probability: Floats, calibrator: Calibrator | None = None) -> Floats:
        cal = calibrator or self.calibrator
        if cal.method != "isotonic":
            return np.asarray(cal.apply(probability.tolist()), dtype=np.float64)
        out = np.clip(np.interp(probability, cal.x, cal.y), 0.0, 1.0)
        if self.tail is not None and cal.x:
            outside = (probability < cal.x[0]) | (probability > cal.x[-1])
            if outside.any():
                a, b = self.tail
                out[outside] = special.expit(a * _logit(probability[outside]) + b)
        return out

    def estimate(self, probability: Sequence[float] | Floats, *, level: float = 0.95,
                 seed: int = 0) -> dict[str, Estimate]:
        """Accuracy, F1 and ROC AUC of the decisions on ``probability`` (no labels)."""
        prob = np.asarray(probability, dtype=np.float64)
        prob = prob[np.isfinite(prob)]
        decision = prob >= self.threshold
        p = self.calibrated(prob)
        point = expected_metrics(p, decision, prob)
        rng = np.random.default_rng(seed)
        n = len(prob)
        outcome = dict.fromkeys(METRICS, math.nan)
        if n:
            c = np.where(decision, p, 1.0 - p)
            outcome["accuracy"] = math.sqrt(float((c * (1 - c)).sum())) / n
            draws = []
            for _ in range(DRAWS):
                y = rng.random(n) < p
                draws.append(_realised(y, decision, prob))
            for m in ("f1", "roc_auc"):
                vals = np.array([d[m] for d in draws], dtype=np.float64)
                vals = vals[np.isfinite(vals)]
                outcome[m] = float(vals.std()) if len(vals) > 1 else math.nan
        boot = [expected_metrics(self.calibrated(prob, b), decision, prob)
                for b in self.bootstrap]
        z = float(special.ndtri(0.5 + level / 2))  # the normal quantile
        out: dict[str, Estimate] = {}
        for m in METRICS:
            vals = np.array([b[m] for b in boot], dtype=np.float64)
            vals = vals[np.isfinite(vals)]
            cal_sd = float(vals.std(ddof=1)) if len(vals) > 1 else 0.0
            half = z * math.sqrt((outcome[m] if math.isfinite(outcome[m]) else 0.0) ** 2
                                 + cal_sd ** 2)
            v = point[m]
            out[m] = Estimate(m, v, max(0.0, v - half) if math.isfinite(v) else math.nan,
                              min(1.0, v + half) if math.isfinite(v) else math.nan, n,
                              outcome[m], cal_sd)
        return out

    def to_dict(self) -> dict[str, Any]:
        return {"calibrator": self.calibrator.to_dict(), "threshold": self.threshold,
                "bootstrap": [b.to_dict() for b in self.bootstrap], "n_ref": self.n_ref,
                "reference": dict(self.reference),
                "tail": None if self.tail is None else list(self.tail)}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Estimator:
        tail = d.get("tail")
        return cls(Calibrator.from_dict(dict(d["calibrator"])), float(d["threshold"]),
                   tuple(Calibrator.from_dict(dict(b)) for b in d.get("bootstrap", [])),
                   int(d.get("n_ref", 0)), dict(d.get("reference", {})),
                   None if tail is None else (float(tail[0]), float(tail[1])))


def _logit(p: Floats) -> Floats:
    q = np.clip(p, 1e-6, 1 - 1e-6)
    out: Floats = np.log(q) - np.log1p(-q)
    return out


#: pseudo-rows of the logistic calibration added to each isotonic block: a block of a
#: few rows (at the ends, often exactly 0 or 1) is pulled towards the smooth curve.
SHRINK_ROWS = 10.0


def _shrunk(cal: Calibrator, prob: Floats, tail: tuple[float, float] | None) -> Calibrator:
    """The isotonic map with each block's value shrunk towards the logistic calibration
    by its size (``(n y + m logistic) / (n + m)``); still monotone when both are."""
    if tail is None or cal.method != "isotonic" or not cal.x:
        return cal
    x, y = np.asarray(cal.x), np.asarray(cal.y)
    fitted = np.interp(prob, x, y)
    values, counts = np.unique(fitted, return_counts=True)
    n = counts[np.clip(np.searchsorted(values, y), 0, len(values) - 1)].astype(np.float64)
    smooth = special.expit(tail[0] * _logit(x) + tail[1])
    out = (n * y + SHRINK_ROWS * smooth) / (n + SHRINK_ROWS)
    return Calibrator("isotonic", [float(v) for v in x],
                      [float(v) for v in np.maximum.accumulate(out)], n=cal.n)


def _logit_fit(prob: Floats, y: Floats) -> tuple[float, float] | None:
    """Logistic calibration on the logit of the probability (two parameters: it
    extrapolates smoothly where the isotonic map has no data)."""
    from sklearn.linear_model import LogisticRegression

    if len(np.unique(y)) < 2:
        return None
    lr = LogisticRegression(C=1e4, max_iter=500).fit(_logit(prob).reshape(-1, 1), y)
    return float(lr.coef_[0, 0]), float(lr.intercept_[0])


def _realised(y: npt.NDArray[np.bool_], decision: npt.NDArray[np.bool_], score: Floats
              ) -> dict[str, float]:
    """Realised accuracy, F1 and ROC AUC of decisions against labels ``y``."""
    tp = int((y & decision).sum())
    fp = int((~y & decision).sum())
    fn = int((y & ~decision).sum())
    f1 = 2 * tp / (2 * tp + fp + fn) if tp + fp + fn else math.nan
    return {"accuracy": float((y == decision).mean()), "f1": f1,
            "roc_auc": weighted_auc(score, y.astype(np.float64))}


def realised_metrics(label: Sequence[Any] | Floats, probability: Sequence[float] | Floats,
                     threshold: float = 0.5, positive: Any = 1) -> dict[str, float]:
    """The same metrics from labels, to compare an estimate with once they arrive.

    >>> realised_metrics([1, 0, 1, 0], [0.9, 0.2, 0.4, 0.6])
    {'accuracy': 0.5, 'f1': 0.5, 'roc_auc': 0.75}
    """
    prob = np.asarray(probability, dtype=np.float64)
    y = np.asarray([v == positive for v in list(label)], dtype=bool)
    return _realised(y, prob >= threshold, prob)


#: the fewest labelled reference rows a stored estimator is fitted on.
MIN_REFERENCE_ROWS = 100


def decision_threshold(probability: Floats, decided_positive: npt.NDArray[np.bool_]) -> float:
    """The threshold the model's own decisions imply: halfway between the highest
    probability it called negative and the lowest it called positive when they separate,
    else 0.5 (an arg-max over two classes).

    >>> decision_threshold(np.array([0.2, 0.6, 0.7, 0.9]), np.array([False, False, True, True]))
    0.65
    """
    pos, neg = probability[decided_positive], probability[~decided_positive]
    if len(pos) and len(neg) and float(neg.max()) < float(pos.min()):
        t = (float(neg.max()) + float(pos.min())) / 2
        if 0.0 < t < 1.0:
            return round(t, 6)
    return 0.5


def reference_estimator(probabilities: Sequence[Mapping[str, float] | None],
                        predictions: Sequence[Any], labels: Sequence[Any], *,
                        seed: int = 0) -> dict[str, Any] | None:
    """The label-free estimator of a binary classifier fitted at registration on its
    reference outputs (``probabilities[i]``: class -> probability, keys as strings) and the
    reference labels, as stored in ``profile["label_free"]``: ``{"positive": class key,
    "estimator": Estimator.to_dict()}``. None when the model is not a binary classifier
    with probabilities or the labels do not allow a fit (one class, too few rows)."""
    keys = sorted({k for p in probabilities if p for k in p})
    if len(keys) != 2 or len(probabilities) != len(labels):
        return None
    positive = "1" if "1" in keys else "True" if "True" in keys else keys[1]
    prob = np.array([p.get(positive, math.nan) if p else math.nan for p in probabilities],
                    dtype=np.float64)
    label = [None if v is None or (isinstance(v, float) and math.isnan(v)) else
             str(int(v)) if isinstance(v, bool | np.bool_) and positive == "1" else str(v)
             for v in labels]
    keep = np.isfinite(prob) & np.array([v is not None for v in label])
    if int(keep.sum()) < MIN_REFERENCE_ROWS:
        return None
    decided = np.array([str(x) == positive for x in predictions], dtype=bool)
    threshold = decision_threshold(prob[keep], decided[keep])
    try:
        est = Estimator.fit(prob[keep], [v for v, k in zip(label, keep, strict=True) if k],
                            threshold=threshold, positive=positive, seed=seed)
    except ValidationError:
        return None
    return {"positive": positive, "estimator": est.to_dict()}
