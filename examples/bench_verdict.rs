//! `make bench-verdict`: the verdict engine on simulated streams. For each rate (records a
//! second) and true unparseable share, 10,000 runs of 1 s polls from the moment the tasks read,
//! with the defaults (1 % threshold, 99 % confidence, 5 s minimum, 3 healthy polls, 100
//! records at least, 300 s at most). Prints the share of pass / fail / unverified, the median
//! and p95 time to a decision, and the share of wrong decisions (a pass at or over the
//! threshold, a fail at or under it), which must stay at or under 1 - confidence.
//!
//! `bench-verdict [RUNS]` (10,000 by default). Figures, not assertions: it exits 1 only when a
//! wrong-decision share is over the configured error rate or a 5 % stream passes.
#![allow(
    clippy::print_stdout,
    clippy::cast_precision_loss,
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss
)]

use std::time::Duration;

use deploy_core::verdict::{Decision, Evidence, Judge, Progress, VerdictSettings};
use rand::SeedableRng as _;
use rand_distr::{Binomial, Distribution as _};

const RATES: [u64; 4] = [1, 10, 100, 1000];
const SHARES: [f64; 5] = [0.0, 0.005, 0.01, 0.02, 0.05];

struct Outcome {
    decision: Decision,
    seconds: f64,
}

fn run(settings: &VerdictSettings, rate: u64, share: f64, rng: &mut rand::rngs::StdRng) -> Outcome {
    let mut judge = Judge::new(settings.clone());
    let per_second = Binomial::new(rate, share).expect("a valid binomial");
    let (mut records, mut unparseable) = (0, 0);
    for second in 0.. {
        if second > 0 {
            records += rate;
            unparseable += per_second.sample(rng);
        }
        let evidence = Evidence {
            elapsed: Duration::from_secs(second),
            records,
            unparseable,
            tasks_reading: 1,
            tasks_expected: 1,
            state: "RUNNING".into(),
            healthy: true,
            ..Evidence::default()
        };
        if let Progress::Decided(report) = judge.observe(evidence) {
            return Outcome { decision: report.decision, seconds: report.seconds_to_decision };
        }
    }
    unreachable!("the judge decides by its maximum")
}

fn percentile(sorted: &[f64], q: f64) -> Option<f64> {
    (!sorted.is_empty()).then(|| sorted[((sorted.len() - 1) as f64 * q).round() as usize])
}

fn main() -> std::process::ExitCode {
    let runs: usize = std::env::args().nth(1).and_then(|arg| arg.parse().ok()).unwrap_or(10_000);
    let settings = VerdictSettings::default();
    let alpha = 1.0 - settings.confidence;
    let threshold = settings.max_unparseable_ratio;
    println!(
        "verdict engine, {runs} runs per row: threshold {} %, confidence {} %, minimum {} s and {} records, {} healthy polls, maximum {} s, 1 s polls",
        threshold * 100.0,
        settings.confidence * 100.0,
        settings.min_observe.as_secs(),
        settings.min_records,
        settings.healthy_polls,
        settings.max_observe.as_secs()
    );
    println!(
        "{:>10} {:>7} {:>7} {:>7} {:>11} {:>12} {:>9} {:>7}",
        "records/s", "share", "pass", "fail", "unverified", "median (s)", "p95 (s)", "wrong"
    );
    let mut ok = true;
    let rows: Vec<(u64, f64)> =
        RATES.iter().flat_map(|&rate| SHARES.iter().map(move |&share| (rate, share))).collect();
    // Two threads, one row each at a time (2 cores here).
    let results: Vec<(u64, f64, Vec<Outcome>)> = std::thread::scope(|scope| {
        let chunks: Vec<_> = rows
            .chunks(rows.len().div_ceil(2))
            .map(|chunk| {
                let settings = &settings;
                scope.spawn(move || {
                    chunk
                        .iter()
                        .map(|&(rate, share)| {
                            let mut rng =
                                rand::rngs::StdRng::seed_from_u64(rate * 1000 + (share * 10_000.0) as u64);
                            (rate, share, (0..runs).map(|_| run(settings, rate, share, &mut rng)).collect())
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        chunks.into_iter().flat_map(|chunk| chunk.join().expect("a bench thread")).collect()
    });
    for (rate, share, outcomes) in results {
        let count = |decision| outcomes.iter().filter(|outcome| outcome.decision == decision).count();
        let (pass, fail, unverified) =
            (count(Decision::Pass), count(Decision::Fail), count(Decision::Unverified));
        let wrong = outcomes
            .iter()
            .filter(|outcome| match outcome.decision {
                Decision::Pass => share >= threshold,
                Decision::Fail => share <= threshold,
                Decision::Unverified => false,
            })
            .count();
        let mut times: Vec<f64> = outcomes
            .iter()
            .filter(|outcome| outcome.decision != Decision::Unverified)
            .map(|o| o.seconds)
            .collect();
        times.sort_by(f64::total_cmp);
        let shown = |value: Option<f64>| value.map_or_else(|| "-".to_owned(), |value| format!("{value:.0}"));
        let percent = |n: usize| format!("{:.2}%", n as f64 * 100.0 / runs as f64);
        println!(
            "{rate:>10} {:>6.1}% {:>7} {:>7} {:>11} {:>12} {:>9} {:>7}",
            share * 100.0,
            percent(pass),
            percent(fail),
            percent(unverified),
            shown(percentile(&times, 0.5)),
            shown(percentile(&times, 0.95)),
            percent(wrong)
        );
        if wrong as f64 / runs as f64 > alpha || (share >= 0.05 && pass > 0) {
            ok = false;
        }
    }
    println!(
        "wrong decisions {} the configured error rate ({:.2} %) in every row; {}",
        if ok { "stay at or under" } else { "EXCEED" },
        alpha * 100.0,
        if ok { "no run passed a 5 % stream" } else { "see the rows above" }
    );
    if ok { std::process::ExitCode::SUCCESS } else { std::process::ExitCode::FAILURE }
}
