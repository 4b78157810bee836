//! Property tests of the line parser: arbitrary bytes, arbitrary JSON values and mutated valid
//! records never make `parse_line` panic, whatever the forced format, and every record it returns
//! satisfies the canonical record's invariants (before and after pricing).

use prod_lens::pricing::{parse_default_price, PriceTable, Pricer};
use prod_lens::record::{CostSource, SourceFormat, TraceRecord};
use prod_lens::slug::RepoSlug;
use prod_lens::sources::{parse_line, LineOutcome};
use proptest::prelude::*;
use proptest::sample::Index;
use serde_json::{json, Map, Number, Value};

/// `None` (auto-detect) and every forced format.
fn formats() -> Vec<Option<SourceFormat>> {
    std::iter::once(None)
        .chain(SourceFormat::ALL.into_iter().map(Some))
        .collect()
}

/// Asserts the invariants of a parsed record, then prices it and checks the cost.
fn check_record(r: &TraceRecord, pricers: &mut [Pricer]) -> Result<(), TestCaseError> {
    prop_assert!(r.tokens_in >= 0 && r.tokens_out >= 0, "{r:?}");
    prop_assert!(
        r.cache_read_tokens >= 0 && r.cache_creation_tokens >= 0,
        "{r:?}"
    );
    prop_assert!(
        r.cache_read_tokens + r.cache_creation_tokens <= r.tokens_in,
        "cache parts exceed tokens_in: {r:?}"
    );
    if let Some(slug) = &r.repo_slug {
        let parsed = RepoSlug::parse(slug);
        prop_assert!(
            parsed.as_ref().is_ok_and(|p| p.as_str() == slug),
            "invalid repo slug kept: {slug:?}"
        );
    }
    for (name, v) in [("latency_ms", r.latency_ms), ("ttft_ms", r.ttft_ms)] {
        if let Some(x) = v {
            prop_assert!(x.is_finite() && x >= 0.0, "{name} = {x}");
        }
    }
    if let Some(d) = r.diff_ratio {
        prop_assert!((0.0..=1.0).contains(&d), "diff_ratio {d}");
    }
    if let Some(n) = r.accepted_lines {
        prop_assert!(n >= 0);
    }
    if let Some(c) = r.status_code {
        prop_assert!((100..=599).contains(&c), "status {c}");
        prop_assert!(r.is_error || c < 400);
    }
    prop_assert_eq!(r.event_date, r.timestamp.date_naive());
    if let Some(c) = r.reported_cost {
        prop_assert!(c.is_finite() && c >= 0.0, "reported cost {c}");
    }
    prop_assert_eq!(r.cost_usd, None, "cost is set by pricing, not parsing");
    for p in pricers.iter_mut() {
        let mut priced = r.clone();
        p.apply(&mut priced);
        match (priced.cost_usd, priced.cost_source) {
            (None, CostSource::Unknown) => {}
            (Some(c), CostSource::Reported | CostSource::Estimated) => {
                prop_assert!(c.is_finite() && c >= 0.0, "cost {c} for {priced:?}");
            }
            other => prop_assert!(false, "inconsistent cost {other:?}"),
        }
    }
    Ok(())
}

/// Feeds one line to the parser with every format choice and checks what comes back.
fn check_line(bytes: &[u8]) -> Result<(), TestCaseError> {
    let mut pricers = [
        Pricer::new(PriceTable::bundled(), None),
        Pricer::new(
            PriceTable::bundled(),
            Some(parse_default_price("3,15").unwrap()),
        ),
    ];
    for f in formats() {
        match parse_line(bytes, f) {
            LineOutcome::Record(r) => {
                if let Some(forced) = f {
                    prop_assert_eq!(r.source_format, forced);
                }
                check_record(&r, &mut pricers)?;
            }
            LineOutcome::Dead(reason) => prop_assert!(!reason.is_empty()),
            LineOutcome::Skipped(reason) => prop_assert!(!reason.is_empty()),
            LineOutcome::Batch(b) => {
                for r in &b.records {
                    check_record(r, &mut pricers)?;
                }
                prop_assert!(b.dead.iter().all(|d| !d.is_empty()));
            }
        }
    }
    Ok(())
}

