//! [`S3Store`]: the registry on S3 (or any S3-compatible server), with conditional writes:
//! `If-None-Match: *` to create, `If-Match: <etag>` to replace.

use async_trait::async_trait;
use aws_sdk_s3::Client;
use aws_sdk_s3::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_s3::primitives::ByteStream;
use secrecy::{ExposeSecret as _, SecretString};

use crate::store::{Etag, ListPage, Object, SchemaStore, StoreError, StoreResult};

/// How to reach S3. Everything left `None` comes from the standard AWS chain (environment
/// variables such as `AWS_REGION`, `AWS_ENDPOINT_URL`, `AWS_ACCESS_KEY_ID`; profiles; web
/// identity; container and instance metadata).
#[derive(Debug, Clone, Default)]
pub struct S3Options {
    /// Endpoint of an S3-compatible server (LocalStack, MinIO); implies path-style addressing.
    pub endpoint: Option<String>,
    /// Region; `us-east-1` when neither this nor the AWS chain sets one.
    pub region: Option<String>,
    /// Path-style addressing (`host/bucket/key`); on by default with an endpoint override.
    pub force_path_style: Option<bool>,
    /// Static credentials (access key id, secret), for tests and scripts.
    pub credentials: Option<(String, SecretString)>,
}

/// A [`SchemaStore`] in an S3 bucket, under a key prefix.
#[derive(Debug, Clone)]
pub struct S3Store {
    client: Client,
    bucket: String,
    prefix: String,
}

impl S3Store {
    /// Connects to `bucket`, storing keys under `prefix` (may be empty).
    pub async fn connect(bucket: &str, prefix: &str, options: S3Options) -> Self {
        let loaded = aws_config::defaults(BehaviorVersion::latest()).load().await;
        let endpoint = options.endpoint.clone().or_else(|| loaded.endpoint_url().map(str::to_owned));
        let mut builder = aws_sdk_s3::config::Builder::from(&loaded);
        if let Some(endpoint) = &options.endpoint {
            builder = builder.endpoint_url(endpoint);
        }
        if options.region.is_some() || loaded.region().is_none() {
            builder =
                builder.region(Region::new(options.region.clone().unwrap_or_else(|| "us-east-1".to_owned())));
        }
        builder = builder.force_path_style(options.force_path_style.unwrap_or(endpoint.is_some()));
        if let Some((key_id, secret)) = &options.credentials {
            builder = builder.credentials_provider(Credentials::new(
                key_id,
                secret.expose_secret(),
                None,
                None,
                "druidctl-static",
            ));
        }
        Self {
            client: Client::from_conf(builder.build()),
            bucket: bucket.to_owned(),
            prefix: prefix.trim_matches('/').to_owned(),
        }
    }

    /// Creates the bucket if it does not exist (tests, first-time setup).
    pub async fn create_bucket_if_missing(&self) -> StoreResult<()> {
        match self.client.create_bucket().bucket(&self.bucket).send().await {
            Ok(_) => Ok(()),
            Err(err) if matches!(err.code(), Some("BucketAlreadyOwnedByYou" | "BucketAlreadyExists")) => {
                Ok(())
            }
            Err(err) => Err(StoreError::backend("create bucket", &self.bucket, describe(&err))),
        }
    }

    fn key(&self, key: &str) -> String {
        if self.prefix.is_empty() { key.to_owned() } else { format!("{}/{key}", self.prefix) }
    }

    fn strip<'a>(&self, full: &'a str) -> &'a str {
        if self.prefix.is_empty() {
            full
        } else {
            full.strip_prefix(&format!("{}/", self.prefix)).unwrap_or(full)
        }
    }
}

