#!/usr/bin/env bash
# Crash trials: kill -9 an ingest of many files at a random moment, run it again to completion and
# compare the store with a reference made by one clean ingest.
#
#   tools/kill9_trials.sh [--trials N] [--seed S] [--sessions N] [--dir DIR] [--existing]
#
# Input (generated once under DIR/input, default target/kill9): a Claude Code tree of --sessions
# sessions (examples/gen_claude_tree.rs, default 2 000) and 60 000 LiteLLM-shaped lines
# (examples/gen_traces.rs) split into 6 files, ingested with `--repo-map` and a Parquet lake
# (`--parquet-dir`). Each trial: no database and no lake (so the first load builds the new store
# aside and publishes it at the end), or with --existing an empty database made first by an
# ingest of an empty file (so rows are committed in place, through the WAL); the ingest started
# in the background,
# `kill -9` of its PID after a random delay in [0, reference ingest time) (seeded), the same
# ingest run again to completion, then compared with the reference:
#   (i)   every `traces` row, all columns but `id` and `ingested_run`, sorted;
#   (ii)  every rollup table (`rollup_*`), all columns, sorted (REAL sums to 1e-9 relative, and
#         the float sum inside latency sketches to 1e-12: it depends on the order of additions);
#   (iii) the lake's rows as a multiset (every `*.parquet` file, read with pyarrow; without
#         pyarrow, `prod-lens lake check --json`'s report) and `lake check` passing.
# Prints one line per trial and "N passed, M failed" (failed trials kept in DIR/failed-N); exits 1
# on any failure.
# PRODLENS_BIN overrides the binary (default: release build in ${CARGO_TARGET_DIR:-target}).
set -euo pipefail
cd "$(dirname "$0")/.."

trials=20
seed=1
sessions=2000
dir=target/kill9
existing=no
while [ $# -gt 0 ]; do
  case "$1" in
    --trials) trials=$2; shift 2 ;;
    --seed) seed=$2; shift 2 ;;
    --sessions) sessions=$2; shift 2 ;;
    --dir) dir=$2; shift 2 ;;
    --existing) existing=yes; shift ;;
    -h|--help) sed -n '2,21p' "$0"; exit 0 ;;
    *) echo "unknown argument $1" >&2; exit 2 ;;
  esac
done

tgt=${CARGO_TARGET_DIR:-target}
cargo build --release --quiet --example gen_claude_tree --example gen_traces
if [ -z "${PRODLENS_BIN:-}" ]; then
  cargo build --release --quiet
  PRODLENS_BIN="$tgt/release/prod-lens"
fi
bin=$(realpath "$PRODLENS_BIN")
mkdir -p "$dir"
dir=$(realpath "$dir")
in="$dir/input"
if [ "$(cat "$in/.stamp" 2>/dev/null)" != "$sessions" ]; then
  rm -rf "$in"
  mkdir -p "$in/litellm"
  "$tgt"/release/examples/gen_claude_tree --sessions "$sessions" --out "$in/claude" 2> /dev/null
  "$tgt"/release/examples/gen_traces --n 60000 --out "$in/litellm.jsonl" 2> /dev/null
  split -l 10000 -d --additional-suffix=.jsonl "$in/litellm.jsonl" "$in/litellm/part-"
  rm "$in/litellm.jsonl"
  echo "$sessions" > "$in/.stamp"
fi
echo "binary: $bin"
echo "input: $(find "$in" -name '*.jsonl' | wc -l) files, $(du -sm "$in" | cut -f1) MB ($(nproc) cores, load $(cut -d' ' -f1 /proc/loadavg))"

args() { # store dir: the arguments of the one ingest every run uses
  cmd=("$bin" --db "$1/cache.db" ingest-traces "$in/claude/projects" "$in/litellm"
    --repo-map "$in/claude/repo-map.txt" --parquet-dir "$1/lake" --dead-letter-dir "$1/dead"
    --quiet --json)
}
ingest() { # store dir
  args "$1"
  "${cmd[@]}"
}
prepare() { # store dir: an empty store first, with --existing
  if [ "$existing" = yes ]; then
    : > "$dir/empty.jsonl"
    "$bin" --db "$1/cache.db" ingest-traces "$dir/empty.jsonl" --no-parquet --quiet > /dev/null
  fi
}

