//! The HTTP client: addresses, authentication, retries, decoding.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use backon::{ExponentialBuilder, Retryable as _};
use reqwest::header::{CONTENT_TYPE, HeaderMap, RETRY_AFTER};
use reqwest::{Method, StatusCode, Url};
use secrecy::ExposeSecret as _;
use serde::de::DeserializeOwned;

use crate::config::{Auth, ClientConfig, RetryPolicy};
use crate::error::redact;
use crate::{Error, Result};

/// A Druid service an API lives on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Service {
    /// Supervisors and tasks.
    Overlord,
    /// SQL.
    Broker,
    /// Datasources and segments.
    Coordinator,
    /// The Router itself (or the single address).
    Router,
}

/// A client for one Druid cluster. Cheap to clone: clones share connections.
#[derive(Clone, Debug)]
pub struct DruidClient {
    inner: Arc<Inner>,
}

#[derive(Debug, Clone)]
struct Inner {
    http: reqwest::Client,
    router: Url,
    overlord: Url,
    broker: Url,
    coordinator: Url,
    auth: Auth,
    retry: RetryPolicy,
}

impl DruidClient {
    /// Builds a client from `config`: TLS roots, timeouts and credentials included.
    pub fn new(config: &ClientConfig) -> Result<Self> {
        let mut builder = reqwest::Client::builder()
            .user_agent(concat!("druidctl/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(config.connect_timeout.unwrap_or(Duration::from_secs(5)))
            .timeout(config.request_timeout.unwrap_or(Duration::from_secs(30)));
        if let Some(pem) = &config.ca_cert_pem {
            let certificates = reqwest::Certificate::from_pem_bundle(pem)
                .map_err(|err| Error::Config(format!("CA certificate is not PEM: {err}")))?;
            if certificates.is_empty() {
                return Err(Error::Config("CA certificate file holds no certificate".into()));
            }
            for certificate in certificates {
                builder = builder.add_root_certificate(certificate);
            }
        }
        let http = builder.build().map_err(|err| Error::Config(err.without_url().to_string()))?;
        Self::assemble(http, config)
    }

    /// A client over a ready `reqwest::Client`, with every service at `base_url` (a Router, a
    /// single-process Druid, or a test server).
    pub fn from_reqwest(http: reqwest::Client, base_url: &str) -> Result<Self> {
        Self::assemble(http, &ClientConfig::new(base_url)?)
    }

    fn assemble(http: reqwest::Client, config: &ClientConfig) -> Result<Self> {
        let fallback = || {
            config.url.clone().ok_or_else(|| {
                Error::Config("no Druid URL: set the Router URL or every service's URL".into())
            })
        };
        let pick = |specific: &Option<Url>| specific.clone().map_or_else(fallback, Ok);
        let overlord = pick(&config.overlord_url)?;
        Ok(Self {
            inner: Arc::new(Inner {
                router: config.url.clone().unwrap_or_else(|| overlord.clone()),
                overlord,
                broker: pick(&config.broker_url)?,
                coordinator: pick(&config.coordinator_url)?,
                http,
                auth: config.auth.clone(),
                retry: config.retry.clone(),
            }),
        })
    }

    /// The same client with another retry policy.
    #[must_use]
    pub fn with_retry(&self, retry: RetryPolicy) -> Self {
        let mut inner = Inner::clone(&self.inner);
        inner.retry = retry;
        Self { inner: Arc::new(inner) }
    }

    /// The same client with other credentials.
    #[must_use]
    pub fn with_auth(&self, auth: Auth) -> Self {
        let mut inner = Inner::clone(&self.inner);
        inner.auth = auth;
        Self { inner: Arc::new(inner) }
    }

    /// Base URL of `service`.
    pub fn base_url(&self, service: Service) -> &Url {
        match service {
            Service::Overlord => &self.inner.overlord,
            Service::Broker => &self.inner.broker,
            Service::Coordinator => &self.inner.coordinator,
            Service::Router => &self.inner.router,
        }
    }

    /// Sends `call`; 2xx and the error answers `call.accept` takes are returned, anything
    /// else is an error. Retries follow the policy.
    pub(crate) async fn send(&self, call: &Call) -> Result<Response> {
        let url = self.url(call);
        let policy = &self.inner.retry;
        let started = Instant::now();
        let attempts = AtomicU32::new(0);
        let backoff = ExponentialBuilder::default()
            .with_min_delay(policy.initial_backoff)
            .with_max_delay(policy.max_backoff)
            .with_max_times(policy.max_attempts.saturating_sub(1) as usize)
            .with_jitter();
        let result = (|| async {
            attempts.fetch_add(1, Ordering::Relaxed);
            self.attempt(call, &url).await
        })
        .retry(backoff)
        .sleep(tokio::time::sleep)
        .when(|failure: &Failure| {
            should_retry(&failure.error, call.idempotent) && started.elapsed() < policy.deadline
        })
        .adjust(|failure, delay| {
            let delay =
                failure.retry_after.map_or(delay, |after| delay.map(|_| after.min(policy.max_backoff)))?;
            let remaining = policy.deadline.checked_sub(started.elapsed())?;
            Some(delay.min(remaining))
        })
        .await;
        result.map_err(|failure| {
            failure.error.with_attempts(attempts.load(Ordering::Relaxed), started.elapsed())
        })
    }

    async fn attempt(&self, call: &Call, url: &Url) -> Result<Response, Failure> {
        let mut request = self.inner.http.request(call.method.clone(), url.clone());
        if !call.query.is_empty() {
            request = request.query(&call.query);
        }
        if let Some(body) = &call.body {
            request = request.header(CONTENT_TYPE, "application/json").body(body.clone());
        }
        request = match &self.inner.auth {
            Auth::None => request,
            Auth::Basic { user, password } => request.basic_auth(user, Some(password.expose_secret())),
            Auth::Bearer(token) => request.bearer_auth(token.expose_secret()),
        };
        let response = request.send().await.map_err(|source| Failure {
            error: Error::Transport {
                method: call.method.to_string(),
                url: redact(url),
                timed_out: source.is_timeout(),
                connect: source.is_connect(),
                source: source.without_url(),
                attempts: 1,
                elapsed: Duration::ZERO,
            },
            retry_after: None,
        })?;
        let status = response.status();
        let headers = response.headers().clone();
        if status.is_success() {
            return Ok(Response { status, headers, body: Body::Unread(response) });
        }
        let retry_after = retry_after(&headers);
        // An unreadable error body still keeps its status.
        let body = response.bytes().await.map(|bytes| bytes.to_vec()).unwrap_or_default();
        if (call.accept)(status.as_u16(), &body) {
            return Ok(Response { status, headers, body: Body::Read(body) });
        }
        Err(Failure {
            error: Error::http(call.method.as_str(), redact(url), status.as_u16(), &body),
            retry_after,
        })
    }

    pub(crate) fn url(&self, call: &Call) -> Url {
        let mut url = self.base_url(call.service).clone();
        if let Ok(mut segments) = url.path_segments_mut() {
            segments.pop_if_empty().extend(&call.segments);
        }
        url
    }

    /// Sends `call` and decodes a JSON answer, naming the field on a mismatch.
    pub(crate) async fn json<T: DeserializeOwned>(&self, call: &Call) -> Result<T> {
        let response = self.send(call).await?;
        self.decode(call, &response.bytes(call, self).await?)
    }

    /// Like [`Self::json`], but 404 is `None`.
    pub(crate) async fn json_opt<T: DeserializeOwned>(&self, call: &Call) -> Result<Option<T>> {
        let call = call.clone().accept(|status, _| status == 404);
        let response = self.send(&call).await?;
        if response.status == StatusCode::NOT_FOUND {
            return Ok(None);
        }
        self.decode(&call, &response.bytes(&call, self).await?).map(Some)
    }

    pub(crate) fn decode<T: DeserializeOwned>(&self, call: &Call, bytes: &[u8]) -> Result<T> {
        let mut deserializer = serde_json::Deserializer::from_slice(bytes);
        serde_path_to_error::deserialize(&mut deserializer).map_err(|err| Error::Decode {
            method: call.method.to_string(),
            url: redact(&self.url(call)),
            path: err.path().to_string(),
            message: err.inner().to_string(),
        })
    }

    pub(crate) fn transport_error(&self, call: &Call, source: reqwest::Error) -> Error {
        Error::Transport {
            method: call.method.to_string(),
            url: redact(&self.url(call)),
            timed_out: source.is_timeout(),
            connect: source.is_connect(),
            source: source.without_url(),
            attempts: 1,
            elapsed: Duration::ZERO,
        }
    }
}

/// One attempt's failure, with the server's `Retry-After` if it sent one.
struct Failure {
    error: Error,
    retry_after: Option<Duration>,
}

fn should_retry(error: &Error, idempotent: bool) -> bool {
    match error {
        // Nothing reached Druid (connection failed), or Druid did not act on the request (a
        // non-leader Overlord's 503, rate limiting's 429): always safe.
        Error::Transport { connect: true, .. } | Error::Http { status: 503 | 429, .. } => true,
        Error::Transport { .. } => idempotent,
        Error::Http { status, .. } => idempotent && (*status >= 500 || *status == 408),
        _ => false,
    }
}

/// `Retry-After` in seconds (the HTTP-date form is ignored: the backoff applies instead).
fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let seconds: u64 = headers.get(RETRY_AFTER)?.to_str().ok()?.trim().parse().ok()?;
    Some(Duration::from_secs(seconds))
}

/// A request to make.
#[derive(Debug, Clone)]
pub(crate) struct Call {
    pub service: Service,
    pub method: Method,
    /// Path segments after the base URL, each percent-encoded on its own.
    pub segments: Vec<String>,
    pub query: Vec<(String, String)>,
    pub body: Option<Vec<u8>>,
    /// Whether repeating the request is harmless.
    pub idempotent: bool,
    /// Error answers (status, body) that are results rather than failures, such as a 404
    /// for an optional resource; never retried.
    pub accept: fn(u16, &[u8]) -> bool,
}

impl Call {
    /// `path` is split on `/`; use [`Call::segment`] for ids, which may contain `/`.
    pub fn new(service: Service, method: Method, path: &str) -> Self {
        let idempotent = matches!(method, Method::GET | Method::HEAD | Method::PUT | Method::DELETE);
        Self {
            service,
            method,
            segments: path.split('/').filter(|part| !part.is_empty()).map(str::to_owned).collect(),
            query: Vec::new(),
            body: None,
            idempotent,
            accept: |_, _| false,
        }
    }

