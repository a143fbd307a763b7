//! The emergency controls: suspend, resume, reset. They take no lock, so they work while a
//! deploy is stuck.

use serde::Serialize;

use druid_client::supervisors::{SupervisorState, SupervisorStatus};

use crate::Result;
use crate::ledger::{Action, DeployRecord, Outcome};
use crate::session::Session;

/// What a control found and did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ControlOutcome {
    /// Druid applied it.
    Applied,
    /// The supervisor already was in that state: nothing was asked of Druid.
    AlreadySo,
}

fn is_suspended(status: &SupervisorStatus) -> bool {
    status.payload.suspended == Some(true) || status.payload.state == Some(SupervisorState::Suspended)
}

impl Session {
    /// Emergency: stops reading without removing the supervisor. Takes no lock, so it works
    /// while a deploy is stuck. Suspending a suspended supervisor is not an error.
    pub async fn suspend(&self) -> Result<ControlOutcome> {
        self.switch(true).await
    }

    /// Resumes a suspended supervisor; resuming a running one is not an error.
    pub async fn resume(&self) -> Result<ControlOutcome> {
        self.switch(false).await
    }

    async fn switch(&self, suspend: bool) -> Result<ControlOutcome> {
        let (action, doing, already) = if suspend {
            (Action::Suspend, "suspending", "already suspended")
        } else {
            (Action::Resume, "resuming", "already running")
        };
        let id = self.environment.supervisor_id();
        let status = self.druid.supervisor_status(id).await.map_err(self.druid_failed(doing))?;
        let applied = if is_suspended(&status) == suspend {
            false
        } else {
            let asked = if suspend { self.druid.suspend(id).await } else { self.druid.resume(id).await };
            match asked {
                Ok(()) => true,
                // Druid refuses (400) a supervisor already in that state: someone got there first.
                Err(err) if err.status() == Some(400) => {
                    let now = self.druid.supervisor_status(id).await.map_err(self.druid_failed(doing))?;
                    if is_suspended(&now) != suspend {
                        return Err(self.druid_failed(doing)(err));
                    }
                    false
                }
                Err(err) => return Err(self.druid_failed(doing)(err)),
            }
        };
        let (outcome, detail) =
            if applied { (Outcome::Succeeded, None) } else { (Outcome::NoOp, Some(already.to_owned())) };
        self.record(DeployRecord::new(action, outcome).detail(detail)).await;
        Ok(if applied { ControlOutcome::Applied } else { ControlOutcome::AlreadySo })
    }

    /// Forgets stored offsets and restarts the tasks (data may be skipped or re-read).
    pub async fn reset(&self) -> Result<ControlOutcome> {
        self.druid.reset(self.environment.supervisor_id()).await.map_err(self.druid_failed("resetting"))?;
        self.record(DeployRecord::new(Action::Reset, Outcome::Succeeded)).await;
        Ok(ControlOutcome::Applied)
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

    /// The state a supervisor was already in when the control changed nothing.
    pub fn already(self) -> &'static str {
        match self {
            Self::Suspend => "already suspended",
            Self::Resume => "already running",
            Self::Reset => "already reset",
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
    pub async fn control(&self, control: Control) -> Result<ControlOutcome> {
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
    /// Whether Druid was asked (`applied`) or the supervisor already was so (`already-so`).
    pub outcome: ControlOutcome,
}
