//! One error type for every call, and Druid's two error body shapes.

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// How much of an error body is kept.
const BODY_LIMIT: usize = 2048;

/// Errors of this crate.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Druid (or a proxy in front of it) answered with an error status.
    #[error("{method} {url} -> {status}{}{}", describe(druid.as_deref(), body), tries(*attempts, *elapsed))]
    Http {
        /// HTTP method.
        method: String,
        /// URL, credentials redacted.
        url: String,
        /// Status code, kept whatever the body is (HTML from a proxy, empty from a
        /// non-leader Overlord).
        status: u16,
        /// The body, truncated.
        body: String,
        /// Druid's error when the body is one.
        druid: Option<Box<DruidError>>,
        /// Attempts made.
        attempts: u32,
        /// Time spent, retries included.
        elapsed: Duration,
    },
    /// No answer: connection refused, DNS, TLS, timeout.
    #[error("{method} {url}: {}{}", if *timed_out { "timed out" } else { "no response" }, tries(*attempts, *elapsed))]
    Transport {
        /// HTTP method.
        method: String,
        /// URL, credentials redacted.
        url: String,
        /// Whether the request timed out (connect or response).
        timed_out: bool,
        /// Whether the connection itself failed (nothing reached Druid).
        connect: bool,
        /// The transport error, its URL removed.
        #[source]
        source: reqwest::Error,
        /// Attempts made.
        attempts: u32,
        /// Time spent, retries included.
        elapsed: Duration,
    },
    /// The answer was not what the API promises.
    #[error("{method} {url}: unexpected response at `{path}`: {message}")]
    Decode {
        /// HTTP method.
        method: String,
        /// URL, credentials redacted.
        url: String,
        /// Where in the JSON the mismatch is (`payload.activeTasks[0].lag`).
        path: String,
        /// What did not match.
        message: String,
    },
    /// Writing a streamed body (a task log) to its destination failed.
    #[error("writing {what} failed")]
    Write {
        /// What was being written.
        what: &'static str,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The client configuration is unusable (bad URL, unreadable CA certificate).
    #[error("invalid Druid client configuration: {0}")]
    Config(String),
}

/// Druid's message, or the body's first line: a Java stack trace stops at its first line
/// (the whole body stays in the error's `body`).
fn describe(druid: Option<&DruidError>, body: &str) -> String {
    match druid.and_then(DruidError::message) {
        Some(message) => format!(": {}", first_line(message)),
        None if body.trim().is_empty() => String::new(),
        None => format!(": {}", first_line(body)),
    }
}

fn first_line(body: &str) -> String {
    let mut lines = body.trim().lines();
    let line = lines.next().unwrap_or_default();
    let more = lines.next().is_some();
    if line.len() > 200 {
        format!("{}...", truncate(line, 200))
    } else if more {
        format!("{line} (...)")
    } else {
        line.to_owned()
    }
}

fn tries(attempts: u32, elapsed: Duration) -> String {
    if attempts > 1 {
        format!(" (after {attempts} attempts, {:.1}s)", elapsed.as_secs_f64())
    } else {
        String::new()
    }
}

impl Error {
    /// Whether the resource does not exist (HTTP 404).
    pub fn is_not_found(&self) -> bool {
        self.status() == Some(404)
    }

