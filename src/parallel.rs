//! Running independent per-item work (a report's repos) on a few threads, results in order.

use std::sync::atomic::{AtomicUsize, Ordering};

/// Threads worth using for `items` independent items: the machine's cores, at most one per item.
pub fn threads_for(items: usize) -> usize {
    std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(items)
        .max(1)
}

/// Computes `f(worker, i)` for every `i` in `0..n`, one thread per worker (the first on the
/// calling thread), each taking the next item when it is free; returns the results in item
/// order (none without workers). A panic in any thread is passed on.
pub fn map_in_order<W: Send, T: Send>(
    n: usize,
    workers: Vec<W>,
    f: impl Fn(&mut W, usize) -> T + Sync,
) -> Vec<T> {
    let next = AtomicUsize::new(0);
    let work = |mut w: W| {
        let mut done = Vec::new();
        loop {
            let i = next.fetch_add(1, Ordering::Relaxed);
            if i >= n {
                return done;
            }
            done.push((i, f(&mut w, i)));
        }
    };
    let mut workers = workers.into_iter();
    let Some(first) = workers.next() else {
        return Vec::new();
    };
    let mut slots: Vec<Option<T>> = (0..n).map(|_| None).collect();
    std::thread::scope(|scope| {
        let helpers: Vec<_> = workers.map(|w| scope.spawn(|| work(w))).collect();
        let mut all = work(first);
        for h in helpers {
            all.extend(h.join().unwrap_or_else(|p| std::panic::resume_unwind(p)));
        }
        for (i, r) in all {
            slots[i] = Some(r);
        }
    });
    slots
        .into_iter()
        .map(|r| r.unwrap_or_else(|| unreachable!("every item is taken by exactly one worker")))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn results_come_back_in_item_order_from_every_worker() {
        let seen = std::sync::Mutex::new(std::collections::HashSet::new());
        let out = map_in_order(100, vec![0usize, 1, 2], |w, i| {
            seen.lock().unwrap().insert(std::thread::current().id());
            // Uneven work so that the workers interleave.
            std::thread::sleep(std::time::Duration::from_micros((i % 7) as u64 * 50));
            (*w, i * i)
        });
        assert_eq!(out.len(), 100);
        for (i, (_, sq)) in out.iter().enumerate() {
            assert_eq!(*sq, i * i);
        }
        let by: std::collections::BTreeSet<usize> = out.iter().map(|(w, _)| *w).collect();
        assert!(by.len() > 1, "only worker(s) {by:?} took items");
        assert!(seen.lock().unwrap().len() > 1);
    }

    #[test]
    fn no_workers_or_no_items() {
        assert!(map_in_order(3, Vec::<()>::new(), |_, i| i).is_empty());
        assert!(map_in_order(0, vec![()], |_, i| i).is_empty());
    }

    #[test]
    fn a_panic_in_a_helper_reaches_the_caller() {
        let r = std::panic::catch_unwind(|| {
            map_in_order(8, vec![0, 1], |w, i| {
                if *w == 1 {
                    panic!("helper fails on {i}");
                }
                std::thread::sleep(std::time::Duration::from_millis(5));
                i
            })
        });
        assert!(r.is_err());
    }

    #[test]
    fn threads_for_is_at_least_one_and_at_most_the_items() {
        assert_eq!(threads_for(0), 1);
        assert_eq!(threads_for(1), 1);
        assert!(threads_for(64) >= 1 && threads_for(64) <= 64);
    }
}
