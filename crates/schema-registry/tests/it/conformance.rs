//! One suite, every backend: the exported conformance checks (`schema_registry::conformance`)
//! against memory, local disk and S3.

use std::sync::Arc;

use schema_registry::store::{SchemaStore, list_all};

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
                schema_registry::conformance::$test(store).await;
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

/// S3 only: the SDK retries a PUT whose response was lost, and the retry fails its condition
/// against our own first write. A 412 over byte-identical content is ours, not a conflict;
/// over different content it still is.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn s3_an_identical_conditional_write_is_ours() {
    let store = crate::s3_or_skip!();
    let first = store.put_if_absent("retry/create", b"lease token 42".to_vec()).await.unwrap();
    let again = store.put_if_absent("retry/create", b"lease token 42".to_vec()).await.unwrap();
    assert_eq!(first, again);
    let err = store.put_if_absent("retry/create", b"another writer".to_vec()).await.unwrap_err();
    assert!(matches!(err, schema_registry::StoreError::AlreadyExists { .. }), "{err:?}");
    let swapped = store.put_if_match("retry/create", b"moved".to_vec(), &first).await.unwrap();
    // The same swap retried with the stale tag: identical bytes stored, so it succeeded.
    assert_eq!(store.put_if_match("retry/create", b"moved".to_vec(), &first).await.unwrap(), swapped);
    let err = store.put_if_match("retry/create", b"other".to_vec(), &first).await.unwrap_err();
    assert!(matches!(err, schema_registry::StoreError::PreconditionFailed { .. }), "{err:?}");
}
