//! Version and channel names: validated before any I/O, so a name can never escape its
//! folder (`../`), hide (`.x`) or collide with a channel.

use std::fmt;

use crate::{Error, Result};

/// Longest accepted name.
pub const MAX_NAME: usize = 64;

/// The channels environments follow by default.
pub const STANDARD_CHANNELS: [&str; 3] = ["develop-latest", "staging-latest", "stable"];

/// Prefix of a reference to a channel's previous version (`previous-stable`).
pub const PREVIOUS: &str = "previous-";

/// A schema version name: the short git commit (`abc123f`), a dirty dev build
/// (`abc123f-dirty-1a2b3c4d5e6f`) or a content digest (`sha256-1a2b3c4d5e6f`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Version(String);

/// A channel name (`stable`, ...).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Channel(String);

fn check(kind: &'static str, name: &str) -> Result<()> {
    let reason = if name.is_empty() {
        Some("it is empty".to_owned())
    } else if name.len() > MAX_NAME {
        Some(format!("it is longer than {MAX_NAME} characters"))
    } else if name.contains("..") {
        Some("it contains `..`".to_owned())
    } else if name.starts_with(['.', '-']) {
        Some("it starts with `.` or `-`".to_owned())
    } else {
        name.chars().find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))).map(|bad| {
            format!("`{}` is not allowed (letters, digits, `.`, `_`, `-` only)", bad.escape_default())
        })
    };
    match reason {
        Some(reason) => Err(Error::InvalidName { kind, name: name.escape_default().to_string(), reason }),
        None => Ok(()),
    }
}

impl Version {
    /// Validates a version name.
    pub fn parse(name: &str) -> Result<Self> {
        check("version", name)?;
        if STANDARD_CHANNELS.contains(&name) || name.starts_with(PREVIOUS) {
            return Err(Error::InvalidName {
                kind: "version",
                name: name.to_owned(),
                reason: "it is a channel name, not a version".to_owned(),
            });
        }
        Ok(Self(name.to_owned()))
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Channel {
    /// Validates a channel name.
    pub fn parse(name: &str) -> Result<Self> {
        check("channel", name)?;
        if name.starts_with(PREVIOUS) {
            return Err(Error::InvalidName {
                kind: "channel",
                name: name.to_owned(),
                reason: format!("`{PREVIOUS}` is how a channel's previous version is named"),
            });
        }
        Ok(Self(name.to_owned()))
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Display for Channel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_validated() {
        for good in ["abc123f", "abc123f-dirty-1a2b3c4d5e6f", "sha256-1a2b3c4d5e6f", "v1.2.3", "A_b"] {
            assert!(Version::parse(good).is_ok(), "{good}");
        }
        for bad in
            ["", "../x", "a/b", "a..b", ".hidden", "-x", "a b", "stable", "previous-stable", "a\\b", "ü"]
        {
            let err = Version::parse(bad).unwrap_err().to_string();
            assert!(err.starts_with("invalid version name"), "{bad}: {err}");
        }
        assert!(Version::parse(&"a".repeat(MAX_NAME + 1)).is_err());
        assert!(Channel::parse("stable").is_ok());
        assert!(Channel::parse("previous-x").is_err());
        assert!(Channel::parse("../x").is_err());
    }
}
