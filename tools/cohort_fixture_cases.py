"""Inputs of the cohort fixtures (``tools/gen_cohort_fixtures.py``), made from fixed seeds.

Three builders return ``(cases, notes)``: ``two_sample_cases`` (samples x and y, bootstrap
resamples and seed), ``binary_cases`` (events and PRs per group) and ``stratified_cases``
(strata [x_s, y_s], permutation rounds and seed); ``notes`` says what each case is for.
The constants below mirror the library's defaults in ``src/stats/cohort/``.
"""

import math

import numpy as np

BOOTSTRAP_RESAMPLES = 2000  # ratio::BOOTSTRAP_RESAMPLES
BOOTSTRAP_SEED = 0xB0075742AD1A0001  # ratio::BOOTSTRAP_SEED
DEFAULT_PERMUTATIONS = 9999  # stratified::DEFAULT_PERMUTATIONS
PERMUTATION_SEED = 0x5742A71F1ED00C0D  # stratified::PERMUTATION_SEED


def two_sample_cases():
    cases, notes = [], {}

    def add(name, x, y, note, resamples=BOOTSTRAP_RESAMPLES, seed=BOOTSTRAP_SEED):
        assert all(c["name"] != name for c in cases), name
        notes[name] = note
        cases.append({"name": name, "x": [float(v) for v in x], "y": [float(v) for v in y],
                      "resamples": resamples, "seed": str(seed)})

    def rng(s):
        return np.random.default_rng(s)

    def hours(r, n, scale=20.0, sigma=1.0):
        return np.round(r.lognormal(math.log(scale), sigma, n), 6)

    add("n1_n1", [3.0], [1.5], "one value each: exact, no CI")
    add("n1_n2", [3.5], [1.0, 2.0], "one against two")
    add("n2_n2_interleaved", [1.0, 4.0], [2.0, 3.0], "exact, U at the centre: p = 1")
    add("n3_n3_separated", [4.0, 5.0, 6.0], [1.0, 2.0, 3.0], "complete separation, smallest exact p")
    add("n3_n3_mixed", [2.0, 5.0, 9.0], [1.0, 3.0, 4.0], "exact, k = 0 CI")
    add("scipy_docstring", [19, 22, 16, 29, 24], [20, 11, 17, 12], "scipy docstring: p = 1/9")
    add("n1_n10_exact", [7.25], hours(rng(11), 10), "one AI PR against ten")
    r = rng(12)
    add("n8_n8_exact", hours(r, 8, 30), hours(r, 8, 15), "both at the exact limit")
    r = rng(13)
    add("n8_n30_exact", hours(r, 8, 30), hours(r, 30, 15), "small against medium, exact")
    r = rng(14)
    add("n3_n200_exact", hours(r, 3, 40), hours(r, 200, 15), "three against 200, exact")
    r = rng(15)
    add("n8_n200_exact", hours(r, 8, 25), hours(r, 200, 15), "exact with k in the hundreds")
    r = rng(16)
    add("n8_n200_separated_exact", 1000 + hours(r, 8, 5), hours(r, 200, 15),
        "all of x above y: exact p = 2/C(208, 8)")
    r = rng(17)
    add("n2_n50_exact", hours(r, 2, 10), hours(r, 50, 10), "two against fifty")
    r = rng(18)
    add("n8_n9_exact", hours(r, 8, 12), hours(r, 9, 20), "n_x = 8: exact")
    r = rng(19)
    add("n9_n8_exact", hours(r, 9, 12), hours(r, 8, 20), "n_y = 8: exact")
    r = rng(20)
    add("n9_n9_asymptotic", hours(r, 9, 12), hours(r, 9, 20), "both above 8: normal")
    add("n7_n7_one_tie", [1.5, 2.5, 3.5, 4.5, 5.5, 6.5, 7.5], [2.5, 3.0, 4.0, 5.0, 8.0, 9.0, 10.0],
        "small but one tie across groups: normal")
    add("n5_n6_tie_within_x", [2.0, 2.0, 5.0, 7.0, 9.0], [1.0, 3.0, 4.0, 6.0, 8.0, 10.0],
        "tie inside x only: still normal")
    add("n4_n4_half_u", [1.0, 2.0, 3.0, 3.0], [3.0, 4.0, 5.0, 6.0], "U is a half-integer")
    add("all_equal", [2.0, 2.0, 2.0], [2.0, 2.0], "every value equal: p = 1, shift 0")
    r = rng(21)
    add("many_ties_small_ints", r.integers(0, 4, 30), r.integers(0, 4, 40),
        "PR sizes on a 4-value scale")
    r = rng(22)
    add("binary_values", r.integers(0, 2, 25), r.integers(0, 2, 30),
        "0/1 values: two tie groups, zero medians possible")
    r = rng(23)
    add("n200_n200_lognormal", hours(r, 200, 18), hours(r, 200, 20), "large, similar")
    r = rng(24)
    add("n200_n150_shifted", hours(r, 200, 10), hours(r, 150, 25), "large, x faster")
    r = rng(25)
    add("n40_n40_separated", 500 + hours(r, 40, 10, 0.3), hours(r, 40, 10, 0.3),
        "complete separation, normal: tiny p")
    r = rng(26)
    add("merge_hours_12_vs_40", hours(r, 12, 14), hours(r, 40, 22), "typical team sizes")
    add("x_equals_y", [3.0, 1.0, 4.0, 1.5, 5.0], [3.0, 1.0, 4.0, 1.5, 5.0],
        "identical samples: ties everywhere, shift 0")
    r = rng(27)
    add("tenths_ties", np.round(r.uniform(0, 1, 25), 1), np.round(r.uniform(0.2, 1.2, 30), 1),
        "values on a 0.1 grid (floating ties)")
    r = rng(28)
    add("zero_medians_both", np.where(r.random(15) < 0.7, 0.0, hours(r, 15)),
        np.where(r.random(20) < 0.7, 0.0, hours(r, 20)), "most values 0: ratio undefined")
    r = rng(29)
    add("zero_median_y", hours(r, 12), np.where(r.random(15) < 0.8, 0.0, hours(r, 15)),
        "median of y is 0")
    r = rng(30)
    add("zero_median_x", np.where(r.random(11) < 0.8, 0.0, hours(r, 11)), hours(r, 13),
        "median of x is 0")
    add("zero_median_resample", [2.0, 3.0, 4.0, 6.0, 8.0], [0.0, 0.0, 0.0, 1.0, 2.0, 3.0, 5.0],
        "median(y) = 1 but some resamples of y have median 0: no CI")
    r = rng(31)
    add("negative_values", np.round(r.normal(0.5, 1, 20), 3), np.round(r.normal(0, 1, 25), 3),
        "differences around 0: non-positive median, other statistics defined")
    add("empty_x", [], [1.0, 2.0, 3.0], "x empty: everything undefined")
    add("empty_y", [4.0, 5.0], [], "y empty: everything undefined")
    r = rng(32)
    add("n30_n30_p_near_one", hours(r, 30, 15), hours(r, 30, 15), "same distribution")
    r = rng(33)
    add("custom_seed_b500", hours(r, 20, 10), hours(r, 25, 14),
        "bootstrap with B = 500 and another seed", resamples=500, seed=987654321)
    r = rng(34)
    add("odd_even_counts", hours(r, 7, 10), hours(r, 10, 10), "odd and even group sizes")
    return cases, notes


