//! Policy, all of it read from the environment's settings (never from its name): the
//! deployment window (the sample: production Tuesday-Wednesday 10:00-16:00 Paris time, dev
//! and staging any weekday), whether a deploy asks for confirmation, whether uncommitted
//! schemas may be published, and the breaking-change gate.

use jiff::Timestamp;
use jiff::civil::Weekday as JiffWeekday;
use jiff::tz::TimeZone;

use druid_mapping::DruidMapping;
use druid_mapping::compat::{Verdict, check};

use crate::config::{DeployWindow, Environment, Weekday};
use crate::publish::Baseline;
use crate::{Checked, Error, Result};

/// Whether deploys and rollbacks of `environment` need a confirmation (`confirm = true`).
pub fn needs_confirmation(environment: &Environment) -> bool {
    environment.confirm
}

/// Whether `environment` takes uncommitted schemas (`allow_dirty = true`).
pub fn allows_dirty(environment: &Environment) -> bool {
    environment.allow_dirty
}

/// The breaking-change gate: the policy (buf's category the environment's `compatibility`
/// names, `wire-json` by default) and the Druid verdict of the baseline's mapping against the
/// new one. It stops on either; only the policy can be overridden (`--allow-breaking`).
pub fn gate(environment: &Environment, baseline: &Baseline, checked: &Checked) -> Verdict {
    let mapping = DruidMapping {
        message: &baseline.message_type,
        dimensions: &baseline.dimensions,
        new_dimensions: Some(&checked.dimensions),
    };
    check(&baseline.schema, &checked.schema, environment.compatibility, Some(mapping))
}

/// Whether a deploy may start at `now` in `environment`; an error that says when the
/// window is otherwise.
pub fn check_window(environment: &Environment, now: Timestamp) -> Result<()> {
    let zone = TimeZone::get(&environment.time_zone).map_err(|err| Error::ConfigInvalid {
        path: "druidctl.toml".into(),
        at: format!("environments.{}.time_zone", environment.name),
        message: err.to_string(),
    })?;
    let local = now.to_zoned_datetime(zone);
    let window = &environment.window;
    let day = weekday(local.weekday());
    let minute = u16::from(local.hour().unsigned_abs()) * 60 + u16::from(local.minute().unsigned_abs());
    if window.days.contains(&day) && (window.start_minute..window.end_minute).contains(&minute) {
        return Ok(());
    }
    Err(Error::WindowClosed {
        environment: environment.name.clone(),
        now: local.strftime("%A %H:%M %Z").to_string(),
        window: describe(window),
    })
}

fn weekday(day: JiffWeekday) -> Weekday {
    match day {
        JiffWeekday::Monday => Weekday::Mon,
        JiffWeekday::Tuesday => Weekday::Tue,
        JiffWeekday::Wednesday => Weekday::Wed,
        JiffWeekday::Thursday => Weekday::Thu,
        JiffWeekday::Friday => Weekday::Fri,
        JiffWeekday::Saturday => Weekday::Sat,
        JiffWeekday::Sunday => Weekday::Sun,
    }
}

/// `tue, wed 10:00-16:00`.
pub fn describe(window: &DeployWindow) -> String {
    let days: Vec<&str> = window
        .days
        .iter()
        .map(|day| match day {
            Weekday::Mon => "mon",
            Weekday::Tue => "tue",
            Weekday::Wed => "wed",
            Weekday::Thu => "thu",
            Weekday::Fri => "fri",
            Weekday::Sat => "sat",
            Weekday::Sun => "sun",
        })
        .collect();
    let time = |minute: u16| format!("{:02}:{:02}", minute / 60, minute % 60);
    format!("{} {}-{}", days.join(", "), time(window.start_minute), time(window.end_minute))
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::config::{Config, Overrides};

    fn prod() -> Environment {
        let text = r#"
[schema]
message = "p.M"
[environments.prod]
datasource = "d"
time_zone = "Europe/Paris"
druid.url = "http://d"
kafka = { topic = "t", bootstrap_servers = "k:9092" }
window = { days = ["tue", "wed"], start = "10:00", end = "16:00" }
"#;
        Config::parse(text, Path::new("druidctl.toml"))
            .unwrap()
            .environment("prod", &Overrides::default())
            .unwrap()
    }

    fn at(text: &str) -> Timestamp {
        text.parse().unwrap()
    }

    #[test]
    fn production_window_in_paris_time() {
        let prod = prod();
        // Tuesday 2026-12-01 10:30 in Paris is 09:30 UTC (winter time).
        assert!(check_window(&prod, at("2026-12-01T09:30:00Z")).is_ok());
        // 08:30 UTC is 09:30 in Paris: too early.
        let err = check_window(&prod, at("2026-12-01T08:30:00Z")).unwrap_err().to_string();
        assert!(err.contains("Tuesday 09:30 CET") && err.contains("tue, wed 10:00-16:00"), "{err}");
        // Friday and Monday are avoided.
        assert!(check_window(&prod, at("2026-12-04T10:00:00Z")).is_err());
        assert!(check_window(&prod, at("2026-11-30T10:00:00Z")).is_err());
        // 16:00 closes the window.
        assert!(check_window(&prod, at("2026-12-02T15:00:00Z")).is_err());
        assert!(check_window(&prod, at("2026-12-02T14:59:00Z")).is_ok());
    }
}
