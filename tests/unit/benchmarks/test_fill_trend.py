"""fill.py's drift of the accept rate: a line through 100-POST windows,
the start's ramp left out."""

import os
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(
    os.path.dirname(os.path.dirname(os.path.abspath(__file__))))),
    'benchmarks'))

import fill  # noqa: E402


def _stamps(rate_at):
    """POST end times for a fill whose i-th POST took 1 / rate_at(i) s."""
    t, out = 0.0, []
    for i in range(len(rate_at)):
        t += 1.0 / rate_at[i]
        out.append(t)
    return out


def test_a_steady_pace_has_no_drift():
    stamps = _stamps([30.0] * 1000)
    rates = fill.window_rates(stamps)
    # Windows ending at 200, 300, ... 1000: the first 100 are the ramp.
    assert [i for i, _r in rates] == list(range(200, 1001, 100))
    assert all(r == pytest.approx(30.0) for _i, r in rates)
    assert fill.rate_trend(stamps) == pytest.approx(0.0, abs=0.1)


def test_a_pace_that_falls_drifts_by_its_fall():
    # 40/s falling to 30/s by the 1,000th: 10 of a mean of ~35 per 1,000.
    stamps = _stamps([40.0 - 10.0 * i / 1000 for i in range(1000)])
    trend = fill.rate_trend(stamps)
    assert -32 < trend < -26


def test_noise_around_a_steady_pace_is_not_a_drift():
    # Windows alternating 25/s and 45/s (a 50-POST window swings so):
    # their line stays flat where two single windows differ by 40 %.
    pattern = [25.0] * 100 + [45.0] * 100
    stamps = _stamps(pattern * 5)
    assert abs(fill.rate_trend(stamps)) < 10


def test_too_short_a_fill_has_no_drift():
    assert fill.rate_trend(_stamps([30.0] * 299)) is None
    assert fill.window_rates(_stamps([30.0] * 150)) == []
