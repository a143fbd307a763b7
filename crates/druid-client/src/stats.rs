//! Druid's `/stats` of a supervisor summed over a set of its tasks: what verification and
//! status read from it (rates, records read, the unparseable share).

use std::collections::BTreeMap;

use crate::supervisors::{RowStats, SupervisorStats};

/// Druid's `/stats` summed over a set of tasks: moving-average rates by window (rows/s) and
/// the totals since each task started.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StatsSum {
    /// Moving-average rows/s by window (`1m`, `5m`, `15m`).
    pub rates: BTreeMap<String, f64>,
    /// Rows processed.
    pub processed: f64,
    /// Rows processed with an error.
    pub processed_with_error: f64,
    /// Records that could not be parsed.
    pub unparseable: f64,
    /// Rows thrown away (outside the time window, filtered).
    pub thrown_away: f64,
}

impl StatsSum {
    /// The tasks of `stats` whose id `keep` accepts.
    pub fn of(stats: &SupervisorStats, keep: impl Fn(&str) -> bool) -> Self {
        let mut sum = Self::default();
        for (_, task) in stats.values().flat_map(BTreeMap::iter).filter(|(id, _)| keep(id)) {
            if let Some(averages) =
                task.moving_averages.as_ref().and_then(|phases| phases.build_segments.as_ref())
            {
                for (window, row) in averages {
                    *sum.rates.entry(window.clone()).or_default() += row.processed;
                }
            }
            if let Some(totals) = task.totals.as_ref().and_then(|phases| phases.build_segments) {
                sum.add(&totals);
            }
        }
        sum
    }

    /// Adds one task's totals.
    pub fn add(&mut self, totals: &RowStats) {
        self.processed += totals.processed;
        self.processed_with_error += totals.processed_with_error;
        self.unparseable += totals.unparseable;
        self.thrown_away += totals.thrown_away;
    }

    /// Every record read: processed, with error, thrown away, unparseable.
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    pub fn records(&self) -> u64 {
        (self.processed + self.processed_with_error + self.thrown_away + self.unparseable).max(0.0) as u64
    }

    /// Rows/s over `window` (`1m`, `5m`, `15m`); 0 when no task reports it.
    pub fn rate(&self, window: &str) -> f64 {
        self.rates.get(window).copied().unwrap_or(0.0)
    }

    /// Unparseable over everything read (0 when nothing was read).
    pub fn unparseable_ratio(&self) -> f64 {
        ratio(self.unparseable, self.processed)
    }
}

/// `part / (part + rest)`, 0 when both are 0.
pub fn ratio(part: f64, rest: f64) -> f64 {
    if part + rest > 0.0 { part / (part + rest) } else { 0.0 }
}
