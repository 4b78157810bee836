#!/usr/bin/env python3
"""Generate the reference values that ProdLens' statistics core is tested against.

What it produces
    JSON files under ``tests/fixtures/stats/`` (or the folder given as the first
    argument), each with a ``header`` saying how it was made:

    correlation.json  Pearson r / p (``scipy.stats.pearsonr``), Spearman rho / p
                      (``scipy.stats.spearmanr``), the Fisher-z 95 % CI of r computed
                      explicitly with numpy and, alongside, scipy's own
                      ``pearsonr(...).confidence_interval(0.95)``.
    lagged.json       Calendar-complete daily series built from sparse day->value maps,
                      lag pairs (AI day d with outcome day d+k), with and without the
                      business-day filter, and the statistics of each lag.
    multiple.json     Benjamini-Hochberg adjusted p-values
                      (``scipy.stats.false_discovery_control(ps, method='bh')``).
    quantile.json     ``numpy.percentile`` (default linear interpolation) and ``numpy.mean``.
    calendar.json     Local calendar day of UTC instants (``zoneinfo``), local-day bounds
                      in UTC (23/25-hour DST days), ISO weeks (``date.isocalendar``).

    NaN (scipy's answer for an undefined statistic) is written as JSON ``null``.
    Every dataset is fixed in this file, so the output only changes with scipy/numpy.

How to run
    python3 -m venv /tmp/stats-venv
    /tmp/stats-venv/bin/pip install scipy numpy tzdata
    /tmp/stats-venv/bin/python tools/gen_stats_fixtures.py [tests/fixtures/stats]
"""

import datetime as dt
import json
import math
import os
import platform
import sys
import warnings
from zoneinfo import ZoneInfo

import numpy as np
import scipy
from scipy import stats

Z975 = 1.959963984540054  # scipy.special.ndtri(0.975)
MIN_PAIRS = 6  # fewer lag pairs than this is a low sample


def header(what):
    return {
        "generated_by": "tools/gen_stats_fixtures.py",
        "what": what,
        "python": platform.python_version(),
        "scipy": scipy.__version__,
        "numpy": np.__version__,
        "generated_on": dt.date.today().isoformat(),
        "nan_is_null": True,
    }


def num(v):
    """A float for JSON: NaN becomes None, infinities are refused."""
    v = float(v)
    if math.isnan(v):
        return None
    if math.isinf(v):
        raise ValueError("infinite value in fixture")
    return v


# ---------------------------------------------------------------------------
# Correlation
# ---------------------------------------------------------------------------


def fisher_ci(r, n):
    if n <= 3 or math.isnan(r):
        return None, None
    with np.errstate(divide="ignore"):
        z = np.arctanh(r)
    se = 1.0 / np.sqrt(n - 3)
    return float(np.tanh(z - Z975 * se)), float(np.tanh(z + Z975 * se))


def correlation_entry(x, y):
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    n = len(x)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pr = stats.pearsonr(x, y)
        sr = stats.spearmanr(x, y)
        try:
            sci_ci = pr.confidence_interval(0.95)
            sci_ci = [num(sci_ci.low), num(sci_ci.high)]
        except Exception:  # not available for every input / version
            sci_ci = None
    lo, hi = fisher_ci(float(pr.statistic), n)
    if sci_ci is not None and lo is not None:
        assert abs(sci_ci[0] - lo) <= 1e-12 and abs(sci_ci[1] - hi) <= 1e-12, (sci_ci, lo, hi)
    return {
        "n": n,
        "pearson": {
            "r": num(pr.statistic),
            "p_value": num(pr.pvalue),
            "ci_low": lo,
            "ci_high": hi,
            "scipy_ci": sci_ci,
        },
        "spearman": {"r": num(sr.statistic), "p_value": num(sr.pvalue)},
    }


