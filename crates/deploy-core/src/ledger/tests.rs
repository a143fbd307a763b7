use std::sync::Arc;

use schema_registry::{LocalStore, MemoryStore};

use super::*;

async fn deploy_locks(ledger: Ledger) {
    let held = ledger.acquire("prod", "alice@laptop pid 1", Duration::from_mins(10)).await.unwrap();
    let err = ledger.acquire("prod", "ci@runner pid 2", Duration::from_mins(10)).await.unwrap_err();
    assert!(err.to_string().contains("locked by alice@laptop pid 1"), "{err}");
    ledger.acquire("dev", "ci@runner pid 2", Duration::from_mins(10)).await.unwrap();
    ledger.release(held).await.unwrap();
    let again = ledger.acquire("prod", "ci@runner pid 2", Duration::from_secs(0)).await.unwrap();
    // An expired lease can be taken over; its old holder then finds it lost.
    let taken = ledger.acquire("prod", "bob@desk pid 3", Duration::from_mins(10)).await.unwrap();
    assert!(matches!(ledger.release(again).await.unwrap_err(), Error::LockLost { .. }));
    assert_eq!(ledger.lease("prod").await.unwrap().unwrap().owner, "bob@desk pid 3");
    ledger.release(taken).await.unwrap();
    assert!(ledger.lease("prod").await.unwrap().unwrap().released);
    // A lock left by a crashed deploy is broken by hand, recorded; a free one is no-op.
    let stuck = ledger.acquire("staging", "ci@runner pid 9", Duration::from_mins(20)).await.unwrap();
    let broken = ledger.unlock("staging", "alice", "runner died (INC-3)").await.unwrap().unwrap();
    assert_eq!(broken.owner, "ci@runner pid 9");
    assert!(ledger.unlock("staging", "alice", "again").await.unwrap().is_none());
    ledger.acquire("staging", "bob", Duration::from_mins(1)).await.unwrap();
    assert!(
        matches!(ledger.release(stuck).await.unwrap_err(), Error::LockLost { .. }),
        "the old holder lost it"
    );
    let last = ledger.history("staging").await.unwrap().pop().unwrap();
    assert_eq!((last.action, last.by.as_deref()), (Action::Unlock, Some("alice")));
    assert!(last.detail.unwrap().contains("runner died (INC-3)"));
    // A heartbeat extends the lease; once broken, renewing is refused and the fence says so.
    let held = ledger.acquire("qa", "ci", Duration::from_secs(1)).await.unwrap();
    let renewed = ledger.renew(&held, Duration::from_mins(30)).await.unwrap();
    assert!(renewed.lease.expires_at > held.lease.expires_at);
    assert!(ledger.holds("qa", &held.lease.token).await.unwrap());
    ledger.unlock("qa", "alice", "stuck").await.unwrap();
    assert!(matches!(
        ledger.renew(&renewed, Duration::from_mins(30)).await.unwrap_err(),
        Error::LockLost { .. }
    ));
    assert!(!ledger.holds("qa", &held.lease.token).await.unwrap());
    let err = ledger.acquire("../prod", "x", Duration::from_secs(1)).await.unwrap_err();
    assert!(matches!(err, Error::Registry(schema_registry::Error::InvalidName { .. })), "{err:?}");
}

async fn history_is_typed_and_ordered(ledger: Ledger) {
    for (action, outcome) in
        [(Action::Deploy, Outcome::Succeeded), (Action::AutomaticRollback, Outcome::Failed)]
    {
        let record = DeployRecord {
            environment: "dev".into(),
            action,
            outcome,
            from: None,
            to: Some("v1".into()),
            by: Some("ci".into()),
            at: String::new(),
            overrides: BTreeMap::new(),
            detail: None,
            verdict: None,
        };
        ledger.record(&record).await.unwrap();
    }
    let history = ledger.history("dev").await.unwrap();
    let seen: Vec<_> = history.iter().map(|record| (record.action, record.outcome)).collect();
    assert_eq!(seen, [(Action::Deploy, Outcome::Succeeded), (Action::AutomaticRollback, Outcome::Failed)]);
    let json = serde_json::to_value(&history[1]).unwrap();
    assert_eq!(
        (json["action"].as_str(), json["outcome"].as_str()),
        (Some("automatic-rollback"), Some("failed"))
    );
}

#[tokio::test]
async fn memory() {
    deploy_locks(Ledger::new(Registry::new(Arc::new(MemoryStore::new())))).await;
    history_is_typed_and_ordered(Ledger::new(Registry::new(Arc::new(MemoryStore::new())))).await;
}

#[tokio::test]
async fn local_disk() {
    let dir = tempfile::tempdir().unwrap();
    deploy_locks(Ledger::new(Registry::new(Arc::new(LocalStore::new(dir.path().join("a")))))).await;
    history_is_typed_and_ordered(Ledger::new(Registry::new(Arc::new(LocalStore::new(dir.path().join("b"))))))
        .await;
}