    pub fn get(service: Service, path: &str) -> Self {
        Self::new(service, Method::GET, path)
    }

    pub fn post(service: Service, path: &str) -> Self {
        Self::new(service, Method::POST, path)
    }

    /// Appends one path segment, encoded (ids may hold any character).
    #[must_use]
    pub fn segment(mut self, segment: &str) -> Self {
        self.segments.push(segment.to_owned());
        self
    }

    /// Appends fixed path segments after an id.
    #[must_use]
    pub fn then(mut self, path: &str) -> Self {
        self.segments.extend(path.split('/').filter(|part| !part.is_empty()).map(str::to_owned));
        self
    }

    #[must_use]
    pub fn query(mut self, key: &str, value: impl std::fmt::Display) -> Self {
        self.query.push((key.to_owned(), value.to_string()));
        self
    }

    /// A JSON body.
    pub fn json_body<T: serde::Serialize + ?Sized>(mut self, body: &T) -> Self {
        // Serialising our own models cannot fail (string keys, no non-finite floats).
        self.body = Some(serde_json::to_vec(body).expect("request bodies serialise"));
        self
    }

    /// Takes some error answers as results.
    #[must_use]
    pub fn accept(mut self, accept: fn(u16, &[u8]) -> bool) -> Self {
        self.accept = accept;
        self
    }

