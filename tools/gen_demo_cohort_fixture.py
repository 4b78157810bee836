#!/usr/bin/env python3
"""Reference p-values of the demo's AI-assisted vs other PR comparison, computed with scipy.

What it produces
    ``tests/fixtures/stats/demo_cohorts.json``: for every repo (and ``all``) of the bundled demo,
    the merge hours and rework flags of the merged PRs of 2025-09-01..2025-10-12 split by
    ``ai_assisted``, and
      - ``scipy.stats.mannwhitneyu(assisted, other, alternative="two-sided")`` p (default
        method) for merge hours and PR size,
      - ``scipy.stats.fisher_exact([[a, n_a - a], [o, n_o - o]])`` p for rework.
    ``tests/prs_fixtures.rs`` runs the demo and ``prod-lens prs`` and asserts the same groups
    and p-values to 1e-9.

How to run
    prod-lens demo --dir demo
    prod-lens --db demo/cache.db prs --format json --since 2025-09-01 --until 2025-10-12 > prs.json
    /tmp/stats-venv/bin/python tools/gen_demo_cohort_fixture.py prs.json [tests/fixtures/stats]
"""

import datetime as dt
import json
import os
import platform
import sys

import numpy as np
import scipy
from scipy import stats

SINCE = dt.datetime(2025, 9, 1, tzinfo=dt.timezone.utc)
UNTIL = dt.datetime(2025, 10, 13, tzinfo=dt.timezone.utc)


def merged_in_window(p):
    if not p["merged_at"]:
        return False
    t = dt.datetime.fromisoformat(p["merged_at"].replace("Z", "+00:00"))
    return SINCE <= t < UNTIL


def main():
    src = sys.argv[1]
    out_dir = sys.argv[2] if len(sys.argv) > 2 else "tests/fixtures/stats"
    listing = json.load(open(src))
    prs = [p for p in listing["prs"] if merged_in_window(p)]
    repos = sorted({p["repo"] for p in prs})
    groups = [(r, [p for p in prs if p["repo"] == r]) for r in repos]
    if len(repos) > 1:
        groups.append(("all", prs))
    cases = []
    for repo, ps in groups:
        a = [p for p in ps if p["ai_assisted"]]
        o = [p for p in ps if not p["ai_assisted"]]
        for outcome, key in [("merge_hours", "merge_hours"), ("size", "size")]:
            x = [float(p[key]) for p in a if p[key] is not None]
            y = [float(p[key]) for p in o if p[key] is not None]
            if not x and not y:
                continue
            res = stats.mannwhitneyu(x, y, alternative="two-sided") if x and y else None
            cases.append({
                "repo": repo, "outcome": outcome, "assisted": sorted(x), "other": sorted(y),
                "p_value": float(res.pvalue) if res is not None else None,
            })
        rw = lambda g: sum(1 for p in g if p["reverted"] or p["reopened"])
        table = [[rw(a), len(a) - rw(a)], [rw(o), len(o) - rw(o)]]
        res = stats.fisher_exact(table, alternative="two-sided")
        cases.append({"repo": repo, "outcome": "rework", "table": table,
                      "p_value": float(res.pvalue)})
    doc = {
        "header": {
            "generated_by": "tools/gen_demo_cohort_fixture.py",
            "what": "scipy p-values of the demo's AI-assisted vs other merged PRs",
            "python": platform.python_version(),
            "scipy": scipy.__version__,
            "numpy": np.__version__,
            "generated_on": dt.date.today().isoformat(),
        },
        "cases": cases,
    }
    os.makedirs(out_dir, exist_ok=True)
    path = os.path.join(out_dir, "demo_cohorts.json")
    with open(path, "w") as f:
        json.dump(doc, f, indent=1)
        f.write("\n")
    for c in cases:
        print(c["repo"], c["outcome"], c["p_value"])


if __name__ == "__main__":
    main()