def correlation_cases():
    rng = np.random.default_rng(20251001)
    cases = []

    def add(name, x, y, note=""):
        x = [float(v) for v in x]
        y = [float(v) for v in y]
        e = {"name": name, "note": note, "x": x, "y": y}
        e.update(correlation_entry(x, y))
        cases.append(e)

    add("n2", [1, 2], [3, 5], "two pairs: scipy gives r=1, p=1; ProdLens: undefined")
    add("n2_neg", [4, 1], [3, 5], "two pairs, negative")
    add("n3", [1, 2, 4], [2, 1, 5], "smallest n with a p-value; no CI (n <= 3)")
    add("n3_neg", [1, 2, 3], [3, 2.5, 0], "n = 3, negative")
    add("n4", [1, 2, 4, 5], [2, 1, 5, 3], "smallest n with a CI")
    add("n6", [3, 0, 5, 2, 7, 4], [1, 0, 4, 1, 6, 2], "n = 6")
    add("n6_neg", [10, 12, 9, 15, 20, 18], [5, 4, 6, 3, 1, 2.5], "n = 6, negative")
    add("n6_ties", [1, 1, 2, 2, 2, 5], [0, 3, 3, 1, 4, 4], "ties in both")
    x30 = np.round(rng.gamma(2.0, 10.0, 30), 3)
    y30 = np.round(0.4 * x30 + rng.normal(0, 6, 30), 3)
    add("n30", x30, y30, "n = 30, moderate positive")
    add("n30_neg", x30, np.round(50 - 0.8 * x30 + rng.normal(0, 5, 30), 3), "n = 30, negative")
    counts_x = rng.poisson(3, 30)
    counts_y = np.maximum(0, counts_x + rng.integers(-2, 3, 30))
    add("n30_counts_ties", counts_x, counts_y, "small integer counts: many ties")
    zx = [0, 0, 0, 4, 0, 7, 0, 0, 2, 0, 0, 9, 0, 0]
    zy = [0, 1, 0, 3, 0, 5, 0, 0, 0, 0, 1, 6, 0, 0]
    add("zero_days", zx, zy, "mostly zero days (calendar-complete series)")
    add("const_x", [2, 2, 2, 2, 2, 2], [1, 2, 3, 4, 5, 7], "constant x: scipy nan")
    add("const_y", [1, 2, 3, 4, 5, 7], [0, 0, 0, 0, 0, 0], "constant y (all zero days)")
    add("const_both", [3, 3, 3], [1, 1, 1], "both constant")
    add("perfect_pos", [1, 2, 3, 4, 5, 6], [2, 4, 6, 8, 10, 12], "r = 1 within rounding")
    add("perfect_neg", [1, 2, 3, 4, 5, 6, 7], [7, 6, 5, 4, 3, 2, 1], "r = -1")
    add("monotone_nonlinear", [1, 2, 3, 4, 5, 6, 7, 8], [1, 4, 9, 16, 25, 36, 49, 64],
        "Spearman rho = 1 exactly, Pearson < 1")
    add("uncorrelated", [1, 2, 3, 4, 5, 6, 7, 8, 9], [5, 1, 9, 3, 7, 3, 9, 1, 5],
        "r near 0, p near 1")
    x200 = np.round(rng.normal(100, 15, 200), 4)
    y200 = np.round(2 * x200 + rng.normal(0, 8, 200), 4)
    add("n200_strong", x200, y200, "very small p-values")
    tok = np.round(rng.lognormal(11, 1, 40))
    cost = np.round(tok * 3e-6 + rng.normal(0, 0.5, 40) ** 2, 6)
    add("tokens_cost_scale", tok, cost, "large and small magnitudes")
    return cases


# ---------------------------------------------------------------------------
# Lagged, calendar-complete daily series
# ---------------------------------------------------------------------------


def day_range(since, until):
    d = since
    while d <= until:
        yield d
        d += dt.timedelta(days=1)


