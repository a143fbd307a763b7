//! The verdict after a submit: evidence in, a decision out, no I/O.
//!
//! A [`Judge`] is fed one [`Evidence`] per poll (what the new spec's tasks read, the
//! supervisor's state and health, the new tasks that failed) and decides as soon as the
//! evidence allows:
//!
//! - **pass** once the upper bound of the unparseable share is under
//!   `thresholds.max_unparseable_ratio`, every expected task is reading, the supervisor has been
//!   healthy for `healthy_polls` consecutive polls, `min_observe_secs` have passed since the
//!   tasks started reading and at least `min_records` records were read;
//! - **fail** as soon as the lower bound is over the threshold, a task of the new spec fails,
//!   the supervisor is unhealthy for `healthy_polls` consecutive polls, or it is not reading
//!   with its tasks after `ready_timeout_secs`;
//! - **unverified** when `observe_secs` (the maximum) ends first: never "verified" without
//!   evidence.
//!
//! The bounds are a confidence sequence for a proportion (the beta-binomial mixture of Robbins,
//! as in Howard et al., "Time-uniform, nonparametric, nonasymptotic confidence sequences",
//! 2021): for a true share `p`, the mixture of likelihood ratios
//! `M_t(p) = B(a + S, b + F) / B(a, b) / (p^S (1 - p)^F)` (S unparseable and F other records
//! read so far) is a non-negative martingale, so by Ville's inequality it ever reaches `1/α` with
//! probability at most `α`. The set `{p : M_t(p) < 1/α}` therefore holds the true share at every
//! look at once with probability `1 - α`: polling every second, or every millisecond, does not
//! inflate the error rates. A pass when the true share is at or over the threshold, or a fail
//! when it is at or under, each happens with probability at most `α = 1 - confidence`.
//!
//! The mixing prior is `Beta(a, b)` with its mean at the threshold and the weight of half an
//! unparseable record (`a = 0.5`, `b = 0.5 (1 - θ) / θ`): at θ = 1 % and 99 % confidence a clean
//! stream passes after about 590 records and a 5 % one fails after about 180
//! (`make bench-verdict` prints the times and error rates; docs/verification.md).

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// How the judge decides; from `[thresholds]` ([`VerdictSettings::of`]).
#[derive(Debug, Clone, PartialEq)]
pub struct VerdictSettings {
    /// The unparseable share judged against (0.01).
    pub max_unparseable_ratio: f64,
    /// Confidence of the bounds (0.99): each wrong decision has at most `1 - confidence`
    /// probability, however often the judge looks.
    pub confidence: f64,
    /// Records read before a pass (100), on top of what the statistics need.
    pub min_records: u64,
    /// Time the tasks read before a pass (5 s).
    pub min_observe: Duration,
    /// Time the tasks may read before the judge gives up: `unverified` (300 s).
    pub max_observe: Duration,
    /// Time from the submit until every expected task reads before it fails (300 s).
    pub ready_timeout: Duration,
    /// Consecutive healthy polls a pass needs, and unhealthy polls a fail needs (3, Druid's own
    /// `druid.supervisor.healthinessThreshold`).
    pub healthy_polls: u32,
}

impl Default for VerdictSettings {
    fn default() -> Self {
        Self::of(&crate::config::Thresholds::default())
    }
}

impl VerdictSettings {
    /// The settings an environment's thresholds describe.
    pub fn of(thresholds: &crate::config::Thresholds) -> Self {
        Self {
            max_unparseable_ratio: thresholds.max_unparseable_ratio,
            confidence: thresholds.confidence,
            min_records: thresholds.min_records,
            min_observe: Duration::from_secs(thresholds.min_observe_secs),
            max_observe: Duration::from_secs(thresholds.observe_secs),
            ready_timeout: Duration::from_secs(thresholds.ready_timeout_secs),
            healthy_polls: thresholds.healthy_polls.max(1),
        }
    }
}

/// What one poll saw of the new spec's tasks (only theirs: the previous spec's tasks, still
/// publishing, are not this spec's evidence).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Evidence {
    /// Since the submit (or since `verify` started).
    pub elapsed: Duration,
    /// Records read by the new tasks: processed, processed with error, thrown away and
    /// unparseable.
    pub records: u64,
    /// Of which unparseable.
    pub unparseable: u64,
    /// Of which ingested with a parse error in some column.
    pub processed_with_error: u64,
    /// Of which thrown away (filtered, outside the time window).
    pub thrown_away: u64,
    /// New tasks reading now.
    pub tasks_reading: u32,
    /// Tasks the spec asks for (taskCount x replicas).
    pub tasks_expected: u32,
    /// Druid's state (`detailedState` where it says more).
    pub state: String,
    /// Healthy by Druid's `/health` and not in an unhealthy state.
    pub healthy: bool,
    /// New tasks that failed, each with Druid's error message.
    pub failed_tasks: Vec<(String, String)>,
}