ref="$dir/reference"
rm -rf "$ref" "$dir"/failed-*
mkdir -p "$ref"
prepare "$ref"
start=$(date +%s.%N)
ingest "$ref" > "$ref/summary.json"
end=$(date +%s.%N)
ref_secs=$(python3 -c "import sys; print(f'{float(sys.argv[2]) - float(sys.argv[1]):.3f}')" "$start" "$end")
python3 -c "import json,sys; s=json.load(open(sys.argv[1])); print(f\"reference: {s['inserted']} rows inserted, {s['read']} lines read in {sys.argv[2]} s\")" \
  "$ref/summary.json" "$ref_secs"

# The comparison: prints "PASS" or "FAIL: first difference" and exits accordingly.
compare() { # reference dir, trial dir
  python3 - "$1" "$2" "$bin" <<'PY'
import collections, json, math, os, pickle, sqlite3, struct, subprocess, sys

ref, trial, binary = sys.argv[1], sys.argv[2], sys.argv[3]
SKIP = {"id", "ingested_run"}


def connect(d):
    return sqlite3.connect(f"file:{d}/cache.db?mode=ro", uri=True)


def columns(con, table):
    return [r[1] for r in con.execute(f"PRAGMA table_info({table})")]


def rows(con, table, skip=()):
    cols = [c for c in columns(con, table) if c not in skip]
    order = "dedupe_key" if table == "traces" else ", ".join(str(i + 1) for i in range(len(cols)))
    return cols, con.execute(f"SELECT {', '.join(cols)} FROM {table} ORDER BY {order}").fetchall()


def sketch_parts(blob):
    """A stored latency sketch (src/stats/sketch.rs: format byte, encoding byte, then DDSketch's
    tagged fields) split into its exact bytes and its float sum, the one field that depends on
    the order values were added in: a cell filled in two runs sums the same latencies in another
    order, equal to ~1e-16 relative. Anything unexpected is compared whole."""
    if not isinstance(blob, bytes) or len(blob) < 2:
        return blob, None
    i, exact, total = 2, bytearray(blob[:2]), None
    while i < len(blob) and blob[i] in (0xA0, 0x88, 0x8C, 0x84):
        tag = blob[i]
        if tag == 0xA0:  # count: a varint
            j = i + 1
            while j < len(blob) and blob[j] & 0x80:
                j += 1
            exact += blob[i:j + 1]
            i = j + 1
        else:  # min, max (exact) and sum: little-endian doubles
            if tag == 0x84:
                total = struct.unpack("<d", blob[i + 1:i + 9])[0]
                exact.append(tag)
            else:
                exact += blob[i:i + 9]
            i += 9
    exact += blob[i:]
    return bytes(exact), total


def same(a, b):
    if isinstance(a, bytes) and isinstance(b, bytes) and a != b:
        (ea, sa), (eb, sb) = sketch_parts(a), sketch_parts(b)
        return ea == eb and sa is not None and sb is not None and math.isclose(sa, sb, rel_tol=1e-12)
    if isinstance(a, float) and isinstance(b, (int, float)) or isinstance(b, float) and isinstance(a, (int, float)):
        return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12)
    return a == b


def first_diff(name, cols, ra, rb, exact):
    if len(ra) != len(rb):
        only = sorted(set(ra) ^ set(rb), key=repr)[:1]
        return f"{name}: {len(rb)} rows, reference {len(ra)}; e.g. {dict(zip(cols, only[0])) if only else '?'}"
    for x, y in zip(ra, rb):
        bad = [(c, u, v) for c, u, v in zip(cols, x, y) if not (u == v if exact else same(u, v))]
        if bad:
            c, u, v = bad[0]
            key = dict(zip(cols[:4], x[:4]))
            return f"{name}: column {c} is {v!r}, reference {u!r} (row {key})"
    return None


def snapshot(d):
    """Every trace row, every rollup table and the lake's rows of the store in d."""
    con = connect(d)
    snap = {"traces": rows(con, "traces", SKIP)}
    for (t,) in con.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name LIKE 'rollup%' ORDER BY name"):
        snap[t] = rows(con, t)
    snap["lake"] = lake_rows(d)
    return snap


def lake_rows(d):
    """The lake's rows as a multiset (pyarrow), else per partition the row counts of
    `lake check --json` (its folder, file counts and bytes differ between runs by design)."""
    try:
        import pyarrow.parquet as pq
    except ImportError:
        r = subprocess.run([binary, "--db", f"{d}/cache.db", "lake", "check", "--json", "--parquet-dir", f"{d}/lake"],
                           capture_output=True, text=True)
        try:
            report = json.loads(r.stdout)
        except ValueError:
            return r.stdout + r.stderr
        return sorted((p["repo"], p["date"], p["rows"], p["distinct"], p["store_rows"])
                      for p in report.get("partitions", []))
    out = collections.Counter()
    for root, _, files in os.walk(f"{d}/lake"):
        for f in files:
            if f.endswith(".parquet") and not f.startswith("."):
                part = os.path.relpath(root, f"{d}/lake")
                t = pq.read_table(os.path.join(root, f))
                cols = [t.column(c).to_pylist() for c in t.column_names if c not in SKIP]
                out.update((part,) + r for r in zip(*cols))
    return out


