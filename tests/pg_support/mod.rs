//! A real PostgreSQL server for the tests: initdb + pg_ctl from Debian's `postgresql` package in a
//! temp folder, a random port on 127.0.0.1, its unix socket in the temp folder, stopped on drop.
//! [`Postgres::start_tls`] makes a server that accepts TCP connections over TLS only, with a
//! certificate signed by a CA made for the test ([`TestCa`]).
//!
//! Without initdb a test is skipped loudly ([`start_or_skip`]), unless
//! PRODLENS_REQUIRE_EXTERNAL=1 (then it fails).

#![allow(dead_code)]

use serde_json::Value;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;

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

/// A CA made for one test, and a server certificate it signed.
pub struct TestCa {
    /// The CA certificate (PEM).
    pub ca_pem: String,
    /// The server's certificate (PEM), for `names`.
    pub server_pem: String,
    /// The server's private key (PEM).
    pub server_key_pem: String,
}

impl TestCa {
    /// A new CA and a server certificate for the host `names` (DNS names or IP addresses).
    pub fn new(names: &[&str]) -> TestCa {
        use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};
        let ca_key = KeyPair::generate().unwrap();
        let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        // A name of its own: another test CA must be an unknown issuer, not a forged one.
        static MADE: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = MADE.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        ca.distinguished_name
            .push(DnType::CommonName, format!("ProdLens test CA {n}"));
        let ca_cert = ca.self_signed(&ca_key).unwrap();
        let issuer = Issuer::new(ca, ca_key);
        let key = KeyPair::generate().unwrap();
        let mut server =
            CertificateParams::new(names.iter().map(|s| s.to_string()).collect::<Vec<_>>())
                .unwrap();
        server.distinguished_name.push(DnType::CommonName, names[0]);
        let cert = server.signed_by(&key, &issuer).unwrap();
        TestCa {
            ca_pem: ca_cert.pem(),
            server_pem: cert.pem(),
            server_key_pem: key.serialize_pem(),
        }
    }
}

/// A running PostgreSQL server, stopped (immediately) when dropped.
pub struct Postgres {
    bin: PathBuf,
    data: PathBuf,
    /// Its TCP port on 127.0.0.1.
    pub port: u16,
    as_postgres: bool,
    dir: tempfile::TempDir,
}

/// Starts a plain server, or says loudly why the calling test is skipped (None); with
/// PRODLENS_REQUIRE_EXTERNAL=1 a missing server fails the test instead.
pub fn start_or_skip(test: &str) -> Option<Postgres> {
    skip_unless(Postgres::start(), test)
}

/// As [`start_or_skip`], for a TLS-only server with the certificate of `ca`.
pub fn start_tls_or_skip(ca: &TestCa, test: &str) -> Option<Postgres> {
    skip_unless(Postgres::start_tls(ca), test)
}

fn skip_unless(pg: Option<Postgres>, test: &str) -> Option<Postgres> {
    if pg.is_none() {
        if std::env::var("PRODLENS_REQUIRE_EXTERNAL").as_deref() == Ok("1") {
            panic!("initdb not found and PRODLENS_REQUIRE_EXTERNAL=1");
        }
        eprintln!(
            "SKIPPED: no initdb (install Debian's postgresql package); the {test} test did not run"
        );
    }
    pg
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

    /// A server accepting plain and TLS-less connections from 127.0.0.1 (trust).
    pub fn start() -> Option<Postgres> {
        Self::start_with(None)
    }

    /// A server that accepts TCP connections over TLS only (trust), with `ca`'s server
    /// certificate.
    pub fn start_tls(ca: &TestCa) -> Option<Postgres> {
        Self::start_with(Some(ca))
    }

    fn start_with(tls: Option<&TestCa>) -> Option<Postgres> {
        let initdb = find_initdb()?;
        let bin = initdb.parent().unwrap().to_path_buf();
        let dir = tempfile::tempdir().unwrap();
        let as_postgres = is_root();
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
            dir,
        };
        if as_postgres {
            pg.chown(pg.dir.path());
        }
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
        let sock = pg.dir.path().to_str().unwrap().to_string();
        let mut opts = format!("-p {port} -k {sock} -c listen_addresses=127.0.0.1 -c fsync=off");
        if let Some(ca) = tls {
            let write = |name: &str, text: &str| {
                let p = pg.data.join(name);
                std::fs::write(&p, text).unwrap();
                // The server refuses a key others can read.
                use std::os::unix::fs::PermissionsExt;
                std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600)).unwrap();
                if as_postgres {
                    pg.chown(&p);
                }
            };
            write("server.crt", &ca.server_pem);
            write("server.key", &ca.server_key_pem);
            write(
                "pg_hba.conf",
                "local all all trust\n\
                 hostssl all all 127.0.0.1/32 trust\n\
                 hostnossl all all 0.0.0.0/0 reject\n",
            );
            opts.push_str(" -c ssl=on -c ssl_cert_file=server.crt -c ssl_key_file=server.key");
        }
        let log = pg.dir.path().join("log").to_str().unwrap().to_string();
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

    fn chown(&self, p: &Path) {
        let ok = Command::new("chown")
            .args(["-R", "postgres"])
            .arg(p)
            .status()
            .unwrap();
        assert!(ok.success());
    }

    /// URL with a password (ignored by trust authentication) that must never be shown.
    pub fn url(&self) -> String {
        self.url_for("127.0.0.1", "")
    }

    /// The same URL through `host`, with `query` (`sslmode=…`) appended when not empty.
    pub fn url_for(&self, host: &str, query: &str) -> String {
        let q = if query.is_empty() {
            String::new()
        } else {
            format!("?{query}")
        };
        format!(
            "postgres://postgres:hunter2secret@{host}:{}/postgres{q}",
            self.port
        )
    }

    /// A client over the server's unix socket (no TLS needed), for setting up data.
    pub fn local_client(&self) -> postgres::Client {
        postgres::Config::new()
            .host_path(self.dir.path())
            .port(self.port)
            .user("postgres")
            .dbname("postgres")
            .connect(postgres::NoTls)
            .unwrap()
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        let data = self.data.to_str().unwrap().to_string();
        let _ = self.run("pg_ctl", &["-D", &data, "-m", "immediate", "-w", "stop"]);
    }
}

