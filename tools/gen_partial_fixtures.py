#!/usr/bin/env python3
"""Generate the reference values for ProdLens' calendar-adjusted (partial) lag correlations.

What it produces
    ``tests/fixtures/stats/partial.json`` (or ``partial.json`` in the folder given as the
    first argument), with a ``header`` saying how it was made and a list of ``cases``.
    Each case holds its inputs -- window, time zone, business-day filter, holidays, lag,
    adjustment, outcome kind and the raw events as ``[utc_instant, value]`` -- and under
    ``expected`` the series positions, the daily series, the lag pairs' n, the kept
    covariate columns (q, df) and the partial Pearson / Spearman figures next to the raw
    (unadjusted) ``scipy.stats.pearsonr`` / ``spearmanr`` ones.  What each case is for is
    in the header's ``case_notes``.

    Method, for one case:
      1. every event goes to the local calendar day (``zoneinfo``) of its instant; days
         outside [since, until] are ignored;
      2. the positions are the dates since..until, without Saturdays and Sundays when
         ``business_days``, without every date in ``holidays``;
      3. AI series = per-day sum (0 when no events); outcome series = per-day sum (0 when
         none) or, for ``median``, ``numpy.median`` of the day's values (missing when none);
      4. pair i = (AI at position i, outcome at position i+lag); pairs with a missing
         outcome are dropped;
      5. covariates Z: intercept, and for ``adjust == "calendar"`` the trend (AI day minus
         the first position's day, in calendar days) and Tuesday..Sunday dummies of the AI
         day and of the outcome day; a candidate column is kept iff its norm is > 0 and
         the norm of its least-squares residual on the columns kept so far is > 1e-8 times
         its norm; q = kept columns - 1;
      6. residuals of ``statsmodels.api.OLS(v, Z).fit()`` for the AI and outcome values
         (for Spearman: for their ``scipy.stats.rankdata`` average ranks);
      7. r = ``scipy.stats.pearsonr`` of the residuals, df = n - 2 - q,
         p = 2 * t.sf(|r| sqrt(df / (1 - r^2)), df), 95 % CI (Pearson only)
         tanh(atanh(r) +- 1.959963984540054 / sqrt(n - q - 3)).
    Undefined results are null with a ``reason``: ``too_few_pairs`` (n < 3),
    ``no_degrees_of_freedom`` (df < 1), ``constant_x`` / ``constant_y`` (residual norm
    <= 1e-10 * norm of the centred values, or the values themselves all equal; x checked
    first), and for the CI alone ``ci_needs_more_pairs`` (n - q - 3 <= 0).

    Checked while generating (asserted, not written): the partial r equals the one from
    the t statistic of x in OLS of y on [Z, x] (r = t / sqrt(t^2 + df)) and p equals that
    coefficient's p-value; with ``adjust == "none"`` the partial figures equal the raw
    ones.  No selection or constant decision sits near its threshold.

    NaN (scipy's answer for an undefined statistic) is written as JSON ``null``.
    Every event is made from fixed seeds (``numpy.random.default_rng``) and written out,
    so the output only changes with numpy/scipy/statsmodels.

How to run
    python3 -m venv /tmp/stats-venv
    /tmp/stats-venv/bin/pip install numpy scipy statsmodels tzdata
    /tmp/stats-venv/bin/python tools/gen_partial_fixtures.py [tests/fixtures/stats]
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
import statsmodels
import statsmodels.api as sm
from scipy import stats

Z975 = 1.959963984540054  # scipy.special.ndtri(0.975)
RANK_TOL = 1e-8  # a column is kept iff |residual| > RANK_TOL * |column|
CONST_TOL = 1e-10  # a series is constant iff |residual| <= CONST_TOL * |centred series|
UTC = dt.timezone.utc
DOW = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
COLUMNS = (["intercept", "trend"] + [f"ai_dow_{d}" for d in DOW[1:]]
           + [f"out_dow_{d}" for d in DOW[1:]])


def header():
    return {
        "generated_by": "tools/gen_partial_fixtures.py",
        "what": "calendar-adjusted (partial) Pearson / Spearman correlation of lag pairs:"
                " residuals of statsmodels OLS on [intercept, trend, AI-day and outcome-day"
                " Tue..Sun dummies] (greedy rank selection), scipy.stats.pearsonr of the"
                " residuals, Student-t p with df = n - 2 - q, Fisher-z CI with"
                " sqrt(n - q - 3); raw scipy.stats.pearsonr / spearmanr alongside",
        "python": platform.python_version(),
        "numpy": np.__version__,
        "scipy": scipy.__version__,
        "statsmodels": statsmodels.__version__,
        "generated_on": dt.date.today().isoformat(),
        "nan_is_null": True,
        "columns": COLUMNS,
        "rank_tolerance": RANK_TOL,
        "constant_tolerance": CONST_TOL,
        "z975": Z975,
        "reasons": ["too_few_pairs", "no_degrees_of_freedom", "constant_x", "constant_y",
                    "ci_needs_more_pairs"],
    }


def num(v):
    """A float for JSON: NaN becomes None, infinities are refused."""
    if v is None:
        return None
    v = float(v)
    if math.isnan(v):
        return None
    if math.isinf(v):
        raise ValueError("infinite value in fixture")
    return v


def iso_instant(t):
    return t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_instant(s):
    return dt.datetime.fromisoformat(s.replace("Z", "+00:00"))


def day_range(since, until):
    d = since
    while d <= until:
        yield d
        d += dt.timedelta(days=1)


def positions(since, until, business_days, holidays):
    hol = set(holidays)
    days = list(day_range(since, until))
    if business_days:
        days = [d for d in days if d.weekday() < 5]
    return [d for d in days if d not in hol]


# ---------------------------------------------------------------------------
# Expected values (reads only the case's inputs)
# ---------------------------------------------------------------------------


def bucket(events, tz, since, until):
    """Local calendar day -> list of values, in the order the events are listed."""
    out = {}
    for instant, value in events:
        day = parse_instant(instant).astimezone(tz).date()
        if since <= day <= until:
            out.setdefault(day, []).append(float(value))
    return out


def select_columns(cands):
    """Greedy rank selection; returns kept names, kept columns and every decision ratio."""
    names, cols, ratios = [], [], []
    for name, c in cands:
        norm = float(np.linalg.norm(c))
        if not norm > 0:
            continue
        if cols:
            k = np.column_stack(cols)
            coef = np.linalg.lstsq(k, c, rcond=None)[0]
            res = c - k @ coef
        else:
            res = c
        ratio = float(np.linalg.norm(res)) / norm
        ratios.append((name, ratio))
        if ratio > RANK_TOL:
            names.append(name)
            cols.append(c)
    return names, cols, ratios


def resid(v, z):
    return np.asarray(sm.OLS(v, z).fit().resid, dtype=float)


def is_constant(v, e, margins, label):
    if np.all(v == v[0]):
        return True
    centred = float(np.linalg.norm(v - np.mean(v)))
    ratio = float(np.linalg.norm(e)) / max(centred, 1e-300)
    margins.append((label, ratio))
    return ratio <= CONST_TOL


def t_p(r, df):
    if abs(r) >= 1.0:
        return 0.0
    t = r * math.sqrt(df / (1.0 - r * r))
    return float(2.0 * stats.t.sf(abs(t), df))


def partial(x, y, z, n, q, df, with_ci, margins, label):
    """One partial correlation (Pearson of residuals) with its reason code."""
    out = {"r": None, "p": None}
    if with_ci:
        out.update({"ci_low": None, "ci_high": None})
    out["reason"] = None
    if n < 3:
        out["reason"] = "too_few_pairs"
        return out, None
    if df < 1:
        out["reason"] = "no_degrees_of_freedom"
        return out, None
    ex, ey = resid(x, z), resid(y, z)
    if is_constant(x, ex, margins, label + ":x"):
        out["reason"] = "constant_x"
        return out, None
    if is_constant(y, ey, margins, label + ":y"):
        out["reason"] = "constant_y"
        return out, None
    r = float(stats.pearsonr(ex, ey).statistic)
    p = t_p(r, df)
    out["r"], out["p"] = r, p
    if with_ci:
        if n - q - 3 <= 0:
            out["reason"] = "ci_needs_more_pairs"
        else:
            zr = math.atanh(r)
            half = Z975 / math.sqrt(n - q - 3)
            out["ci_low"], out["ci_high"] = math.tanh(zr - half), math.tanh(zr + half)
    return out, (r, p)


def cross_check(name, what, x, y, z, df, r, p):
    """r and p again, from the t statistic of x in OLS of y on [Z, x]."""
    fit = sm.OLS(y, np.column_stack([z, x])).fit()
    assert abs(fit.df_resid - df) < 1e-12, (name, fit.df_resid, df)
    t = float(fit.tvalues[-1])
    r2 = t / math.sqrt(t * t + df)
    assert math.copysign(1.0, r2) == math.copysign(1.0, float(fit.params[-1]))
    assert abs(r2 - r) <= 1e-9, (name, what, r, r2)
    p2 = float(fit.pvalues[-1])
    assert abs(p2 - p) <= 1e-9 * max(abs(p), 1e-300), (name, what, p, p2)


def raw_figures(x, y):
    out = {"pearson_r": None, "pearson_p": None, "spearman_r": None, "spearman_p": None}
    if len(x) < 3:
        return out
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pr = stats.pearsonr(x, y)
        sr = stats.spearmanr(x, y)
    out["pearson_r"], out["pearson_p"] = num(pr.statistic), num(pr.pvalue)
    out["spearman_r"], out["spearman_p"] = num(sr.statistic), num(sr.pvalue)
    return out


def expected(case):
    name = case["name"]
    tz = ZoneInfo(case["timezone"])
    since = dt.date.fromisoformat(case["since"])
    until = dt.date.fromisoformat(case["until"])
    holidays = [dt.date.fromisoformat(h) for h in case["holidays"]]
    days = positions(since, until, case["business_days"], holidays)
    lag = case["lag"]

    ai_b = bucket(case["ai_events"], tz, since, until)
    out_b = bucket(case["outcome_events"], tz, since, until)
    ai = [float(sum(ai_b.get(d, []))) for d in days]
    if case["outcome_kind"] == "sum":
        out = [float(sum(out_b.get(d, []))) for d in days]
    elif case["outcome_kind"] == "median":
        out = [float(np.median(out_b[d])) if d in out_b else None for d in days]
    else:
        raise ValueError(case["outcome_kind"])

    pairs = []
    for i in range(len(days) - lag):
        if out[i + lag] is not None:
            pairs.append((days[i], days[i + lag], ai[i], out[i + lag]))
    n = len(pairs)
    x = np.array([p[2] for p in pairs], dtype=float)
    y = np.array([p[3] for p in pairs], dtype=float)

    cands = [("intercept", np.ones(n))]
    if case["adjust"] == "calendar":
        cands.append(("trend", np.array([float((p[0] - days[0]).days) for p in pairs])))
        for which, k in (("ai", 0), ("out", 1)):
            for wd in range(1, 7):
                cands.append((f"{which}_dow_{DOW[wd]}",
                              np.array([1.0 if p[k].weekday() == wd else 0.0 for p in pairs])))
    elif case["adjust"] != "none":
        raise ValueError(case["adjust"])
    kept, cols, ratios = select_columns(cands)
    z = np.column_stack(cols) if cols else np.zeros((n, 0))
    q = len(kept) - 1
    df = n - 2 - q

    margins = []
    pear, pr = partial(x, y, z, n, q, df, True, margins, "pearson")
    rx = stats.rankdata(x, method="average") if n else x
    ry = stats.rankdata(y, method="average") if n else y
    spear, sr = partial(rx, ry, z, n, q, df, False, margins, "spearman")
    raw = raw_figures(x, y)

    # The fixture must not hinge on a tolerance: every decision is far from its threshold.
    for col, ratio in ratios:
        assert ratio < 1e-11 or ratio > 1e-4, (name, col, ratio)
    for label, ratio in margins:
        assert ratio < 1e-12 or ratio > 1e-6, (name, label, ratio)
    for part in (pr, sr):  # |r| = 1 would make p hinge on the last bit of r
        assert part is None or abs(part[0]) < 1 - 1e-6, (name, part)

    if pr is not None:
        cross_check(name, "pearson", x, y, z, df, *pr)
    if sr is not None:
        cross_check(name, "spearman", rx, ry, z, df, *sr)
    if case["adjust"] == "none":
        for part, rk, pk in ((pear, "pearson_r", "pearson_p"),
                             (spear, "spearman_r", "spearman_p")):
            if part["r"] is None:
                assert raw[rk] is None, (name, part, raw)
            else:
                assert abs(part["r"] - raw[rk]) <= 1e-12, (name, part, raw)
                assert abs(part["p"] - raw[pk]) <= 1e-9 * max(raw[pk], 1e-300), (name, part, raw)

    return {
        "days": [d.isoformat() for d in days],
        "ai_series": ai,
        "outcome_series": out,
        "n": n,
        "q": q,
        "df": df,
        "kept_columns": kept,
        "pearson": {k: (v if k == "reason" else num(v)) for k, v in pear.items()},
        "spearman": {k: (v if k == "reason" else num(v)) for k, v in spear.items()},
        "raw": raw,
    }


# ---------------------------------------------------------------------------
# Cases (inputs only; made from fixed seeds)
# ---------------------------------------------------------------------------

EDGE_TIMES = [(0, 0, 0), (0, 0, 1), (23, 59, 59), (23, 30, 0), (0, 15, 0), (23, 45, 30)]


def local_instant(day, tz, rng, times):
    if times == "uniform":
        s = int(rng.integers(0, 86400))
        hms = (s // 3600, s % 3600 // 60, s % 60)
    elif times == "midnight":  # within 45 minutes of local midnight, either side
        if rng.random() < 0.35:
            hms = EDGE_TIMES[int(rng.integers(0, len(EDGE_TIMES)))]
        else:
            m = int(rng.integers(0, 45 * 60))
            hms = (0, m // 60, m % 60) if rng.random() < 0.5 else (23, 15 + m // 60 // 3, m % 60)
    else:
        raise ValueError(times)
    return dt.datetime(day.year, day.month, day.day, *hms, tzinfo=tz)


def split_value(v, rng):
    """A day's total as 1-3 event values (integers stay integers)."""
    if v == 0:
        return []
    if float(v).is_integer() and v > 0:
        v = int(v)
        k = int(rng.integers(1, min(3, v) + 1))
        cuts = sorted(rng.choice(np.arange(1, v), size=k - 1, replace=False)) if k > 1 else []
        bounds = [0] + [int(c) for c in cuts] + [v]
        return [float(bounds[i + 1] - bounds[i]) for i in range(k)]
    k = int(rng.integers(1, 4))
    w = rng.dirichlet(np.ones(k))
    parts = [round(float(v * wi), 3) for wi in w[:-1]]
    parts.append(round(float(v) - sum(parts), 3))
    return parts