def check():
    cache = f"{ref}/snapshot.pickle"
    if os.path.exists(cache):
        with open(cache, "rb") as f:
            a = pickle.load(f)
    else:
        a = snapshot(ref)
        with open(cache, "wb") as f:
            pickle.dump(a, f)
    b = snapshot(trial)
    if set(a) != set(b):
        return f"tables {sorted(b)}, reference {sorted(a)}"
    for t in a:
        if t == "lake":
            continue
        cols, ra = a[t]
        d = first_diff(t, cols, ra, b[t][1], exact=(t == "traces"))
        if d:
            return d
    x, y = a["lake"], b["lake"]
    if x != y:
        if isinstance(x, collections.Counter):
            extra = list((y - x) or (x - y))[:1]
            return f"lake: {sum(y.values())} rows, reference {sum(x.values())}; e.g. {extra[0] if extra else '?'}"
        return f"lake: {y}, reference {x}"
    r = subprocess.run([binary, "--db", f"{trial}/cache.db", "lake", "check", "--parquet-dir", f"{trial}/lake"],
                       capture_output=True, text=True)
    if r.returncode != 0:
        return f"lake check exited {r.returncode}: {(r.stdout + r.stderr).strip()[:300]}"
    return None


d = check()
print("PASS" if d is None else f"FAIL: {d}")
sys.exit(0 if d is None else 1)
PY
}

# The reference against itself checks the comparison and caches the reference's rows.
compare "$ref" "$ref" > /dev/null || { echo "the reference does not compare equal to itself" >&2; exit 1; }
mapfile -t delays < <(python3 -c "
import random, sys
r = random.Random(int(sys.argv[1]))
for _ in range(int(sys.argv[2])):
    print(f'{r.uniform(0, float(sys.argv[3])):.3f}')" "$seed" "$trials" "$ref_secs")

passed=0
failed=0
for i in $(seq 1 "$trials"); do
  t="$dir/trial"
  rm -rf "$t"
  mkdir -p "$t"
  prepare "$t"
  delay=${delays[$((i - 1))]}
  # Started directly (not through a function or subshell), so that $! is the ingest's own PID.
  args "$t"
  "${cmd[@]}" > "$t/killed.json" 2> "$t/killed.err" &
  pid=$!
  sleep "$delay"
  state=killed
  kill -9 "$pid" 2> /dev/null || state="finished before the kill"
  wait "$pid" 2> /dev/null || true
  # No lake folder yet when the kill came first.
  tmp=$( (find "$t/lake" -name '.*.tmp' 2> /dev/null || true) | wc -l)
  rows=$(python3 -c "
import sqlite3, sys
try:
    con = sqlite3.connect(f'file:{sys.argv[1]}?mode=ro', uri=True)  # never creates the file
    print(con.execute('SELECT COUNT(*) FROM traces').fetchone()[0])
except Exception as e:
    print('no store yet')" "$t/cache.db" 2> /dev/null)
  if ! ingest "$t" > "$t/rerun.json" 2> "$t/rerun.err"; then
    result="FAIL: re-run exited non-zero: $(head -c 300 "$t/rerun.err")"
  else
    result=$(compare "$ref" "$t") || true
  fi
  dl=$(cat "$t"/dead/* 2> /dev/null | wc -l)
  dl_ref=$(cat "$ref"/dead/* 2> /dev/null | wc -l)
  note=""
  [ "$dl" = "$dl_ref" ] || note=" (dead letters: $dl lines, reference $dl_ref)"
  printf 'trial %2d: kill at %6.3f s (%s; rows before re-run: %s, lake temp files: %s): %s%s\n' \
    "$i" "$delay" "$state" "$rows" "$tmp" "$result" "$note"
  if [ "${result%%:*}" = PASS ]; then
    passed=$((passed + 1))
  else
    failed=$((failed + 1))
    rm -rf "$dir/failed-$i"
    mv "$t" "$dir/failed-$i" # kept for inspection
  fi
done
echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
