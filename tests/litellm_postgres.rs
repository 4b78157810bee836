//! `ingest-litellm` against a real PostgreSQL server started by the test (initdb + pg_ctl in a
//! temp folder, a random port on 127.0.0.1, its unix socket in the temp folder, stopped on drop).
//! The table is created as LiteLLM's `litellm/proxy/schema.prisma` (litellm 1.110.2) defines
//! `model LiteLLM_SpendLogs`, with Prisma's PostgreSQL types (String → TEXT, Int → INTEGER,
//! Float → DOUBLE PRECISION, DateTime → TIMESTAMP(3), Json → JSONB).
//!
//! Without initdb the test is skipped loudly, unless PRODLENS_REQUIRE_EXTERNAL=1 (then it fails).

mod common;

use common::{int, open_db, query_i64, Work};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;

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

fn find_initdb() -> Option<PathBuf> {
    let mut c: Vec<PathBuf> = vec!["/usr/local/bin/initdb".into()];
    if let Ok(rd) = std::fs::read_dir("/usr/lib/postgresql") {
        let mut v: Vec<PathBuf> = rd.flatten().map(|e| e.path().join("bin/initdb")).collect();
        v.sort();
        c.extend(v.into_iter().rev());
    }
    c.into_iter().find(|p| p.is_file())
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

/// A running PostgreSQL server, stopped (immediately) when dropped.
struct Postgres {
    bin: PathBuf,
    data: PathBuf,
    port: u16,
    as_postgres: bool,
    _dir: tempfile::TempDir,
}

impl Postgres {
    fn run(&self, tool: &str, args: &[&str]) -> std::process::Output {
        let exe = self.bin.join(tool);
        let mut c = if self.as_postgres {
            // initdb refuses to run as root.
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(exe);
            c
        } else {
            Command::new(exe)
        };
        c.args(args).output().unwrap()
    }

    fn start() -> Option<Postgres> {
        let initdb = find_initdb()?;
        let bin = initdb.parent().unwrap().to_path_buf();
        let dir = tempfile::tempdir().unwrap();
        let as_postgres = is_root();
        if as_postgres {
            let ok = Command::new("chown")
                .args(["-R", "postgres"])
                .arg(dir.path())
                .status()
                .unwrap();
            assert!(ok.success());
        }
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let pg = Postgres {
            bin,
            data: dir.path().join("data"),
            port,
            as_postgres,
            _dir: dir,
        };
        let data = pg.data.to_str().unwrap().to_string();
        let out = pg.run(
            "initdb",
            &["-D", &data, "-A", "trust", "-U", "postgres", "--no-sync"],
        );
        assert!(
            out.status.success(),
            "initdb: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let sock = pg._dir.path().to_str().unwrap().to_string();
        let opts = format!("-p {port} -k {sock} -c listen_addresses=127.0.0.1 -c fsync=off");
        let log = pg._dir.path().join("log").to_str().unwrap().to_string();
        let out = pg.run(
            "pg_ctl",
            &["-D", &data, "-o", &opts, "-l", &log, "-w", "start"],
        );
        assert!(
            out.status.success(),
            "pg_ctl start: {} {}",
            String::from_utf8_lossy(&out.stderr),
            std::fs::read_to_string(&log).unwrap_or_default()
        );
        Some(pg)
    }

    /// URL with a password (ignored by trust authentication) that must never be shown.
    fn url(&self) -> String {
        format!(
            "postgres://postgres:hunter2secret@127.0.0.1:{}/postgres",
            self.port
        )
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        let data = self.data.to_str().unwrap().to_string();
        let _ = self.run("pg_ctl", &["-D", &data, "-m", "immediate", "-w", "stop"]);
    }
}

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
    let Some(pg) = Postgres::start() else {
        if std::env::var("PRODLENS_REQUIRE_EXTERNAL").as_deref() == Ok("1") {
            panic!("initdb not found and PRODLENS_REQUIRE_EXTERNAL=1");
        }
        eprintln!("SKIPPED: no initdb (install Debian's postgresql package); the ingest-litellm test did not run");
        return;
    };
    let mut client = postgres::Client::connect(&pg.url(), postgres::NoTls).unwrap();
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
