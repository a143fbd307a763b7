//! The thresholds of verification, monitoring and preflight, with the runbook's defaults.

use serde::Deserialize;

use crate::Result;

/// Thresholds of the post-deploy checks and monitoring; defaults are the team's runbook values.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Thresholds {
    /// Largest unparseable / processed ratio accepted (0.01).
    #[serde(default = "default_unparseable")]
    pub max_unparseable_ratio: f64,
    /// Largest failed / completed ratio of recent tasks accepted (0.05).
    #[serde(default = "default_task_failure")]
    pub max_task_failure_ratio: f64,
    /// Largest ingestion lag accepted, in seconds (300).
    #[serde(default = "default_lag")]
    pub max_lag_seconds: u64,
    /// Moving average (`1m`, `5m` or `15m`) the ingestion rate is read from (`5m`).
    #[serde(default = "default_rate_window")]
    pub rate_window: String,
    /// Seconds to wait for the supervisor to be RUNNING and healthy after a submit (300).
    #[serde(default = "default_ready_timeout")]
    pub ready_timeout_secs: u64,
    /// Hours of completed tasks the task failure ratio is computed over (24).
    #[serde(default = "default_task_window")]
    pub task_window_hours: u32,
    /// The longest the new tasks are watched before the verdict gives up (300): the verdict
    /// comes as soon as the evidence allows (docs/verification.md), and a topic that gives too
    /// little evidence in this time ends `unverified`, never verified. 0 judges on one look.
    #[serde(default = "default_observe")]
    pub observe_secs: u64,
    /// The shortest the new tasks read before a pass (5).
    #[serde(default = "default_min_observe")]
    pub min_observe_secs: u64,
    /// How sure the verdict must be (0.99): a deploy whose true unparseable share is over the
    /// threshold passes, or one under it fails, in at most 1 % of deploys, however often the
    /// verdict looks.
    #[serde(default = "default_confidence")]
    pub confidence: f64,
    /// The fewest records the new tasks read before a pass (100); the statistics alone need
    /// about 590 at a 1 % threshold and 99 % confidence.
    #[serde(default = "default_min_records")]
    pub min_records: u64,
    /// Consecutive healthy polls a pass needs, and unhealthy polls a fail needs (3, as
    /// Druid's own supervisor health).
    #[serde(default = "default_healthy_polls")]
    pub healthy_polls: u32,
    /// What a deploy does when its verdict is `unverified` (too little evidence by
    /// `observe_secs`): `keep` the new spec and move the channel (recorded `unverified`), or
    /// `rollback` as on a failure.
    #[serde(default)]
    pub on_unverified: OnUnverified,
    /// Report a zero ingestion rate as a warning, not a failure (for idle topics; `monitor`).
    #[serde(default)]
    pub rate_warn_only: bool,
    /// Report an empty SQL probe as a warning, not a failure (for idle topics).
    #[serde(default)]
    pub probe_warn_only: bool,
}

/// What a deploy does with an `unverified` verdict.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum OnUnverified {
    /// Keep the new spec live and move the channel; the history says `unverified`.
    #[default]
    Keep,
    /// Restore the previous version, as after a failed verification.
    Rollback,
}

impl Default for Thresholds {
    fn default() -> Self {
        Self {
            max_unparseable_ratio: default_unparseable(),
            max_task_failure_ratio: default_task_failure(),
            max_lag_seconds: default_lag(),
            rate_window: default_rate_window(),
            ready_timeout_secs: default_ready_timeout(),
            task_window_hours: default_task_window(),
            observe_secs: default_observe(),
            min_observe_secs: default_min_observe(),
            confidence: default_confidence(),
            min_records: default_min_records(),
            healthy_polls: default_healthy_polls(),
            on_unverified: OnUnverified::Keep,
            rate_warn_only: false,
            probe_warn_only: false,
        }
    }
}

