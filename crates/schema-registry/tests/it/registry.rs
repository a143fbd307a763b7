//! Versions, channels and locks above the store: nothing lost, nothing altered.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use async_trait::async_trait;
use schema_registry::registry::{Bundle, PublishMeta, Registry};
use schema_registry::store::{Etag, ListPage, Object, SchemaStore, StoreError, StoreResult};
use schema_registry::{Channel, Error, MemoryStore, SourceFile, Version};

fn bundle(dimensions: &str) -> Bundle {
    Bundle {
        message_type: "settlement.v1.SettlementTransaction".into(),
        descriptor_set: b"\x0a\x1asettlement_transaction.proto".to_vec(),
        dimensions: dimensions.as_bytes().to_vec(),
        sources: vec![SourceFile {
            name: "settlement_transaction.proto".into(),
            contents: b"syntax = \"proto3\";".to_vec(),
        }],
    }
}

fn v(name: &str) -> Version {
    Version::parse(name).unwrap()
}

fn stable() -> Channel {
    Channel::parse("stable").unwrap()
}

async fn published(registry: &Registry, version: &str) -> Version {
    let version = v(version);
    registry
        .publish(&version, &bundle(&format!("{{\"v\":\"{version}\"}}")), PublishMeta::default())
        .await
        .unwrap();
    version
}

async fn publish_get_and_republish(registry: Registry) {
    let version = v("abc123f");
    let meta = PublishMeta {
        author: Some("ci@example".into()),
        git_commit: Some("abc123f0".repeat(5)),
        ..PublishMeta::default()
    };
    let first = registry.publish(&version, &bundle("{}"), meta.clone()).await.unwrap();
    assert!(first.created);
    assert_eq!(first.manifest.files.len(), 3);
    let read = registry.get(&version).await.unwrap();
    assert_eq!(read.bundle, bundle("{}"));
    assert_eq!(read.manifest.author.as_deref(), Some("ci@example"));
    // Identical content: a no-op that returns the original manifest.
    let again = registry.publish(&version, &bundle("{}"), PublishMeta::default()).await.unwrap();
    assert!(!again.created);
    assert_eq!(again.manifest, first.manifest);
    // Different content under the same version: refused, naming what differs.
    let err = registry.publish(&version, &bundle("{\"changed\":1}"), meta).await.unwrap_err();
    assert!(matches!(err, Error::VersionConflict { .. }), "{err:?}");
    assert!(err.to_string().contains("differs: dimensions.json"), "{err}");
    assert_eq!(registry.get(&version).await.unwrap().bundle, bundle("{}"));
}

async fn concurrent_publishers_of_different_content(registry: Registry) {
    let version = v("race123");
    let tasks: Vec<_> = (0..6)
        .map(|writer| {
            let registry = registry.clone();
            let version = version.clone();
            tokio::spawn(async move {
                registry
                    .publish(&version, &bundle(&format!("{{\"w\":{writer}}}")), PublishMeta::default())
                    .await
            })
        })
        .collect();
    let mut winners = Vec::new();
    for (writer, task) in tasks.into_iter().enumerate() {
        match task.await.unwrap() {
            Ok(published) => winners.push((writer, published)),
            Err(Error::VersionConflict { .. }) => {}
            Err(err) => panic!("{err:?}"),
        }
    }
    assert_eq!(winners.len(), 1, "exactly one publisher wins");
    let (writer, _) = &winners[0];
    assert_eq!(registry.get(&version).await.unwrap().bundle, bundle(&format!("{{\"w\":{writer}}}")));
}

async fn concurrent_promotions_from_one_base(registry: Registry) {
    let (one, two, three) = (
        published(&registry, "v1").await,
        published(&registry, "v2").await,
        published(&registry, "v3").await,
    );
    registry.promote(&stable(), &one, Some("ci"), None).await.unwrap();
    let base = registry.channel(&stable()).await.unwrap().unwrap();
    let channel = stable();
    let first = registry.promote_from(&channel, Some(&base), &two, Some("a"), None);
    let second = registry.promote_from(&channel, Some(&base), &three, Some("b"), None);
    let (first, second) = tokio::join!(first, second);
    let outcomes = [first.is_ok(), second.is_ok()];
    assert_eq!(outcomes.iter().filter(|ok| **ok).count(), 1, "{first:?} {second:?}");
    let loser = if outcomes[0] { second.unwrap_err() } else { first.unwrap_err() };
    assert!(matches!(loser, Error::ChannelMoved { .. }), "{loser:?}");
    let now = registry.channel(&stable()).await.unwrap().unwrap().pointer;
    assert_eq!(now.previous.as_deref(), Some("v1"));
    assert_eq!(now.sequence, 2);
}

