//! `ingest-litellm` against a real PostgreSQL server started by the test (`pg_support`).
//! The table is created as LiteLLM's `litellm/proxy/schema.prisma` (litellm 1.110.2) defines
//! `model LiteLLM_SpendLogs`, with Prisma's PostgreSQL types (String → TEXT, Int → INTEGER,
//! Float → DOUBLE PRECISION, DateTime → TIMESTAMP(3), Json → JSONB).

mod common;
mod pg_support;

use common::{int, open_db, query_i64, Work};
use std::path::Path;

const CREATE_TABLE: &str = r#"
CREATE TABLE "LiteLLM_SpendLogs" (
    "request_id" TEXT NOT NULL,
    "call_type" TEXT NOT NULL,
    "api_key" TEXT NOT NULL DEFAULT '',
    "spend" DOUBLE PRECISION NOT NULL DEFAULT 0.0,
    "total_tokens" INTEGER NOT NULL DEFAULT 0,
    "prompt_tokens" INTEGER NOT NULL DEFAULT 0,
    "completion_tokens" INTEGER NOT NULL DEFAULT 0,
    "startTime" TIMESTAMP(3) NOT NULL,
    "endTime" TIMESTAMP(3) NOT NULL,
    "request_duration_ms" INTEGER,
    "completionStartTime" TIMESTAMP(3),
    "model" TEXT NOT NULL DEFAULT '',
    "model_id" TEXT DEFAULT '',
    "model_group" TEXT DEFAULT '',
    "custom_llm_provider" TEXT DEFAULT '',
    "api_base" TEXT DEFAULT '',
    "user" TEXT DEFAULT '',
    "metadata" JSONB DEFAULT '{}',
    "cache_hit" TEXT DEFAULT '',
    "cache_key" TEXT DEFAULT '',
    "request_tags" JSONB DEFAULT '[]',
    "team_id" TEXT,
    "organization_id" TEXT,
    "end_user" TEXT,
    "requester_ip_address" TEXT,
    "messages" JSONB DEFAULT '{}',
    "response" JSONB DEFAULT '{}',
    "session_id" TEXT,
    "status" TEXT,
    "mcp_namespaced_tool_name" TEXT,
    "billing_agent_id" TEXT,
    "agent_id" TEXT,
    "proxy_server_request" JSONB DEFAULT '{}',
    "litellm_call_id" TEXT,
    "created_at" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT "LiteLLM_SpendLogs_pkey" PRIMARY KEY ("request_id")
);
CREATE INDEX "LiteLLM_SpendLogs_startTime_idx" ON "LiteLLM_SpendLogs"("startTime");
CREATE INDEX "LiteLLM_SpendLogs_startTime_request_id_idx"
    ON "LiteLLM_SpendLogs"("startTime", "request_id");
"#;

fn insert_rows(client: &mut postgres::Client, from: usize, to: usize) {
    for i in from..to {
        let meta = serde_json::json!({
            "user_api_key_alias": "alice-key",
            "usage_object": {"prompt_tokens": 1000 + i, "completion_tokens": 10,
                             "cache_read_input_tokens": 500, "cache_creation_input_tokens": 0},
            "requester_metadata": {"repo": "acme/api"}
        })
        .to_string();
        client
            .execute(
                r#"INSERT INTO "LiteLLM_SpendLogs" (request_id, call_type, api_key, spend,
                     total_tokens, prompt_tokens, completion_tokens, "startTime", "endTime",
                     "completionStartTime", model, model_group, custom_llm_provider, "user",
                     metadata, cache_hit, team_id, session_id, status, messages)
                   VALUES ($1, 'acompletion', 'hash-abc', 0.01, $2, $3, 10,
                     TIMESTAMP '2025-07-10 10:00:00.000' + ($4::int * INTERVAL '1 second'),
                     TIMESTAMP '2025-07-10 10:00:02.000' + ($4::int * INTERVAL '1 second'),
                     NULL, 'claude-sonnet-4-20250514', 'sonnet', 'anthropic', 'alice',
                     $5::text::jsonb, 'False', 'team-a', 'sess-1', 'success',
                     '{"secret": "prompt text"}'::jsonb)"#,
                &[
                    // Two rows share a startTime: the checkpoint's request_id tells them apart.
                    &format!("req-{i:04}"),
                    &((1010 + i) as i32),
                    &((1000 + i) as i32),
                    &((i / 2) as i32),
                    &meta,
                ],
            )
            .unwrap();
    }
}

fn ingest(w: &Work, db: &Path, url: &str) -> serde_json::Value {
    let out = w
        .cmd()
        .env_remove("DATABASE_URL")
        .arg("--db")
        .arg(db)
        .args([
            "ingest-litellm",
            "--json",
            "--batch-rows",
            "3",
            "--database-url",
            url,
        ])
        .output()
        .unwrap();
    let stdout = String::from_utf8(out.stdout).unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "stderr: {stderr}");
    assert!(!stdout.contains("hunter2") && !stderr.contains("hunter2"));
    common::single_json_object(&stdout)
}