def sum_events(values, tz, rng, times="uniform"):
    """{date: total} -> sorted [[utc_instant, value], ...]."""
    ev = []
    for day, v in values.items():
        for part in split_value(v, rng):
            ev.append((local_instant(day, tz, rng, times), part))
    ev.sort(key=lambda e: e[0].astimezone(UTC))
    return [[iso_instant(t), float(v)] for t, v in ev]


def list_events(values, tz, rng, times="uniform"):
    """{date: [values]} -> sorted [[utc_instant, value], ...] (one event per value)."""
    ev = []
    for day, vs in values.items():
        for v in vs:
            ev.append((local_instant(day, tz, rng, times), float(v)))
    ev.sort(key=lambda e: e[0].astimezone(UTC))
    return [[iso_instant(t), v] for t, v in ev]


def outside_events(since, until, tz):
    """Big values just outside the local window: they must be ignored."""
    before = dt.datetime.combine(since, dt.time(0), tzinfo=tz) - dt.timedelta(seconds=1)
    after = dt.datetime.combine(until + dt.timedelta(days=1), dt.time(0), tzinfo=tz)
    return [[iso_instant(before), 999.0], [iso_instant(after), 999.0]]


class Builder:
    def __init__(self):
        self.cases = []
        self.notes = {}  # name -> what the case is for (written in the header)

    def add(self, name, since, until, *, tz="UTC", business_days=False, holidays=(), lag=0,
            adjust="calendar", outcome_kind="sum", seed, ai, outcome, times="uniform",
            outside=True, extra_ai=(), extra_outcome=(), note=""):
        """``ai``/``outcome`` are functions (rng, calendar_days, position_days) returning
        {date: total} (or {date: [values]} for a median outcome)."""
        since, until = dt.date.fromisoformat(since), dt.date.fromisoformat(until)
        hol = [dt.date.fromisoformat(h) for h in holidays]
        zone = ZoneInfo(tz)
        rng = np.random.default_rng(seed)
        cal = list(day_range(since, until))
        pos = positions(since, until, business_days, hol)
        ai_vals = ai(rng, cal, pos)
        out_vals = outcome(rng, cal, pos)
        ai_ev = sum_events(ai_vals, zone, rng, times)
        if outcome_kind == "median":
            out_ev = list_events(out_vals, zone, rng, times)
        else:
            out_ev = sum_events(out_vals, zone, rng, times)
        # Hand-placed events (e.g. right at a DST change), merged in instant order.
        ai_ev = sorted(ai_ev + [[t, float(v)] for t, v in extra_ai], key=lambda e: e[0])
        out_ev = sorted(out_ev + [[t, float(v)] for t, v in extra_outcome], key=lambda e: e[0])
        if outside:
            before, after = outside_events(since, until, zone)
            ai_ev = [before] + ai_ev + [after]
            out_ev = [before] + out_ev + [after]
        self.notes[name] = note
        case = {
            "name": name,
            "since": since.isoformat(),
            "until": until.isoformat(),
            "timezone": tz,
            "business_days": business_days,
            "holidays": [h.isoformat() for h in hol],
            "lag": lag,
            "adjust": adjust,
            "outcome_kind": outcome_kind,
            "ai_events": ai_ev,
            "outcome_events": out_ev,
        }
        assert all(c["name"] != name for c in self.cases), name
        self.cases.append(case)


