//! Deploy scenarios and the fault matrix against the shared fake Druid
//! (`druid_client::testing`) and an in-memory registry; the monitor alerts against Druid's
//! fixture responses (mockall).

mod embedding;
mod faults;
mod fleet;
mod migrations;
mod monitor;
mod plan_files;
mod scenarios;
mod verdicts;

use std::sync::{Arc, Mutex};
use std::time::Duration;

/// A clock whose sleeps advance it instantly.
pub struct TestClock(Mutex<jiff::Timestamp>);

impl TestClock {
    /// A clock at `text` (RFC 3339).
    pub fn at(text: &str) -> Arc<Self> {
        Arc::new(Self(Mutex::new(text.parse().unwrap())))
    }
}

#[async_trait::async_trait]
impl deploy_core::clock::Clock for TestClock {
    fn now(&self) -> jiff::Timestamp {
        *self.0.lock().unwrap()
    }
    async fn sleep(&self, duration: Duration) {
        let mut now = self.0.lock().unwrap();
        *now += jiff::SignedDuration::try_from(duration).unwrap();
    }
}

/// A copy of the sample project (druidctl.toml, schemas/proto, config) in a new temporary
/// directory, to change freely.
pub fn sample_copy() -> tempfile::TempDir {
    let sample = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let dir = tempfile::tempdir().unwrap();
    let config = std::fs::read_to_string(sample.join("druidctl.toml")).unwrap();
    // No Kafka behind the fake Druid: preflight is covered by its own tests.
    let config = format!("{config}\n[defaults.preflight]\nenabled = false\n");
    std::fs::write(dir.path().join("druidctl.toml"), config).unwrap();
    for part in ["schemas/proto", "config"] {
        std::fs::create_dir_all(dir.path().join(part)).unwrap();
        for entry in std::fs::read_dir(sample.join(part)).unwrap() {
            let entry = entry.unwrap();
            std::fs::copy(entry.path(), dir.path().join(part).join(entry.file_name())).unwrap();
        }
    }
    dir
}
