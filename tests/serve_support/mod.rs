//! Helpers of the `serve` tests: the demo store built once per test binary, a real
//! `prod-lens serve` process on a free port, and a plain HTTP client.

#![allow(dead_code)]

use crate::common::{run_ok, Work};
use serde_json::Value;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, ExitStatus, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

/// The demo's data window and its default 28-day window (ending at the newest trace day).
pub const DEMO_SINCE: &str = "2025-09-01";
/// Last day of the demo data.
pub const DEMO_UNTIL: &str = "2025-10-12";
/// First day of the default window over the demo data.
pub const DEFAULT_SINCE: &str = "2025-09-15";

/// The demo store (`prod-lens demo`), built once per test process; copy it before serving.
pub fn demo_db() -> &'static Path {
    static DB: OnceLock<PathBuf> = OnceLock::new();
    DB.get_or_init(|| {
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!(
            "serve-demo-{}",
            std::env::current_exe()
                .ok()
                .and_then(|p| p.file_stem().map(|s| s.to_string_lossy().to_string()))
                .unwrap_or_default()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let mut cmd = assert_cmd::Command::new(env!("CARGO_BIN_EXE_prod-lens"));
        cmd.current_dir(&dir)
            .env_remove("PRODLENS_DB")
            .env_remove("RUST_LOG")
            .args(["demo", "--json", "--dir", "demo"]);
        run_ok(&mut cmd);
        let db = dir.join("demo/cache.db");
        assert!(db.is_file());
        // A closed WAL database is one file; copies of it are complete.
        assert!(!dir.join("demo/cache.db-wal").exists());
        db
    })
}

/// A copy of the demo store in `w` (`cache.db`), for a server of its own.
pub fn demo_copy(w: &Work) -> PathBuf {
    let db = w.path("cache.db");
    std::fs::copy(demo_db(), &db).unwrap();
    db
}

/// An HTTP answer.
#[derive(Debug)]
pub struct Resp {
    /// Status code.
    pub status: u16,
    /// Headers (lower-case names).
    pub headers: Vec<(String, String)>,
    /// Body text.
    pub body: String,
}

impl Resp {
    /// The first value of header `name`.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The body as JSON.
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", &self.body))
    }

    /// Asserts a 400 JSON error naming `parameter`.
    pub fn assert_bad(&self, parameter: &str) {
        assert_eq!(self.status, 400, "{}", self.body);
        assert_eq!(
            self.header("content-type"),
            Some("application/json"),
            "{}",
            self.body
        );
        let v = self.json();
        assert_eq!(v["parameter"], parameter, "{v}");
        assert!(v["error"].as_str().is_some_and(|e| !e.is_empty()), "{v}");
    }
}

/// A plain HTTP client: no proxy, no redirects followed, 4xx/5xx are answers.
pub fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .max_redirects(0)
        .proxy(None)
        .timeout_global(Some(Duration::from_secs(120)))
        .build()
        .into()
}

fn collect(mut r: ureq::http::Response<ureq::Body>) -> Resp {
    let headers = r
        .headers()
        .iter()
        .map(|(k, v)| {
            (
                k.as_str().to_string(),
                v.to_str().unwrap_or_default().to_string(),
            )
        })
        .collect();
    Resp {
        status: r.status().as_u16(),
        headers,
        body: r
            .body_mut()
            .with_config()
            .limit(64 * 1024 * 1024)
            .read_to_string()
            .unwrap(),
    }
}

/// A running `prod-lens serve`.
pub struct Server {
    child: Child,
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    /// The address printed on the `listening on` line.
    pub listening: String,
    stdout: Arc<Mutex<String>>,
    stderr: Arc<Mutex<String>>,
}

/// How `serve` ended.
pub struct Ended {
    /// Exit status.
    pub status: ExitStatus,
    /// Everything printed on stdout.
    pub stdout: String,
    /// Everything printed on stderr.
    pub stderr: String,
}

fn drain(mut r: impl Read + Send + 'static, into: Arc<Mutex<String>>) {
    std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        while let Ok(n) = r.read(&mut buf) {
            if n == 0 {
                break;
            }
            into.lock()
                .unwrap()
                .push_str(&String::from_utf8_lossy(&buf[..n]));
        }
    });
}

