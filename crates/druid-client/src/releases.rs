//! What each Druid release does that matters to druidctl, from the version `/status` reports.
//! One table ([`Release::capabilities`]); `plan`, `deploy` and `status` read it instead of
//! comparing version strings where they are used.

use std::fmt;

/// A Druid version as `/status` reports it (`33.0.0`, `35.0.1`, `36.0.0-SNAPSHOT`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Release {
    /// Major version (Druid numbers releases 0.x, then 24, 25, ...).
    pub major: u32,
    /// Minor version.
    pub minor: u32,
    /// Patch version.
    pub patch: u32,
}

impl Release {
    /// Parses `33.0.0` (a suffix such as `-SNAPSHOT` is ignored); `None` when it is not one.
    pub fn parse(version: &str) -> Option<Self> {
        let core = version.trim().split(['-', '+']).next()?;
        let mut parts = core.split('.').map(str::parse::<u32>);
        let major = parts.next()?.ok()?;
        let minor = parts.next().unwrap_or(Ok(0)).ok()?;
        let patch = parts.next().unwrap_or(Ok(0)).ok()?;
        Some(Self { major, minor, patch })
    }

    /// What this release does (the table).
    pub fn capabilities(self) -> Capabilities {
        let at_least = |major: u32| self.major >= major;
        Capabilities {
            skip_restart_if_unmodified: at_least(33),
            kafka_time_lag_metrics: at_least(33),
            several_supervisors_per_datasource: at_least(34),
            topic_change_refused: at_least(34),
            protobuf_descriptors_broken: self.major == 35 && self.minor == 0,
            strict_dimension_types: at_least(35),
            tls_host_checks: at_least(35),
        }
    }
}

impl fmt::Display for Release {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.major, self.minor, self.patch)
    }
}

/// What a release does that druidctl depends on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[allow(clippy::struct_excessive_bools)] // a table of facts, one per column
pub struct Capabilities {
    /// `POST /supervisor?skipRestartIfUnmodified=true` (33+): an unchanged spec keeps its tasks.
    pub skip_restart_if_unmodified: bool,
    /// Kafka time-lag metrics when `ioConfig.emitTimeLagMetrics` is set (33+).
    pub kafka_time_lag_metrics: bool,
    /// Several supervisors per datasource (34+, experimental).
    pub several_supervisors_per_datasource: bool,
    /// Changing a supervisor's topic is refused with a 400 (34+).
    pub topic_change_refused: bool,
    /// Protobuf `file` and `inline` descriptors fail to load (35.0.x, apache/druid#18730; fixed
    /// in 36 by apache/druid#18770): a protobuf spec cannot ingest.
    pub protobuf_descriptors_broken: bool,
    /// Invalid dimension types are refused (35+, apache/druid#18565).
    pub strict_dimension_types: bool,
    /// Jetty 12's strict SNI host checks under TLS (35+): an https URL by IP address or
    /// `localhost` can get a 400.
    pub tls_host_checks: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn of(version: &str) -> Capabilities {
        Release::parse(version).unwrap().capabilities()
    }

    #[test]
    fn parses_what_status_reports() {
        assert_eq!(Release::parse("33.0.0"), Some(Release { major: 33, minor: 0, patch: 0 }));
        assert_eq!(Release::parse("36.0.0-SNAPSHOT").unwrap().to_string(), "36.0.0");
        assert_eq!(Release::parse("35.0.1").unwrap().minor, 0);
        assert_eq!(Release::parse("not a version"), None);
    }

    #[test]
    fn one_row_per_release() {
        let v33 = of("33.0.0");
        assert!(v33.skip_restart_if_unmodified && v33.kafka_time_lag_metrics);
        assert!(!v33.several_supervisors_per_datasource && !v33.protobuf_descriptors_broken);
        let v32 = of("32.0.1");
        assert!(!v32.skip_restart_if_unmodified);
        let v34 = of("34.0.0");
        assert!(
            v34.several_supervisors_per_datasource && v34.topic_change_refused && !v34.strict_dimension_types
        );
        for broken in ["35.0.0", "35.0.1"] {
            let caps = of(broken);
            assert!(caps.protobuf_descriptors_broken && caps.strict_dimension_types && caps.tls_host_checks);
        }
        let v36 = of("36.0.0");
        assert!(!v36.protobuf_descriptors_broken && v36.strict_dimension_types);
    }
}
