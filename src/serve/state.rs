//! Shared server state: read-only store connections, the data generation and a small cache of
//! computed reports.

use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};

use chrono::{DateTime, NaiveDate, Utc};

use super::auth::Auth;
use super::error::ApiError;
use super::events::Changes;
use super::params::Filters;
use crate::metrics::Report;
use crate::report::{runtime_profile, ReportRequest};
use crate::stats::calendar::{local_day, DayWindow};
use crate::store::Store;

/// Idle connections kept for reuse.
const POOL_SIZE: usize = 4;

/// Reports kept (keyed by request and data generation).
const CACHE_SIZE: usize = 16;

/// Locks a mutex, taking over its data if a holder panicked (the data stays consistent: every
/// holder below only pushes or pops whole values).
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Everything a request handler needs.
pub struct AppState {
    db: PathBuf,
    idle: Mutex<Vec<Store>>,
    cache: Mutex<Vec<(String, u64, Arc<Report>)>>,
    /// Access control (None: open, loopback only).
    pub auth: Option<Auth>,
    /// Store change detection, for refresh events.
    pub changes: Changes,
    /// Flips to true when the server shuts down (ends event streams).
    pub shutdown: tokio::sync::watch::Receiver<bool>,
}

/// A report with the window it covers and the filters that produced it.
pub struct Computed {
    /// The report.
    pub report: Arc<Report>,
    /// Its window.
    pub window: DayWindow,
    /// The data generation it was computed at (pages reload when the server's moves on).
    pub generation: u64,
}

impl AppState {
    /// State over the database at `db` (which must exist; it is only ever opened read-only).
    pub fn new(
        db: PathBuf,
        auth: Option<Auth>,
        shutdown: tokio::sync::watch::Receiver<bool>,
    ) -> crate::Result<Self> {
        let first = Store::open_read_only(&db)?;
        let changes = Changes::new(Store::open_read_only(&db)?)?;
        Ok(Self {
            db,
            idle: Mutex::new(vec![first]),
            cache: Mutex::new(Vec::new()),
            auth,
            changes,
            shutdown,
        })
    }

    fn checkout(&self) -> crate::Result<Store> {
        match lock(&self.idle).pop() {
            Some(s) => Ok(s),
            None => Store::open_read_only(&self.db),
        }
    }

    fn checkin(&self, store: Store) {
        let mut idle = lock(&self.idle);
        if idle.len() < POOL_SIZE {
            idle.push(store);
        }
    }

    /// Runs `f` with a read-only store on the blocking pool; a panic in `f` answers 500.
    pub async fn with_store<T, F>(self: &Arc<Self>, f: F) -> Result<T, ApiError>
    where
        T: Send + 'static,
        F: FnOnce(&AppState, &Store) -> Result<T, ApiError> + Send + 'static,
    {
        let state = Arc::clone(self);
        tokio::task::spawn_blocking(move || {
            let store = state.checkout()?;
            let out = f(&state, &store);
            state.checkin(store);
            out
        })
        .await
        .map_err(ApiError::internal)?
    }

    /// The newest trace's instant, for the default window.
    pub fn newest_trace(store: &Store) -> Result<Option<DateTime<Utc>>, ApiError> {
        let us: Option<i64> = store
            .conn()
            .query_row("SELECT MAX(timestamp_us) FROM traces", [], |r| r.get(0))
            .map_err(ApiError::internal)?;
        Ok(us.and_then(DateTime::from_timestamp_micros))
    }

    /// The window `f` asks for, resolved against the store's newest trace.
    pub fn window(store: &Store, f: &Filters) -> Result<DayWindow, ApiError> {
        let today: NaiveDate = local_day(Utc::now(), f.tz);
        f.window(Self::newest_trace(store)?, today)
    }

    /// The report for `f` (from the cache when the data has not changed since it was built).
    pub fn report(&self, store: &Store, f: &Filters) -> Result<Computed, ApiError> {
        let window = Self::window(store, f)?;
        let req = f.request(&window)?;
        let (report, generation) = self.cached_report(store, &req)?;
        Ok(Computed {
            report,
            window,
            generation,
        })
    }

    fn cached_report(
        &self,
        store: &Store,
        req: &ReportRequest,
    ) -> Result<(Arc<Report>, u64), ApiError> {
        let generation = self.changes.check();
        let key = format!("{req:?}");
        if let Some((_, _, r)) = lock(&self.cache)
            .iter()
            .find(|(k, g, _)| *g == generation && *k == key)
        {
            return Ok((Arc::clone(r), generation));
        }
        let generated_at = Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        let report = Arc::new(crate::report::build(
            store,
            req,
            generated_at,
            runtime_profile(),
        )?);
        let mut cache = lock(&self.cache);
        cache.retain(|(_, g, _)| *g == generation);
        if cache.len() >= CACHE_SIZE {
            cache.remove(0);
        }
        cache.push((key, generation, Arc::clone(&report)));
        Ok((report, generation))
    }
}
