//! The binary's allocator: mimalloc, tuned to hand memory back to the system soon.
//!
//! An ingest allocates and frees millions of short-lived records and strings on several threads
//! (reader, parsers, writer, lake encoder). With glibc's allocator a fifth of the writer thread's
//! time went to `malloc`/`free`, and each thread's arena kept what it had freed. mimalloc is
//! faster at this, but by default it backs its memory with transparent huge pages and returns
//! freed pages to the system only after a second, which raised a first Claude Code ingest's peak
//! memory from 180 MB to 260–280 MB. With huge pages off and a 10 ms purge delay it peaks lower
//! than glibc did (see BENCHMARKS.md, "Allocator and reader budget").

/// The process's global allocator.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// mimalloc's `mi_option_purge_delay` (its `mi_option_t` value in libmimalloc-sys 0.1.49, which
/// names only the options before it; a test checks it against the option's default).
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

/// Milliseconds mimalloc waits before returning freed pages to the system (its default: 1 000).
const PURGE_DELAY_MS: std::os::raw::c_long = 10;

/// Applies the tuning above; called first thing in `main`, before any thread exists.
pub fn tune() {
    // Transparent huge pages make the kernel back a whole 2 MiB for each touched part of
    // mimalloc's arenas. Turned off for this process only (the system setting is unchanged).
    #[cfg(target_os = "linux")]
    // SAFETY: prctl with PR_SET_THP_DISABLE takes plain integer arguments and changes only this
    // process's huge-page policy; a failure (old kernel) leaves it as it was.
    unsafe {
        libc::prctl(libc::PR_SET_THP_DISABLE, 1, 0, 0, 0);
    }
    // Respect an explicit delay from the environment (MIMALLOC_RESET_DELAY is its older name).
    if ["MIMALLOC_PURGE_DELAY", "MIMALLOC_RESET_DELAY"]
        .iter()
        .all(|v| std::env::var_os(v).is_none())
    {
        // SAFETY: sets one of mimalloc's integer options; options may be set at any time.
        unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, PURGE_DELAY_MS) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_purge_delay_option_is_the_one_with_its_default_of_one_second() {
        if std::env::var_os("MIMALLOC_PURGE_DELAY").is_some() {
            eprintln!("MIMALLOC_PURGE_DELAY is set: its default cannot be checked");
            return;
        }
        // The options on either side have other defaults (eager_commit_delay 1, use_numa_nodes
        // 0), so a wrong index cannot read 1 000.
        // SAFETY: reads an integer option of the linked mimalloc.
        let delay = unsafe { libmimalloc_sys::mi_option_get(MI_OPTION_PURGE_DELAY) };
        assert_eq!(delay, 1000);
        // SAFETY: as above.
        let numa =
            unsafe { libmimalloc_sys::mi_option_get(libmimalloc_sys::mi_option_use_numa_nodes) };
        assert_eq!(numa, 0);
        assert_eq!(
            MI_OPTION_PURGE_DELAY + 1,
            libmimalloc_sys::mi_option_use_numa_nodes
        );
    }
}
