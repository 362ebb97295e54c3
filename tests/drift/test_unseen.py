"""Values the reference never had are evidence of their own (issue 17).

The car-loan case: NannyML's ``synthetic_car_loan_dq`` has 47 rows of
``size_of_downpayment = '50%'`` (a value the reference never had) in 5,000-row chunks;
before, the chi-square test pooled them into an established category (p = 0.73 in all
five chunks). The data here is generated with the same proportions, seeded.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats as sps

from rampup.alerts.condition import parse_condition
from rampup.drift.features import unseen_result
from rampup.drift.frames import compare_frames
from rampup.drift.metrics import drift_metrics
from rampup.drift.profiles import compare_profiles, window_profile
from rampup.drift.report import DriftConfig
from rampup.drift.stats import chi2_homogeneity, unseen_test
from rampup.registry.profile import compute_profile, infer_schema

DOWN = ["0%", "5%", "10%", "15%", "20%", "25%", "30%", "40%"]
P_DOWN = [0.25, 0.2, 0.15, 0.12, 0.1, 0.08, 0.06, 0.04]


def car_loan(n: int, rng: np.random.Generator, unseen: int = 0) -> pd.DataFrame:
    down = rng.choice(DOWN, n, p=P_DOWN).astype(object)
    if unseen:
        down[rng.choice(n, unseen, replace=False)] = "50%"
    return pd.DataFrame({"car_value": rng.normal(40_000, 9_000, n),
                         "salary_range": rng.choice(["0-20K", "20-40K", "40-60K", "60K+"], n),
                         "size_of_downpayment": down})


@pytest.fixture(scope="module")
def reference() -> tuple[pd.DataFrame, dict]:
    ref = car_loan(50_000, np.random.default_rng(17))
    return ref, compute_profile(ref, infer_schema(ref))


def test_the_exact_test_matches_fisher() -> None:
    for u, n_ref, n_cur in [(1, 1000, 1000), (47, 50_000, 5000), (3, 200, 100), (20, 500, 80)]:
        want = sps.fisher_exact([[n_ref, 0], [n_cur - u, u]], alternative="greater").pvalue
        assert unseen_test(u, n_ref, n_cur) == pytest.approx(want, rel=1e-9)
    assert unseen_test(0, 10, 10) == 1.0


def test_car_loan_chunks_with_47_unseen_rows_are_flagged_5_of_5(reference: tuple) -> None:
    ref, prof = reference
    rng = np.random.default_rng(5)
    flagged = {"rows": 0, "profiles": 0}
    for _ in range(5):
        chunk = car_loan(5000, rng, unseen=47)
        for mode, rep in (("rows", compare_frames(ref, chunk)),
                          ("profiles", compare_profiles(prof, window_profile(chunk, prof)))):
            r = next(r for r in rep.results
                     if r.feature == "size_of_downpayment" and r.kind == "unseen")
            assert r.effect == pytest.approx(47 / 5000)
            assert dict(r.unseen) == {"50%": 47}
            flagged[mode] += r.drifted
            assert ("size_of_downpayment" in rep.drifted_features) == r.drifted
            metrics = drift_metrics(rep)
            assert metrics["drift.feature[size_of_downpayment].unseen_share"] == \
                pytest.approx(0.0094)
    assert flagged == {"rows": 5, "profiles": 5}


def test_the_unseen_value_is_not_pooled_into_an_established_one() -> None:
    # The chi-square test on the seen values alone, as the report runs it; before, the
    # unseen column was pooled with the sparse ones and the table said "no drift".
    ref = np.array([20_000, 15_000, 500, 40, 0])
    cur = np.array([2000, 1500, 50, 4, 47])
    merged = chi2_homogeneity(ref, cur)
    assert 4 not in merged.merged or merged.p_value < 1e-6


def test_two_percent_unseen_at_1000_rows_is_flagged() -> None:
    rng = np.random.default_rng(2)
    ref = pd.DataFrame({"c": rng.choice(["a", "b", "c"], 5000)})
    cur_values = rng.choice(["a", "b", "c"], 1000).astype(object)
    cur_values[:20] = "new"
    rep = compare_frames(ref, pd.DataFrame({"c": cur_values}))
    r = next(r for r in rep.results if r.kind == "unseen")
    assert r.p_value < 1e-12
    assert r.verdict == "drift"
    assert rep.drifted_features == ["c"]


def test_one_stray_value_in_a_huge_window_is_not_an_alarm() -> None:
    config = DriftConfig()
    ref = {"a": 60_000, "b": 40_000}
    cur = {"a": 120_000, "b": 79_999, "typo": 1}
    r = unseen_result("c", ref, cur, config)
    assert r.effect == pytest.approx(1 / 200_000)
    assert r.effect < r.min_effect == 0.005
    assert r.p_value == pytest.approx(2 / 3, rel=1e-3)


def test_a_profile_lumping_rare_values_does_not_call_them_unseen() -> None:
    r = unseen_result("c", {"a": 500, "__other__": 20}, {"a": 400, "zzz": 30}, DriftConfig())
    assert r.effect == 0.0
    assert r.p_value == 1.0


def test_the_monitors_exact_unseen_count_is_used() -> None:
    # the monitor's top-k counts lumped the new values into __other__; its unseen count
    # is exact
    ref = {"a": 500, "b": 500}
    r = unseen_result("c", ref, {"a": 450, "b": 450, "__other__": 100}, DriftConfig(),
                      unseen_rows=100)
    assert r.effect == pytest.approx(0.1)
    assert r.p_value < 1e-20


def test_no_drift_windows_rarely_flag_rare_categories() -> None:
    """A category with probability 1e-3 is often absent from a small reference sample:
    the exact test keeps the false alarms of the unseen result at or below alpha."""
    rng = np.random.default_rng(8)
    values, p = ["a", "b", "rare"], [0.6, 0.399, 0.001]
    config = DriftConfig()
    hits = 0
    for _ in range(200):
        ref = dict(zip(*np.unique(rng.choice(values, 2000, p=p), return_counts=True),
                       strict=True))
        cur = dict(zip(*np.unique(rng.choice(values, 500, p=p), return_counts=True),
                       strict=True))
        r = unseen_result("c", {str(k): int(v) for k, v in ref.items()},
                          {str(k): int(v) for k, v in cur.items()}, config)
        hits += r.p_value <= config.alpha
    assert hits <= 10  # at most 5 % of 200


def test_unseen_share_is_an_alert_metric() -> None:
    cond, _ = parse_condition("drift.feature[size_of_downpayment].unseen_share > 0.005")
    assert cond.metric == "drift.feature[size_of_downpayment].unseen_share"