async fn previous_stable_and_history(registry: Registry) {
    for name in ["v1", "v2", "v3"] {
        let version = published(&registry, name).await;
        registry.promote(&stable(), &version, Some("ci"), None).await.unwrap();
    }
    assert_eq!(registry.resolve("stable").await.unwrap(), v("v3"));
    assert_eq!(registry.resolve("previous-stable").await.unwrap(), v("v2"));
    assert_eq!(registry.resolve("v1").await.unwrap(), v("v1"));
    let history = registry.channel_history(&stable()).await.unwrap();
    let versions: Vec<_> = history.iter().map(|pointer| pointer.version.as_str()).collect();
    assert_eq!(versions, ["v1", "v2", "v3"]);
    // Promoting to where it already is changes nothing.
    let same = registry.promote(&stable(), &v("v3"), None, None).await.unwrap();
    assert_eq!(same.sequence, 3);
    let listed = registry.list().await.unwrap();
    let channels: Vec<_> = listed.iter().map(|info| (info.version.as_str(), info.channels.clone())).collect();
    assert_eq!(channels, [("v1", vec![]), ("v2", vec![]), ("v3", vec!["stable".to_owned()])]);
    let err = registry.resolve("previous-staging-latest").await.unwrap_err();
    assert!(matches!(err, Error::EmptyChannel { .. }), "{err:?}");
    let err = registry.promote(&stable(), &v("nope"), None, None).await.unwrap_err();
    assert!(matches!(err, Error::UnknownVersion { .. }), "{err:?}");
}

macro_rules! scenarios {
    ($backend:ident, $store:expr) => {
        mod $backend {
            #[allow(unused_imports)]
            use crate::s3_or_skip;
            scenarios!(@tests $store; publish_get_and_republish, concurrent_publishers_of_different_content,
                concurrent_promotions_from_one_base, previous_stable_and_history,);
        }
    };
    (@tests $store:expr; $($test:ident,)+) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $test() {
                super::$test(schema_registry::Registry::new($store)).await;
            }
        )+
    };
}

scenarios!(memory, crate::memory());
scenarios!(local, crate::local());
scenarios!(s3, s3_or_skip!());

/// Fails the `fail_at`-th conditional create (1-based) with a backend error, once.
#[derive(Debug)]
struct FailingStore {
    inner: MemoryStore,
    creates: AtomicUsize,
    fail_at: usize,
}

#[async_trait]
impl SchemaStore for FailingStore {
    async fn get(&self, key: &str) -> StoreResult<Option<Object>> {
        self.inner.get(key).await
    }
    async fn put_if_absent(&self, key: &str, bytes: Vec<u8>) -> StoreResult<Etag> {
        if self.creates.fetch_add(1, Ordering::SeqCst) + 1 == self.fail_at {
            return Err(StoreError::Backend {
                operation: "put",
                key: key.to_owned(),
                source: "503 SlowDown: connection reset".into(),
            });
        }
        self.inner.put_if_absent(key, bytes).await
    }
    async fn put_if_match(&self, key: &str, bytes: Vec<u8>, etag: &Etag) -> StoreResult<Etag> {
        self.inner.put_if_match(key, bytes, etag).await
    }
    async fn list(&self, prefix: &str, after: Option<String>) -> StoreResult<ListPage> {
        self.inner.list(prefix, after).await
    }
    fn location(&self) -> String {
        "memory://failing".into()
    }
}

#[tokio::test]
async fn an_error_mid_publish_leaves_no_version_and_a_retry_completes_it() {
    // Creates: claim, descriptor, dimensions, source, manifest. Fail each in turn.
    for fail_at in 1..=5 {
        let store =
            Arc::new(FailingStore { inner: MemoryStore::new(), creates: AtomicUsize::new(0), fail_at });
        let registry = Registry::new(store);
        let version = v("abc123f");
        let err = registry.publish(&version, &bundle("{}"), PublishMeta::default()).await.unwrap_err();
        assert!(matches!(err, Error::Store { .. }), "{err:?}");
        assert!(err.to_string().contains("memory://failing"), "{err}");
        assert!(
            registry.list().await.unwrap().is_empty(),
            "fail_at {fail_at}: a half-written version is visible"
        );
        assert!(matches!(registry.get(&version).await.unwrap_err(), Error::UnknownVersion { .. }));
        // Different content cannot take over a half-published version once claimed...
        if fail_at > 1 {
            let other = registry
                .publish(&version, &bundle("{\"other\":1}"), PublishMeta::default())
                .await
                .unwrap_err();
            assert!(matches!(other, Error::VersionConflict { .. }), "{other:?}");
        }
        // ...and the same content completes it.
        assert!(registry.publish(&version, &bundle("{}"), PublishMeta::default()).await.unwrap().created);
        assert_eq!(registry.get(&version).await.unwrap().bundle, bundle("{}"));
    }
}