impl Server {
    /// Starts `prod-lens --db <db> serve --port 0 <args>` in `w` with `env`, and waits for its
    /// `listening on` line.
    pub fn start(w: &Work, db: &Path, args: &[&str], env: &[(&str, &str)]) -> Server {
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_prod-lens"));
        cmd.current_dir(w.root())
            .env_remove("PRODLENS_DB")
            .env_remove("PRODLENS_AUTH_TOKEN")
            .env_remove("RUST_LOG")
            .envs(env.iter().copied())
            .arg("--db")
            .arg(db)
            .args(["serve", "--port", "0"])
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().unwrap();
        let stderr = Arc::new(Mutex::new(String::new()));
        drain(child.stderr.take().unwrap(), Arc::clone(&stderr));
        // The first stdout line is the address; the rest is collected.
        let stdout = Arc::new(Mutex::new(String::new()));
        let (tx, rx) = mpsc::channel();
        let out = child.stdout.take().unwrap();
        let collected = Arc::clone(&stdout);
        std::thread::spawn(move || {
            let mut reader = BufReader::new(out);
            let mut first = String::new();
            let _ = reader.read_line(&mut first);
            collected.lock().unwrap().push_str(&first);
            let _ = tx.send(first);
            let mut rest = String::new();
            let _ = reader.read_to_string(&mut rest);
            collected.lock().unwrap().push_str(&rest);
        });
        let first = rx.recv_timeout(Duration::from_secs(60)).unwrap_or_default();
        let Some(url) = first.trim().strip_prefix("listening on ") else {
            let _ = child.kill();
            let _ = child.wait();
            std::thread::sleep(Duration::from_millis(200));
            panic!(
                "serve did not start: stdout {first:?}, stderr {}",
                stderr.lock().unwrap()
            );
        };
        let listening = url.to_string();
        let port = url.rsplit(':').next().unwrap().to_string();
        Server {
            child,
            base: format!("http://127.0.0.1:{port}"),
            listening,
            stdout,
            stderr,
        }
    }

    /// GET `path` with extra headers.
    pub fn get_with(&self, path: &str, headers: &[(&str, &str)]) -> Resp {
        let mut req = agent().get(format!("{}{path}", self.base));
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        collect(req.call().unwrap())
    }

    /// GET `path`.
    pub fn get(&self, path: &str) -> Resp {
        self.get_with(path, &[])
    }

    /// GET `path`, asserting 200 JSON, and returns the JSON.
    pub fn json(&self, path: &str) -> Value {
        let r = self.get(path);
        assert_eq!(r.status, 200, "{path}: {}", r.body);
        assert_eq!(r.header("content-type"), Some("application/json"), "{path}");
        r.json()
    }

    /// POST a form body to `path`.
    pub fn post_form(&self, path: &str, body: &str, headers: &[(&str, &str)]) -> Resp {
        let mut req = agent()
            .post(format!("{}{path}", self.base))
            .header("content-type", "application/x-www-form-urlencoded");
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        collect(req.send(body).unwrap())
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Everything printed so far.
    pub fn output(&self) -> (String, String) {
        (
            self.stdout.lock().unwrap().clone(),
            self.stderr.lock().unwrap().clone(),
        )
    }

    /// Sends SIGTERM and waits (at most `within`) for the process to end.
    pub fn terminate(mut self, within: Duration) -> Ended {
        // SAFETY: kill(2) on the pid of a child this test spawned and has not reaped yet.
        let rc = unsafe { libc::kill(self.child.id() as libc::pid_t, libc::SIGTERM) };
        assert_eq!(rc, 0);
        let started = Instant::now();
        let status = loop {
            if let Some(s) = self.child.try_wait().unwrap() {
                break s;
            }
            if started.elapsed() > within {
                let _ = self.child.kill();
                panic!("serve still running {within:?} after SIGTERM");
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        // Let the reader threads take the last bytes.
        std::thread::sleep(Duration::from_millis(200));
        let (stdout, stderr) = self.output();
        Ended {
            status,
            stdout,
            stderr,
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// A JSON integer.
pub fn u(v: &Value) -> u64 {
    v.as_u64().unwrap_or_else(|| panic!("not an integer: {v}"))
}

/// `prod-lens report --format json` of `db` with `args`, as JSON.
pub fn cli_report(w: &Work, db: &Path, args: &[&str]) -> Value {
    let out = run_ok(
        w.cmd()
            .arg("--db")
            .arg(db)
            .args(["report", "--format", "json"])
            .args(args),
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// A report without the parts that differ between two runs (when, and which local services
/// answered).
pub fn comparable(mut v: Value) -> Value {
    let m = v["metadata"].as_object_mut().unwrap();
    m.remove("generated_at").unwrap();
    m.remove("runtime_profile").unwrap();
    // The dashboard's report leaves the PR comparison to its pull request page (/api/prs).
    let o = v.as_object_mut().unwrap();
    for k in ["cohorts", "cohort_comparison", "assisted_cost"] {
        o.remove(k);
    }
    v
}
