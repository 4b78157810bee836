#!/usr/bin/env python3
"""Generate the reference values for ProdLens' two-group (cohort) comparisons of pull requests.

What it produces
    ``tests/fixtures/stats/cohort.json`` (or ``cohort.json`` in the folder given as the first
    argument), with a ``header`` saying how it was made and three lists of cases:

    ``two_sample``  -- samples x and y, and under ``expected``:
        ``mann_whitney``   ``scipy.stats.mannwhitneyu(x, y)`` with its defaults
                           (alternative="two-sided", use_continuity=True, method="auto"):
                           statistic U of x, p-value, and the method "auto" chose
                           (scipy's ``_mwu_choose_method``: asymptotic when both samples
                           have more than 8 values or the pooled sample has a tie, else
                           exact);
        ``hodges_lehmann`` ``numpy.median`` of all differences x_i - y_j, and the 95 % CI
                           (D_(k+1), D_(n1 n2 - k)) of the sorted differences with
                           k = floor(n1 n2 / 2 - z * sqrt(n1 n2 (n1 + n2 + 1) / 12)),
                           z = ``scipy.special.ndtri(0.975)`` (null when k < 0);
        ``cliffs_delta``   (#(x > y) - #(x < y)) / (n1 n2), from all pairs;
        ``median_ratio``   median(x) / median(y) (``numpy.median``) and the percentile
                           bootstrap 95 % CI: B resamples from one SplitMix64 stream
                           (the generator of ``src/sample.rs``, re-implemented here);
                           resample b takes the next n1 outputs as indices ``z % n1`` into
                           x, then the next n2 as ``z % n2`` into y; CI =
                           ``numpy.percentile(ratios, [2.5, 97.5])`` (linear).  Undefined
                           when a median is <= 0, the CI also when some resample of y has
                           median 0.
    ``binary``  -- counts (events_x of n_x, events_y of n_y), and under ``expected``: the two
        rates, their difference with Newcombe's hybrid score 95 % CI (method 10, from Wilson
        intervals without continuity correction; checked against statsmodels'
        ``confint_proportions_2indep(method="newcomb")``), and
        ``scipy.stats.fisher_exact([[ex, n_x - ex], [ey, n_y - ey]])`` (p and odds ratio;
        an infinite odds ratio is null with ``odds_ratio_infinite``).
    ``stratified``  -- a list of strata [x_s, y_s], permutation rounds and seed, and under
        ``expected`` the van Elteren-weighted sum T = sum_s (U_s - n1s n2s / 2) / (n_s + 1)
        over strata with both groups non-empty, its tie-corrected null variance, z, the
        two-sided normal p, the within-stratum permutation p (Fisher-Yates on each stratum's
        ranks with the SplitMix64 stream, p = (1 + #{|T*| >= |T| - eps}) / (N + 1),
        eps = 1e-12 * sum_s n1s n2s / (2 (n_s + 1))) and the median of all within-stratum
        differences.  There is no scipy function for this test: the formula is implemented
        here and checked (asserted, not written) against a brute-force enumeration of all
        within-stratum relabellings on small cases (mean 0, variance equal to the formula)
        and, for a single stratum, against ``scipy.stats.mannwhitneyu(method="asymptotic",
        use_continuity=False)``.

    Also checked while generating: scipy's exact Mann-Whitney p against the Gaussian-binomial
    frequencies computed with Python integers (the algorithm the Rust code uses), the
    asymptotic p against the written-out formula, and scipy's Fisher p against an exact
    (``fractions``) sum over tables with probability <= p_observed * (1 + 1e-14).  No case
    hinges on a tolerance (floor arguments, the Fisher cut-off).  Undefined values are JSON
    ``null`` with a reason code.  Every input comes from fixed seeds
    (``numpy.random.default_rng``) and is written out.

How to run
    python3 -m venv /tmp/stats-venv
    /tmp/stats-venv/bin/pip install numpy scipy statsmodels
    /tmp/stats-venv/bin/python tools/gen_cohort_fixtures.py [tests/fixtures/stats]

    The inputs (and the library defaults they use) are in ``tools/cohort_fixture_cases.py``.
"""