/// How the judge ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Decision {
    /// The evidence shows the new spec ingests within the threshold.
    Pass,
    /// The evidence shows it does not.
    Fail,
    /// The maximum observation ended before either: no evidence either way.
    Unverified,
}

impl std::fmt::Display for Decision {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Pass => "pass",
            Self::Fail => "fail",
            Self::Unverified => "unverified",
        })
    }
}

/// A confidence interval of the unparseable share.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Bound {
    /// Lower end (a ratio).
    pub lower: f64,
    /// Upper end (a ratio).
    pub upper: f64,
}

impl std::fmt::Display for Bound {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:.2}-{:.2} %", self.lower * 100.0, self.upper * 100.0)
    }
}

/// The verdict, as the outcome, the history and the notifications carry it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VerdictReport {
    /// How it ended.
    pub decision: Decision,
    /// Records the new tasks read.
    pub records: u64,
    /// Of which unparseable.
    pub unparseable: u64,
    /// Where the unparseable share lies, at `confidence`.
    pub bound: Bound,
    /// The threshold it was judged against (a ratio).
    pub threshold: f64,
    /// Confidence of the bound (0.99).
    pub confidence: f64,
    /// From the submit (or the start of `verify`) to the decision.
    pub seconds_to_decision: f64,
    /// From the submit until every expected task was reading (none when they never were).
    #[serde(default)]
    pub reading_after_secs: Option<f64>,
    /// Why, in words.
    pub reason: String,
}

impl VerdictReport {
    /// One line for people: `pass in 7.0 s: 0 of 1200 unparseable (0.00-0.51 % at 99 %),
    /// under 1 % and healthy for 8 polls`.
    pub fn summary(&self) -> String {
        format!(
            "{} in {:.1} s: {} of {} unparseable ({} at {} %), {}",
            self.decision,
            self.seconds_to_decision,
            self.unparseable,
            self.records,
            self.bound,
            self.confidence * 100.0,
            self.reason
        )
    }
}

/// Where a judge is after a poll.
#[derive(Debug, Clone, PartialEq)]
pub enum Progress {
    /// Not decided yet: the current bound.
    Deciding(Bound),
    /// Decided.
    Decided(VerdictReport),
}

/// The sequential judge; see the [module documentation](self).
#[derive(Debug, Clone)]
pub struct Judge {
    settings: VerdictSettings,
    healthy_streak: u32,
    unhealthy_streak: u32,
    reading_since: Option<Duration>,
    last: Evidence,
}

impl Judge {
    /// A judge that has seen nothing.
    pub fn new(settings: VerdictSettings) -> Self {
        Self {
            settings,
            healthy_streak: 0,
            unhealthy_streak: 0,
            reading_since: None,
            last: Evidence::default(),
        }
    }

    /// The settings it judges by.
    pub fn settings(&self) -> &VerdictSettings {
        &self.settings
    }

    /// Whether every expected task has been reading since some poll.
    pub fn reading(&self) -> bool {
        self.reading_since.is_some()
    }

