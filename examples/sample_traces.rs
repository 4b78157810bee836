//! Writes the deterministic sample traces (all three shapes, ~1 % malformed) to stdout, for
//! benchmarks: `cargo run --release --example sample_traces -- 1000000 > traces.jsonl`.

use prod_lens::sample::{write_sample, SampleSpec};
use std::io::{BufWriter, Write};

fn main() -> std::io::Result<()> {
    let lines = std::env::args()
        .nth(1)
        .and_then(|s| s.parse::<u64>().ok())
        .unwrap_or(1_000_000);
    let spec = SampleSpec {
        lines,
        ..SampleSpec::demo()
    };
    let stdout = std::io::stdout();
    let mut out = BufWriter::with_capacity(1 << 20, stdout.lock());
    let stats = write_sample(&spec, &mut out)?;
    out.flush()?;
    eprintln!(
        "{} lines: {} valid, {} malformed",
        lines, stats.valid, stats.malformed
    );
    Ok(())
}
