//! The registry and its stores. The conformance suite runs against every `SchemaStore`; S3
//! tests use the server at `DRUIDCTL_TEST_S3_ENDPOINT` (`make s3-up` starts LocalStack) and
//! fail, rather than skip, when CI expects it and it is not there.

mod confinement;
mod conformance;
mod registry;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use schema_registry::s3::{S3Options, S3Store};
use schema_registry::{LocalStore, MemoryStore, SchemaStore};

/// The variable naming the S3-compatible endpoint tests use.
pub const S3_ENDPOINT: &str = "DRUIDCTL_TEST_S3_ENDPOINT";

static BUCKETS: AtomicU64 = AtomicU64::new(0);

pub fn memory() -> Arc<dyn SchemaStore> {
    Arc::new(MemoryStore::new())
}

/// A local store in a fresh temporary directory (kept alive by leaking the guard's path).
pub fn local() -> Arc<dyn SchemaStore> {
    let dir = tempfile::tempdir().unwrap().keep();
    Arc::new(LocalStore::new(dir.join("registry")))
}

/// An S3 store in a new bucket, or `None` (outside CI) when no endpoint is configured.
pub async fn s3() -> Option<Arc<dyn SchemaStore>> {
    let endpoint = match std::env::var(S3_ENDPOINT) {
        Ok(endpoint) if !endpoint.is_empty() => endpoint,
        _ if std::env::var_os("CI").is_some() => {
            panic!("{S3_ENDPOINT} is not set: CI must start LocalStack (make s3-up) for the S3 tests")
        }
        _ => return None,
    };
    let bucket = format!(
        "druidctl-test-{}-{}-{}",
        std::process::id(),
        jiff::Timestamp::now().as_millisecond(),
        BUCKETS.fetch_add(1, Ordering::Relaxed)
    );
    let options = S3Options {
        endpoint: Some(endpoint.clone()),
        region: Some("us-east-1".into()),
        force_path_style: Some(true),
        credentials: Some(("test".into(), "test".to_owned().into())),
    };
    let store = S3Store::connect(&bucket, "team/registry", options).await;
    store
        .create_bucket_if_missing()
        .await
        .unwrap_or_else(|err| panic!("S3 at {endpoint} is unreachable or refused a bucket: {err:?}"));
    Some(Arc::new(store))
}

/// Skips the rest of a test when S3 is not configured (never in CI).
#[macro_export]
macro_rules! s3_or_skip {
    () => {
        match $crate::s3().await {
            Some(store) => store,
            None => return,
        }
    };
}