impl Thresholds {
    pub(super) fn check(&self) -> Result<(), String> {
        for (name, ratio) in [
            ("max_unparseable_ratio", self.max_unparseable_ratio),
            ("max_task_failure_ratio", self.max_task_failure_ratio),
        ] {
            if !(0.0..=1.0).contains(&ratio) {
                return Err(format!("{name} = {ratio} is not a ratio between 0 and 1 (1 % is 0.01)"));
            }
        }
        if !(0.5..=0.999_999).contains(&self.confidence) {
            return Err(format!(
                "confidence = {} is out of range (0.5 to 0.999999; 99 % is 0.99)",
                self.confidence
            ));
        }
        if !matches!(self.rate_window.as_str(), "1m" | "5m" | "15m") {
            return Err(format!("rate_window = `{}`: Druid averages over 1m, 5m or 15m", self.rate_window));
        }
        // Ranges that keep the waits and the lease arithmetic meaningful.
        for (name, value, low, high) in [
            ("ready_timeout_secs", self.ready_timeout_secs, 1, 86_400),
            ("observe_secs", self.observe_secs, 0, 86_400),
            ("min_observe_secs", self.min_observe_secs, 0, 3600),
            ("min_records", self.min_records, 0, 1_000_000_000),
            ("healthy_polls", u64::from(self.healthy_polls), 1, 100),
            ("max_lag_seconds", self.max_lag_seconds, 1, 31_622_400),
            ("task_window_hours", u64::from(self.task_window_hours), 1, 8_784),
        ] {
            if !(low..=high).contains(&value) {
                return Err(format!("{name} = {value} is out of range ({low} to {high})"));
            }
        }
        Ok(())
    }
}

/// `[preflight]`: how much of the topic preflight reads and when its verdict fails. Defaults:
/// the last 1000 records of each partition, at most 64 MiB per partition and 30 s; the
/// runbook's 1 % of unparseable records; a column whose null share rises by more than 50
/// points from the live schema fails. `deploy` runs it before the submit unless `enabled =
/// false` (or `--skip-preflight --reason`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PreflightSettings {
    /// Whether `deploy` runs preflight before the submit (true).
    #[serde(default = "default_true")]
    pub enabled: bool,
    /// Records read per partition (1000).
    #[serde(default = "default_preflight_sample")]
    pub sample: usize,
    /// Bytes read per partition, at most (64 MiB).
    #[serde(default = "default_preflight_bytes")]
    pub max_bytes: u64,
    /// Seconds for reading the sample (30).
    #[serde(default = "default_preflight_timeout")]
    pub timeout_secs: u64,
    /// Largest predicted unparseable ratio accepted (0.01).
    #[serde(default = "default_unparseable")]
    pub max_unparseable_ratio: f64,
    /// Largest rise of a dimension's null ratio accepted (0.5).
    #[serde(default = "default_null_increase")]
    pub max_null_increase: f64,
}

impl Default for PreflightSettings {
    fn default() -> Self {
        Self {
            enabled: true,
            sample: default_preflight_sample(),
            max_bytes: default_preflight_bytes(),
            timeout_secs: default_preflight_timeout(),
            max_unparseable_ratio: default_unparseable(),
            max_null_increase: default_null_increase(),
        }
    }
}

impl PreflightSettings {
    pub(super) fn check(&self) -> Result<(), String> {
        for (name, ratio) in [
            ("max_unparseable_ratio", self.max_unparseable_ratio),
            ("max_null_increase", self.max_null_increase),
        ] {
            if !(0.0..=1.0).contains(&ratio) {
                return Err(format!("{name} = {ratio} is not a ratio between 0 and 1 (1 % is 0.01)"));
            }
        }
        for (name, value, low, high) in [
            ("sample", self.sample as u64, 1, 1_000_000),
            ("timeout_secs", self.timeout_secs, 1, 3600),
            ("max_bytes", self.max_bytes, 1024, 1 << 34),
        ] {
            if !(low..=high).contains(&value) {
                return Err(format!("{name} = {value} is out of range ({low} to {high})"));
            }
        }
        Ok(())
    }
}

pub(super) fn default_true() -> bool {
    true
}

pub(super) fn default_preflight_sample() -> usize {
    1000
}

pub(super) fn default_preflight_bytes() -> u64 {
    64 << 20
}

pub(super) fn default_preflight_timeout() -> u64 {
    30
}

pub(super) fn default_null_increase() -> f64 {
    0.5
}

pub(super) fn default_unparseable() -> f64 {
    0.01
}

pub(super) fn default_task_failure() -> f64 {
    0.05
}

pub(super) fn default_lag() -> u64 {
    300
}

pub(super) fn default_rate_window() -> String {
    "5m".to_owned()
}

pub(super) fn default_ready_timeout() -> u64 {
    300
}

pub(super) fn default_observe() -> u64 {
    300
}

pub(super) fn default_min_observe() -> u64 {
    5
}

pub(super) fn default_confidence() -> f64 {
    0.99
}

pub(super) fn default_min_records() -> u64 {
    100
}

pub(super) fn default_healthy_polls() -> u32 {
    3
}

pub(super) fn default_task_window() -> u32 {
    24
}