/// Field names the sources look for, so generated objects reach deep into the parsers.
const KEYS: &[&str] = &[
    "timestamp",
    "startTime",
    "endTime",
    "completionStartTime",
    "start_time",
    "time",
    "usage",
    "input_tokens",
    "output_tokens",
    "total_tokens",
    "prompt_tokens",
    "completion_tokens",
    "cache_read_input_tokens",
    "cache_creation_input_tokens",
    "prompt_tokens_details",
    "cached_tokens",
    "attributes",
    "metadata",
    "attributes.metadata",
    "requester_metadata",
    "spend_logs_metadata",
    "usage_object",
    "hidden_params",
    "model",
    "model_group",
    "llm.model_name",
    "latency_ms",
    "duration_ms",
    "status",
    "status_code",
    "http.status_code",
    "error_information",
    "error_code",
    "error_class",
    "error",
    "litellm_call_id",
    "id",
    "trace_id",
    "session_id",
    "user_id",
    "end_user",
    "developer_id",
    "user",
    "repo",
    "repository",
    "repo_slug",
    "response_cost",
    "cost_usd",
    "spend",
    "cache_hit",
    "call_type",
    "accepted",
    "prod_lens.accepted",
    "diff_ratio",
    "accepted_lines",
    "user_api_key_user_id",
    "user_api_key_alias",
    "user_api_key_team_id",
    "openinference.span.kind",
    "messages",
];

/// Numbers at and beyond every boundary the parsers care about.
fn edge_number() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(json!(0)),
        Just(json!(-1)),
        Just(json!(i64::MIN)),
        Just(json!(i64::MAX)),
        Just(json!(u64::MAX)),
        Just(json!(1u64 << 40)),
        Just(json!((1u64 << 40) + 1)),
        Just(json!(1e308)),
        Just(json!(-1e308)),
        Just(json!(1e-300)),
        Just(json!(0.5)),
        Just(json!(1760295600)),
        Just(json!(1760295600123u64)),
        Just(json!(1760295600.5)),
        Just(json!(399)),
        Just(json!(429)),
        Just(json!(600)),
        Just(json!(99)),
    ]
}

/// Strings that mean something to some parser.
fn edge_string() -> impl Strategy<Value = String> {
    prop_oneof![
        Just(String::new()),
        Just("NaN".to_string()),
        Just("inf".to_string()),
        Just("-5".to_string()),
        Just("1e30".to_string()),
        Just("2025-10-12T19:00:00.123456+00:00Z".to_string()),
        Just("2025-10-12 19:00:00".to_string()),
        Just("9999-12-31T23:59:59Z".to_string()),
        Just("0000-01-01T00:00:00Z".to_string()),
        Just("1760295600".to_string()),
        Just("-".to_string()),
        Just("session_".to_string()),
        Just("user_ab_account_x_session_é".to_string()),
        Just("acme/api".to_string()),
        Just("../../etc/passwd".to_string()),
        Just("a\\b".to_string()),
        Just("failure".to_string()),
        Just("pass_through_endpoint".to_string()),
        Just("{\"repo\": \"acme/api\"}".to_string()),
        Just("{\"repo\": 5}".to_string()),
        Just("yes".to_string()),
        Just("gpt-4o".to_string()),
        Just("anthropic/claude-sonnet-4-20250514".to_string()),
        "\\PC{0,12}",
    ]
}

/// Any JSON leaf.
fn leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>().prop_filter_map("finite", |x| Number::from_f64(x).map(Value::Number)),
        edge_number(),
        edge_string().prop_map(Value::String),
        ".{0,20}".prop_map(Value::String),
    ]
}

fn key() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => proptest::sample::select(KEYS).prop_map(str::to_string),
        1 => "[a-z_.]{0,10}",
    ]
}

