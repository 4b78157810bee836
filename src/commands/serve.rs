//! `prod-lens serve`: check the exposure rules, open the store read-only, listen, and serve
//! until Ctrl-C or SIGTERM.

use crate::cli::ServeArgs;
use anyhow::Context;
use prod_lens::serve::{self, auth::Auth, state::AppState};
use prod_lens::Error;
use std::io::Write;
use std::net::IpAddr;
use std::sync::Arc;

/// Resolves on Ctrl-C or, on Unix, SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
}

/// Runs the command.
pub fn run(location: &prod_lens::store::StoreLocation, args: ServeArgs) -> anyhow::Result<()> {
    let bind: IpAddr = args.bind.trim().parse().map_err(|_| {
        Error::InvalidArgument(format!(
            "--bind {:?}: not an IP address (e.g. 127.0.0.1, ::1 or 0.0.0.0)",
            args.bind
        ))
    })?;
    let auth = args
        .auth_token
        .as_deref()
        .filter(|t| !t.is_empty())
        .map(Auth::new)
        .transpose()?;
    serve::check_exposure(bind, auth.is_some())?;
    anyhow::ensure!(
        location.exists(),
        Error::InvalidArgument(format!(
            "no database at {} — pass --db FILE (e.g. --db demo/cache.db after `prod-lens demo`){}",
            location.name(),
            location.missing_hint()
        ))
    );
    let name = location.name();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    // The store is opened, and finally dropped, outside the async runtime: a PostgreSQL client
    // runs a runtime of its own, which may not start or stop inside another.
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let teams = args
        .teams
        .as_deref()
        .map(|f| super::teams::read_teams(f, "--teams"))
        .transpose()?
        .unwrap_or_default();
    let key = std::env::var(prod_lens::privacy::KEY_ENV).ok();
    let state = AppState::new(location.clone(), auth, stopped)
        .with_context(|| format!("opening {name} read-only"))?
        .with_privacy(args.privacy.clone(), key, teams);
    // A flag that cannot apply (pseudonyms without a key) is named before listening.
    state
        .check_privacy()
        .context("--pseudonymize / --min-group-size")?;
    let state = Arc::new(state);
    let served = Arc::clone(&state);
    let result = runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind((bind, args.port))
            .await
            .with_context(|| format!("listening on {bind} port {}", args.port))?;
        let addr = listener.local_addr()?;
        let mut out = std::io::stdout().lock();
        writeln!(out, "listening on http://{addr}")?;
        out.flush()?;
        drop(out);
        serve::serve(listener, served, stop, shutdown_signal())
            .await
            .context("serving")
    });
    drop(runtime);
    drop(state);
    result
}