def lag_case(name, since, until, ai_sparse, out_sparse, max_lag, business_days):
    days = [d for d in day_range(since, until)]
    if business_days:
        days = [d for d in days if d.weekday() < 5]
    ai = [float(ai_sparse.get(d.isoformat(), 0.0)) for d in days]
    out = [float(out_sparse.get(d.isoformat(), 0.0)) for d in days]
    lags = []
    for k in range(max_lag + 1):
        n = max(len(days) - k, 0)
        xs = ai[:n]
        ys = out[k:k + n]
        entry = {
            "lag": k,
            "n": n,
            "low_sample": n < MIN_PAIRS,
            "ai_days": [d.isoformat() for d in days[:n]],
            "outcome_days": [d.isoformat() for d in days[k:k + n]],
            "ai": xs,
            "outcome": ys,
        }
        if n >= 2:
            entry.update(correlation_entry(xs, ys))
        lags.append(entry)
    return {
        "name": name,
        "since": since.isoformat(),
        "until": until.isoformat(),
        "business_days": business_days,
        "ai_sparse": ai_sparse,
        "outcome_sparse": out_sparse,
        "days": [d.isoformat() for d in days],
        "ai_series": ai,
        "outcome_series": out,
        "lags": lags,
    }


def lagged_cases():
    rng = np.random.default_rng(77)
    cases = []
    # Across the Jan/Feb and Feb/Mar month ends (2025, not a leap year).
    since, until = dt.date(2025, 1, 25), dt.date(2025, 3, 5)
    ai, out = {}, {}
    for d in day_range(since, until):
        if d.weekday() < 5 and rng.random() < 0.8:
            ai[d.isoformat()] = float(rng.integers(5, 60))
    for d in day_range(since, until):
        prev = (d - dt.timedelta(days=1)).isoformat()
        v = round(0.2 * ai.get(prev, 0.0) + rng.integers(0, 4))
        if v:
            out[d.isoformat()] = float(v)
    for bd in (False, True):
        cases.append(lag_case(f"month_ends_2025{'_business' if bd else ''}",
                              since, until, ai, out, 3, bd))
    # Leap day 2024-02-29, outcome only on some days; an entry outside the window is ignored.
    since, until = dt.date(2024, 2, 20), dt.date(2024, 3, 8)
    ai = {"2024-02-20": 3.0, "2024-02-22": 8.0, "2024-02-26": 5.0, "2024-02-28": 12.0,
          "2024-02-29": 9.0, "2024-03-01": 4.0, "2024-03-04": 7.0, "2024-03-06": 11.0,
          "2024-03-20": 99.0}
    out = {"2024-02-21": 1.0, "2024-02-23": 2.0, "2024-02-27": 1.0, "2024-02-29": 3.0,
           "2024-03-01": 2.0, "2024-03-02": 1.0, "2024-03-05": 2.0, "2024-03-07": 3.0}
    cases.append(lag_case("leap_day_2024", since, until, ai, out, 4, False))
    # A one-week window: lag 2 leaves 5 pairs (low sample), lag 1 leaves 6.
    since, until = dt.date(2025, 12, 28), dt.date(2026, 1, 3)
    ai = {"2025-12-28": 1.0, "2025-12-29": 4.0, "2025-12-30": 2.0, "2025-12-31": 6.0,
          "2026-01-02": 3.0}
    out = {"2025-12-29": 2.0, "2025-12-30": 5.0, "2025-12-31": 1.0, "2026-01-01": 7.0,
           "2026-01-03": 2.0}
    cases.append(lag_case("year_end_week", since, until, ai, out, 3, False))
    # Constant outcome (no merges at all in the window).
    since, until = dt.date(2025, 10, 1), dt.date(2025, 10, 10)
    ai = {"2025-10-01": 2.0, "2025-10-03": 5.0, "2025-10-07": 1.0}
    cases.append(lag_case("no_outcomes", since, until, ai, {}, 1, False))
    return cases


# ---------------------------------------------------------------------------
# Benjamini-Hochberg
# ---------------------------------------------------------------------------