/// Any JSON value (objects favour known keys), nested a few levels.
fn json_value() -> impl Strategy<Value = Value> {
    leaf().prop_recursive(4, 48, 8, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            proptest::collection::vec((key(), inner), 0..8)
                .prop_map(|kv| Value::Object(kv.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

/// Valid records of each shape (plus lines of the real LiteLLM fixture) to mutate.
fn templates() -> Vec<Value> {
    let mut t = vec![
        json!({"timestamp": "2025-10-12T19:00:00Z",
               "usage": {"input_tokens": 120, "output_tokens": 30, "total_tokens": 150,
                         "cache_read_input_tokens": 50, "cache_creation_input_tokens": 10},
               "attributes": {"llm.model_name": "claude-3-sonnet", "latency_ms": 850, "status_code": 200,
                              "prod_lens.accepted": "yes", "analysis.diff_ratio": 0.8, "accepted_lines": 12,
                              "metadata": "{\"repo\": \"acme/api\"}"},
               "metadata": {"repo": "acme/api", "session_id": "_session_alpha", "developer_id": "dev-1"}}),
        json!({"timestamp": "2025-10-12T19:00:00.123456+00:00Z", "model": "gpt-4o", "call_type": "completion",
               "usage": {"prompt_tokens": 100, "completion_tokens": 20, "total_tokens": 120,
                         "prompt_tokens_details": {"cached_tokens": 40}},
               "latency_ms": 1234.5, "status": "failure", "status_code": 429, "error": "RateLimitError: slow",
               "metadata": {"repo": "acme/web", "session_id": "session_s1"}, "developer_id": "dev-7",
               "response_cost": 0.01}),
        json!({"id": "chatcmpl-1", "litellm_call_id": "call-1", "trace_id": "session_t", "call_type": "acompletion",
               "status": "success", "startTime": 1760295600.0, "endTime": 1760295602.5,
               "completionStartTime": 1760295600.4, "response_cost": 0.0, "prompt_tokens": 1200,
               "completion_tokens": 80, "total_tokens": 1280, "model": "claude-sonnet-4-20250514",
               "cache_hit": null, "end_user": "user_x_session_s-9",
               "metadata": {"user_api_key_alias": "k", "user_api_key_team_id": "t", "user_api_key_user_id": "u",
                            "requester_metadata": {"repo": "acme/api", "user_id": "session_z"},
                            "spend_logs_metadata": {"accepted": true},
                            "usage_object": {"prompt_tokens": 1200, "cache_read_input_tokens": 1000,
                                             "cache_creation_input_tokens": 100}},
               "error_information": {"error_code": "", "error_class": ""}}),
    ];
    let fixture = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/litellm/standard_logging_payload.jsonl"
    ))
    .unwrap();
    for n in [5, 8, 9, 12] {
        t.push(serde_json::from_str(fixture.lines().nth(n - 1).unwrap()).unwrap());
    }
    t
}

/// Every path (object keys and array indices) inside a value, shallow first.
fn paths(v: &Value, prefix: &mut Vec<PathStep>, out: &mut Vec<Vec<PathStep>>) {
    match v {
        Value::Object(m) => {
            for (k, child) in m {
                prefix.push(PathStep::Key(k.clone()));
                out.push(prefix.clone());
                paths(child, prefix, out);
                prefix.pop();
            }
        }
        Value::Array(a) => {
            for (i, child) in a.iter().enumerate() {
                prefix.push(PathStep::Index(i));
                out.push(prefix.clone());
                paths(child, prefix, out);
                prefix.pop();
            }
        }
        _ => {}
    }
}

#[derive(Clone, Debug)]
enum PathStep {
    Key(String),
    Index(usize),
}

/// One change to a record.
#[derive(Clone, Debug)]
enum Mutation {
    /// Remove the field (or array element).
    Delete(Index),
    /// Replace the value with another of any type (often a swap of types).
    Replace(Index, Value),
    /// Replace the value with a boundary number (huge, negative, fractional, out of range).
    Number(Index, Value),
    /// Add a known key with any value at the top level or inside an object.
    Insert(Index, String, Value),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        any::<Index>().prop_map(Mutation::Delete),
        (any::<Index>(), json_value()).prop_map(|(i, v)| Mutation::Replace(i, v)),
        (any::<Index>(), edge_number()).prop_map(|(i, v)| Mutation::Number(i, v)),
        (any::<Index>(), key(), leaf()).prop_map(|(i, k, v)| Mutation::Insert(i, k, v)),
    ]
}

fn parent_mut<'a>(root: &'a mut Value, path: &[PathStep]) -> Option<&'a mut Value> {
    let mut cur = root;
    for step in path {
        cur = match (step, cur) {
            (PathStep::Key(k), Value::Object(m)) => m.get_mut(k)?,
            (PathStep::Index(i), Value::Array(a)) => a.get_mut(*i)?,
            _ => return None,
        };
    }
    Some(cur)
}

fn apply(root: &mut Value, m: &Mutation) {
    let mut all = Vec::new();
    paths(root, &mut Vec::new(), &mut all);
    if all.is_empty() {
        return;
    }
    let i = match m {
        Mutation::Delete(i)
        | Mutation::Replace(i, _)
        | Mutation::Number(i, _)
        | Mutation::Insert(i, ..) => i,
    };
    let path = i.get(&all).clone();
    let (last, parent_path) = path.split_last().unwrap();
    let Some(parent) = parent_mut(root, parent_path) else {
        return;
    };
    match m {
        Mutation::Delete(_) => match (parent, last) {
            (Value::Object(o), PathStep::Key(k)) => {
                o.remove(k);
            }
            (Value::Array(a), PathStep::Index(i)) if *i < a.len() => {
                a.remove(*i);
            }
            _ => {}
        },
        Mutation::Replace(_, v) | Mutation::Number(_, v) => {
            if let Some(slot) = parent_mut(parent, std::slice::from_ref(last)) {
                *slot = v.clone();
            }
        }
        Mutation::Insert(_, k, v) => {
            if let Some(Value::Object(o)) = parent_mut(parent, std::slice::from_ref(last)) {
                o.insert(k.clone(), v.clone());
            } else if let Value::Object(o) = parent {
                o.insert(k.clone(), v.clone());
            }
        }
    }
}

