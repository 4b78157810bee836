#!/usr/bin/env python3
"""Generate real LiteLLM ``StandardLoggingPayload`` fixtures for ProdLens.

What it produces
    One JSON object per line (JSONL), each being exactly the
    ``kwargs["standard_logging_object"]`` that LiteLLM hands to a
    ``CustomLogger`` callback (serialised with ``json.dumps(..., default=str)``).
    Nothing is scrubbed or rewritten.

How it works
    A ``CustomLogger`` subclass is registered in ``litellm.callbacks`` and
    ``litellm.completion`` / ``litellm.acompletion`` are called with
    ``mock_response=...``, so no network request is ever made.  The model cost
    map is loaded from the copy bundled with the package
    (``LITELLM_LOCAL_MODEL_COST_MAP=True``).  Scenarios run in a fixed order and
    the script waits for each call's log event before starting the next one, so
    line N is always the same scenario (see SCENARIOS below / the fixture
    README).  Timestamps, UUIDs and generated ids are real and change per run.

How to run
    python3 -m venv /tmp/litellm-venv
    /tmp/litellm-venv/bin/pip install litellm==1.110.2
    /tmp/litellm-venv/bin/python tools/gen_litellm_fixtures.py \\
        tests/fixtures/litellm/standard_logging_payload.jsonl

Written against and run with litellm 1.110.2 (Python 3.11).
"""

import asyncio
import json
import os
import sys
import threading
import time
from importlib.metadata import version

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")  # offline cost map
os.environ.setdefault("LITELLM_TELEMETRY", "False")

import litellm  # noqa: E402
from litellm.integrations.custom_logger import CustomLogger  # noqa: E402

CLAUDE_CODE_USER_ID = (
    "user_3f2a9b_account_11111111-2222-3333-4444-555555555555"
    "_session_aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"
)
BASE_METADATA = {
    "repo": "acme/api",
    "developer_id": "dev-alice",
    "session_id": "session_abc123",
}
MESSAGES = [{"role": "user", "content": "Say hi."}]


class JsonlLogger(CustomLogger):
    """Appends every standard_logging_object it sees to a JSONL file."""

    def __init__(self, path):
        super().__init__()
        self.path = path
        self.count = 0
        self.hooks = []  # which hook fired, in order (printed, not written)
        self._lock = threading.Lock()

    def _write(self, hook, kwargs):
        payload = kwargs.get("standard_logging_object")
        with self._lock:
            self.hooks.append(hook)
            if payload is None:
                print(f"WARNING: {hook} fired without standard_logging_object", file=sys.stderr)
                return
            with open(self.path, "a", encoding="utf-8") as f:
                f.write(json.dumps(payload, default=str) + "\n")
            self.count += 1

    def log_success_event(self, kwargs, response_obj, start_time, end_time):
        self._write("log_success_event", kwargs)

    def log_failure_event(self, kwargs, response_obj, start_time, end_time):
        self._write("log_failure_event", kwargs)

    async def async_log_success_event(self, kwargs, response_obj, start_time, end_time):
        self._write("async_log_success_event", kwargs)

    async def async_log_failure_event(self, kwargs, response_obj, start_time, end_time):
        self._write("async_log_failure_event", kwargs)


def mock_model_response(resp_id, model, text, usage):
    """A full OpenAI-style response dict; LiteLLM turns it into a ModelResponse."""
    return {
        "id": resp_id,
        "object": "chat.completion",
        "created": 1767225600,
        "model": model,
        "choices": [
            {
                "index": 0,
                "finish_reason": "stop",
                "message": {"role": "assistant", "content": text},
            }
        ],
        "usage": usage,
    }


def call_sync(**kw):
    try:
        resp = litellm.completion(messages=MESSAGES, **kw)
        if kw.get("stream"):
            for _chunk in resp:
                time.sleep(0.05)  # make endTime visibly later than completionStartTime
    except Exception as e:  # expected for the failure scenarios
        print(f"  raised {type(e).__name__}: {str(e)[:80]}")


async def call_async(**kw):
    try:
        await litellm.acompletion(messages=MESSAGES, **kw)
    except Exception as e:
        print(f"  raised {type(e).__name__}: {str(e)[:80]}")
    await asyncio.sleep(1.0)  # let LiteLLM's async logging tasks run on this loop


