//! Refresh: a long-lived read-only connection polls `PRAGMA data_version` (which changes when
//! any other connection or process commits), bumps a generation counter, and `/api/events`
//! streams it to pages as server-sent events.

use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::State;
use axum::response::sse::{Event, KeepAlive, Sse};
use futures_util::stream::{self, Stream, StreamExt};
use tokio::sync::watch;

use super::state::{lock, AppState};
use crate::store::Store;

/// How often the store is polled for changes.
pub const POLL_INTERVAL: Duration = Duration::from_secs(2);

/// Detects commits to the store and counts them as generations.
pub struct Changes {
    watcher: Mutex<(Store, i64)>,
    tx: watch::Sender<u64>,
}

fn data_version(store: &Store) -> crate::Result<i64> {
    Ok(store
        .conn()
        .query_row("PRAGMA data_version", [], |r| r.get(0))?)
}

impl Changes {
    /// Watches the store through `store` (a connection of its own, kept open).
    pub fn new(store: Store) -> crate::Result<Self> {
        let v = data_version(&store)?;
        Ok(Self {
            watcher: Mutex::new((store, v)),
            tx: watch::channel(0).0,
        })
    }

    /// Polls the store now and returns the current generation (bumped if data changed).
    pub fn check(&self) -> u64 {
        let mut w = lock(&self.watcher);
        match data_version(&w.0) {
            Ok(v) if v != w.1 => {
                w.1 = v;
                self.tx.send_modify(|g| *g += 1);
            }
            Ok(_) => {}
            Err(e) => tracing::warn!("polling the store for changes: {e}"),
        }
        *self.tx.borrow()
    }

    /// The current generation without polling.
    pub fn generation(&self) -> u64 {
        *self.tx.borrow()
    }

    /// A receiver told about every new generation.
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.tx.subscribe()
    }
}

/// Resolves once the shutdown flag is set (or its sender is gone).
pub async fn stopping(flag: &mut watch::Receiver<bool>) {
    let _ = flag.wait_for(|stop| *stop).await.map(|_| ());
}

/// Polls the store every `every` until shutdown, warming the caches at start and after each
/// change.
pub async fn poll(state: Arc<AppState>, every: Duration) {
    let mut shutdown = state.shutdown.clone();
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut warmed: Option<u64> = None;
    loop {
        tokio::select! {
            _ = tick.tick() => {
                let s = Arc::clone(&state);
                match tokio::task::spawn_blocking(move || s.changes.check()).await {
                    Ok(generation) if warmed != Some(generation) => {
                        state.warm().await;
                        warmed = Some(generation);
                    }
                    Ok(_) => {}
                    Err(e) => tracing::error!("change poll failed: {e}"),
                }
            }
            _ = stopping(&mut shutdown) => break,
        }
    }
}

fn event(kind: &'static str, generation: u64) -> Event {
    Event::default()
        .event(kind)
        .data(format!("{{\"generation\":{generation}}}"))
}

/// `GET /api/events`: `hello` with the current generation, then `change` on every new one;
/// ends when the server shuts down.
pub async fn events(
    State(state): State<Arc<AppState>>,
) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    let rx = state.changes.subscribe();
    let shutdown = state.shutdown.clone();
    let hello = event("hello", state.changes.generation());
    let changes = stream::unfold((rx, shutdown), |(mut rx, mut shutdown)| async move {
        let changed = tokio::select! {
            changed = rx.changed() => changed.is_ok(),
            _ = stopping(&mut shutdown) => false,
        };
        if !changed {
            return None;
        }
        let g = *rx.borrow_and_update();
        Some((Ok(event("change", g)), (rx, shutdown)))
    });
    Sse::new(stream::once(async move { Ok(hello) }).chain(changes))
        .keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
}