    /// Takes one poll's evidence and says whether that decides.
    pub fn observe(&mut self, evidence: Evidence) -> Progress {
        let settings = &self.settings;
        if evidence.healthy {
            self.healthy_streak += 1;
            self.unhealthy_streak = 0;
        } else {
            self.unhealthy_streak += 1;
            self.healthy_streak = 0;
        }
        if self.reading_since.is_none()
            && evidence.tasks_expected > 0
            && evidence.tasks_reading >= evidence.tasks_expected
        {
            self.reading_since = Some(evidence.elapsed);
        }
        self.last = evidence;
        let evidence = &self.last;
        let bound = bound(
            evidence.records,
            evidence.unparseable,
            settings.max_unparseable_ratio,
            settings.confidence,
        );
        if let Some((task, message)) = evidence.failed_tasks.first() {
            return Progress::Decided(self.report(Decision::Fail, format!("task {task} failed: {message}")));
        }
        if self.unhealthy_streak >= settings.healthy_polls {
            return Progress::Decided(self.report(
                Decision::Fail,
                format!("unhealthy ({}) for {} consecutive polls", evidence.state, self.unhealthy_streak),
            ));
        }
        let share = Share::of(evidence.records, evidence.unparseable, settings);
        if share == Share::Over {
            return Progress::Decided(
                self.report(Decision::Fail, format!("over {} %", percent(settings.max_unparseable_ratio))),
            );
        }
        let Some(since) = self.reading_since else {
            if evidence.elapsed >= settings.ready_timeout {
                return Progress::Decided(self.report(
                    Decision::Fail,
                    format!(
                        "not reading with {} task(s) after {} s ({}, {} reading)",
                        evidence.tasks_expected,
                        settings.ready_timeout.as_secs(),
                        evidence.state,
                        evidence.tasks_reading
                    ),
                ));
            }
            return Progress::Deciding(bound);
        };
        let reading_for = evidence.elapsed.saturating_sub(since);
        if share == Share::Under
            && evidence.records >= settings.min_records
            && self.healthy_streak >= settings.healthy_polls
            && evidence.tasks_reading >= evidence.tasks_expected
            && reading_for >= settings.min_observe
        {
            return Progress::Decided(self.report(
                Decision::Pass,
                format!(
                    "under {} % and healthy for {} poll(s)",
                    percent(settings.max_unparseable_ratio),
                    self.healthy_streak
                ),
            ));
        }
        if reading_for >= settings.max_observe {
            return Progress::Decided(self.conclude());
        }
        Progress::Deciding(bound)
    }

    /// The verdict when the observation ends undecided: `unverified`, with why.
    pub fn conclude(&self) -> VerdictReport {
        let settings = &self.settings;
        let evidence = &self.last;
        let reason = if self.reading_since.is_none() {
            format!(
                "the new tasks were not all reading ({} of {}, {})",
                evidence.tasks_reading, evidence.tasks_expected, evidence.state
            )
        } else if evidence.records == 0 {
            format!("no record read by the new tasks in {} s", settings.max_observe.as_secs())
        } else if evidence.records < settings.min_records
            || Share::of(evidence.records, evidence.unparseable, settings) == Share::Undecided
        {
            format!(
                "too few records to decide: {} read in {} s, the share may be either side of {} %",
                evidence.records,
                settings.max_observe.as_secs(),
                percent(settings.max_unparseable_ratio)
            )
        } else {
            format!("the supervisor was not healthy for {} consecutive polls", settings.healthy_polls)
        };
        self.report(Decision::Unverified, reason)
    }

    fn report(&self, decision: Decision, reason: String) -> VerdictReport {
        let settings = &self.settings;
        let evidence = &self.last;
        VerdictReport {
            decision,
            records: evidence.records,
            unparseable: evidence.unparseable,
            bound: bound(
                evidence.records,
                evidence.unparseable,
                settings.max_unparseable_ratio,
                settings.confidence,
            ),
            threshold: settings.max_unparseable_ratio,
            confidence: settings.confidence,
            seconds_to_decision: evidence.elapsed.as_secs_f64(),
            reading_after_secs: self.reading_since.map(|since| since.as_secs_f64()),
            reason,
        }
    }
}

fn percent(ratio: f64) -> String {
    let text = format!("{:.3}", ratio * 100.0);
    text.trim_end_matches('0').trim_end_matches('.').to_owned()
}

/// Which side of the threshold the evidence puts the unparseable share, at the confidence.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Share {
    Under,
    Over,
    Undecided,
}

impl Share {
    fn of(records: u64, unparseable: u64, settings: &VerdictSettings) -> Self {
        let threshold = settings.max_unparseable_ratio;
        let unparseable = unparseable.min(records);
        // The edges cannot be shown statistically: judge on the counts.
        if threshold <= 0.0 {
            return match (unparseable, records) {
                (0, n) if n >= settings.min_records.max(1) => Self::Under,
                (0, _) => Self::Undecided,
                _ => Self::Over,
            };
        }
        if threshold >= 1.0 {
            return if records > 0 { Self::Under } else { Self::Undecided };
        }
        if records == 0
            || log_mixture(records, unparseable, threshold, threshold) < level(settings.confidence)
        {
            return Self::Undecided;
        }
        #[allow(clippy::cast_precision_loss)]
        let mle = unparseable as f64 / records as f64;
        if mle < threshold { Self::Under } else { Self::Over }
    }
}

