//! How often the report's association tests find something that is not there, and how often
//! they find something that is: `cargo run --release --example simulate_inference -- [--replicates 200] [--markdown]`.
//!
//! Each replicate simulates one repo's daily series over 2, 4 or 8 weeks in a world where the
//! truth is known, then runs exactly the report's association code (series filtering, every AI
//! series × outcome × lag 0–3, partial correlations, the primary question `requests:commits:1`
//! then Benjamini–Hochberg over the rest) and records whether anything came out significant.
//!
//! Worlds (AI use and delivery independent unless a link is planted):
//! - `weekend`: both drop to 15 % at weekends;
//! - `profile`: both follow the same Monday-to-Friday profile (busy Monday, quiet Friday, idle weekend);
//! - `trend`: weekend dip plus both doubling over the window;
//! - `holidays`: weekend dip plus two holidays a month at 5 %, given to the report as `--holiday`;
//! - `planted`: weekend dip, and commits and merged PRs of day d + 1 follow the AI use of day d
//!   with the same strength as the demo data (log-scale slope 1, equal noise).
//!
//! AI day noise and delivery day noise are lognormal (σ = 0.35); counts are Poisson around them.
//! Every method (`calendar`, `none`, `none` with business days) sees the same replicates.

use std::collections::BTreeSet;

use chrono::{Datelike, Duration, NaiveDate, Weekday};
use prod_lens::metrics::association::{
    adjust, associations, primary, AssociationOptions, PrimarySpec, RepoSeries,
};
use prod_lens::sample::Rng;
use prod_lens::stats::adjusted::Adjust;
use prod_lens::stats::calendar::DayWindow;
use prod_lens::stats::lagged::DailySeries;

const SIGMA: f64 = 0.35;

#[derive(Clone, Copy, PartialEq)]
enum World {
    Weekend,
    Profile,
    Trend,
    Holidays,
    Planted,
}

impl World {
    fn name(self) -> &'static str {
        match self {
            World::Weekend => "weekend dip",
            World::Profile => "Mon–Fri profile",
            World::Trend => "weekend dip + trend",
            World::Holidays => "weekend dip + holidays",
            World::Planted => "planted lag-1 link",
        }
    }
}