impl S3Store {
    /// A conditional PUT: `If-None-Match: *` without a tag, `If-Match: <tag>` with one.
    ///
    /// The SDK retries a PUT whose response was lost; the retry then fails its condition (412)
    /// against our own first write. So a 412 is a conflict only when what is stored differs
    /// from what we meant to write: byte-identical means the write was ours (every record the
    /// registry and the ledger swap carries a unique token or time, so another writer cannot
    /// produce the same bytes by chance).
    async fn put(&self, key: &str, bytes: Vec<u8>, expected: Option<&Etag>) -> StoreResult<Etag> {
        let request = self
            .client
            .put_object()
            .bucket(&self.bucket)
            .key(self.key(key))
            .body(ByteStream::from(bytes.clone()));
        let request = match expected {
            None => request.if_none_match("*"),
            Some(etag) => request.if_match(&etag.0),
        };
        match request.send().await {
            Ok(output) => Ok(Etag(output.e_tag().unwrap_or_default().to_owned())),
            Err(err) if status(&err) == Some(412) && self.holds(key, &bytes).await => {
                let stored = self.get(key).await?.map_or_else(|| Etag(String::new()), |object| object.etag);
                Ok(stored)
            }
            Err(err) => Err(match (status(&err), expected) {
                (Some(412), None) => StoreError::AlreadyExists { key: key.to_owned() },
                (Some(412), Some(_)) => StoreError::PreconditionFailed { key: key.to_owned() },
                (Some(404), Some(_)) => StoreError::NotFound { key: key.to_owned() },
                (Some(409), _) => StoreError::Conflict { key: key.to_owned() },
                _ => StoreError::backend("put", key, describe(&err)),
            }),
        }
    }
}

impl S3Store {
    /// Whether `key` holds exactly `bytes` now.
    async fn holds(&self, key: &str, bytes: &[u8]) -> bool {
        matches!(self.get(key).await, Ok(Some(object)) if object.bytes == bytes)
    }
}

/// HTTP status of a failed call, when there was an answer.
fn status<E, R>(err: &SdkError<E, R>) -> Option<u16>
where
    R: HasStatus,
{
    err.raw_response().map(HasStatus::status)
}

trait HasStatus {
    fn status(&self) -> u16;
}

impl HasStatus for aws_sdk_s3::config::http::HttpResponse {
    fn status(&self) -> u16 {
        self.status().as_u16()
    }
}

/// The SDK's error with its service code and message, which its `Display` leaves out.
fn describe<E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static, R: std::fmt::Debug>(
    err: &SdkError<E, R>,
) -> String {
    match (err.code(), err.message()) {
        (Some(code), Some(message)) => format!("{code}: {message}"),
        (Some(code), None) => code.to_owned(),
        _ => {
            let mut text = err.to_string();
            let mut source = std::error::Error::source(err);
            while let Some(cause) = source {
                text.push_str(": ");
                text.push_str(&cause.to_string());
                source = cause.source();
            }
            text
        }
    }
}

#[async_trait]
impl SchemaStore for S3Store {
    async fn get(&self, key: &str) -> StoreResult<Option<Object>> {
        let output = match self.client.get_object().bucket(&self.bucket).key(self.key(key)).send().await {
            Ok(output) => output,
            Err(err)
                if err
                    .as_service_error()
                    .is_some_and(aws_sdk_s3::operation::get_object::GetObjectError::is_no_such_key)
                    || status(&err) == Some(404) =>
            {
                return Ok(None);
            }
            Err(err) => return Err(StoreError::backend("get", key, describe(&err))),
        };
        let etag = Etag(output.e_tag().unwrap_or_default().to_owned());
        let bytes = output.body.collect().await.map_err(|err| StoreError::backend("get", key, err))?;
        Ok(Some(Object { bytes: bytes.into_bytes().to_vec(), etag }))
    }

    async fn put_if_absent(&self, key: &str, bytes: Vec<u8>) -> StoreResult<Etag> {
        self.put(key, bytes, None).await
    }

    async fn put_if_match(&self, key: &str, bytes: Vec<u8>, etag: &Etag) -> StoreResult<Etag> {
        self.put(key, bytes, Some(etag)).await
    }

    async fn list(&self, prefix: &str, after: Option<String>) -> StoreResult<ListPage> {
        let mut request = self.client.list_objects_v2().bucket(&self.bucket).prefix(self.key(prefix));
        if let Some(token) = after {
            request = request.continuation_token(token);
        }
        let output =
            request.send().await.map_err(|err| StoreError::backend("list", prefix, describe(&err)))?;
        let keys = output
            .contents()
            .iter()
            .filter_map(|object| object.key())
            .map(|key| self.strip(key).to_owned())
            .collect();
        let next = if output.is_truncated() == Some(true) {
            output.next_continuation_token().map(str::to_owned)
        } else {
            None
        };
        Ok(ListPage { keys, next })
    }

    fn location(&self) -> String {
        if self.prefix.is_empty() {
            format!("s3://{}", self.bucket)
        } else {
            format!("s3://{}/{}", self.bucket, self.prefix)
        }
    }
}