/// `ln(1 / α)`, the level the mixture must reach to exclude a share.
fn level(confidence: f64) -> f64 {
    -(1.0 - confidence).max(f64::MIN_POSITIVE).ln()
}

/// The prior's parameters for a threshold: mean at the threshold, weight of half a record
/// on the unparseable side.
fn prior(threshold: f64) -> (f64, f64) {
    let threshold = threshold.clamp(1e-9, 1.0 - 1e-9);
    (0.5, 0.5 * (1.0 - threshold) / threshold)
}

fn ln_beta(a: f64, b: f64) -> f64 {
    libm::lgamma(a) + libm::lgamma(b) - libm::lgamma(a + b)
}

/// `ln M_t(p)`: the log of the beta-binomial mixture of likelihood ratios against share `p`,
/// with the prior centred on `threshold`.
fn log_mixture(records: u64, unparseable: u64, threshold: f64, p: f64) -> f64 {
    #[allow(clippy::cast_precision_loss)]
    let (bad, good) = (unparseable as f64, records.saturating_sub(unparseable) as f64);
    let (a, b) = prior(threshold);
    let mut value = ln_beta(a + bad, b + good) - ln_beta(a, b);
    if bad > 0.0 {
        value -= bad * p.ln();
    }
    if good > 0.0 {
        value -= good * (1.0 - p).ln();
    }
    value
}

