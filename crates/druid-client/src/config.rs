//! How to reach Druid: addresses, credentials, timeouts, retries.

use std::fmt;
use std::time::Duration;

use reqwest::Url;
use secrecy::SecretString;

use crate::{Error, Result};

/// Client configuration. `Default` has no address; use [`ClientConfig::new`].
#[derive(Clone, Default)]
pub struct ClientConfig {
    /// The Router, or one address serving every API (a single-process Druid). Used for any
    /// service without its own URL below.
    pub url: Option<Url>,
    /// The Overlord (supervisors, tasks), when not reached through `url`.
    pub overlord_url: Option<Url>,
    /// The Broker (SQL), when not reached through `url`.
    pub broker_url: Option<Url>,
    /// The Coordinator (datasources), when not reached through `url`.
    pub coordinator_url: Option<Url>,
    /// Credentials sent with every request.
    pub auth: Auth,
    /// PEM certificates to trust besides the system's (a private CA).
    pub ca_cert_pem: Option<Vec<u8>>,
    /// Time to establish a connection (default 5 s).
    pub connect_timeout: Option<Duration>,
    /// Time for a whole response (default 30 s).
    pub request_timeout: Option<Duration>,
    /// What is retried, how often and for how long.
    pub retry: RetryPolicy,
}

impl ClientConfig {
    /// A configuration for a Router (or single-address Druid) at `url`.
    pub fn new(url: &str) -> Result<Self> {
        Ok(Self { url: Some(parse_url(url)?), ..Self::default() })
    }
}

/// Parses a base URL, with a clear error. Credentials written in the URL never appear in
/// the error, even when the URL does not parse.
pub fn parse_url(url: &str) -> Result<Url> {
    let shown = redact_text(url);
    let parsed = Url::parse(url).map_err(|err| Error::Config(format!("`{shown}` is not a URL: {err}")))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(Error::Config(format!("`{shown}`: only http and https are supported")));
    }
    Ok(parsed)
}

/// A URL (or text that fails to parse as one) for messages: [`crate::redact::url_text`].
pub fn redact_text(url: &str) -> String {
    crate::redact::url_text(url)
}

impl fmt::Debug for ClientConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let redacted = |url: &Option<Url>| url.as_ref().map(crate::error::redact);
        f.debug_struct("ClientConfig")
            .field("url", &redacted(&self.url))
            .field("overlord_url", &redacted(&self.overlord_url))
            .field("broker_url", &redacted(&self.broker_url))
            .field("coordinator_url", &redacted(&self.coordinator_url))
            .field("auth", &self.auth)
            .field("ca_cert_pem", &self.ca_cert_pem.as_ref().map(|pem| format!("{} bytes", pem.len())))
            .field("connect_timeout", &self.connect_timeout)
            .field("request_timeout", &self.request_timeout)
            .field("retry", &self.retry)
            .finish()
    }
}

/// Credentials. Their `Debug` never shows the secret.
#[derive(Clone, Debug, Default)]
pub enum Auth {
    /// No credentials.
    #[default]
    None,
    /// HTTP basic auth (Druid's basic security extension).
    Basic {
        /// User name.
        user: String,
        /// Password.
        password: SecretString,
    },
    /// `Authorization: Bearer <token>`.
    Bearer(SecretString),
}

/// Retry policy: exponential backoff with full jitter, bounded by attempts and a deadline.
///
/// Retried: connection failures, 5xx, 429 and 408, honouring `Retry-After`. A request that
/// is not idempotent is retried only when Druid cannot have acted on it (connection refused,
/// 503 from a non-leader Overlord, 429), never after a timeout or another 5xx.
#[derive(Clone, Debug)]
pub struct RetryPolicy {
    /// Attempts in all, the first included (default 5; 1 disables retries).
    pub max_attempts: u32,
    /// First backoff (default 200 ms); doubles each time.
    pub initial_backoff: Duration,
    /// Largest backoff, `Retry-After` included (default 5 s).
    pub max_backoff: Duration,
    /// No retry starts after this much time since the first attempt (default 60 s).
    pub deadline: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 5,
            initial_backoff: Duration::from_millis(200),
            max_backoff: Duration::from_secs(5),
            deadline: Duration::from_mins(1),
        }
    }
}

impl RetryPolicy {
    /// No retries: one attempt.
    pub fn none() -> Self {
        Self { max_attempts: 1, ..Self::default() }
    }
}

#[cfg(test)]
mod redaction_tests {
    use super::*;

    #[test]
    fn credentials_never_appear_in_url_errors() {
        for url in ["http://admin:hunter2@dru id:8888", "ftp://admin:hunter2@druid", "admin:hunter2@druid"] {
            let err = parse_url(url).map(|_| ()).unwrap_err().to_string();
            assert!(!err.contains("hunter2") && err.contains("***"), "{err}");
        }
        assert_eq!(redact_text("https://u:p@h:1/a@b"), "https://u:****@h:1/a@b");
        assert_eq!(redact_text("http://druid:8888?token=t0k"), "http://druid:8888/?token=****");
    }
}