def bh_cases():
    rng = np.random.default_rng(5)
    raw = {
        "single": [0.03],
        "textbook": [0.01, 0.04, 0.03, 0.005, 0.2, 0.5, 0.04, 0.8],
        "ties": [0.02, 0.02, 0.02, 0.5, 0.5, 0.001, 0.02],
        "non_monotone_raw": [0.010, 0.011, 0.012, 0.040, 0.041, 0.9],
        "capped": [0.9, 0.95, 0.99, 1.0, 0.97],
        "zeros_and_ones": [0.0, 1.0, 0.0, 0.5, 1.0],
        "tiny": [1e-300, 3e-200, 2e-12, 0.04, 0.3],
        "random_48": list(np.round(rng.uniform(0, 1, 48) ** 3, 12)),
    }
    out = [{"name": "empty", "p": [], "adjusted": [], "m": 0,
            "significant": [], "note": "scipy returns an empty array"}]
    for name, ps in raw.items():
        ps = [float(p) for p in ps]
        adj = stats.false_discovery_control(ps, method="bh")
        out.append({
            "name": name,
            "p": ps,
            "adjusted": [num(a) for a in adj],
            "m": len(ps),
            "significant": [bool(a <= 0.05) for a in adj],
        })
    return out


# ---------------------------------------------------------------------------
# Percentiles
# ---------------------------------------------------------------------------

QS = [0, 1, 10, 25, 33.3, 50, 66.7, 75, 90, 95, 99, 99.9, 100]


def quantile_cases():
    rng = np.random.default_rng(9)
    raw = {
        "n1": [42.0],
        "n2": [10.0, 20.0],
        "n5_unsorted": [7.0, 1.0, 3.0, 9.0, 5.0],
        "n6_even": [1.5, 2.5, 2.5, 4.0, 10.0, 100.0],
        "ties": [3.0] * 7 + [4.0] * 2 + [100.0],
        "negative": [-5.0, -1.0, 0.0, 2.5, -7.25, 3.0],
        "merge_hours": list(np.round(rng.exponential(20, 37), 3)),
        "latency_ms_lognormal": list(np.round(rng.lognormal(7.0, 1.2, 2000), 3)),
    }
    out = []
    for name, xs in raw.items():
        xs = [float(v) for v in xs]
        a = np.asarray(xs)
        out.append({
            "name": name,
            "values": xs,
            "mean": float(np.mean(a)),
            "percentiles": [{"q": q, "value": float(np.percentile(a, q))} for q in QS],
        })
    return out


# ---------------------------------------------------------------------------
# Calendar
# ---------------------------------------------------------------------------


