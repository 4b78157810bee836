#!/usr/bin/env python3
"""Generate a ``~/.claude/projects``-shaped tree of Claude Code session logs for ProdLens tests.

What it produces
    ``<out>/projects/<encoded cwd>/<session id>.jsonl`` files written the way Claude Code writes
    its local transcripts (one JSON object per line: ``type``, ``uuid``, ``parentUuid``,
    ``sessionId``, ``timestamp``, ``cwd``, ``gitBranch``, ``version``, ``isSidechain``,
    ``requestId`` and, for assistant turns, ``message`` with ``id``, ``model`` and ``usage``).
    It includes what makes the format tricky:

    * streaming duplicates: the same ``message.id`` + ``requestId`` written 2-4 times, the early
      copies with placeholder counts (``output_tokens`` 1, no cache tokens) and the last with the
      final counts;
    * sidechain (sub-agent) turns (``isSidechain: true``);
    * an assistant line without ``requestId`` (older Claude Code versions);
    * ``<synthetic>`` model lines and API error messages (``isApiErrorMessage: true``);
    * ``user`` and ``summary`` lines without usage, and ``costUSD`` on some lines;
    * turns spread over several UTC days, one session crossing midnight.

    Output is deterministic (fixed seed), so the fixture numbers below stay valid.

    Two variants:

    * ``compatible``: streaming copies are identical and every line has a ``requestId``, so
      ccusage's rule (keep the first copy per ``message.id:requestId``, no dedupe without a
      ``requestId``) and ProdLens's rule (keep the copy with most tokens; ``message.id`` alone
      without ``requestId`` or on sidechains) must give the same totals;
    * ``streaming``: early copies carry placeholder ``output_tokens`` and some lines lack a
      ``requestId``; there ccusage undercounts (first copy) and overcounts (no dedupe), so the
      generator also writes ``truth_daily.json``: per UTC day, the sums over the final copy of
      every distinct message (what ProdLens must report).

How the fixtures in tests/fixtures/claude_code/ were produced (once; ccusage 18.0.11 is the last
release that runs from npm on linux-x64 without a native binary)
    for v in compatible streaming; do
      python3 tools/gen_claude_code_logs.py tests/fixtures/claude_code/$v $v
      CLAUDE_CONFIG_DIR=$PWD/tests/fixtures/claude_code/$v TZ=UTC \\
        npx -y ccusage@18.0.11 daily --json --offline --timezone UTC \\
        > tests/fixtures/claude_code/$v/ccusage_daily.json
    done
"""

import json
import random
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

SEED = 20250714
MODELS = ["claude-sonnet-4-20250514", "claude-opus-4-20250514", "claude-3-5-haiku-20241022"]
PROJECTS = [
    ("/home/dev/work/api", "main"),
    ("/home/dev/work/web", "feature/login"),
    ("/home/dev/oss/tool", "fix-123"),
]


def encode(cwd: str) -> str:
    """Claude Code names a project folder after its cwd with every '/' and '.' as '-'."""
    return cwd.replace("/", "-").replace(".", "-")


def ts(t: datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}Z"


