//! Shared server state: read-only store connections, the data generation, and small caches of
//! computed answers (reports, session pages, status) that hold until the data changes.

use std::sync::{Arc, Mutex, MutexGuard};

use chrono::{DateTime, NaiveDate, Utc};

use super::auth::Auth;
use super::error::ApiError;
use super::events::Changes;
use super::params::Filters;
use crate::metrics::Report;
use crate::privacy::{Privacy, PrivacyFlags};
use crate::report::{runtime_profile, ReportRequest};
use crate::stats::calendar::{local_day, DayWindow};
use crate::store::prelude::DashboardStore;
use crate::store::sessions::{SessionPage, SessionQuery};
use crate::store::status::Status;
use crate::store::StoreLocation;

/// Idle connections kept for reuse.
const POOL_SIZE: usize = 4;

/// Runs listed by `/api/status` when `runs` is not given.
pub const DEFAULT_STATUS_RUNS: usize = 10;

/// Answers kept per cache (keyed by request and data generation).
const CACHE_SIZE: usize = 16;

/// A few computed answers of one kind, valid for the data generation they were computed at.
pub struct Memo<V> {
    entries: Mutex<Vec<(String, u64, Arc<V>)>>,
}

impl<V> Default for Memo<V> {
    fn default() -> Self {
        Self {
            entries: Mutex::new(Vec::new()),
        }
    }
}

impl<V> Memo<V> {
    /// The answer for `key` at `generation`, computed by `f` unless kept. Entries of older
    /// generations are dropped; the oldest entry goes when the cache is full.
    pub fn get_or_try(
        &self,
        key: String,
        generation: u64,
        f: impl FnOnce() -> Result<V, ApiError>,
    ) -> Result<Arc<V>, ApiError> {
        if let Some((_, _, v)) = lock(&self.entries)
            .iter()
            .find(|(k, g, _)| *g == generation && *k == key)
        {
            return Ok(Arc::clone(v));
        }
        // Computed without the lock: two requests may compute the same answer once each.
        let v = Arc::new(f()?);
        let mut entries = lock(&self.entries);
        entries.retain(|(_, g, _)| *g == generation);
        if entries.len() >= CACHE_SIZE {
            entries.remove(0);
        }
        entries.push((key, generation, Arc::clone(&v)));
        Ok(v)
    }
}

/// Locks a mutex, taking over its data if a holder panicked (the data stays consistent: every
/// holder below only pushes or pops whole values).
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Everything a request handler needs.
pub struct AppState {
    db: StoreLocation,
    idle: Mutex<Vec<Box<dyn DashboardStore>>>,
    reports: Memo<Report>,
    sessions: Memo<SessionPage>,
    status: Memo<Status>,
    /// Access control (None: open, loopback only).
    pub auth: Option<Auth>,
    /// Store change detection, for refresh events.
    pub changes: Changes,
    /// Flips to true when the server shuts down (ends event streams).
    pub shutdown: tokio::sync::watch::Receiver<bool>,
    /// The server's privacy flags, applied on top of the store's setting at every request.
    privacy_flags: PrivacyFlags,
    /// The pseudonym key from the environment, if any.
    pseudonym_key: Option<String>,
    /// Team entries given to the server (`--teams`), on top of the stored ones.
    teams: Vec<(String, String)>,
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
    /// State over the store at `db` (a SQLite file must exist; it is only ever opened
    /// read-only).
    pub fn new(
        db: impl Into<StoreLocation>,
        auth: Option<Auth>,
        shutdown: tokio::sync::watch::Receiver<bool>,
    ) -> crate::Result<Self> {
        let db = db.into();
        // The dashboard keeps a few readers open; each keeps the pages it read (rollups,
        // indexes) between requests.
        let first = db.open_server_reader()?;
        let changes = Changes::new(db.open_reader()?)?;
        Ok(Self {
            db,
            idle: Mutex::new(vec![first]),
            reports: Memo::default(),
            sessions: Memo::default(),
            status: Memo::default(),
            auth,
            changes,
            shutdown,
            privacy_flags: PrivacyFlags::default(),
            pseudonym_key: None,
            teams: Vec::new(),
        })
    }