# (label, kind, kwargs) -- one log line expected per scenario, in this order.
SCENARIOS = [
    ("success: anthropic claude-sonnet-4-5, metadata + user=", "sync", dict(
        model="anthropic/claude-sonnet-4-5-20250929",
        mock_response="Hi from Claude.",
        metadata=dict(BASE_METADATA),
        user="dev-alice@acme.example",
    )),
    ("success: gpt-4o, metadata.requester_metadata.user_id (Claude-Code-like)", "sync", dict(
        model="gpt-4o",
        mock_response="Hello there!",
        metadata={**BASE_METADATA, "requester_metadata": {"user_id": CLAUDE_CODE_USER_ID}},
    )),
    ("success: gpt-4o-mini, user= Claude-Code-like id, nested metadata.metadata", "sync", dict(
        model="gpt-4o-mini",
        mock_response="Hey.",
        metadata={**BASE_METADATA, "metadata": {"user_id": CLAUDE_CODE_USER_ID}},
        user=CLAUDE_CODE_USER_ID,
    )),
    ("success: claude-sonnet-4-5, proxy-style metadata keys (user_api_key_*, spend_logs_metadata, tags)", "sync", dict(
        model="anthropic/claude-sonnet-4-5-20250929",
        mock_response="Sure.",
        metadata={
            **BASE_METADATA,
            "user_api_key_hash": "88dc28d0f030c55ed4ab77ed8faf098196cb1c05df778539800c9f1243fe6b4b",
            "user_api_key_alias": "alice-laptop",
            "user_api_key_user_id": "dev-alice",
            "user_api_key_team_id": "team-platform",
            "user_api_key_end_user_id": "end-user-42",
            "spend_logs_metadata": {"ticket": "API-123"},
            "tags": ["prodlens", "fixture"],
        },
    )),
    ("unknown-model: openai/my-internal-model with custom api_base", "sync", dict(
        model="openai/my-internal-model",
        api_base="http://llm-gateway.internal:8080/v1",
        api_key="sk-not-a-real-key",
        mock_response="Internal model says hi.",
        metadata=dict(BASE_METADATA),
    )),
    ("zero-priced: anthropic/claude-sonnet-4-20250514 (in cost map with 0 prices in this litellm)", "sync", dict(
        model="anthropic/claude-sonnet-4-20250514",
        mock_response="Hi from an older Claude.",
        metadata=dict(BASE_METADATA),
    )),
    ("cache: gpt-4o, usage.prompt_tokens_details.cached_tokens", "sync", dict(
        model="gpt-4o",
        mock_response=mock_model_response(
            "chatcmpl-cache-openai-0001", "gpt-4o", "Cached hello.",
            {
                "prompt_tokens": 2048,
                "completion_tokens": 12,
                "total_tokens": 2060,
                "prompt_tokens_details": {"cached_tokens": 1536},
            },
        ),
        metadata=dict(BASE_METADATA),
    )),
    ("cache: anthropic claude-sonnet-4-5, cache_read_input_tokens + cache_creation_input_tokens", "sync", dict(
        model="anthropic/claude-sonnet-4-5-20250929",
        mock_response=mock_model_response(
            "msg_cache_anthropic_0001", "claude-sonnet-4-5-20250929", "Cached hi.",
            {
                "prompt_tokens": 3000,
                "completion_tokens": 20,
                "total_tokens": 3020,
                "cache_read_input_tokens": 2000,
                "cache_creation_input_tokens": 500,
                "prompt_tokens_details": {"cached_tokens": 2000},
            },
        ),
        metadata=dict(BASE_METADATA),
    )),
    ("failure: gpt-4o, mock_response='litellm.RateLimitError'", "sync", dict(
        model="gpt-4o",
        mock_response="litellm.RateLimitError",
        metadata=dict(BASE_METADATA),
    )),
    ("failure: anthropic claude-sonnet-4-5, mock_response=Exception(...)", "sync", dict(
        model="anthropic/claude-sonnet-4-5-20250929",
        mock_response=Exception("mock upstream failure"),
        metadata=dict(BASE_METADATA),
    )),
    ("failure (pre-call): claude-3-5-sonnet-20240620 w/o provider prefix -> 'LLM Provider NOT provided'", "sync", dict(
        model="claude-3-5-sonnet-20240620",
        mock_response="never returned",
        metadata=dict(BASE_METADATA),
    )),
    ("stream: gpt-4o-mini, stream=True, mock_delay=0.2", "sync", dict(
        model="gpt-4o-mini",
        mock_response="Streaming hello world.",
        stream=True,
        mock_delay=0.2,
        metadata=dict(BASE_METADATA),
    )),
    ("shared-id #1: gpt-4o, response id chatcmpl-shared-0001", "sync", dict(
        model="gpt-4o",
        mock_response=mock_model_response(
            "chatcmpl-shared-0001", "gpt-4o", "First.",
            {"prompt_tokens": 10, "completion_tokens": 2, "total_tokens": 12},
        ),
        metadata=dict(BASE_METADATA),
    )),
    ("shared-id #2: gpt-4o, same response id chatcmpl-shared-0001", "sync", dict(
        model="gpt-4o",
        mock_response=mock_model_response(
            "chatcmpl-shared-0001", "gpt-4o", "Second.",
            {"prompt_tokens": 10, "completion_tokens": 2, "total_tokens": 12},
        ),
        metadata=dict(BASE_METADATA),
    )),
    ("async success: acompletion gpt-4o-mini, metadata WITHOUT session_id (trace_id falls back)", "async", dict(
        model="gpt-4o-mini",
        mock_response="Async hi.",
        metadata={"repo": "acme/api", "developer_id": "dev-alice"},
    )),
    ("async failure: acompletion gpt-4o, mock_response='litellm.InternalServerError'", "async", dict(
        model="gpt-4o",
        mock_response="litellm.InternalServerError",
        metadata=dict(BASE_METADATA),
    )),
]


def wait_for(logger, expected, timeout=10.0):
    deadline = time.time() + timeout
    while logger.count < expected and time.time() < deadline:
        time.sleep(0.05)
    time.sleep(0.3)  # catch any duplicate event for the same call
    if logger.count != expected:
        print(f"  WARNING: expected {expected} lines, have {logger.count}", file=sys.stderr)


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else "standard_logging_payload.jsonl"
    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    open(out, "w").close()

    logger = JsonlLogger(out)
    litellm.callbacks = [logger]

    loop = asyncio.new_event_loop()
    for i, (label, kind, kw) in enumerate(SCENARIOS, start=1):
        print(f"line {i}: {label}")
        if kind == "sync":
            call_sync(**kw)
        else:
            loop.run_until_complete(call_async(**kw))
        wait_for(logger, i)
        print(f"  hooks so far: {logger.hooks[-2:]}")
    loop.close()
    print(f"wrote {logger.count} lines to {out} (litellm {version('litellm')})")


if __name__ == "__main__":
    main()
