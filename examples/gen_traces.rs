//! Deterministic benchmark data: `cargo run --release --example gen_traces -- --n 1000000 --out FILE`.
//!
//! Writes realistic JSONL traces in all three input shapes (seed span, LiteLLM logger, LiteLLM
//! StandardLoggingPayload) with ~0.5 % malformed lines, using `prod_lens::sample`. `--gzip` writes
//! gzip; `--demo-layout` uses the demo's team, 2 repos, 42 days and 1 % malformed lines;
//! `--realistic-sessions` the demo's repos and window with 40 developers and Claude Code-like
//! session density (a new session about every 8 calls). The same arguments always give the same
//! bytes.

use chrono::NaiveDate;
use prod_lens::sample::{write_sample_with, SampleSpec, SessionLayout};
use std::io::{BufWriter, Write};

fn main() {
    if let Err(e) = run() {
        eprintln!("gen_traces: {e}");
        std::process::exit(2);
    }
}

fn run() -> Result<(), Box<dyn std::error::Error>> {
    let mut n: u64 = 1_000_000;
    let mut out: Option<String> = None;
    let mut gzip = false;
    let mut seed = 7u64;
    let mut developers = 200usize;
    let mut demo_layout = false;
    let mut realistic = false;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--n" => {
                n = args
                    .next()
                    .ok_or("--n needs a value")?
                    .replace('_', "")
                    .parse()?
            }
            "--out" => out = Some(args.next().ok_or("--out needs a path")?),
            "--seed" => seed = args.next().ok_or("--seed needs a value")?.parse()?,
            "--developers" => {
                developers = args.next().ok_or("--developers needs a value")?.parse()?
            }
            "--gzip" => gzip = true,
            "--demo-layout" => demo_layout = true,
            "--realistic-sessions" => realistic = true,
            "-h" | "--help" => {
                println!("gen_traces --n N --out FILE [--gzip] [--seed S] [--developers D] [--demo-layout] [--realistic-sessions]");
                return Ok(());
            }
            other => return Err(format!("unknown argument {other}").into()),
        }
    }
    let out = out.ok_or("--out FILE is required")?;
    let layout = if realistic {
        SessionLayout::Realistic {
            calls_per_session: 8,
        }
    } else {
        SessionLayout::Few
    };
    let spec = if realistic {
        // Claude Code-like density in the demo's repos and window: 40 developers with a new
        // session about every 8 calls (1 M lines give over 100 000 session-days).
        SampleSpec {
            lines: n,
            developers: 40,
            ..SampleSpec::demo()
        }
    } else if demo_layout {
        // The demo's team, repos, window and 1 % malformed lines, at size N.
        SampleSpec {
            lines: n,
            ..SampleSpec::demo()
        }
    } else {
        SampleSpec {
            lines: n,
            developers,
            start: NaiveDate::from_ymd_opt(2025, 6, 2).ok_or("bad date")?,
            days: 120,
            repos: (0..20).map(|i| format!("acme/service-{i:02}")).collect(),
            malformed_per_mille: 5,
            seed,
        }
    };
    let file = BufWriter::with_capacity(1 << 20, std::fs::File::create(&out)?);
    let stats = if gzip {
        let mut enc = flate2::write::GzEncoder::new(file, flate2::Compression::fast());
        let s = write_sample_with(&spec, layout, &mut enc)?;
        enc.finish()?.flush()?;
        s
    } else {
        let mut file = file;
        let s = write_sample_with(&spec, layout, &mut file)?;
        file.flush()?;
        s
    };
    eprintln!(
        "wrote {out}: {} lines ({} valid: {} seed-span, {} litellm-logger, {} litellm-payload; {} malformed)",
        stats.valid + stats.malformed,
        stats.valid,
        stats.by_shape[0],
        stats.by_shape[1],
        stats.by_shape[2],
        stats.malformed
    );
    Ok(())
}
