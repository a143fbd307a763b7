//! The deployment window: days and hours, in the environment's time zone, when deploys may
//! start.

use serde::Deserialize;

use crate::Result;

/// Days and hours (in the environment's time zone) when deploys may start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeployWindow {
    /// Allowed days.
    pub days: Vec<Weekday>,
    /// Opening, minutes after midnight.
    pub start_minute: u16,
    /// Closing, minutes after midnight (1440 for `24:00`).
    pub end_minute: u16,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawWindow {
    #[serde(default = "weekdays")]
    days: Vec<Weekday>,
    #[serde(default = "midnight")]
    start: String,
    #[serde(default = "end_of_day")]
    end: String,
}

impl Default for RawWindow {
    fn default() -> Self {
        Self { days: weekdays(), start: midnight(), end: end_of_day() }
    }
}

pub(super) fn weekdays() -> Vec<Weekday> {
    vec![Weekday::Mon, Weekday::Tue, Weekday::Wed, Weekday::Thu, Weekday::Fri]
}

pub(super) fn midnight() -> String {
    "00:00".to_owned()
}

pub(super) fn end_of_day() -> String {
    "24:00".to_owned()
}

impl RawWindow {
    pub(super) fn finish(self) -> Result<DeployWindow, String> {
        let start_minute = parse_hhmm(&self.start)?;
        let end_minute = parse_hhmm(&self.end)?;
        if end_minute <= start_minute {
            return Err(format!("end {} is not after start {}", self.end, self.start));
        }
        if self.days.is_empty() {
            return Err("no day is allowed; list at least one in `days`".to_owned());
        }
        Ok(DeployWindow { days: self.days, start_minute, end_minute })
    }
}

pub(super) fn parse_hhmm(text: &str) -> Result<u16, String> {
    let parsed = text
        .split_once(':')
        .and_then(|(hours, minutes)| Some((hours.parse::<u16>().ok()?, minutes.parse::<u16>().ok()?)))
        .filter(|&(hours, minutes)| minutes < 60 && (hours < 24 || (hours == 24 && minutes == 0)));
    parsed
        .map(|(hours, minutes)| hours * 60 + minutes)
        .ok_or_else(|| format!("`{text}` is not a time of day as HH:MM (00:00 to 24:00)"))
}

/// A day of the week, written `mon` ... `sun`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
#[allow(missing_docs)]
pub enum Weekday {
    Mon,
    Tue,
    Wed,
    Thu,
    Fri,
    Sat,
    Sun,
}