def binary_cases():
    spec = [
        ("docstring_like", 6, 8, 1, 5, "scipy docstring table [[6, 2], [1, 4]]"),
        ("small_balanced", 3, 10, 1, 12, "small groups"),
        ("zero_events_x", 0, 15, 4, 20, "no rework among x: a = 0, odds ratio 0"),
        ("zero_events_both", 0, 10, 0, 12, "no rework at all: empty column"),
        ("all_events_both", 7, 7, 9, 9, "every PR reworked: empty column"),
        ("all_events_x", 10, 10, 4, 12, "x all reworked: b = 0, infinite odds ratio"),
        ("zero_c", 5, 12, 0, 9, "c = 0: infinite odds ratio"),
        ("zero_b_and_c", 6, 6, 0, 8, "b = c = 0"),
        ("empty_x_group", 0, 0, 3, 10, "no PRs in x"),
        ("empty_y_group", 2, 5, 0, 0, "no PRs in y"),
        ("symmetric_equal_rows", 2, 10, 8, 10, "equal row sums: mirror table exactly tied"),
        ("symmetric_equal_cols", 3, 9, 6, 11, "equal column sums (9 events of 20)"),
        ("observed_at_mode", 5, 20, 5, 20, "observed table is the mode: p = 1"),
        ("one_each", 1, 1, 0, 1, "1x1 groups"),
        ("one_vs_many", 1, 1, 10, 40, "one PR in x"),
        ("moderate", 12, 80, 25, 90, "moderate rates"),
        ("large_equal", 60, 500, 60, 500, "large, equal rates"),
        ("large_symmetric_mirror", 40, 300, 60, 300, "large, equal rows"),
        ("large_diff", 30, 400, 80, 450, "large, clear difference"),
        ("large_unbalanced", 9, 60, 140, 1200, "unbalanced group sizes"),
        ("rare_events", 1, 200, 6, 250, "rare rework"),
        ("common_events", 180, 200, 150, 200, "rework common"),
        ("tiny_p", 0, 100, 40, 100, "very small p"),
        ("rates_half", 10, 20, 10, 20, "both 0.5: p = 1"),
        ("a_above_mode", 9, 12, 3, 12, "a above the mode"),
        ("a_below_mode", 2, 14, 9, 13, "a below the mode"),
        ("n2_n2", 1, 2, 2, 2, "two PRs each"),
        ("x_all_none_y_all", 0, 5, 5, 5, "perfect opposite"),
        ("near_equal_unbalanced", 7, 31, 22, 97, "close rates, unequal sizes"),
        ("thousand", 123, 1000, 98, 1000, "a thousand PRs each"),
        ("single_event", 1, 30, 0, 30, "one event in all"),
        ("col_sum_equals_half", 10, 14, 4, 6, "column sums both 10"),
    ]
    return [{"name": n, "events_x": a, "n_x": b, "events_y": c, "n_y": d}
            for n, a, b, c, d, _ in spec], {n: note for n, *_, note in spec}