# Value makers: (rng, calendar days, position days) -> {date: value}


def gamma_days(shape=2.0, scale=8.0, p_zero=0.0, decimals=2):
    def make(rng, cal, pos):
        out = {}
        for d in cal:
            v = round(float(rng.gamma(shape, scale)), decimals)
            if rng.random() >= p_zero:
                out[d] = v
        return out
    return make


def poisson_days(lam, p_zero=0.0):
    def make(rng, cal, pos):
        out = {}
        for d in cal:
            v = int(rng.poisson(lam))
            if rng.random() >= p_zero and v:
                out[d] = float(v)
        return out
    return make


def constant_days(v):
    return lambda rng, cal, pos: {d: float(v) for d in cal}


def nothing(rng, cal, pos):
    return {}


def fixed(mapping):
    return lambda rng, cal, pos: {dt.date.fromisoformat(k): v for k, v in mapping.items()}


def median_days(p_missing, lo=1, hi=4, mean_hours=20.0):
    def make(rng, cal, pos):
        out = {}
        for d in cal:
            if rng.random() < p_missing:
                continue
            k = int(rng.integers(lo, hi + 1))
            out[d] = [round(float(rng.exponential(mean_hours)), 2) for _ in range(k)]
        return out
    return make


def planted_lag1(a, weekday, noise, seed_ai=(3.0, 6.0), junk=True):
    """AI gamma per position; outcome at position i+1 = a*AI_i + weekday[dow] + noise.
    Both makers share the AI values through a closure (AI made first)."""
    state = {}

    def make_ai(rng, cal, pos):
        vals = {d: round(float(rng.gamma(*seed_ai)), 2) for d in pos}
        state["ai"] = dict(vals)
        if junk:  # excluded days (weekends / holidays) get events that must be ignored
            for d in cal:
                vals.setdefault(d, 500.0)
        return vals

    def make_out(rng, cal, pos):
        ai = state["ai"]
        out = {}
        for i, d in enumerate(pos):
            base = a * ai[pos[i - 1]] if i > 0 else 0.0
            v = base + weekday[d.weekday()] + float(rng.normal(0.0, noise))
            out[d] = round(max(v, 0.0), 2)
        if junk:
            for d in cal:
                out.setdefault(d, 700.0)
        return out

    return make_ai, make_out