fn normal(r: &mut Rng) -> f64 {
    let u1 = r.unit().max(1e-300);
    let u2 = r.unit();
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

fn poisson(r: &mut Rng, mean: f64) -> f64 {
    if mean <= 0.0 {
        return 0.0;
    }
    if mean > 40.0 {
        return (mean + mean.sqrt() * normal(r)).round().max(0.0);
    }
    let l = (-mean).exp();
    let (mut k, mut p) = (0.0, 1.0);
    loop {
        p *= r.unit();
        if p <= l {
            return k;
        }
        k += 1.0;
    }
}

fn holidays(start: NaiveDate, days: i64) -> BTreeSet<NaiveDate> {
    // Two weekday holidays a month: the 2nd Wednesday and the 4th Monday of each 4 weeks.
    (0..days)
        .map(|i| start + Duration::days(i))
        .filter(|d| {
            let week = (*d - start).num_days() / 7 % 4;
            (week == 1 && d.weekday() == Weekday::Wed) || (week == 3 && d.weekday() == Weekday::Mon)
        })
        .collect()
}

fn shared(world: World, day: NaiveDate, t: f64, hol: &BTreeSet<NaiveDate>) -> f64 {
    let wd = day.weekday().num_days_from_monday() as usize;
    let weekend = if wd >= 5 { 0.15 } else { 1.0 };
    match world {
        World::Profile => [1.3, 1.15, 1.0, 0.85, 0.6, 0.12, 0.08][wd],
        World::Trend => weekend * (1.0 + t),
        World::Holidays if hol.contains(&day) => 0.05,
        _ => weekend,
    }
}

/// One replicate's series, built the way the report builds them.
fn replicate(world: World, weeks: i64, seed: u64, opts: &AssociationOptions) -> RepoSeries {
    let mut r = Rng::new(seed);
    let start = NaiveDate::from_ymd_opt(2025, 9, 1).unwrap_or_default();
    let days = weeks * 7;
    let window = DayWindow::new(start, start + Duration::days(days - 1)).expect("window");
    let hol = holidays(start, days);
    let mut ai = vec![Vec::new(); 4];
    let mut out = vec![Vec::new(); 2];
    let mut medians = Vec::new();
    let mut prev_ai_noise = 0.0;
    for i in 0..days {
        let day = start + Duration::days(i);
        let f = shared(world, day, i as f64 / days as f64, &hol);
        let e_ai = normal(&mut r);
        let ai_level = f * (SIGMA * e_ai).exp();
        let requests = poisson(&mut r, 150.0 * ai_level);
        ai[0].push((day, requests));
        ai[1].push((day, poisson(&mut r, 14.0 * ai_level)));
        let tokens = (requests * 2500.0 * (0.25 * normal(&mut r)).exp()).round();
        ai[2].push((day, tokens));
        ai[3].push((day, tokens * 4e-6 * (0.1 * normal(&mut r)).exp()));
        let link = if world == World::Planted {
            SIGMA * prev_ai_noise
        } else {
            0.0
        };
        let out_level = f * (link + SIGMA * normal(&mut r)).exp();
        out[0].push((day, poisson(&mut r, 9.0 * out_level)));
        let merged = poisson(&mut r, 3.0 * out_level);
        out[1].push((day, merged));
        if merged > 0.0 {
            let mut hours: Vec<f64> = (0..merged as usize)
                .map(|_| 10.0 * (0.9 * normal(&mut r)).exp())
                .collect();
            hours.sort_by(f64::total_cmp);
            let m = hours.len();
            let med = if m % 2 == 1 {
                hours[m / 2]
            } else {
                (hours[m / 2 - 1] + hours[m / 2]) / 2.0
            };
            medians.push((day, med));
        }
        prev_ai_noise = e_ai;
    }
    let sum = |p: Vec<(NaiveDate, f64)>| {
        opts.select_days(DailySeries::complete(&window, p).expect("finite series"))
    };
    let mut outcome: Vec<DailySeries> = out.into_iter().map(sum).collect();
    outcome
        .push(opts.select_days(DailySeries::observed(&window, medians).expect("finite medians")));
    RepoSeries::from_counted(ai.into_iter().map(sum).collect(), outcome, opts.adjust)
}

#[derive(Default, Clone, Copy)]
struct Tally {
    any: usize,
    primary: usize,
    discoveries: usize,
    false_discoveries: usize,
    insufficient: usize,
    primary_r: f64,
    primary_r_n: usize,
}

fn run_cell(world: World, weeks: i64, reps: usize, adjust_mode: Adjust, business: bool) -> Tally {
    let mut t = Tally::default();
    let start = NaiveDate::from_ymd_opt(2025, 9, 1).unwrap_or_default();
    let opts = AssociationOptions {
        adjust: adjust_mode,
        permutations: 0,
        max_lag: 3,
        business_days: business,
        holidays: if world == World::Holidays {
            holidays(start, weeks * 7)
        } else {
            BTreeSet::new()
        },
        primary: PrimarySpec::default(),
        q: 0.05,
    };
    for k in 0..reps {
        let seed = 0x51u64 ^ (k as u64).wrapping_mul(0x9E37_79B9) ^ ((weeks as u64) << 40);
        let s = replicate(world, weeks, seed, &opts);
        let mut a = associations("sim/repo", &s, &opts);
        adjust(&mut a, opts.q);
        let p = primary("sim/repo", &a, &opts.primary);
        let sig: Vec<_> = a
            .iter()
            .filter(|x| x.significant.pearson || x.significant.spearman)
            .collect();
        t.any += usize::from(!sig.is_empty());
        t.primary += usize::from(p.significant);
        if let Some(r) = p.r {
            t.primary_r += r;
            t.primary_r_n += 1;
        }
        t.insufficient +=
            usize::from(p.inference == prod_lens::metrics::association::Inference::Insufficient);
        for x in &sig {
            t.discoveries += 1;
            let true_link = world == World::Planted
                && x.lag == 1
                && (x.outcome_series == "commits" || x.outcome_series == "merged_prs");
            t.false_discoveries += usize::from(!true_link);
        }
    }
    t
}

fn pct(a: usize, b: usize) -> String {
    format!("{:.1} %", 100.0 * a as f64 / b.max(1) as f64)
}

fn main() {
    let mut reps = 200usize;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--replicates" => {
                reps = args.next().and_then(|v| v.parse().ok()).unwrap_or_else(|| {
                    eprintln!("--replicates needs a number");
                    std::process::exit(2)
                })
            }
            other => {
                eprintln!("unknown argument {other}");
                std::process::exit(2)
            }
        }
    }
    let methods = [
        ("calendar (default)", Adjust::Calendar, false),
        ("none", Adjust::None, false),
        ("none + business days", Adjust::None, true),
    ];
    println!("Replicates per cell: {reps}. q = 0.05; primary question requests:commits:1, then BH over the other 95 tests (4 AI series × 3 outcomes × lags 0–3, Pearson and Spearman). 'any significant' counts replicates with at least one significant test.\n");
    println!("| world | weeks | method | any significant | primary significant | false discoveries / discoveries | primary `insufficient` | mean primary r |");
    println!("|---|---|---|---|---|---|---|---|");
    for world in [
        World::Weekend,
        World::Profile,
        World::Trend,
        World::Holidays,
        World::Planted,
    ] {
        for weeks in [2, 4, 8] {
            for (name, mode, business) in methods {
                if let Ok(only) = std::env::var("SIM_ONLY") {
                    if only != format!("{}:{weeks}:{name}", world.name()) {
                        continue;
                    }
                }
                let t = run_cell(world, weeks, reps, mode, business);
                println!(
                    "| {} | {weeks} | {name} | {} | {} | {} of {} ({}) | {} | {:.2} |",
                    world.name(),
                    pct(t.any, reps),
                    pct(t.primary, reps),
                    t.false_discoveries,
                    t.discoveries,
                    pct(t.false_discoveries, t.discoveries),
                    pct(t.insufficient, reps),
                    t.primary_r / t.primary_r_n.max(1) as f64,
                );
            }
        }
    }
}
