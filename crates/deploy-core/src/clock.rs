//! Time, behind a trait so tests control the deployment window and never wait.

use std::time::Duration;

use async_trait::async_trait;
use jiff::Timestamp;

/// Time, so tests control the window and never wait.
#[async_trait]
pub trait Clock: Send + Sync {
    /// Now.
    fn now(&self) -> Timestamp;
    /// Waits `duration`.
    async fn sleep(&self, duration: Duration);
}

/// The real clock.
#[derive(Debug, Default)]
pub struct SystemClock;

#[async_trait]
impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        Timestamp::now()
    }

    async fn sleep(&self, duration: Duration) {
        tokio::time::sleep(duration).await;
    }
}