/// A valid record with 1–6 mutations applied.
fn mutated_record() -> impl Strategy<Value = Value> {
    let t = templates();
    (
        proptest::sample::select(t),
        proptest::collection::vec(mutation(), 1..6),
    )
        .prop_map(|(mut v, ms)| {
            for m in &ms {
                apply(&mut v, m);
            }
            v
        })
}

/// Byte-level damage to a serialised line: flips, cuts and insertions.
fn damaged_bytes() -> impl Strategy<Value = Vec<u8>> {
    (
        mutated_record(),
        proptest::collection::vec((any::<Index>(), any::<u8>(), 0u8..3), 1..4),
    )
        .prop_map(|(v, edits)| {
            let mut b = serde_json::to_vec(&v).unwrap();
            for (i, byte, op) in edits {
                if b.is_empty() {
                    break;
                }
                let at = i.index(b.len());
                match op {
                    0 => b[at] = byte,
                    1 => b.truncate(at),
                    _ => b.insert(at, byte),
                }
            }
            b
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1024, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        check_line(&bytes)?;
    }

    #[test]
    fn arbitrary_json_values_never_panic(v in json_value()) {
        check_line(&serde_json::to_vec(&v).unwrap())?;
    }

    #[test]
    fn arbitrary_objects_with_known_keys_never_panic(
        kv in proptest::collection::vec((key(), json_value()), 0..12)
    ) {
        let v = Value::Object(kv.into_iter().collect());
        check_line(&serde_json::to_vec(&v).unwrap())?;
    }

    #[test]
    fn mutated_valid_records_keep_the_invariants(v in mutated_record()) {
        check_line(&serde_json::to_vec(&v).unwrap())?;
    }

    #[test]
    fn damaged_valid_lines_never_panic(bytes in damaged_bytes()) {
        check_line(&bytes)?;
    }
}

#[test]
fn templates_are_valid_records_of_their_shape() {
    // The mutation tests start from records that parse: otherwise they would test little.
    let want = [
        SourceFormat::SeedSpan,
        SourceFormat::LitellmLogger,
        SourceFormat::LitellmPayload,
        SourceFormat::LitellmPayload,
        SourceFormat::LitellmPayload,
        SourceFormat::LitellmPayload,
        SourceFormat::LitellmPayload,
    ];
    let t = templates();
    assert_eq!(t.len(), want.len());
    for (v, f) in t.iter().zip(want) {
        match parse_line(&serde_json::to_vec(v).unwrap(), None) {
            LineOutcome::Record(r) => assert_eq!(r.source_format, f, "{v}"),
            other => panic!("{other:?} for {v}"),
        }
    }
}

#[test]
fn deep_nesting_is_refused_not_a_stack_overflow() {
    // serde_json stops at 128 levels; the parser must report it as a dead letter.
    for depth in [127, 129, 10_000] {
        let mut s = "[".repeat(depth);
        s.push_str(&"]".repeat(depth));
        let line = format!("{{\"timestamp\": 1760295600, \"usage\": {s}}}");
        for f in formats() {
            assert!(
                matches!(parse_line(line.as_bytes(), f), LineOutcome::Dead(_)),
                "depth {depth}"
            );
        }
    }
}

#[test]
fn mutations_still_reach_the_record_invariants() {
    // Guards the strength of the properties above: a good share of mutated records must still
    // parse into records (else the invariant checks would rarely run), and a good share not.
    use proptest::strategy::ValueTree;
    use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};
    let mut runner = TestRunner::new_with_rng(
        Config::default(),
        TestRng::from_seed(RngAlgorithm::ChaCha, &[7; 32]),
    );
    let strategy = mutated_record();
    let (mut records, mut dead, mut skipped) = (0, 0, 0);
    for _ in 0..1000 {
        let v = strategy.new_tree(&mut runner).unwrap().current();
        match parse_line(&serde_json::to_vec(&v).unwrap(), None) {
            LineOutcome::Record(_) => records += 1,
            LineOutcome::Dead(_) => dead += 1,
            LineOutcome::Skipped(_) | LineOutcome::Batch(_) => skipped += 1,
        }
    }
    eprintln!("records {records}, dead {dead}, skipped {skipped}");
    assert!(records >= 200, "records {records}");
    assert!(dead >= 200, "dead {dead}");
}