def stratified_cases():
    cases, notes = [], {}

    def add(name, strata, note, permutations=999, seed=PERMUTATION_SEED):
        assert all(c["name"] != name for c in cases), name
        notes[name] = note
        cases.append({"name": name,
                      "strata": [[[float(v) for v in x], [float(v) for v in y]] for x, y in strata],
                      "permutations": permutations, "seed": str(seed)})

    def hours(r, n, scale=20.0, sigma=0.8):
        return np.round(r.lognormal(math.log(scale), sigma, n), 2)

    def devs(seed, sizes, shift=1.0, dev_spread=1.0, rounding=2):
        r = np.random.default_rng(seed)
        out = []
        for n1, n2 in sizes:
            base = 10 * math.exp(r.normal(0, dev_spread))
            x = np.round(base * shift * r.lognormal(0, 0.6, n1), rounding)
            y = np.round(base * r.lognormal(0, 0.6, n2), rounding)
            out.append((x, y))
        return out

    r = np.random.default_rng(101)
    add("single_stratum_no_ties", [(hours(r, 6), hours(r, 7))], "one developer: Mann-Whitney")
    add("single_stratum_ties", [([1, 2, 2, 3, 5], [2, 3, 3, 4, 6, 7])], "one developer, ties")
    add("two_balanced", devs(102, [(5, 5), (5, 5)]), "two developers, equal sizes")
    add("five_balanced_shift", devs(103, [(6, 6)] * 5, shift=0.6), "x faster within each")
    add("five_balanced_null", devs(104, [(6, 6)] * 5), "no within-developer difference")
    add("unbalanced", devs(105, [(1, 10), (8, 2), (3, 3), (12, 1), (2, 7)], shift=0.7),
        "uneven splits per developer")
    add("with_skipped", devs(106, [(4, 4)]) + [([3.0, 4.0], [])] + devs(107, [(2, 5)])
        + [([], [8.0])], "one-sided developers are skipped")
    add("all_skipped", [([1.0, 2.0], []), ([], [3.0])], "no developer in both groups")
    add("no_strata", [], "no developers at all")
    add("all_tied", [([2.0, 2.0], [2.0]), ([1.0], [1.0, 1.0])], "every stratum one tie")
    add("twenty_small_devs", devs(108, [(1 + i % 3, 1 + (i * 7) % 4) for i in range(20)],
                                  shift=0.8), "many developers with 1-4 PRs each")
    add("integer_ties", devs(109, [(5, 6), (4, 4), (7, 3)], shift=1.3, rounding=-1),
        "sizes rounded to tens: ties within strata")
    r = np.random.default_rng(110)
    add("binary_strata", [(r.integers(0, 2, 6), r.integers(0, 2, 5)) for _ in range(6)],
        "0/1 outcome per PR")
    add("one_big_developer", devs(111, [(60, 80), (3, 2), (2, 4)], shift=0.9),
        "one developer with most PRs")
    add("opposite_directions", devs(112, [(5, 5)], shift=0.5) + devs(113, [(5, 5)], shift=2.0),
        "effects cancel across developers")
    add("zero_permutations", devs(114, [(4, 5), (3, 3)]), "no permutation rounds",
        permutations=0)
    add("default_rounds", devs(115, [(3, 4), (2, 2), (4, 3)], shift=0.7),
        "default rounds and seed", permutations=DEFAULT_PERMUTATIONS)
    add("other_seed", devs(116, [(4, 4), (5, 3)], shift=0.8), "another seed",
        seed=123456789)
    add("strong_shift", devs(117, [(5, 5)] * 4, shift=0.2), "strong effect: p at its floor")
    add("tiny_strata", [([1.0], [2.0]), ([3.0], [1.0]), ([5.0], [4.0])],
        "one PR per group per developer")
    add("two_devs_ties", [([1.0, 1.0, 2.0], [1.0, 2.0]), ([5.0, 5.0], [5.0, 6.0, 6.0])],
        "small strata with ties (also enumerated exactly)")
    add("mixed_sizes_null", devs(118, [(2, 9), (9, 2), (5, 5), (1, 1)]),
        "unbalanced, no effect")
    add("large_strata", devs(119, [(30, 40), (25, 35), (40, 20)], shift=0.85),
        "three developers with many PRs")
    add("ten_devs_shift", devs(120, [(4, 6)] * 10, shift=0.75), "ten developers, same split")
    add("dev_spread_large", devs(121, [(5, 5)] * 6, shift=0.9, dev_spread=2.0),
        "developers differ a lot in level")
    add("negative_values", [(np.round(np.random.default_rng(122).normal(0, 1, 5), 3),
                             np.round(np.random.default_rng(123).normal(0.5, 1, 6), 3))],
        "values of both signs")
    add("one_vs_one_many", [([float(i)], [float(i) + 0.5]) for i in range(12)],
        "twelve developers with one PR each side, x always lower")
    add("exact_enumeration_case", [([1.0, 3.0], [2.0, 3.0]), ([4.0], [1.0, 2.0, 2.0]),
                                   ([7.0, 6.0], [5.0])], "checked by full enumeration")
    add("rounded_hours", devs(124, [(6, 8), (7, 5), (4, 9)], rounding=0),
        "hours rounded to whole hours")
    add("default_seed_more_rounds", devs(125, [(8, 8), (6, 7)], shift=0.85),
        "4999 rounds", permutations=4999)
    return cases, notes