    /// The same state with privacy flags, a pseudonym key (from the environment) and team
    /// entries on top of the store's.
    pub fn with_privacy(
        mut self,
        flags: PrivacyFlags,
        pseudonym_key: Option<String>,
        teams: Vec<(String, String)>,
    ) -> Self {
        self.privacy_flags = flags;
        self.pseudonym_key = pseudonym_key;
        self.teams = teams;
        self
    }

    /// Checks that the privacy in force can be applied (a key exists when pseudonyms are on).
    pub fn check_privacy(&self) -> crate::Result<()> {
        let store = self.checkout()?;
        let checked = store.privacy_settings().and_then(|stored| {
            Privacy::resolve(&stored, &self.privacy_flags, self.pseudonym_key.as_deref())
        });
        self.checkin(store);
        checked.map(|_| ())
    }

    /// The privacy in force: the store's setting (read at each request, so `prod-lens privacy`
    /// applies without a restart) with the server's flags on top.
    pub fn privacy(&self, store: &dyn DashboardStore) -> Result<Privacy, ApiError> {
        let stored = store.privacy_settings()?;
        Ok(Privacy::resolve(
            &stored,
            &self.privacy_flags,
            self.pseudonym_key.as_deref(),
        )?)
    }

    /// The stored developer id behind `asked` (a pseudonym when pseudonyms are on); 403 when
    /// per-developer views are hidden, 404 for an unknown pseudonym.
    pub fn resolve_developer(
        &self,
        store: &dyn DashboardStore,
        privacy: &Privacy,
        asked: &str,
        what: &str,
    ) -> Result<String, ApiError> {
        if privacy.refuse_developer_view(what).is_err() {
            return Err(ApiError::forbidden(format!(
                "{what} shows one developer, below the minimum group size {} of this dashboard",
                privacy.min_group_size
            )));
        }
        if privacy.pseudonyms.is_none() {
            return Ok(asked.to_string());
        }
        let known = store.linker(&[])?.names_of_all(&store.developer_ids()?);
        privacy
            .resolve_developer(asked, known.iter().map(String::as_str))
            .ok_or_else(|| ApiError::not_found(format!("no developer has the pseudonym {asked:?}")))
    }

    fn checkout(&self) -> crate::Result<Box<dyn DashboardStore>> {
        match lock(&self.idle).pop() {
            Some(s) => Ok(s),
            None => self.db.open_server_reader(),
        }
    }

    fn checkin(&self, store: Box<dyn DashboardStore>) {
        let mut idle = lock(&self.idle);
        if idle.len() < POOL_SIZE {
            idle.push(store);
        }
    }

    /// Runs `f` with a read-only store on the blocking pool; a panic in `f` answers 500.
    pub async fn with_store<T, F>(self: &Arc<Self>, f: F) -> Result<T, ApiError>
    where
        T: Send + 'static,
        F: FnOnce(&AppState, &dyn DashboardStore) -> Result<T, ApiError> + Send + 'static,
    {
        let state = Arc::clone(self);
        tokio::task::spawn_blocking(move || {
            let store = state.checkout()?;
            let out = f(&state, store.as_ref());
            state.checkin(store);
            out
        })
        .await
        .map_err(ApiError::internal)?
    }

    /// The newest trace's instant, for the default window.
    pub fn newest_trace(store: &dyn DashboardStore) -> Result<Option<DateTime<Utc>>, ApiError> {
        store.newest_trace().map_err(ApiError::internal)
    }

    /// The window `f` asks for, resolved against the store's newest trace.
    pub fn window(store: &dyn DashboardStore, f: &Filters) -> Result<DayWindow, ApiError> {
        let today: NaiveDate = local_day(Utc::now(), f.tz);
        f.window(Self::newest_trace(store)?, today)
    }