#[test]
fn reads_the_spend_log_table_incrementally() {
    let Some(pg) = pg_support::start_or_skip("ingest-litellm") else {
        return;
    };
    let mut client = pg.local_client();
    client.batch_execute(CREATE_TABLE).unwrap();
    insert_rows(&mut client, 0, 7);

    let w = Work::new();
    let db = w.path("p.db");
    let first = ingest(&w, &db, &pg.url());
    assert_eq!((int(&first, "read"), int(&first, "inserted")), (7, 7));
    let want_in: i64 = (0..7).map(|i| 1000 + i).sum();
    assert_eq!(int(&first, "tokens_in"), want_in);
    assert_eq!(int(&first, "cache_read_tokens"), 7 * 500);

    let second = ingest(&w, &db, &pg.url());
    assert_eq!(int(&second, "read"), 0, "nothing new: {second}");

    insert_rows(&mut client, 7, 9);
    let third = ingest(&w, &db, &pg.url());
    assert_eq!((int(&third, "read"), int(&third, "inserted")), (2, 2));

    let c = open_db(&db);
    assert_eq!(query_i64(&c, "SELECT COUNT(*) FROM traces"), 9);
    assert_eq!(
        query_i64(
            &c,
            "SELECT COUNT(*) FROM traces WHERE source_format = 'litellm-spend-logs'
               AND repo_slug = 'acme/api' AND developer_id = 'alice' AND session_id = 'sess-1'
               AND cost_source = 'reported' AND ABS(latency_ms - 2000) < 1e-6"
        ),
        9
    );
    let cp: String = c
        .query_row(
            "SELECT source || ' ' || request_id FROM litellm_checkpoints",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(
        cp,
        format!(
            "postgres://postgres@127.0.0.1:{}/postgres req-0008",
            pg.port
        )
    );
    let runs: String = c
        .query_row(
            "SELECT group_concat(source || coalesce(details, ''), ' ') FROM etl_runs",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert!(!runs.contains("hunter2") && !runs.contains("secret\""));
}

/// Runs `ingest-litellm` into a fresh store; (exit code, stdout + stderr).
fn ingest_once(w: &Work, db: &str, url: &str, ca: Option<&Path>) -> (Option<i32>, String) {
    let mut cmd = w.cmd();
    cmd.env_remove("DATABASE_URL")
        .env_remove("PRODLENS_PG_CA")
        .arg("--db")
        .arg(w.path(db))
        .args([
            "ingest-litellm",
            "--json",
            "--no-parquet",
            "--database-url",
            url,
        ]);
    if let Some(ca) = ca {
        cmd.arg("--pg-ca").arg(ca);
    }
    let out = cmd.output().unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!text.contains("hunter2"), "password shown: {text}");
    (out.status.code(), text)
}

#[test]
fn connects_in_every_sslmode_and_checks_what_each_promises() {
    // The certificate names `localhost` only, so 127.0.0.1 is a host it does not name.
    let ca = pg_support::TestCa::new(&["localhost"]);
    let Some(pg) = pg_support::start_tls_or_skip(&ca, "ingest-litellm TLS") else {
        return;
    };
    let mut client = pg.local_client();
    client.batch_execute(CREATE_TABLE).unwrap();
    insert_rows(&mut client, 0, 3);
    let w = Work::new();
    let ca_file = w.path("ca.pem");
    std::fs::write(&ca_file, &ca.ca_pem).unwrap();
    let other_file = w.path("other-ca.pem");
    std::fs::write(&other_file, pg_support::TestCa::new(&["localhost"]).ca_pem).unwrap();
    let in_url = format!("sslmode=verify-full&sslrootcert={}", ca_file.display());

    // The server takes TCP over TLS only: each success read its rows over TLS.
    let ok: [(&str, &str, Option<&Path>); 6] = [
        ("127.0.0.1", "", None),
        ("127.0.0.1", "sslmode=require", None),
        ("127.0.0.1", "sslmode=require", Some(&ca_file)),
        ("127.0.0.1", "sslmode=verify-ca", Some(&ca_file)),
        ("localhost", "sslmode=verify-full", Some(&ca_file)),
        ("localhost", &in_url, None),
    ];
    for (i, (host, query, ca)) in ok.into_iter().enumerate() {
        let (code, text) = ingest_once(&w, &format!("ok{i}.db"), &pg.url_for(host, query), ca);
        assert_eq!(code, Some(0), "{host} {query}: {text}");
        let summary = common::single_json_object(&text);
        assert_eq!(int(&summary, "read"), 3, "{host} {query}");
    }

    let refused: [(&str, &str, Option<&Path>, &str); 5] = [
        // Plain TCP is refused by this server.
        ("127.0.0.1", "sslmode=disable", None, "sslmode=disable"),
        // The certificate does not name 127.0.0.1.
        (
            "127.0.0.1",
            "sslmode=verify-full",
            Some(&ca_file),
            "not valid for name \"127.0.0.1\"; certificate is only valid for DnsName(\"localhost\"); connect by a host name",
        ),
        // Signed by another CA.
        (
            "localhost",
            "sslmode=verify-full",
            Some(&other_file),
            "UnknownIssuer; give the CA",
        ),
        ("127.0.0.1", "sslmode=require", Some(&other_file), "UnknownIssuer"),
        // The test CA is not among the public roots.
        ("localhost", "sslmode=verify-full", None, "--pg-ca FILE"),
    ];
    for (i, (host, query, ca, says)) in refused.into_iter().enumerate() {
        let (code, text) = ingest_once(&w, &format!("no{i}.db"), &pg.url_for(host, query), ca);
        assert_ne!(code, Some(0), "{host} {query} connected: {text}");
        assert!(
            text.contains(says),
            "{host} {query}: expected {says:?} in {text}"
        );
        assert!(
            text.contains(&format!("postgres://postgres@{host}:{}", pg.port)),
            "{text}"
        );
    }
    let (code, text) = ingest_once(
        &w,
        "bad.db",
        &pg.url_for("localhost", "sslmode=allow"),
        None,
    );
    assert_eq!(code, Some(2), "{text}");
    assert!(
        text.contains("--database-url: sslmode=allow: use disable"),
        "{text}"
    );
    let (code, text) = ingest_once(
        &w,
        "bad.db",
        &pg.url_for("localhost", "sslmode=verify-full"),
        Some(&w.path("missing.pem")),
    );
    assert_eq!(code, Some(2), "{text}");
    assert!(text.contains("--pg-ca "), "{text}");

    // A server without TLS: prefer falls back to plain, require refuses.
    drop(pg);
    let Some(plain) = pg_support::start_or_skip("ingest-litellm TLS") else {
        return;
    };
    let mut client = plain.local_client();
    client.batch_execute(CREATE_TABLE).unwrap();
    insert_rows(&mut client, 0, 2);
    let (code, text) = ingest_once(
        &w,
        "plain.db",
        &plain.url_for("127.0.0.1", "sslmode=prefer"),
        None,
    );
    assert_eq!(code, Some(0), "{text}");
    assert_eq!(int(&common::single_json_object(&text), "read"), 2);
    let (code, text) = ingest_once(
        &w,
        "plain2.db",
        &plain.url_for("127.0.0.1", "sslmode=require"),
        None,
    );
    assert_ne!(code, Some(0), "{text}");
    assert!(text.contains("sslmode=require"), "{text}");
}

#[test]
fn the_proxys_server_can_hold_the_team_store_too() {
    let Some(pg) = pg_support::start_or_skip("ingest-litellm into PostgreSQL") else {
        return;
    };
    let mut client = pg.local_client();
    client.batch_execute(CREATE_TABLE).unwrap();
    insert_rows(&mut client, 0, 7);
    client.batch_execute("CREATE DATABASE prodlens").unwrap();
    let w = Work::new();
    let url = pg.url();
    let store = format!("{}/prodlens", url.rsplit_once('/').unwrap().0);
    assert!(store.ends_with("/prodlens"), "{store}");
    let run = || {
        let out = w
            .cmd()
            .env_remove("DATABASE_URL")
            .args(["--db", &store, "ingest-litellm", "--json", "--no-parquet"])
            .args(["--batch-rows", "3", "--database-url", &pg.url()])
            .args(["--dead-letter-dir", w.path("dead").to_str().unwrap()])
            .output()
            .unwrap();
        let (stdout, stderr) = (
            String::from_utf8(out.stdout).unwrap(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        );
        assert_eq!(out.status.code(), Some(0), "stderr: {stderr}");
        assert!(!stdout.contains("hunter2") && !stderr.contains("hunter2"));
        common::single_json_object(&stdout)
    };
    let first = run();
    assert_eq!((int(&first, "read"), int(&first, "inserted")), (7, 7));
    assert_eq!(
        int(&run(), "read"),
        0,
        "the checkpoint is kept in the store"
    );
    insert_rows(&mut client, 7, 9);
    assert_eq!(int(&run(), "inserted"), 2);
    // The store lives in its own database of the same server.
    let mut team = postgres::Config::new();
    team.host("127.0.0.1")
        .port(pg.port)
        .user("postgres")
        .password("hunter2secret")
        .dbname("prodlens");
    let mut c = team.connect(postgres::NoTls).unwrap();
    let n: i64 = c
        .query_one("SELECT COUNT(*) FROM traces", &[])
        .unwrap()
        .get(0);
    assert_eq!(n, 9);
    let cp: String = c
        .query_one("SELECT request_id FROM litellm_checkpoints", &[])
        .unwrap()
        .get(0);
    assert_eq!(cp, "req-0008");
    let requests: i64 = c
        .query_one("SELECT SUM(requests)::BIGINT FROM rollup_cells", &[])
        .unwrap()
        .get(0);
    assert_eq!(requests, 9);
}