def session_lines(rng, session_id, cwd, branch, start, turns, version, variant, truth):
    lines = []
    t = start
    parent = None
    n = 0

    def base(kind, sidechain=False):
        nonlocal n, parent
        n += 1
        uid = f"{session_id[:8]}-{n:04d}-4000-8000-{rng.randrange(16**12):012x}"
        obj = {
            "parentUuid": parent,
            "isSidechain": sidechain,
            "userType": "external",
            "cwd": cwd,
            "sessionId": session_id,
            "version": version,
            "gitBranch": branch,
            "type": kind,
            "uuid": uid,
            "timestamp": ts(t),
        }
        parent = uid
        return obj

    for turn in range(turns):
        t += timedelta(seconds=rng.randrange(20, 600))
        u = base("user")
        u["message"] = {"role": "user", "content": f"step {turn}"}
        lines.append(u)
        sidechain = turn % 5 == 3
        model = rng.choice(MODELS)
        msg_id = f"msg_01{rng.randrange(16**20):020x}"
        req_id = f"req_011C{rng.randrange(16**20):020x}"
        final = {
            "input_tokens": rng.randrange(1, 40),
            "cache_creation_input_tokens": rng.randrange(0, 5000),
            "cache_read_input_tokens": rng.randrange(0, 60000),
            "output_tokens": rng.randrange(5, 2000),
            "service_tier": "standard",
        }
        copies = rng.randrange(1, 4) if turn % 4 != 0 else 1
        for c in range(copies + 1):
            t += timedelta(milliseconds=rng.randrange(50, 3000))
            a = base("assistant", sidechain)
            last = c == copies
            usage = dict(final) if last or variant == "compatible" else {
                "input_tokens": final["input_tokens"],
                "cache_creation_input_tokens": final["cache_creation_input_tokens"],
                "cache_read_input_tokens": final["cache_read_input_tokens"],
                "output_tokens": 1 + c,
                "service_tier": "standard",
            }
            a["message"] = {
                "id": msg_id,
                "type": "message",
                "role": "assistant",
                "model": model,
                "content": [{"type": "text", "text": "…"}],
                "stop_reason": "end_turn" if last else None,
                "stop_sequence": None,
                "usage": usage,
            }
            if turn % 7 != 6 or variant == "compatible":
                a["requestId"] = req_id
            if version.startswith("1.0.2") and last:
                a["costUSD"] = round(rng.random() * 0.2, 6)
            lines.append(a)
        day = truth.setdefault(a["timestamp"][:10], {
            "inputTokens": 0, "outputTokens": 0, "cacheCreationTokens": 0, "cacheReadTokens": 0})
        day["inputTokens"] += final["input_tokens"]
        day["outputTokens"] += final["output_tokens"]
        day["cacheCreationTokens"] += final["cache_creation_input_tokens"]
        day["cacheReadTokens"] += final["cache_read_input_tokens"]
        if turn % 9 == 8:
            t += timedelta(seconds=1)
            s = base("assistant")
            s["message"] = {
                "id": f"msg_synth_{turn}", "type": "message", "role": "assistant",
                "model": "<synthetic>", "content": [{"type": "text", "text": "No response requested."}],
                "usage": {"input_tokens": 0, "output_tokens": 0,
                          "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0},
            }
            lines.append(s)
        if turn % 11 == 10:
            t += timedelta(seconds=1)
            e = base("assistant")
            e["isApiErrorMessage"] = True
            e["message"] = {
                "id": f"msg_err_{turn}", "type": "message", "role": "assistant",
                "model": "<synthetic>",
                "content": [{"type": "text", "text": "API Error: 529 Overloaded"}],
                "usage": {"input_tokens": 0, "output_tokens": 0,
                          "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0},
            }
            lines.append(e)
    lines.append({"type": "summary", "summary": "Work on the project", "leafUuid": parent})
    return lines


def main(out: Path, variant: str) -> None:
    rng = random.Random(SEED)
    truth = {}
    day0 = datetime(2025, 7, 10, 8, 0, tzinfo=timezone.utc)
    for i in range(6):
        cwd, branch = PROJECTS[i % len(PROJECTS)]
        start = day0 + timedelta(days=i // 2, hours=rng.randrange(0, 10))
        if i == 4:
            start = start.replace(hour=23, minute=30)  # crosses midnight UTC
        session_id = f"{rng.randrange(16**8):08x}-1111-4222-8333-{rng.randrange(16**12):012x}"
        version = "1.0.24" if i % 3 == 0 else "1.0.51"
        lines = session_lines(rng, session_id, cwd, branch, start, 6 + i, version, variant, truth)
        folder = out / "projects" / encode(cwd)
        folder.mkdir(parents=True, exist_ok=True)
        with open(folder / f"{session_id}.jsonl", "w", encoding="utf-8") as f:
            for obj in lines:
                f.write(json.dumps(obj, separators=(",", ":")) + "\n")
    days = [dict(date=d, **v) for d, v in sorted(truth.items())]
    for d in days:
        d["totalTokens"] = sum(d[k] for k in (
            "inputTokens", "outputTokens", "cacheCreationTokens", "cacheReadTokens"))
    with open(out / "truth_daily.json", "w", encoding="utf-8") as f:
        json.dump({"daily": days}, f, indent=2)
        f.write("\n")


if __name__ == "__main__":
    if len(sys.argv) != 3 or sys.argv[2] not in ("compatible", "streaming"):
        sys.exit("usage: gen_claude_code_logs.py OUT_DIR compatible|streaming")
    main(Path(sys.argv[1]), sys.argv[2])
