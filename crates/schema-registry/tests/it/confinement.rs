//! The local store stays inside its directory: links are refused, never followed, and modes
//! do not depend on the umask.
#![cfg(unix)]

use std::os::unix::fs::{PermissionsExt as _, symlink};

use schema_registry::{LocalStore, SchemaStore, StoreError};

fn store() -> (tempfile::TempDir, LocalStore) {
    let dir = tempfile::tempdir().unwrap();
    let store = LocalStore::new(dir.path().join("registry"));
    (dir, store)
}

/// The error, or its cause (the CLI prints both), says a link was refused.
fn refused(err: &StoreError) -> bool {
    let cause = std::error::Error::source(err).map(ToString::to_string).unwrap_or_default();
    cause.contains("is a symbolic link") && cause.contains("never follows links")
}

#[tokio::test]
async fn a_linked_directory_is_refused_and_nothing_is_written_through_it() {
    let (dir, store) = store();
    store.put_if_absent("history/deploys/dev/1.json", b"{}".to_vec()).await.unwrap();
    let outside = dir.path().join("outside");
    std::fs::create_dir(&outside).unwrap();
    std::fs::create_dir_all(dir.path().join("registry/history/deploys")).unwrap();
    symlink(&outside, dir.path().join("registry/history/deploys/prod")).unwrap();
    let err = store.put_if_absent("history/deploys/prod/1.json", b"{}".to_vec()).await.unwrap_err();
    assert!(refused(&err), "{err}");
    assert_eq!(std::fs::read_dir(&outside).unwrap().count(), 0, "nothing written outside the registry");
    assert!(refused(&store.get("history/deploys/prod/1.json").await.unwrap_err()));
}

#[tokio::test]
async fn a_dangling_lock_link_creates_nothing_where_it_points() {
    let (dir, store) = store();
    let etag = store.put_if_absent("journal/dev.json", b"{}".to_vec()).await.unwrap();
    let target = dir.path().join("planted");
    symlink(&target, dir.path().join("registry/journal/.dev.json.lock")).unwrap();
    let err = store.put_if_match("journal/dev.json", b"{\"a\":1}".to_vec(), &etag).await.unwrap_err();
    assert!(refused(&err), "{err}");
    assert!(!target.exists(), "the link's target was not created");
}

#[tokio::test]
async fn a_linked_file_is_neither_read_nor_replaced() {
    let (dir, store) = store();
    let secret = dir.path().join("secret.txt");
    std::fs::write(&secret, "outside").unwrap();
    store.put_if_absent("schemas/v1/manifest.json", b"{}".to_vec()).await.unwrap();
    symlink(&secret, dir.path().join("registry/schemas/v1/sources.txt")).unwrap();
    assert!(refused(&store.get("schemas/v1/sources.txt").await.unwrap_err()));
    assert!(refused(&store.put_if_absent("schemas/v1/sources.txt", b"x".to_vec()).await.unwrap_err()));
    assert_eq!(std::fs::read_to_string(&secret).unwrap(), "outside");
    // Listings skip it (links are not objects).
    let page = store.list("schemas/", None).await.unwrap();
    assert_eq!(page.keys, ["schemas/v1/manifest.json"]);
}

#[tokio::test]
async fn private_stores_are_owner_only() {
    // Under any umask: the CLI test `files_keep_their_modes_under_umask_000` runs the binary
    // with umask 000 (a test process cannot change its own umask without unsafe code).
    let (dir, _) = store();
    let private = LocalStore::new(dir.path().join("private")).private(true);
    private.put_if_absent("schemas/v1/manifest.json", b"{}".to_vec()).await.unwrap();
    let mode = |path: &str| std::fs::metadata(dir.path().join(path)).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode("private/schemas/v1/manifest.json"), 0o600);
    assert_eq!(mode("private/schemas"), 0o700);
    assert_eq!(mode("private"), 0o700);
}