    /// Marks a POST that Druid treats as an upsert or a read, so it may be repeated.
    #[must_use]
    pub fn idempotent(mut self) -> Self {
        self.idempotent = true;
        self
    }
}

/// A response whose status was accepted.
pub(crate) struct Response {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Body,
}

/// A success body is left unread (it may be a large log); an accepted error body was read.
pub(crate) enum Body {
    Unread(reqwest::Response),
    Read(Vec<u8>),
}

impl Response {
    pub async fn bytes(self, call: &Call, client: &DruidClient) -> Result<Vec<u8>> {
        match self.body {
            Body::Read(bytes) => Ok(bytes),
            Body::Unread(response) => response
                .bytes()
                .await
                .map(|bytes| bytes.to_vec())
                .map_err(|err| client.transport_error(call, err)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_seconds_are_read_and_dates_left_to_the_backoff() {
        let mut headers = HeaderMap::new();
        assert_eq!(retry_after(&headers), None);
        headers.insert(RETRY_AFTER, " 7 ".parse().unwrap());
        assert_eq!(retry_after(&headers), Some(Duration::from_secs(7)));
        headers.insert(RETRY_AFTER, "Wed, 21 Oct 2026 07:28:00 GMT".parse().unwrap());
        assert_eq!(retry_after(&headers), None);
    }

    #[test]
    fn what_is_retried() {
        let http = |status| Error::http("POST", "u".into(), status, b"");
        // Druid did not act: safe even for actions.
        assert!(should_retry(&http(503), false));
        assert!(should_retry(&http(429), false));
        // Druid may have acted: only reads are repeated.
        assert!(!should_retry(&http(500), false));
        assert!(should_retry(&http(500), true));
        assert!(should_retry(&http(408), true));
        assert!(!should_retry(&http(400), true));
        assert!(!should_retry(&http(404), true));
    }
}
