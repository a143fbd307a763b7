//! The emergency controls: suspend, resume, reset. They take no lock, so they work while a
//! deploy is stuck.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::Result;
use crate::ledger::{Action, Outcome};
use crate::session::{Session, druid_error};

impl Session {
    /// Emergency: stops reading without removing the supervisor. Takes no lock, so it works
    /// while a deploy is stuck.
    pub async fn suspend(&self) -> Result<()> {
        self.druid.suspend(&self.environment.datasource).await.map_err(druid_error("suspending"))?;
        self.record(Action::Suspend, Outcome::Succeeded, None, None, BTreeMap::new(), None).await;
        Ok(())
    }

    /// Resumes a suspended supervisor.
    pub async fn resume(&self) -> Result<()> {
        self.druid.resume(&self.environment.datasource).await.map_err(druid_error("resuming"))?;
        self.record(Action::Resume, Outcome::Succeeded, None, None, BTreeMap::new(), None).await;
        Ok(())
    }

    /// Forgets stored offsets and restarts the tasks (data may be skipped or re-read).
    pub async fn reset(&self) -> Result<()> {
        self.druid.reset(&self.environment.datasource).await.map_err(druid_error("resetting"))?;
        self.record(Action::Reset, Outcome::Succeeded, None, None, BTreeMap::new(), None).await;
        Ok(())
    }
}

/// An emergency control.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Control {
    /// Stop reading, keep the supervisor.
    Suspend,
    /// Read again.
    Resume,
    /// Forget stored offsets and restart the tasks.
    Reset,
}

impl Control {
    /// `suspend`, `resume`, `reset`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Suspend => "suspend",
            Self::Resume => "resume",
            Self::Reset => "reset",
        }
    }

    /// `suspended`, `resumed`, `reset`.
    pub fn past(self) -> &'static str {
        match self {
            Self::Suspend => "suspended",
            Self::Resume => "resumed",
            Self::Reset => "reset",
        }
    }
}

impl Session {
    /// Applies `control` to the environment's supervisor and records it.
    pub async fn control(&self, control: Control) -> Result<()> {
        match control {
            Control::Suspend => self.suspend().await,
            Control::Resume => self.resume().await,
            Control::Reset => self.reset().await,
        }
    }
}

/// What a control did, as the CLI's JSON document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ControlReport<'a> {
    /// Environment.
    pub environment: &'a str,
    /// The supervisor (datasource).
    pub supervisor: &'a str,
    /// The control applied.
    pub action: Control,
}
