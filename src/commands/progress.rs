//! The ingest progress bar (bytes read, records/s) on stderr; hidden when stderr is not a
//! terminal or with `--quiet`.

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use prod_lens::ingest::Progress;
use std::io::IsTerminal;
use std::time::Instant;

/// An indicatif bar implementing the library's progress interface.
pub struct Bar {
    bar: ProgressBar,
    started: Instant,
}

impl Bar {
    /// A bar that draws only on a terminal and when not quiet.
    pub fn new(quiet: bool) -> Self {
        let target = if quiet || !std::io::stderr().is_terminal() {
            ProgressDrawTarget::hidden()
        } else {
            ProgressDrawTarget::stderr()
        };
        let bar = ProgressBar::with_draw_target(None, target);
        Bar {
            bar,
            started: Instant::now(),
        }
    }
}

impl Progress for Bar {
    fn start(&self, label: &str, total_bytes: Option<u64>) {
        let style = match total_bytes {
            Some(n) => {
                self.bar.set_length(n);
                ProgressStyle::with_template("{prefix} [{bar:30}] {bytes}/{total_bytes} {msg}")
            }
            None => {
                self.bar.unset_length();
                ProgressStyle::with_template("{prefix} {spinner} {bytes} {msg}")
            }
        };
        if let Ok(style) = style {
            self.bar.set_style(style.progress_chars("=> "));
        }
        self.bar.set_position(0);
        self.bar.set_prefix(label.to_string());
    }

    fn update(&self, bytes: u64, records: u64) {
        self.bar.set_position(bytes);
        let rate = records as f64 / self.started.elapsed().as_secs_f64().max(1e-3);
        self.bar
            .set_message(format!("{records} records, {rate:.0}/s"));
    }

    fn finish(&self) {
        self.bar.finish_and_clear();
    }
}