    /// Whether trying again later may succeed: no answer, 5xx, 429 or 408.
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::Transport { .. } => true,
            Self::Http { status, .. } => *status >= 500 || *status == 429 || *status == 408,
            _ => false,
        }
    }

    /// The HTTP status, when there was an answer.
    pub fn status(&self) -> Option<u16> {
        match self {
            Self::Http { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// Druid's own error, when the body was one.
    pub fn druid_error(&self) -> Option<&DruidError> {
        match self {
            Self::Http { druid, .. } => druid.as_deref(),
            _ => None,
        }
    }

    pub(crate) fn http(method: &str, url: String, status: u16, body: &[u8]) -> Self {
        let text = String::from_utf8_lossy(body);
        let druid = serde_json::from_slice::<DruidError>(body)
            .ok()
            .filter(|error| error.message().is_some())
            .map(Box::new);
        Self::Http {
            method: method.to_owned(),
            url,
            status,
            body: truncate(&text, BODY_LIMIT).to_owned(),
            druid,
            attempts: 1,
            elapsed: Duration::ZERO,
        }
    }

    /// Records how many attempts were made and how long they took.
    pub(crate) fn with_attempts(mut self, made: u32, took: Duration) -> Self {
        if let Self::Http { attempts, elapsed, .. } | Self::Transport { attempts, elapsed, .. } = &mut self {
            *attempts = made;
            *elapsed = took;
        }
        self
    }
}

fn truncate(text: &str, limit: usize) -> &str {
    if text.len() <= limit {
        return text;
    }
    let mut end = limit;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

/// Druid's error body, in either shape: legacy `{"error": "..."}` (with `errorMessage`,
/// `errorClass`, `host` for queries) or a DruidException
/// (`{"error": "druidException", "errorCode", "persona", "category", "errorMessage", "context"}`).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DruidError {
    /// Legacy message, or `druidException`.
    #[serde(default)]
    pub error: Option<String>,
    /// The message of query errors and DruidExceptions.
    #[serde(default)]
    pub error_message: Option<String>,
    /// Java class of a query error.
    #[serde(default)]
    pub error_class: Option<String>,
    /// Server that failed a query.
    #[serde(default)]
    pub host: Option<String>,
    /// DruidException code (`invalidInput`, ...).
    #[serde(default)]
    pub error_code: Option<String>,
    /// Who the message is for (`USER`, `ADMIN`, `OPERATOR`, `DEVELOPER`).
    #[serde(default)]
    pub persona: Option<String>,
    /// DruidException category (`INVALID_INPUT`, `NOT_FOUND`, ...).
    #[serde(default)]
    pub category: Option<ErrorCategory>,
    /// More detail.
    #[serde(default)]
    pub context: Option<Value>,
}

impl DruidError {
    /// The most useful message: `errorMessage`, else a legacy `error` that is not just a code.
    pub fn message(&self) -> Option<&str> {
        self.error_message
            .as_deref()
            .or_else(|| self.error.as_deref().filter(|error| *error != "druidException"))
            .filter(|message| !message.is_empty())
    }
}

open_enum! {
    /// DruidException categories.
    pub enum ErrorCategory {
        /// 400.
        InvalidInput => "INVALID_INPUT",
        /// 401.
        Unauthorized => "UNAUTHORIZED",
        /// 403.
        Forbidden => "FORBIDDEN",
        /// 404.
        NotFound => "NOT_FOUND",
        /// 429.
        CapacityExceeded => "CAPACITY_EXCEEDED",
        /// 500.
        RuntimeFailure => "RUNTIME_FAILURE",
        /// 500.
        Defensive => "DEFENSIVE",
        /// 500.
        Canceled => "CANCELED",
        /// 500.
        Uncategorized => "UNCATEGORIZED",
        /// 501.
        Unsupported => "UNSUPPORTED",
        /// 504.
        Timeout => "TIMEOUT",
    }
}

/// A URL for messages: its password and credential-like query values hidden
/// ([`crate::redact`]).
pub(crate) fn redact(url: &reqwest::Url) -> String {
    crate::redact::url(url)
}

impl fmt::Display for DruidError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.message().unwrap_or("unknown Druid error"))
    }
}

/// Results of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_error_shapes_are_read() {
        let legacy = Error::http("POST", "u".into(), 400, br#"{"error":"Missing dataSource"}"#);
        assert_eq!(legacy.to_string(), "POST u -> 400: Missing dataSource");
        let exception = Error::http(
            "POST",
            "u".into(),
            400,
            br#"{"error":"druidException","errorCode":"invalidInput","persona":"USER","category":"INVALID_INPUT","errorMessage":"bad spec","context":{}}"#,
        );
        let druid = exception.druid_error().unwrap();
        assert_eq!(druid.category, Some(ErrorCategory::InvalidInput));
        assert_eq!(exception.to_string(), "POST u -> 400: bad spec");
        let html = Error::http("GET", "u".into(), 502, b"<html>\n<h1>502 Bad Gateway</h1></html>");
        assert_eq!(html.status(), Some(502));
        assert!(html.is_retryable());
        assert!(html.druid_error().is_none());
        let empty = Error::http("GET", "u".into(), 503, b"");
        assert_eq!(empty.to_string(), "GET u -> 503");
    }

    #[test]
    fn a_stack_trace_is_cut_to_its_first_line() {
        let body = br#"{"error":"java.lang.IllegalStateException: boom\n\tat org.apache.druid.Foo.bar(Foo.java:1)\n\tat x"}"#;
        let err = Error::http("POST", "u".into(), 500, body);
        assert_eq!(err.to_string(), "POST u -> 500: java.lang.IllegalStateException: boom (...)");
        let Error::Http { body, .. } = err else { panic!() };
        assert!(body.contains("Foo.java:1"), "the whole body is kept");
    }

    #[test]
    fn bodies_are_truncated_on_a_char_boundary() {
        let body = "é".repeat(BODY_LIMIT);
        let Error::Http { body, .. } = Error::http("GET", "u".into(), 500, body.as_bytes()) else { panic!() };
        assert!(body.len() <= BODY_LIMIT);
    }

    #[test]
    fn passwords_in_urls_are_redacted() {
        let url = reqwest::Url::parse("https://admin:hunter2@druid:8888/druid/v2/sql").unwrap();
        assert_eq!(redact(&url), "https://admin:****@druid:8888/druid/v2/sql");
    }
}