    /// The report for `f` (from the cache when the data has not changed since it was built).
    pub fn report(&self, store: &dyn DashboardStore, f: &Filters) -> Result<Computed, ApiError> {
        let window = Self::window(store, f)?;
        let mut req = f.request(&window)?;
        req.privacy = self.privacy(store)?;
        req.teams = self.teams.clone();
        let (report, generation) = self.cached_report(store, &req)?;
        Ok(Computed {
            report,
            window,
            generation,
        })
    }

    fn cached_report(
        &self,
        store: &dyn DashboardStore,
        req: &ReportRequest,
    ) -> Result<(Arc<Report>, u64), ApiError> {
        let generation = self.changes.check();
        let report = self
            .reports
            .get_or_try(format!("{req:?}"), generation, || {
                let generated_at = Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
                Ok(crate::report::build(
                    store,
                    req,
                    generated_at,
                    runtime_profile(),
                )?)
            })?;
        Ok((report, generation))
    }

    /// One page of sessions (kept until the data changes).
    pub fn sessions_page(
        &self,
        store: &dyn DashboardStore,
        q: &SessionQuery,
    ) -> Result<Arc<SessionPage>, ApiError> {
        let generation = self.changes.check();
        let privacy = self.privacy(store)?;
        let mut q = q.clone();
        if let Some(d) = &q.developer {
            q.developer = Some(self.resolve_developer(store, &privacy, d, "a developer filter")?);
        }
        let key = format!(
            "{q:?} {} {}",
            privacy.pseudonyms.is_some(),
            privacy.developers_hidden()
        );
        self.sessions.get_or_try(key, generation, || {
            let mut page = store.sessions_page(&q)?;
            if privacy.pseudonyms.is_some() || privacy.developers_hidden() {
                let linker = store.linker(&[])?;
                privacy.apply_sessions(&mut page, &|id| linker.person(id).into_owned());
            }
            Ok(page)
        })
    }

    /// What `status` shows with the last `runs` runs (kept until the data changes).
    pub fn status(&self, store: &dyn DashboardStore, runs: usize) -> Result<Arc<Status>, ApiError> {
        let generation = self.changes.check();
        self.status
            .get_or_try(runs.to_string(), generation, || Ok(store.status(runs)?))
    }

    /// Computes what the dashboard's first page asks for — `status` and the default report — so
    /// the first request after start or after new data finds them cached (and the file's pages
    /// warm). A failure is only logged: the request that needs the answer reports it.
    pub async fn warm(self: &Arc<Self>) {
        let done = self
            .with_store(|st, store| {
                st.status(store, DEFAULT_STATUS_RUNS)?;
                st.report(store, &Filters::default())?;
                Ok(())
            })
            .await;
        if let Err(e) = done {
            tracing::warn!("warming the caches: {}", e.message);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::prelude::TraceWriter;

    fn entries<V>(m: &Memo<V>) -> usize {
        lock(&m.entries).len()
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn warming_caches_status_and_the_default_report_that_requests_then_reuse() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("w.db");
        let mut store = crate::store::Store::open(&db).unwrap();
        let calls: Vec<_> = (1..=3)
            .map(|k| crate::lake::tests::record(k, Some("acme/api")))
            .collect();
        store.insert_traces(&calls, None).unwrap();
        drop(store);
        let (_stop, stopped) = tokio::sync::watch::channel(false);
        let state = Arc::new(AppState::new(db, None, stopped).unwrap());
        assert_eq!((entries(&state.status), entries(&state.reports)), (0, 0));

        state.warm().await;
        assert_eq!((entries(&state.status), entries(&state.reports)), (1, 1));
        let (status, report) = state
            .with_store(|st, s| {
                Ok((
                    st.status(s, DEFAULT_STATUS_RUNS)?,
                    st.report(s, &Filters::default())?.report,
                ))
            })
            .await
            .unwrap();
        // Served from what warming computed: still one entry each, with its numbers.
        assert_eq!((entries(&state.status), entries(&state.reports)), (1, 1));
        assert_eq!(status.traces.total, 3);
        assert_eq!(report.metrics["acme/api"].velocity.requests, 3);
    }
}