import datetime as dt
import itertools
import json
import math
import os
import platform
import sys
from fractions import Fraction

import numpy as np
import scipy
import statsmodels
from scipy import special, stats
from statsmodels.stats.proportion import confint_proportions_2indep

from cohort_fixture_cases import (BOOTSTRAP_RESAMPLES, BOOTSTRAP_SEED, DEFAULT_PERMUTATIONS,
                                  PERMUTATION_SEED, binary_cases, stratified_cases,
                                  two_sample_cases)

Z975 = float(special.ndtri(0.975))
TIE_TOLERANCE = 1e-12
FISHER_GAMMA = 1 + 1e-14
MASK = (1 << 64) - 1
GOLDEN = 0x9E3779B97F4A7C15


def header():
    return {
        "generated_by": "tools/gen_cohort_fixtures.py",
        "what": "two-group comparisons: scipy.stats.mannwhitneyu (two-sided, auto), "
                "Hodges-Lehmann shift with the normal-approximation Mann-Whitney CI, Cliff's "
                "delta, ratio of medians with a SplitMix64 percentile bootstrap, rates with "
                "Newcombe's hybrid score CI and scipy.stats.fisher_exact, van Elteren "
                "stratified sum with normal and permutation p",
        "python": platform.python_version(),
        "numpy": np.__version__,
        "scipy": scipy.__version__,
        "statsmodels": statsmodels.__version__,
        "generated_on": dt.date.today().isoformat(),
        "nan_is_null": True,
        "z975": Z975,
        "bootstrap_resamples": BOOTSTRAP_RESAMPLES,
        "bootstrap_seed": str(BOOTSTRAP_SEED),
        "default_permutations": DEFAULT_PERMUTATIONS,
        "permutation_seed": str(PERMUTATION_SEED),
        "tie_tolerance": TIE_TOLERANCE,
        "reasons": ["empty_group", "ci_needs_more_pairs", "non_positive_median",
                    "zero_median_resample", "empty_margin", "infinite_odds_ratio",
                    "no_stratum_with_both_groups", "no_variation"],
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


# ---------------------------------------------------------------------------
# SplitMix64 (src/sample.rs), vectorised: the t-th output (t = 1, 2, ...) of a generator
# seeded with s is mix(s + t * GOLDEN mod 2^64).
# ---------------------------------------------------------------------------


class SplitMix64:
    def __init__(self, seed):
        self.seed = np.uint64(seed)
        self.used = 0

    def take(self, count):
        t = np.arange(self.used + 1, self.used + count + 1, dtype=np.uint64)
        self.used += count
        with np.errstate(over="ignore"):
            z = self.seed + t * np.uint64(GOLDEN)
            z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
            z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return z ^ (z >> np.uint64(31))


def splitmix_scalar(seed, count):
    """The same outputs with Python integers (checks the vectorised version)."""
    s, out = seed, []
    for _ in range(count):
        s = (s + GOLDEN) & MASK
        z = s
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK
        out.append(z ^ (z >> 31))
    return out


# ---------------------------------------------------------------------------
# Mann-Whitney U
# ---------------------------------------------------------------------------


def choose_method(x, y):
    """scipy's _mwu_choose_method(n1, n2, any tie in the pooled sample)."""
    pooled = np.concatenate([x, y])
    ties = len(np.unique(pooled)) < len(pooled)
    if len(x) > 8 and len(y) > 8:
        return "asymptotic"
    if ties:
        return "asymptotic"
    return "exact"


def gaussian_binomial_cdf(n1, n2, k):
    """P(U <= k) from the coefficients of [n1+n2 choose m]_q, Python integers."""
    m, n = min(n1, n2), max(n1, n2)
    c = [0] * (k + 1)
    c[0] = 1
    for i in range(1, m + 1):
        a = n + i
        for j in range(k, a - 1, -1):
            c[j] -= c[j - a]
        for j in range(i, k + 1):
            c[j] += c[j - i]
    return Fraction(sum(c), math.comb(m + n, m))


def mann_whitney(x, y):
    if len(x) == 0 or len(y) == 0:
        return {"u": None, "p": None, "method": None, "reason": "empty_group"}
    res = stats.mannwhitneyu(x, y, alternative="two-sided")
    method = choose_method(x, y)
    again = stats.mannwhitneyu(x, y, alternative="two-sided", method=method)
    assert again.pvalue == res.pvalue, (method, res, again)
    n1, n2 = len(x), len(y)
    u1 = float(res.statistic)
    u = max(u1, n1 * n2 - u1)
    if method == "exact":
        mine = float(min(gaussian_binomial_cdf(n1, n2, int(n1 * n2 - u)) * 2, 1))
    else:
        _, counts = np.unique(np.concatenate([x, y]), return_counts=True)
        t = counts.astype(float)
        n = n1 + n2
        s = math.sqrt(n1 * n2 / 12 * ((n + 1) - float(np.sum(t ** 3 - t)) / (n * (n - 1))))
        mine = 1.0 if s == 0 else min(2 * float(stats.norm.sf((u - n1 * n2 / 2 - 0.5) / s)), 1)
    p = float(res.pvalue)
    assert abs(mine - p) <= 1e-12 * max(p, 1e-300), (method, mine, p)
    # U by pair counting equals scipy's rank-sum U.
    gt = int(np.sum(x[:, None] > y[None, :]))
    eq = int(np.sum(x[:, None] == y[None, :]))
    assert gt + 0.5 * eq == u1
    return {"u": u1, "p": p, "method": method, "reason": None}


# ---------------------------------------------------------------------------
# Hodges-Lehmann, Cliff's delta, ratio of medians
# ---------------------------------------------------------------------------


def hodges_lehmann(x, y):
    out = {"shift": None, "ci_low": None, "ci_high": None, "k": None, "reason": None}
    if len(x) == 0 or len(y) == 0:
        out["reason"] = "empty_group"
        return out
    d = np.sort((x[:, None] - y[None, :]).ravel())
    out["shift"] = float(np.median(d))
    n1, n2 = len(x), len(y)
    arg = n1 * n2 / 2 - Z975 * math.sqrt(n1 * n2 * (n1 + n2 + 1) / 12)
    assert abs(arg - round(arg)) > 1e-9, ("floor argument near an integer", arg)
    k = math.floor(arg)
    if k < 0:
        out["reason"] = "ci_needs_more_pairs"
        return out
    out["k"] = k
    out["ci_low"], out["ci_high"] = float(d[k]), float(d[n1 * n2 - 1 - k])
    return out


def cliffs_delta(x, y):
    if len(x) == 0 or len(y) == 0:
        return {"delta": None, "greater": 0, "less": 0, "reason": "empty_group"}
    gt = int(np.sum(x[:, None] > y[None, :]))
    lt = int(np.sum(x[:, None] < y[None, :]))
    return {"delta": (gt - lt) / (len(x) * len(y)), "greater": gt, "less": lt, "reason": None}


def median_ratio(x, y, resamples, seed):
    out = {"ratio": None, "median_x": None, "median_y": None, "ci_low": None,
           "ci_high": None, "reason": None}
    if len(x) == 0 or len(y) == 0:
        out["reason"] = "empty_group"
        return out
    mx, my = float(np.median(x)), float(np.median(y))
    out["median_x"], out["median_y"] = mx, my
    if mx <= 0 or my <= 0:
        out["reason"] = "non_positive_median"
        return out
    out["ratio"] = mx / my
    n1, n2 = len(x), len(y)
    z = SplitMix64(seed).take(resamples * (n1 + n2)).reshape(resamples, n1 + n2)
    ix = (z[:, :n1] % np.uint64(n1)).astype(np.int64)
    iy = (z[:, n1:] % np.uint64(n2)).astype(np.int64)
    bx = np.median(x[ix], axis=1)
    by = np.median(y[iy], axis=1)
    if np.any(by == 0):
        out["reason"] = "zero_median_resample"
        return out
    ratios = bx / by
    lo, hi = np.percentile(ratios, [2.5, 97.5])
    out["ci_low"], out["ci_high"] = float(lo), float(hi)
    return out


# ---------------------------------------------------------------------------
# Binary outcome
# ---------------------------------------------------------------------------


def wilson(k, n):
    z2 = Z975 * Z975
    centre = (k + z2 / 2) / (n + z2)
    half = Z975 / (n + z2) * math.sqrt(k * (n - k) / n + z2 / 4)
    lo = 0.0 if k == 0 else centre - half
    hi = 1.0 if k == n else centre + half
    return lo, hi


def fisher_exact_rule(a, b, c, d):
    """scipy's two-sided rule written out with exact fractions."""
    r1, r2, c1 = a + b, c + d, a + c
    lo, hi = max(0, c1 - r2), min(r1, c1)
    w = {x: Fraction(math.comb(r1, x) * math.comb(r2, c1 - x)) for x in range(lo, hi + 1)}
    total = sum(w.values())
    cut = w[a] * Fraction(FISHER_GAMMA)
    # Every table is an exact tie with the observed one or far from it: the cut-off and
    # rounding in the probabilities cannot change which tables are summed.
    for x, v in w.items():
        assert v == w[a] or abs(v / w[a] - 1) > 1e-9, ("near tie", a, b, c, d, x)
    return float(sum(v for v in w.values() if v <= cut) / total)


def binary(ex, nx, ey, ny):
    out = {"rate_x": None, "rate_y": None, "difference": None, "ci_low": None,
           "ci_high": None, "fisher_p": None, "odds_ratio": None,
           "odds_ratio_infinite": False, "reasons": []}
    table = [[ex, nx - ex], [ey, ny - ey]]
    res = stats.fisher_exact(table, alternative="two-sided")
    p, odds = float(res.pvalue), float(res.statistic)
    out["fisher_p"] = p
    if math.isnan(odds):
        out["reasons"].append("empty_margin")
    elif math.isinf(odds):
        out["odds_ratio_infinite"] = True
        out["reasons"].append("infinite_odds_ratio")
    else:
        out["odds_ratio"] = odds
    if not math.isnan(odds):
        exact = fisher_exact_rule(ex, nx - ex, ey, ny - ey)
        assert abs(exact - p) <= 1e-9 * p, (table, exact, p)
    else:
        assert p == 1.0
    if nx > 0:
        out["rate_x"] = ex / nx
    if ny > 0:
        out["rate_y"] = ey / ny
    if nx == 0 or ny == 0:
        out["reasons"].append("empty_group")
        return out
    p1, p2 = ex / nx, ey / ny
    l1, u1 = wilson(ex, nx)
    l2, u2 = wilson(ey, ny)
    delta = p1 - p2
    out["difference"] = delta
    out["ci_low"] = delta - math.sqrt((p1 - l1) ** 2 + (u2 - p2) ** 2)
    out["ci_high"] = delta + math.sqrt((u1 - p1) ** 2 + (p2 - l2) ** 2)
    sm_lo, sm_hi = confint_proportions_2indep(ex, nx, ey, ny, method="newcomb",
                                              compare="diff", alpha=0.05)
    assert abs(sm_lo - out["ci_low"]) <= 1e-9 and abs(sm_hi - out["ci_high"]) <= 1e-9, (
        ex, nx, ey, ny, out, sm_lo, sm_hi)
    return out


# ---------------------------------------------------------------------------
# Stratified (van Elteren) comparison
# ---------------------------------------------------------------------------


def tie_term(v):
    _, counts = np.unique(v, return_counts=True)
    t = counts.astype(float)
    return float(np.sum(t ** 3 - t))


def centred(ranks, n1, n2):
    sx = 0.0
    for r in ranks[:n1]:
        sx += r
    return (sx - n1 * (n1 + 1) / 2 - n1 * n2 / 2) / (n1 + n2 + 1)


def stratum_variance(x, y):
    n1, n2 = len(x), len(y)
    n = n1 + n2
    u_var = n1 * n2 / 12 * ((n + 1) - tie_term(np.concatenate([x, y])) / (n * (n - 1)))
    return u_var / ((n + 1) * (n + 1))


def exact_check(strata):
    """Brute force over every within-stratum relabelling: mean 0 and the formula's variance."""
    per = []
    for x, y in strata:
        pooled = np.concatenate([x, y])
        ranks = stats.rankdata(pooled)
        n1, n2 = len(x), len(y)
        values = []
        for pick in itertools.combinations(range(n1 + n2), n1):
            sx = sum(ranks[i] for i in pick)
            values.append((sx - n1 * (n1 + 1) / 2 - n1 * n2 / 2) / (n1 + n2 + 1))
        per.append(values)
    ts = np.array([sum(c) for c in itertools.product(*per)])
    var = sum(stratum_variance(x, y) for x, y in strata)
    assert abs(float(np.mean(ts))) < 1e-12, float(np.mean(ts))
    assert abs(float(np.mean(ts ** 2)) - var) <= 1e-12 * max(var, 1.0), (np.mean(ts ** 2), var)


def stratified(strata, permutations, seed):
    out = {"strata": 0, "strata_skipped": 0, "n_x": 0, "n_y": 0, "statistic": None,
           "variance": None, "z": None, "normal_p": None, "permutation_p": None,
           "pooled_shift": None, "reason": None}
    used = []
    for x, y in strata:
        x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
        if len(x) == 0 or len(y) == 0:
            out["strata_skipped"] += 1
            continue
        used.append((x, y))
    out["strata"] = len(used)
    if not used:
        out["reason"] = "no_stratum_with_both_groups"
        return out
    out["n_x"] = sum(len(x) for x, _ in used)
    out["n_y"] = sum(len(y) for _, y in used)
    diffs = np.concatenate([(x[:, None] - y[None, :]).ravel() for x, y in used])
    out["pooled_shift"] = float(np.median(diffs))
    ranks = [list(stats.rankdata(np.concatenate([x, y]))) for x, y in used]
    sizes = [(len(x), len(y)) for x, y in used]
    t = 0.0
    for r, (n1, n2) in zip(ranks, sizes):
        t += centred(r, n1, n2)
    var = 0.0
    for x, y in used:
        var += stratum_variance(x, y)
    out["statistic"], out["variance"] = t, var
    if var > 0:
        z = t / math.sqrt(var)
        out["z"] = z
        out["normal_p"] = min(2 * float(stats.norm.sf(abs(z))), 1.0)
        if len(used) == 1:  # one stratum: Mann-Whitney without continuity correction
            x, y = used[0]
            mw = stats.mannwhitneyu(x, y, method="asymptotic", use_continuity=False)
            n1, n2 = len(x), len(y)
            assert abs((mw.statistic - n1 * n2 / 2) / (n1 + n2 + 1) - t) < 1e-12
            assert abs(mw.pvalue - out["normal_p"]) <= 1e-12 * mw.pvalue
    else:
        out["reason"] = "no_variation"
    if permutations > 0:
        scale = 0.0
        for n1, n2 in sizes:
            scale += (n1 * n2) / (2.0 * (n1 + n2 + 1))
        target = abs(t) - TIE_TOLERANCE * scale
        rng = SplitMix64(seed)
        swaps = sum(len(r) - 1 for r in ranks)
        hits = 0
        for _ in range(permutations):
            draws = rng.take(swaps)
            pos = 0
            tt = 0.0
            for r, (n1, n2) in zip(ranks, sizes):
                for k in range(len(r) - 1, 0, -1):
                    j = int(draws[pos] % np.uint64(k + 1))
                    pos += 1
                    r[k], r[j] = r[j], r[k]
                tt += centred(r, n1, n2)
            # No permuted statistic may sit just beside the cut-off.
            assert abs(abs(tt) - target) > 1e-9 * max(scale, 1) or abs(abs(tt) - abs(t)) < 1e-9
            if abs(tt) >= target:
                hits += 1
        out["permutation_p"] = (1 + hits) / (permutations + 1)
    return out


def fmt(v, spec):
    return "null" if v is None else format(v, spec)


def main():
    folder = sys.argv[1] if len(sys.argv) > 1 else "tests/fixtures/stats"
    os.makedirs(folder, exist_ok=True)
    # The vectorised generator is the scalar one.
    assert [int(v) for v in SplitMix64(42).take(5)] == splitmix_scalar(42, 5)

    two, two_notes = two_sample_cases()
    for c in two:
        x, y = np.array(c["x"], dtype=float), np.array(c["y"], dtype=float)
        e = {
            "mann_whitney": mann_whitney(x, y),
            "hodges_lehmann": hodges_lehmann(x, y),
            "cliffs_delta": cliffs_delta(x, y),
            "median_ratio": median_ratio(x, y, c["resamples"], int(c["seed"])),
        }
        c["expected"] = e
        mw, hl, mr = e["mann_whitney"], e["hodges_lehmann"], e["median_ratio"]
        for method in ("exact", "asymptotic"):  # the case exercises the path its name says
            assert method not in c["name"] or mw["method"] == method, (c["name"], mw)
        print(f"{c['name']:28s} n={len(x):3d}/{len(y):3d} U={fmt(mw['u'], '.1f')} "
              f"p={fmt(mw['p'], '.3g')} {mw['method']}  HL={fmt(hl['shift'], '.3f')} "
              f"[{fmt(hl['ci_low'], '.3f')}, {fmt(hl['ci_high'], '.3f')}]  "
              f"ratio={fmt(mr['ratio'], '.3f')} [{fmt(mr['ci_low'], '.3f')}, "
              f"{fmt(mr['ci_high'], '.3f')}] {mr['reason'] or ''}")

    binc, bin_notes = binary_cases()
    for c in binc:
        c["expected"] = e = binary(c["events_x"], c["n_x"], c["events_y"], c["n_y"])
        print(f"{c['name']:28s} {c['events_x']}/{c['n_x']} vs {c['events_y']}/{c['n_y']}"
              f"  diff={fmt(e['difference'], '+.3f')} [{fmt(e['ci_low'], '.3f')}, "
              f"{fmt(e['ci_high'], '.3f')}]  fisher p={e['fisher_p']:.3g} "
              f"OR={fmt(e['odds_ratio'], '.3g')} {e['reasons']}")

    strat, strat_notes = stratified_cases()
    for c in strat:
        strata = [(np.array(x, dtype=float), np.array(y, dtype=float)) for x, y in c["strata"]]
        if c["name"] in ("exact_enumeration_case", "two_devs_ties", "tiny_strata",
                         "single_stratum_ties", "all_tied"):
            exact_check([(x, y) for x, y in strata if len(x) and len(y)])
        c["expected"] = e = stratified(strata, c["permutations"], int(c["seed"]))
        print(f"{c['name']:28s} strata={e['strata']:2d}(-{e['strata_skipped']}) "
              f"n={e['n_x']}/{e['n_y']} T={fmt(e['statistic'], '+.3f')} "
              f"z={fmt(e['z'], '+.3f')} p={fmt(e['normal_p'], '.3g')} "
              f"perm p={fmt(e['permutation_p'], '.4f')} {e['reason'] or ''}")

    path = os.path.join(folder, "cohort.json")
    with open(path, "w") as f:
        head = header()
        head["case_notes"] = {"two_sample": two_notes, "binary": bin_notes,
                              "stratified": strat_notes}
        json.dump({"header": head, "two_sample": two, "binary": binc, "stratified": strat},
                  f, indent=1, allow_nan=False)
        f.write("\n")
    print("wrote", path, f"({len(two)} two-sample, {len(binc)} binary, "
          f"{len(strat)} stratified cases)")


if __name__ == "__main__":
    main()
