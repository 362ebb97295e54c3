"""The one duration / point-in-time reader: every form the issue names, the errors it
gives, and that a bare number is never silently read as an epoch time."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rampup.durations import (
    format_duration,
    parse_duration,
    parse_instant,
    parse_time,
)
from rampup.errors import ValidationError

NOW = 1_800_000_000.0


@pytest.mark.parametrize(("text", "seconds"), [
    ("250ms", 0.25), ("90s", 90.0), ("5m", 300.0), ("1h30m", 5400.0), ("1h 30m", 5400.0),
    ("2d", 172_800.0), ("1w", 604_800.0), ("1.5h", 5400.0), ("90", 90.0), ("0", 0.0),
    ("0.5", 0.5), ("PT1H30M", 5400.0), ("P1D", 86_400.0), ("pt30s", 30.0), ("PT0.5S", 0.5),
    ("P1W", 604_800.0), ("P1DT12H", 129_600.0), ("PT1,5H", 5400.0), (" 5M ", 300.0),
    (12, 12.0), (2.5, 2.5),
])
def test_duration_forms(text: str | float, seconds: float) -> None:
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", [
    "", "abc", "5 minutes", "-5m", "-1", "1x", "5m-", "P", "PT", "P1DT", "inf", "nan",
    "1h30", "m5", True, None, float("inf"), -3,
])
def test_bad_duration_names_field_and_forms(text: object) -> None:
    with pytest.raises(ValidationError) as info:
        parse_duration(text, "cooldown")  # type: ignore[arg-type]
    err = info.value
    assert err.details["field"] == "cooldown"
    assert str(err).startswith("cooldown: ")
    assert "PT1H30M" in (err.fix or "") or "days" in (err.fix or "")


def test_months_and_years_refused_with_fix() -> None:
    for text in ("P1M", "P1Y", "P1Y2M"):
        with pytest.raises(ValidationError, match="no fixed length"):
            parse_duration(text, "window")


def test_positive_refuses_zero() -> None:
    assert parse_duration("1s", positive=True) == 1.0
    with pytest.raises(ValidationError, match="longer than zero"):
        parse_duration("0s", "step", positive=True)


@given(st.floats(min_value=0, max_value=1e9, allow_nan=False))
def test_format_reads_back(seconds: float) -> None:
    text = format_duration(seconds)
    assert parse_duration(text) == pytest.approx(seconds, rel=1e-5, abs=1e-9)


def test_instant_duration_back_from_now() -> None:
    for text, back in (("2h", 7200), ("-2h", 7200), ("PT30M", 1800), ("90", 90),
                       ("1h30m", 5400), ("250ms", 0.25)):
        t = parse_instant(text, now=NOW)
        assert t.form == "ago"
        assert t.ts == pytest.approx(NOW - back)
        assert "back from now" in t.describe(now=NOW)


def test_instant_iso_and_epoch() -> None:
    t = parse_instant("2024-05-01T12:00:00+02:00", now=NOW)
    assert (t.form, t.ts) == ("iso", 1714557600.0)
    assert parse_instant("2024-05-01").ts == datetime(2024, 5, 1, tzinfo=UTC).timestamp()
    assert parse_instant("2024-05-01T10:00:00Z").ts == 1714557600.0
    assert parse_instant("20240501").ts == datetime(2024, 5, 1, tzinfo=UTC).timestamp()
    e = parse_instant("epoch:1714521600.5", now=NOW)
    assert (e.form, e.ts) == ("epoch", 1714521600.5)
    assert "epoch seconds" in e.describe(now=NOW)
    assert "2024-05-01 00:00:00 UTC" in e.describe(now=NOW)
    assert parse_instant("now", now=NOW).ts == NOW


@pytest.mark.parametrize("text", ["90", "3600", "-90"])
def test_bare_small_number_is_seconds_back(text: str) -> None:
    t = parse_instant(text, "since", now=NOW)
    assert t.form == "ago"
    assert t.ts == NOW - abs(float(text))
    assert t.ts > datetime(2000, 1, 1, tzinfo=UTC).timestamp()


@pytest.mark.parametrize("text", ["1714521600", "-1714521600", "1714521600.5"])
def test_bare_epoch_like_number_refused_never_1970(text: str) -> None:
    """As seconds back from now it would be before 1970; the fix names the explicit form."""
    with pytest.raises(ValidationError) as info:
        parse_instant(text, "since", now=NOW)
    assert "epoch:" in (info.value.fix or "")
    assert info.value.details["field"] == "since"


@pytest.mark.parametrize("text", ["yesterday", "epoch:", "epoch:abc", "epoch:inf", "", "2024-13-01",
                                  "5 minutes"])
def test_bad_instant_names_field_and_forms(text: str) -> None:
    with pytest.raises(ValidationError) as info:
        parse_instant(text, "until", now=NOW)
    assert info.value.details["field"] == "until"
    assert "epoch:" in (info.value.fix or "")


def test_parse_time_is_ts() -> None:
    assert parse_time("30m", now=NOW) == NOW - 1800


def test_plan_holds_accept_duration_text_and_name_the_field() -> None:
    """Rollout plans (project file, --plan files, the admin API) read holds and keep
    times with the same parser; a bad one names its field."""
    import pydantic

    from rampup.rollout.plan import Plan

    plan = Plan.model_validate({"standby_keep_s": "PT10M", "steps": [
        {"canary": 10, "min_duration_s": "1m30s", "max_duration_s": "1h"}]})
    assert plan.standby_keep_s == 600.0
    assert (plan.steps[0].min_duration_s, plan.steps[0].max_duration_s) == (90.0, 3600.0)
    with pytest.raises(pydantic.ValidationError, match="min_duration_s: cannot read '5 min'"):
        Plan.model_validate({"steps": [{"canary": 10, "min_duration_s": "5 min"}]})
