//! The conformance suite every [`SchemaStore`] backend passes: what the registry relies on
//! (create-once, compare-and-swap, sorted listing, exactly one winner under races). Enable
//! the `conformance` feature and call [`run_all`] (or each check) against your own store;
//! each check panics with what went wrong. Each needs a fresh, empty store (or prefix).

use std::sync::Arc;

use crate::store::{Etag, SchemaStore, StoreError, list_all};

/// Every check, each against a fresh store from `new_store`.
pub async fn run_all<F, Fut>(new_store: F)
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Arc<dyn SchemaStore>>,
{
    get_of_a_missing_key_is_none(new_store().await).await;
    create_then_get(new_store().await).await;
    a_second_create_fails_and_keeps_the_first_body(new_store().await).await;
    swap_needs_the_current_tag(new_store().await).await;
    swap_of_a_missing_key_is_not_found(new_store().await).await;
    list_is_sorted_and_bounded_by_the_prefix(new_store().await).await;
    concurrent_creates_have_exactly_one_winner(new_store().await).await;
    concurrent_swaps_from_one_tag_have_exactly_one_winner(new_store().await).await;
}

/// Conformance: `get of a missing key is none`.
pub async fn get_of_a_missing_key_is_none(store: Arc<dyn SchemaStore>) {
    assert_eq!(store.get("schemas/none/manifest.json").await.unwrap(), None);
}

/// Conformance: `create then get`.
pub async fn create_then_get(store: Arc<dyn SchemaStore>) {
    let etag = store.put_if_absent("schemas/v1/descriptor.binpb", b"\x0a\x01bytes".to_vec()).await.unwrap();
    let object = store.get("schemas/v1/descriptor.binpb").await.unwrap().unwrap();
    assert_eq!(object.bytes, b"\x0a\x01bytes");
    assert_eq!(object.etag, etag);
}

/// Conformance: `a second create fails and keeps the first body`.
pub async fn a_second_create_fails_and_keeps_the_first_body(store: Arc<dyn SchemaStore>) {
    store.put_if_absent("k/a", b"first".to_vec()).await.unwrap();
    let err = store.put_if_absent("k/a", b"second".to_vec()).await.unwrap_err();
    assert!(matches!(err, StoreError::AlreadyExists { .. }), "{err:?}");
    assert_eq!(store.get("k/a").await.unwrap().unwrap().bytes, b"first");
}

/// Conformance: `swap needs the current tag`.
pub async fn swap_needs_the_current_tag(store: Arc<dyn SchemaStore>) {
    let first = store.put_if_absent("k/p", b"1".to_vec()).await.unwrap();
    let second = store.put_if_match("k/p", b"2".to_vec(), &first).await.unwrap();
    assert_ne!(first, second);
    let err = store.put_if_match("k/p", b"3".to_vec(), &first).await.unwrap_err();
    assert!(matches!(err, StoreError::PreconditionFailed { .. }), "{err:?}");
    let object = store.get("k/p").await.unwrap().unwrap();
    assert_eq!((object.bytes.as_slice(), &object.etag), (b"2".as_slice(), &second));
}

/// Conformance: `swap of a missing key is not found`.
pub async fn swap_of_a_missing_key_is_not_found(store: Arc<dyn SchemaStore>) {
    let err = store.put_if_match("k/missing", b"x".to_vec(), &Etag("\"abc\"".into())).await.unwrap_err();
    assert!(matches!(err, StoreError::NotFound { .. }), "{err:?}");
    assert_eq!(store.get("k/missing").await.unwrap(), None);
}

/// Conformance: `list is sorted and bounded by the prefix`.
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

/// Conformance: `concurrent creates have exactly one winner`.
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

/// Conformance: `concurrent swaps from one tag have exactly one winner`.
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
