//! Refresh: a long-lived read-only connection polls `PRAGMA data_version` (which changes when
//! any other connection or process commits), bumps a generation counter, and `/api/events`
//! streams it to pages as server-sent events.

use crate::store::prelude::*;
use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::State;
use axum::response::sse::{Event, KeepAlive, Sse};
use futures_util::stream::{self, Stream, StreamExt};
use tokio::sync::watch;

use super::state::{lock, AppState};

/// How often the store is polled for changes.
pub const POLL_INTERVAL: Duration = Duration::from_secs(2);

/// Detects commits to the store and counts them as generations.
pub struct Changes {
    watcher: Mutex<(Box<dyn DashboardStore>, i64)>,
    tx: watch::Sender<u64>,
}

fn data_version(store: &dyn DashboardStore) -> crate::Result<i64> {
    store.change_counter()
}

impl Changes {
    /// Watches the store through `store` (a connection of its own, kept open).
    pub fn new(store: Box<dyn DashboardStore>) -> crate::Result<Self> {
        let v = data_version(store.as_ref())?;
        Ok(Self {
            watcher: Mutex::new((store, v)),
            tx: watch::channel(0).0,
        })
    }

    /// Polls the store now and returns the current generation (bumped if data changed).
    pub fn check(&self) -> u64 {
        let mut w = lock(&self.watcher);
        match data_version(w.0.as_ref()) {
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

/// Polls the store every `every` until shutdown, warming the caches (see [`AppState::warm`])
/// at start and once the data has stopped changing for one poll, in a task of its own.
pub async fn poll(state: Arc<AppState>, every: Duration) {
    let mut shutdown = state.shutdown.clone();
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut warm = Warming::default();
    loop {
        tokio::select! {
            _ = tick.tick() => {
                let s = Arc::clone(&state);
                match tokio::task::spawn_blocking(move || s.changes.check()).await {
                    Ok(generation) => warm.tick(&state, generation),
                    Err(e) => tracing::error!("change poll failed: {e}"),
                }
            }
            _ = stopping(&mut shutdown) => break,
        }
    }
    warm.stop();
}

/// When to warm the caches: at the first poll, then after a change once a poll sees the same
/// generation again (so a running ingest that commits every second does not recompute the
/// default report each time), never two at once.
#[derive(Default)]
struct Warming {
    seen: Option<u64>,
    warmed: Option<u64>,
    running: Option<tokio::task::JoinHandle<()>>,
}

impl Warming {
    fn tick(&mut self, state: &Arc<AppState>, generation: u64) {
        let idle = self.running.as_ref().is_none_or(|t| t.is_finished());
        if self.due(generation, idle) {
            let state = Arc::clone(state);
            self.running = Some(tokio::spawn(async move { state.warm().await }));
        }
    }

    /// Whether to warm now for `generation` (recording it as warmed when so); `idle` is false
    /// while an earlier warming still runs.
    fn due(&mut self, generation: u64, idle: bool) -> bool {
        let settled = self.warmed.is_none() || self.seen == Some(generation);
        self.seen = Some(generation);
        let due = settled && idle && self.warmed != Some(generation);
        if due {
            self.warmed = Some(generation);
        }
        due
    }

    fn stop(&mut self) {
        if let Some(t) = self.running.take() {
            t.abort();
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

#[cfg(test)]
mod tests {
    use super::Warming;

    #[test]
    fn warms_at_start_then_once_the_data_settles_never_twice_at_once() {
        let mut w = Warming::default();
        assert!(w.due(0, true), "the first poll warms");
        assert!(!w.due(0, true), "nothing changed");
        assert!(!w.due(1, true), "changing: wait");
        assert!(!w.due(2, true), "still changing");
        assert!(w.due(2, true), "settled for one poll");
        assert!(!w.due(2, true), "already warm");
        assert!(!w.due(3, true));
        assert!(!w.due(3, false), "settled, but the last warming still runs");
        assert!(w.due(3, true));
    }
}