#[tokio::test]
async fn a_tampered_object_is_a_digest_error_naming_the_file() {
    let store = Arc::new(MemoryStore::new());
    let registry = Registry::new(store.clone());
    let version = published(&registry, "abc123f").await;
    store.tamper("schemas/abc123f/sources/settlement_transaction.proto", b"syntax = \"proto2\";".to_vec());
    let err = registry.get(&version).await.unwrap_err();
    assert!(
        matches!(&err, Error::Digest { file, .. } if file == "sources/settlement_transaction.proto"),
        "{err:?}"
    );
    assert!(
        err.to_string().contains("sources/settlement_transaction.proto does not match its manifest"),
        "{err}"
    );
}

#[tokio::test]
async fn a_tampered_local_file_is_caught_too() {
    let dir = tempfile::tempdir().unwrap();
    let registry = Registry::new(Arc::new(schema_registry::LocalStore::new(dir.path())));
    let version = published(&registry, "abc123f").await;
    std::fs::write(dir.path().join("schemas/abc123f/dimensions.json"), "{\"tampered\":true}").unwrap();
    let err = registry.get(&version).await.unwrap_err().to_string();
    assert!(err.contains("dimensions.json does not match its manifest"), "{err}");
}

#[tokio::test]
async fn bad_names_are_rejected_before_any_io() {
    // A store that panics on any call: nothing may reach it.
    let registry = Registry::new(Arc::new(Untouchable));
    for reference in ["../etc/passwd", "a/../../b", "..", "previous-../x", ".hidden"] {
        let err = registry.resolve(reference).await.unwrap_err();
        assert!(matches!(err, Error::InvalidName { .. }), "{reference}: {err:?}");
    }
    assert!(Version::parse("../x").is_err());
}

/// Panics on any call.
#[derive(Debug)]
struct Untouchable;

#[async_trait]
impl SchemaStore for Untouchable {
    async fn get(&self, key: &str) -> StoreResult<Option<Object>> {
        panic!("get {key} reached the store")
    }
    async fn put_if_absent(&self, key: &str, _: Vec<u8>) -> StoreResult<Etag> {
        panic!("create {key} reached the store")
    }
    async fn put_if_match(&self, key: &str, _: Vec<u8>, _: &Etag) -> StoreResult<Etag> {
        panic!("swap {key} reached the store")
    }
    async fn list(&self, prefix: &str, _: Option<String>) -> StoreResult<ListPage> {
        panic!("list {prefix} reached the store")
    }
    fn location(&self) -> String {
        "untouchable://".into()
    }
}

#[tokio::test]
async fn damage_is_found_on_republish_on_read_and_does_not_hide_other_versions() {
    let store = Arc::new(MemoryStore::new());
    let registry = Registry::new(store.clone());
    let good = published(&registry, "aaa1111").await;
    let damaged = published(&registry, "bbb2222").await;
    // A stored file no longer matches: republishing the same content is not "nothing to do".
    store.tamper("schemas/bbb2222/dimensions.json", b"{}".to_vec());
    let same = bundle(&format!("{{\"v\":\"{damaged}\"}}"));
    let err = registry.publish(&damaged, &same, PublishMeta::default()).await.unwrap_err();
    assert!(matches!(err, Error::Digest { .. }), "{err:?}");
    // An unreadable manifest is listed as such; the good version is still there.
    store.tamper("schemas/bbb2222/manifest.json", b"not json".to_vec());
    let listed = registry.list().await.unwrap();
    assert_eq!(listed.len(), 2);
    assert!(listed.iter().any(|info| info.version == good.as_str() && info.unreadable.is_none()));
    assert!(listed.iter().any(|info| info.version == "bbb2222" && info.unreadable.is_some()));
}