def calendar_cases():
    utc = dt.timezone.utc
    instants = [
        # Europe/Berlin spring forward 2025-03-30 01:00 UTC (02:00 -> 03:00 local).
        "2025-03-29T22:59:59Z", "2025-03-29T23:00:00Z", "2025-03-30T00:59:59Z",
        "2025-03-30T01:00:00Z", "2025-03-30T21:59:59Z", "2025-03-30T22:00:00Z",
        # Europe/Berlin fall back 2025-10-26 01:00 UTC (03:00 -> 02:00 local).
        "2025-10-25T21:59:59Z", "2025-10-25T22:00:00Z", "2025-10-26T00:30:00Z",
        "2025-10-26T01:30:00Z", "2025-10-26T22:59:59Z", "2025-10-26T23:00:00Z",
        # America/New_York DST days, month and year ends, leap day.
        "2025-03-09T04:59:59Z", "2025-03-09T05:00:00Z", "2025-11-02T03:59:59Z",
        "2025-11-02T04:00:00Z", "2025-11-03T04:59:59Z", "2025-11-03T05:00:00Z",
        "2025-01-31T23:30:00Z", "2024-02-29T23:59:59Z", "2025-12-31T23:00:00Z",
        "2026-01-01T00:00:00Z", "2025-06-15T12:00:00Z",
        # America/Santiago around its midnight changes.
        "2025-04-06T02:59:59Z", "2025-04-06T03:00:00Z", "2025-04-06T03:59:59Z",
        "2025-04-06T04:00:00Z", "2025-09-07T03:59:59Z", "2025-09-07T04:00:00Z",
    ]
    zones = ["UTC", "Europe/Berlin", "America/New_York", "Asia/Kolkata", "Pacific/Auckland",
             "Australia/Lord_Howe", "America/Santiago"]
    buckets = []
    for z in zones:
        tz = ZoneInfo(z)
        for s in instants:
            t = dt.datetime.fromisoformat(s.replace("Z", "+00:00"))
            buckets.append({"tz": z, "instant": s,
                            "local_date": t.astimezone(tz).date().isoformat()})
    bound_days = {
        "Europe/Berlin": ["2025-03-29", "2025-03-30", "2025-03-31", "2025-10-26", "2025-10-27"],
        "America/New_York": ["2025-03-09", "2025-11-02", "2025-07-04"],
        "Australia/Lord_Howe": ["2025-04-06", "2025-10-05"],
        # Clocks change at local midnight: 2025-09-07 00:00 does not exist.
        "America/Santiago": ["2025-04-05", "2025-04-06", "2025-09-06", "2025-09-07"],
        "UTC": ["2024-02-29"],
    }
    bounds = []
    for z, ds in bound_days.items():
        tz = ZoneInfo(z)
        for d in ds:
            day = dt.date.fromisoformat(d)
            start = dt.datetime.combine(day, dt.time(0), tzinfo=tz).astimezone(utc)
            nxt = day + dt.timedelta(days=1)
            end = dt.datetime.combine(nxt, dt.time(0), tzinfo=tz).astimezone(utc)
            bounds.append({
                "tz": z, "date": d,
                "start_utc": start.strftime("%Y-%m-%dT%H:%M:%SZ"),
                "end_utc": end.strftime("%Y-%m-%dT%H:%M:%SZ"),
                "hours": (end - start).total_seconds() / 3600.0,
            })
    weeks = []
    for d in ["2024-12-29", "2024-12-30", "2025-01-01", "2025-01-05", "2025-01-06",
              "2020-12-31", "2021-01-03", "2021-01-04", "2026-12-31", "2027-01-03",
              "2025-10-01", "2025-03-30", "2025-10-26"]:
        iso = dt.date.fromisoformat(d).isocalendar()
        weeks.append({"date": d, "iso_year": iso[0], "iso_week": iso[1],
                      "weekday": iso[2], "business_day": iso[2] <= 5})
    return {"buckets": buckets, "day_bounds": bounds, "iso_weeks": weeks}


def write(folder, name, what, body):
    path = os.path.join(folder, name)
    doc = {"header": header(what)}
    doc.update(body)
    with open(path, "w") as f:
        json.dump(doc, f, indent=1, allow_nan=False)
        f.write("\n")
    print("wrote", path)


def main():
    folder = sys.argv[1] if len(sys.argv) > 1 else "tests/fixtures/stats"
    os.makedirs(folder, exist_ok=True)
    write(folder, "correlation.json",
          "scipy.stats.pearsonr / spearmanr; Fisher-z 95% CI: tanh(atanh(r) +- 1.959963984540054"
          " / sqrt(n-3)) with numpy, scipy's confidence_interval(0.95) alongside",
          {"cases": correlation_cases()})
    write(folder, "lagged.json",
          "calendar-complete daily series, lag pairs (AI day d, outcome day d+k), business-day"
          " filter; statistics as in correlation.json",
          {"min_pairs": MIN_PAIRS, "cases": lagged_cases()})
    write(folder, "multiple.json",
          "scipy.stats.false_discovery_control(ps, method='bh'); significant = adjusted <= 0.05",
          {"q": 0.05, "cases": bh_cases()})
    write(folder, "quantile.json", "numpy.percentile(x, q) (linear) and numpy.mean(x)",
          {"cases": quantile_cases()})
    write(folder, "calendar.json",
          "zoneinfo: local date of UTC instants, local midnight bounds in UTC;"
          " date.isocalendar() for ISO weeks",
          calendar_cases())


if __name__ == "__main__":
    main()