/// The confidence sequence's interval for the unparseable share after `records` records of
/// which `unparseable` were, judged against `threshold` (which centres the prior), at
/// `confidence`. Valid at every look at once. `[0, 1]` before any record.
pub fn bound(records: u64, unparseable: u64, threshold: f64, confidence: f64) -> Bound {
    let unparseable = unparseable.min(records);
    if records == 0 {
        return Bound { lower: 0.0, upper: 1.0 };
    }
    let level = level(confidence);
    let g = |p: f64| log_mixture(records, unparseable, threshold, p);
    #[allow(clippy::cast_precision_loss)]
    let mle = unparseable as f64 / records as f64;
    // g is convex with its minimum (<= 0) at the MLE: one crossing on each side.
    let crossing = |mut inside: f64, mut outside: f64| {
        // 2^-40 of the distance: far below the two decimals shown.
        for _ in 0..40 {
            let middle = f64::midpoint(inside, outside);
            if g(middle) < level {
                inside = middle;
            } else {
                outside = middle;
            }
        }
        inside
    };
    let lower = if unparseable == 0 { 0.0 } else { crossing(mle, 0.0) };
    let upper = if unparseable == records { 1.0 } else { crossing(mle, 1.0) };
    Bound { lower, upper }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> VerdictSettings {
        VerdictSettings {
            max_unparseable_ratio: 0.01,
            confidence: 0.99,
            min_records: 100,
            min_observe: Duration::from_secs(5),
            max_observe: Duration::from_mins(5),
            ready_timeout: Duration::from_mins(5),
            healthy_polls: 3,
        }
    }

    fn reading(second: u64, records: u64, unparseable: u64) -> Evidence {
        Evidence {
            elapsed: Duration::from_secs(second),
            records,
            unparseable,
            tasks_reading: 1,
            tasks_expected: 1,
            state: "RUNNING".into(),
            healthy: true,
            ..Evidence::default()
        }
    }

    #[test]
    fn the_bound_holds_the_observed_share_and_narrows_with_records() {
        let few = bound(100, 1, 0.01, 0.99);
        let many = bound(100_000, 1000, 0.01, 0.99);
        assert!(few.lower < 0.01 && few.upper > 0.01, "{few:?}");
        assert!(many.lower > 0.008 && many.upper < 0.012, "{many:?}");
        assert!(many.upper - many.lower < few.upper - few.lower);
        assert_eq!(bound(0, 0, 0.01, 0.99), Bound { lower: 0.0, upper: 1.0 });
        let clean = bound(1000, 0, 0.01, 0.99);
        assert!(clean.lower.abs() < f64::EPSILON && clean.upper < 0.01, "{clean:?}");
    }

    #[test]
    fn a_clean_stream_passes_once_healthy_long_enough_and_not_before() {
        let mut judge = Judge::new(settings());
        // Plenty of records at once, but the minimum time and the health streak are not met.
        assert!(matches!(judge.observe(reading(1, 5000, 0)), Progress::Deciding(_)));
        assert!(matches!(judge.observe(reading(2, 6000, 0)), Progress::Deciding(_)));
        assert!(matches!(judge.observe(reading(5, 7000, 0)), Progress::Deciding(_)));
        let Progress::Decided(report) = judge.observe(reading(6, 8000, 0)) else { panic!() };
        assert_eq!(report.decision, Decision::Pass);
        assert!((report.seconds_to_decision - 6.0).abs() < f64::EPSILON);
        assert!(report.bound.upper < 0.01);
    }

    #[test]
    fn garbage_fails_as_soon_as_the_lower_bound_is_over() {
        let mut judge = Judge::new(settings());
        assert!(matches!(judge.observe(reading(1, 40, 2)), Progress::Deciding(_)), "2 of 40 decides nothing");
        let Progress::Decided(report) = judge.observe(reading(2, 400, 20)) else { panic!() };
        assert_eq!(report.decision, Decision::Fail);
        assert!(report.bound.lower > 0.01, "{report:?}");
    }

    #[test]
    fn an_idle_topic_is_unverified_at_the_maximum_never_verified() {
        let mut judge = Judge::new(settings());
        for second in 0..300 {
            assert!(matches!(judge.observe(reading(second, 0, 0)), Progress::Deciding(_)));
        }
        let Progress::Decided(report) = judge.observe(reading(300, 0, 0)) else { panic!() };
        assert_eq!(report.decision, Decision::Unverified);
        assert_eq!(report.reason, "no record read by the new tasks in 300 s");
        // 40 records with none unparseable is not evidence of a share under 1 %.
        let mut judge = Judge::new(settings());
        judge.observe(reading(1, 40, 0));
        let report = judge.conclude();
        assert_eq!(report.decision, Decision::Unverified);
        assert!(report.reason.starts_with("too few records to decide"), "{report:?}");
    }

    #[test]
    fn one_unhealthy_poll_does_not_fail_but_a_streak_does() {
        let mut judge = Judge::new(settings());
        let unhealthy =
            |second| Evidence { healthy: false, state: "UNHEALTHY_TASKS".into(), ..reading(second, 10, 0) };
        assert!(matches!(judge.observe(unhealthy(1)), Progress::Deciding(_)));
        assert!(matches!(judge.observe(reading(2, 20, 0)), Progress::Deciding(_)));
        assert!(matches!(judge.observe(unhealthy(3)), Progress::Deciding(_)));
        assert!(matches!(judge.observe(unhealthy(4)), Progress::Deciding(_)));
        let Progress::Decided(report) = judge.observe(unhealthy(5)) else { panic!() };
        assert_eq!(report.decision, Decision::Fail);
        assert!(report.reason.contains("UNHEALTHY_TASKS"), "{report:?}");
    }

    #[test]
    fn a_failed_task_fails_at_once_and_a_late_start_fails_at_the_ready_timeout() {
        let mut judge = Judge::new(settings());
        let failed = Evidence { failed_tasks: vec![("t1".into(), "boom".into())], ..reading(1, 0, 0) };
        let Progress::Decided(report) = judge.observe(failed) else { panic!() };
        assert_eq!((report.decision, report.reason.as_str()), (Decision::Fail, "task t1 failed: boom"));
        let mut judge = Judge::new(settings());
        let starting =
            |second| Evidence { tasks_reading: 0, state: "PENDING".into(), ..reading(second, 0, 0) };
        assert!(matches!(judge.observe(starting(299)), Progress::Deciding(_)));
        let Progress::Decided(report) = judge.observe(starting(300)) else { panic!() };
        assert_eq!(report.decision, Decision::Fail);
        assert!(report.reason.starts_with("not reading with 1 task(s) after 300 s"), "{report:?}");
    }

    #[test]
    fn a_zero_maximum_judges_on_one_look() {
        let settings = VerdictSettings {
            max_observe: Duration::ZERO,
            min_observe: Duration::ZERO,
            healthy_polls: 1,
            ..settings()
        };
        let Progress::Decided(report) = Judge::new(settings.clone()).observe(reading(0, 990, 0)) else {
            panic!()
        };
        assert_eq!(report.decision, Decision::Pass);
        let Progress::Decided(report) = Judge::new(settings).observe(reading(0, 50, 0)) else { panic!() };
        assert_eq!(report.decision, Decision::Unverified);
    }

    #[test]
    fn a_zero_threshold_fails_on_the_first_unparseable_record() {
        let settings = VerdictSettings { max_unparseable_ratio: 0.0, ..settings() };
        let Progress::Decided(report) = Judge::new(settings).observe(reading(1, 10_000, 1)) else { panic!() };
        assert_eq!(report.decision, Decision::Fail);
    }
}