/// Removes what differs by nature between two runs or stores: times of the run, the store's
/// name, run ids and durations.
pub fn scrub(v: &mut Value) {
    match v {
        Value::Object(o) => {
            for k in [
                "generated_at",
                "runtime_profile",
                "database",
                "started_at",
                "finished_at",
                "last_sync",
                "last_trace_ingest",
                "last_github_sync",
                "id",
                "elapsed_ms",
                "schema_version",
            ] {
                o.remove(k);
            }
            o.values_mut().for_each(scrub);
        }
        Value::Array(a) => a.iter_mut().for_each(scrub),
        _ => {}
    }
}

/// The first path where `a` and `b` differ (floats equal to 12 significant digits: sums
/// of the same costs in another order).
pub fn diff(path: &str, a: &Value, b: &Value) -> Option<String> {
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            let keys: std::collections::BTreeSet<&String> = x.keys().chain(y.keys()).collect();
            keys.into_iter().find_map(|k| match (x.get(k), y.get(k)) {
                (Some(p), Some(q)) => diff(&format!("{path}.{k}"), p, q),
                _ => Some(format!("{path}.{k}: only on one side")),
            })
        }
        (Value::Array(x), Value::Array(y)) if x.len() == y.len() => x
            .iter()
            .zip(y)
            .enumerate()
            .find_map(|(i, (p, q))| diff(&format!("{path}[{i}]"), p, q)),
        (Value::Number(p), Value::Number(q)) if p.is_f64() || q.is_f64() => {
            let (p, q) = (p.as_f64().unwrap(), q.as_f64().unwrap());
            ((p - q).abs() > 1e-12 * p.abs().max(q.abs()).max(1.0))
                .then(|| format!("{path}: {p} vs {q}"))
        }
        _ => (a != b).then(|| format!("{path}: {a} vs {b}")),
    }
}

/// Asserts two lists of rows are equal, naming the first row that differs.
pub fn same_rows(what: &str, a: &[String], b: &[String]) {
    if let Some(i) = (0..a.len().max(b.len())).find(|&i| a.get(i) != b.get(i)) {
        panic!(
            "{what}: {} vs {} rows; first difference at row {i}:\n  {:?}\n  {:?}",
            a.len(),
            b.len(),
            a.get(i),
            b.get(i)
        );
    }
}

/// Runs the binary with `args` in `dir` (no PRODLENS_DB from the environment), asserts success
/// and returns stdout.
pub fn prod_lens(dir: &Path, args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_prod-lens"))
        .current_dir(dir)
        .env_remove("PRODLENS_DB")
        .env_remove("RUST_LOG")
        .args(args)
        .output()
        .unwrap();
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    );
    assert!(out.status.success(), "{:?}: {stderr}", &args[2..]);
    assert!(!stdout.contains("hunter2") && !stderr.contains("hunter2"));
    stdout
}

/// Generates the demo's inputs under `dir/demo` and stores them in each of `dbs` by the same
/// commands (`ingest-traces --no-parquet`, `ingest-github --from-json`).
pub fn fill_with_demo_inputs(dir: &Path, dbs: &[&str]) {
    let demo = dir.join("demo");
    let d = demo.to_str().unwrap();
    prod_lens(dir, &["--db", &format!("{d}/cache.db"), "demo", "--dir", d]);
    let dead = dir.join("dead");
    for db in dbs {
        prod_lens(
            dir,
            &[
                "--db",
                db,
                "ingest-traces",
                "--no-parquet",
                "--quiet",
                "--dead-letter-dir",
                dead.to_str().unwrap(),
                &format!("{d}/traces"),
            ],
        );
        prod_lens(
            dir,
            &[
                "--db",
                db,
                "ingest-github",
                "--repo",
                "acme/api",
                "--repo",
                "acme/web",
                "--from-json",
                &format!("{d}/github"),
            ],
        );
    }
}

/// Every rollup row as text (costs to 9 decimals: sums of the same costs in another order).
pub fn rollup_rows(c: &mut postgres::Client) -> Vec<String> {
    let mut out = Vec::new();
    for sql in [
        "SELECT repo, hour, developer, model, requests, tokens, errors, cost_unknown,
                ROUND(cost_usd::NUMERIC, 9)::TEXT, ttft_n FROM rollup_cells ORDER BY 1, 2, 3, 4",
        "SELECT repo, day, developer, session, hours, models, requests, tokens, errors,
                ROUND(cost_usd::NUMERIC, 9)::TEXT, first_us, last_us
         FROM rollup_sessions ORDER BY 1, 2, 3, 4",
        "SELECT repo, hour, developer, model, status, error_class, errors
         FROM rollup_errors ORDER BY 1, 2, 3, 4, 5, 6",
    ] {
        for r in c.query(sql, &[]).unwrap() {
            let cells: Vec<String> = (0..r.len())
                .map(|i| {
                    r.try_get::<_, String>(i)
                        .or_else(|_| r.try_get::<_, i64>(i).map(|v| v.to_string()))
                        .unwrap()
                })
                .collect();
            out.push(cells.join(" "));
        }
    }
    out
}
