//! One suite, every backend: what the registry relies on from a store.

use std::sync::Arc;

use schema_registry::store::{Etag, SchemaStore, StoreError, list_all};

pub async fn get_of_a_missing_key_is_none(store: Arc<dyn SchemaStore>) {
    assert_eq!(store.get("schemas/none/manifest.json").await.unwrap(), None);
}

pub async fn create_then_get(store: Arc<dyn SchemaStore>) {
    let etag = store.put_if_absent("schemas/v1/descriptor.binpb", b"\x0a\x01bytes".to_vec()).await.unwrap();
    let object = store.get("schemas/v1/descriptor.binpb").await.unwrap().unwrap();
    assert_eq!(object.bytes, b"\x0a\x01bytes");
    assert_eq!(object.etag, etag);
}

pub async fn a_second_create_fails_and_keeps_the_first_body(store: Arc<dyn SchemaStore>) {
    store.put_if_absent("k/a", b"first".to_vec()).await.unwrap();
    let err = store.put_if_absent("k/a", b"second".to_vec()).await.unwrap_err();
    assert!(matches!(err, StoreError::AlreadyExists { .. }), "{err:?}");
    assert_eq!(store.get("k/a").await.unwrap().unwrap().bytes, b"first");
}

pub async fn swap_needs_the_current_tag(store: Arc<dyn SchemaStore>) {
    let first = store.put_if_absent("k/p", b"1".to_vec()).await.unwrap();
    let second = store.put_if_match("k/p", b"2".to_vec(), &first).await.unwrap();
    assert_ne!(first, second);
    let err = store.put_if_match("k/p", b"3".to_vec(), &first).await.unwrap_err();
    assert!(matches!(err, StoreError::PreconditionFailed { .. }), "{err:?}");
    let object = store.get("k/p").await.unwrap().unwrap();
    assert_eq!((object.bytes.as_slice(), &object.etag), (b"2".as_slice(), &second));
}

pub async fn swap_of_a_missing_key_is_not_found(store: Arc<dyn SchemaStore>) {
    let err = store.put_if_match("k/missing", b"x".to_vec(), &Etag("\"abc\"".into())).await.unwrap_err();
    assert!(matches!(err, StoreError::NotFound { .. }), "{err:?}");
    assert_eq!(store.get("k/missing").await.unwrap(), None);
}

pub async fn list_is_sorted_and_bounded_by_the_prefix(store: Arc<dyn SchemaStore>) {
    for key in [
        "schemas/b/manifest.json",
        "schemas/a/manifest.json",
        "schemas/a/sources/x.proto",
        "history/x.json",
        "schemasX/y",
    ] {
        store.put_if_absent(key, b"{}".to_vec()).await.unwrap();
    }
    assert_eq!(
        list_all(store.as_ref(), "schemas/").await.unwrap(),
        ["schemas/a/manifest.json", "schemas/a/sources/x.proto", "schemas/b/manifest.json"]
    );
    assert!(list_all(store.as_ref(), "nothing/").await.unwrap().is_empty());
}

pub async fn concurrent_creates_have_exactly_one_winner(store: Arc<dyn SchemaStore>) {
    let tasks: Vec<_> = (0..16)
        .map(|writer| {
            let store = store.clone();
            tokio::spawn(async move {
                store.put_if_absent("race/create", format!("writer {writer}").into_bytes()).await
            })
        })
        .collect();
    let mut winners = Vec::new();
    for (writer, task) in tasks.into_iter().enumerate() {
        match task.await.unwrap() {
            Ok(_) => winners.push(writer),
            Err(StoreError::AlreadyExists { .. } | StoreError::Conflict { .. }) => {}
            Err(err) => panic!("{err:?}"),
        }
    }
    assert_eq!(winners.len(), 1, "winners: {winners:?}");
    let kept = store.get("race/create").await.unwrap().unwrap().bytes;
    assert_eq!(kept, format!("writer {}", winners[0]).into_bytes());
}

pub async fn concurrent_swaps_from_one_tag_have_exactly_one_winner(store: Arc<dyn SchemaStore>) {
    let base = store.put_if_absent("race/swap", b"base".to_vec()).await.unwrap();
    let tasks: Vec<_> = (0..16)
        .map(|writer| {
            let (store, base) = (store.clone(), base.clone());
            tokio::spawn(async move {
                store.put_if_match("race/swap", format!("writer {writer}").into_bytes(), &base).await
            })
        })
        .collect();
    let mut winners = 0;
    for task in tasks {
        match task.await.unwrap() {
            Ok(_) => winners += 1,
            Err(StoreError::PreconditionFailed { .. } | StoreError::Conflict { .. }) => {}
            Err(err) => panic!("{err:?}"),
        }
    }
    assert_eq!(winners, 1);
}

macro_rules! conformance {
    ($backend:ident, $store:expr) => {
        mod $backend {
            #[allow(unused_imports)]
            use crate::s3_or_skip;

            conformance!(@tests $store;
                get_of_a_missing_key_is_none,
                create_then_get,
                a_second_create_fails_and_keeps_the_first_body,
                swap_needs_the_current_tag,
                swap_of_a_missing_key_is_not_found,
                list_is_sorted_and_bounded_by_the_prefix,
                concurrent_creates_have_exactly_one_winner,
                concurrent_swaps_from_one_tag_have_exactly_one_winner,
            );
        }
    };
    (@tests $store:expr; $($test:ident,)+) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $test() {
                let store = $store;
                super::$test(store).await;
            }
        )+
    };
}

conformance!(memory, crate::memory());
conformance!(local, crate::local());
conformance!(s3, s3_or_skip!());

#[tokio::test]
async fn memory_listing_pages() {
    let store: Arc<dyn SchemaStore> = Arc::new(schema_registry::MemoryStore::with_page_size(3));
    for index in 0..10 {
        store.put_if_absent(&format!("p/{index:02}"), vec![]).await.unwrap();
    }
    let first = store.list("p/", None).await.unwrap();
    assert_eq!(first.keys, ["p/00", "p/01", "p/02"]);
    assert_eq!(list_all(store.as_ref(), "p/").await.unwrap().len(), 10);
}

#[tokio::test]
async fn local_files_never_show_half_written_or_temporary_files() {
    let dir = tempfile::tempdir().unwrap();
    let store = schema_registry::LocalStore::new(dir.path());
    store.put_if_absent("a/b", b"x".to_vec()).await.unwrap();
    let etag = store.get("a/b").await.unwrap().unwrap().etag;
    store.put_if_match("a/b", b"y".to_vec(), &etag).await.unwrap();
    // The lock sidecar exists on disk but is not a key.
    assert!(dir.path().join("a/.b.lock").exists());
    assert_eq!(list_all(&store, "").await.unwrap(), ["a/b"]);
    assert!(store.get("../escape").await.is_err());
}