def shared_profile():
    """AI and outcome each = level + trend*t + weekday profile + independent noise."""
    wk_ai = [30, 34, 33, 31, 25, 6, 4]
    wk_out = [5, 7, 8, 7, 6, 1, 0.5]

    def make_ai(rng, cal, pos):
        return {d: round(max(wk_ai[d.weekday()] + 0.6 * i + float(rng.normal(0, 3)), 0), 2)
                for i, d in enumerate(cal)}

    def make_out(rng, cal, pos):
        return {d: round(max(wk_out[d.weekday()] + 0.15 * i + float(rng.normal(0, 1)), 0), 2)
                for i, d in enumerate(cal)}

    return make_ai, make_out


def weekday_pattern(pattern):
    return lambda rng, cal, pos: {d: float(pattern[d.weekday()]) for d in cal
                                  if pattern[d.weekday()]}


def build_cases():
    b = Builder()

    # --- tiny windows: the reasons -------------------------------------------------
    b.add("n2_too_few_pairs", "2025-06-02", "2025-06-05", lag=2, seed=101,
          ai=gamma_days(), outcome=poisson_days(3),
          note="4-day window, lag 2: two pairs")
    b.add("median_too_few_pairs", "2025-06-02", "2025-06-11", lag=1, outcome_kind="median",
          seed=102, ai=gamma_days(),
          outcome=fixed({"2025-06-02": [5.0, 9.0], "2025-06-06": [3.5],
                         "2025-06-09": [1.0, 2.0, 8.0]}),
          note="median outcome on 3 days only, one of them position 0 (never an outcome at"
               " lag 1): two pairs")
    b.add("n5_no_degrees_of_freedom", "2025-06-02", "2025-06-06", lag=0, seed=103,
          ai=gamma_days(), outcome=gamma_days(scale=2.0),
          note="Mon..Fri, lag 0, calendar: intercept, trend and 3 dummies fill all 5 rows")
    b.add("n3_none_ci_needs_more_pairs", "2025-06-02", "2025-06-05", lag=1, adjust="none",
          seed=104, ai=fixed({"2025-06-02": 2.0, "2025-06-03": 5.0, "2025-06-04": 3.0}),
          outcome=fixed({"2025-06-03": 3.0, "2025-06-04": 4.0, "2025-06-05": 1.0}),
          note="n = 3, q = 0: df = 1 but n - q - 3 = 0, so no CI")
    b.add("n4_none_lag0", "2025-06-02", "2025-06-05", lag=0, adjust="none", seed=105,
          ai=gamma_days(), outcome=gamma_days(scale=3.0),
          note="n = 4 without adjustment: smallest n with a CI")
    b.add("n10_calendar_ci_needs_more_pairs", "2025-06-02", "2025-06-11", lag=0, seed=106,
          ai=gamma_days(), outcome=gamma_days(scale=3.0),
          note="10 days lag 0: q = 7, df = 1, n - q - 3 = 0")
    b.add("window8_lag1_none_ties", "2025-06-02", "2025-06-09", lag=1, adjust="none",
          seed=107, ai=poisson_days(2), outcome=poisson_days(2.5),
          note="8-day window, small counts with ties, no adjustment")

    # --- ordinary windows, calendar adjustment -------------------------------------
    b.add("window14_lag1_calendar", "2025-06-02", "2025-06-15", lag=1, seed=201,
          ai=gamma_days(), outcome=gamma_days(scale=2.5), times="midnight",
          note="events within 45 minutes of UTC midnight (00:00:00 and 23:59:59 included)")
    b.add("window14_business_lag0", "2025-06-02", "2025-06-15", business_days=True, lag=0,
          seed=202, ai=gamma_days(), outcome=gamma_days(scale=2.5),
          note="business days: Saturday/Sunday dummies are all zero; weekend events ignored")
    b.add("window21_lag2_counts_ties", "2025-06-02", "2025-06-22", lag=2, seed=203,
          ai=poisson_days(1.2, p_zero=0.3), outcome=poisson_days(0.8, p_zero=0.3),
          note="integer counts, many zero days and ties")
    b.add("window28_lag3_calendar", "2025-06-04", "2025-07-01", lag=3, seed=204,
          ai=gamma_days(), outcome=gamma_days(scale=2.0),
          note="window starts on a Wednesday and crosses the June/July month end")
    b.add("window42_lag7_calendar", "2025-06-02", "2025-07-13", lag=7, seed=205,
          ai=gamma_days(), outcome=gamma_days(scale=2.0),
          note="lag 7: outcome-day dummies equal the AI-day ones and are dropped")
    b.add("window60_business_lag3", "2025-06-02", "2025-07-31", business_days=True,
          holidays=["2025-07-04"], lag=3, seed=206, ai=gamma_days(shape=3.0),
          outcome=poisson_days(2.0), note="60 calendar days, business days, one holiday")
    b.add("month_end_lag1", "2025-01-20", "2025-02-20", lag=1, seed=207,
          ai=gamma_days(), outcome=gamma_days(scale=2.0), times="midnight",
          note="crosses the January/February month end")
    b.add("month_end_business_lag2", "2025-01-20", "2025-02-20", business_days=True, lag=2,
          seed=208, ai=gamma_days(), outcome=poisson_days(2.5),
          note="crosses the month end, business days")

    # --- holidays ------------------------------------------------------------------
    b.add("business_holidays_lag1", "2025-12-15", "2026-01-09", business_days=True,
          holidays=["2025-12-24", "2025-12-25", "2025-12-26", "2025-12-27", "2026-01-01",
                    "2026-02-16"], lag=1, seed=301, ai=gamma_days(), outcome=poisson_days(2.0),
          note="holidays inside, 2025-12-27 is a Saturday (already out), 2026-02-16 is"
               " outside the window; crosses the year end")
    b.add("calendar_holidays_lag2", "2025-06-02", "2025-06-29",
          holidays=["2025-06-09", "2025-06-19", "2025-06-21"], lag=2, seed=302,
          ai=gamma_days(), outcome=gamma_days(scale=2.0),
          note="holidays shift the lag: some outcome-day dummies are no longer collinear")

    # --- time zones with a DST change inside the window ----------------------------
    b.add("berlin_dst_lag1", "2025-03-24", "2025-04-06", tz="Europe/Berlin",
          holidays=["2025-04-01"], lag=1, seed=401, ai=poisson_days(3),
          outcome=poisson_days(2), times="midnight",
          extra_ai=[("2025-03-29T23:30:00Z", 4), ("2025-03-30T00:30:00Z", 1),
                    ("2025-03-30T01:00:00Z", 2), ("2025-03-30T21:59:59Z", 3),
                    ("2025-03-30T22:15:00Z", 5)],
          extra_outcome=[("2025-03-29T22:45:00Z", 2), ("2025-03-30T22:00:00Z", 3),
                         ("2025-03-31T21:30:00Z", 1)],
          note="CET -> CEST on 2025-03-30; events near local midnight on both sides"
               " (2025-03-30T22:15:00Z is 2025-03-31 00:15 local)")
    b.add("berlin_dst_business_lag0", "2025-03-17", "2025-04-11", tz="Europe/Berlin",
          business_days=True, holidays=["2025-03-31"], lag=0, seed=402,
          ai=gamma_days(), outcome=gamma_days(scale=2.0), times="midnight",
          note="business days around the 2025-03-30 change, Monday after it a holiday")
    b.add("new_york_dst_lag1", "2025-10-20", "2025-11-16", tz="America/New_York", lag=1,
          seed=403, ai=gamma_days(), outcome=poisson_days(2.0), times="midnight",
          extra_ai=[("2025-11-02T03:59:59Z", 1.25), ("2025-11-02T04:00:00Z", 2.5),
                    ("2025-11-02T05:30:00Z", 0.75), ("2025-11-02T06:30:00Z", 1.5),
                    ("2025-11-03T04:59:59Z", 3.0), ("2025-11-03T05:00:00Z", 0.5)],
          extra_outcome=[("2025-11-02T03:45:00Z", 2), ("2025-11-03T04:10:00Z", 1),
                         ("2025-11-03T05:10:00Z", 3)],
          note="EDT -> EST on 2025-11-02; events near local midnight on both sides"
               " (2025-11-03T04:59:59Z is 2025-11-02 23:59:59 local; 05:30Z and 06:30Z"
               " are both 01:30 local on 2025-11-02)")
    b.add("new_york_dst_business_median_lag1", "2025-10-20", "2025-11-21",
          tz="America/New_York", business_days=True, lag=1, outcome_kind="median", seed=404,
          ai=gamma_days(), outcome=median_days(0.35), times="midnight",
          note="median outcome, some days without outcome events")

    # --- constant / explained series -----------------------------------------------
    b.add("constant_outcome_zero", "2025-06-02", "2025-06-15", lag=1, seed=501,
          ai=gamma_days(), outcome=nothing,
          note="no outcome events inside the window: all-zero outcome")
    b.add("constant_ai", "2025-06-02", "2025-06-15", lag=1, seed=502,
          ai=constant_days(4.0), outcome=gamma_days(scale=2.0),
          note="the same AI total every day")
    b.add("weekday_pattern_outcome", "2025-06-02", "2025-06-29", lag=1, seed=503,
          ai=gamma_days(), outcome=weekday_pattern([0, 6, 5, 7, 4, 1, 2]),
          note="outcome is exactly a weekday profile: residuals vanish")
    b.add("weekday_pattern_outcome_business_holiday", "2025-06-02", "2025-07-13",
          business_days=True, holidays=["2025-06-19"], lag=2, seed=504, ai=gamma_days(),
          outcome=weekday_pattern([3, 6, 5, 8, 2, 9, 9]),
          note="weekday profile with business days and a holiday (outcome dummies kept)")

    # --- median outcome -------------------------------------------------------------
    b.add("median_many_missing_lag1", "2025-06-02", "2025-07-13", lag=1,
          outcome_kind="median", seed=601, ai=gamma_days(),
          outcome=median_days(0.55), note="about half the outcome days have no events")
    b.add("median_lag0_none", "2025-09-01", "2025-09-28", lag=0, adjust="none",
          outcome_kind="median", seed=602, ai=poisson_days(3), outcome=median_days(0.4),
          note="median outcome without adjustment: partial = raw")

    # --- no adjustment --------------------------------------------------------------
    b.add("none_window14_lag1", "2025-06-02", "2025-06-15", lag=1, adjust="none", seed=701,
          ai=gamma_days(), outcome=gamma_days(scale=2.0), note="partial = raw")
    b.add("none_business_lag2_ties", "2025-06-02", "2025-07-13", business_days=True, lag=2,
          adjust="none", seed=702, ai=poisson_days(1.5, p_zero=0.2),
          outcome=poisson_days(1.0, p_zero=0.2), note="partial = raw, many ties")

    # --- planted links and shared calendar profile ---------------------------------
    ai_fn, out_fn = planted_lag1(0.5, [2, 4, 5, 4, 3, 1, 0], 3.0)
    b.add("window60_lag1_planted", "2025-09-01", "2025-10-30", lag=1, seed=801,
          ai=ai_fn, outcome=out_fn,
          note="outcome(d+1) = 0.5 AI(d) + weekday effect + N(0, 3)")
    ai_fn, out_fn = planted_lag1(0.4, [1, 3, 3, 2, 5, 0, 0], 2.0, seed_ai=(2.0, 7.0))
    b.add("business_lag1_planted", "2025-09-01", "2025-10-12", business_days=True,
          holidays=["2025-10-03"], lag=1, seed=802, ai=ai_fn, outcome=out_fn,
          note="business days and a holiday; link by position (Friday -> Monday);"
               " weekend and holiday events (500 / 700) must be ignored")
    ai_fn, out_fn = shared_profile()
    b.add("shared_weekday_trend_independent", "2025-09-01", "2025-10-26", lag=1, seed=803,
          ai=ai_fn, outcome=out_fn,
          note="same weekday profile and trend, independent noise: raw r high, partial small")
    b.add("zero_days_lag0", "2025-09-01", "2025-09-28", lag=0, seed=804,
          ai=poisson_days(2.0, p_zero=0.6), outcome=poisson_days(1.0, p_zero=0.6),
          note="most days zero in both series")
    return b.cases, b.notes


def fmt(v, spec):
    return "null" if v is None else format(v, spec)


def main():
    folder = sys.argv[1] if len(sys.argv) > 1 else "tests/fixtures/stats"
    os.makedirs(folder, exist_ok=True)
    cases, notes = build_cases()
    for case in cases:
        e = expected(case)
        case["expected"] = e
        pr, sr = e["pearson"], e["spearman"]
        print(f"{case['name']:42s} n={e['n']:2d} q={e['q']:2d} df={e['df']:3d}"
              f"  pearson r={fmt(pr['r'], '+.4f')} p={fmt(pr['p'], '.3g')} [{pr['reason']}]"
              f"  spearman r={fmt(sr['r'], '+.4f')} [{sr['reason']}]"
              f"  raw r={fmt(e['raw']['pearson_r'], '+.4f')}")
    path = os.path.join(folder, "partial.json")
    with open(path, "w") as f:
        head = header()
        head["case_notes"] = notes
        json.dump({"header": head, "cases": cases}, f, indent=1, allow_nan=False)
        f.write("\n")
    print("wrote", path, f"({len(cases)} cases)")


if __name__ == "__main__":
    main()
