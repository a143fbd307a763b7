//! `notify = [...]` in an environment: where its events go and which ones (docs/notifications.md).
//! The sending is [`crate::notify`].

use serde::{Deserialize, Serialize};

/// `notify = [{ kind = "slack", url_env = "DRUIDCTL_SLACK_WEBHOOK", events = [...] }]`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NotifierSettings {
    /// `slack` or `webhook`.
    pub kind: NotifierKind,
    /// The variable holding the URL (a secret: never written in the project file).
    pub url_env: String,
    /// Events to send (all when absent).
    #[serde(default)]
    pub events: Option<Vec<EventKind>>,
    /// Seconds a delivery may take, retries included (5).
    #[serde(default = "notify_default_timeout")]
    pub timeout_secs: u64,
    /// While a monitor alert stays fired, remind every this many minutes (never by default).
    #[serde(default)]
    pub remind_minutes: Option<u64>,
}

/// Seconds a delivery may take by default.
pub(crate) fn notify_default_timeout() -> u64 {
    5
}

/// Where a notifier sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum NotifierKind {
    /// A Slack incoming webhook: blocks for people.
    Slack,
    /// Any HTTP endpoint: the `druidctl.event.v1` JSON document.
    Webhook,
}

/// What happened, as notifiers filter it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[allow(missing_docs)]
pub enum EventKind {
    DeployStarted,
    DeploySucceeded,
    DeployUnverified,
    DeployRolledBack,
    DeployFailed,
    DeployInterrupted,
    OverrideUsed,
    Rollback,
    Suspend,
    Resume,
    Reset,
    AlertFired,
    AlertResolved,
    MigrationStarted,
    MigrationCutover,
    MigrationAborted,
    DriftDetected,
    DriftResolved,
    Test,
}

impl EventKind {
    /// The kebab-case name (`deploy-rolled-back`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::DeployStarted => "deploy-started",
            Self::DeploySucceeded => "deploy-succeeded",
            Self::DeployUnverified => "deploy-unverified",
            Self::DeployRolledBack => "deploy-rolled-back",
            Self::DeployFailed => "deploy-failed",
            Self::DeployInterrupted => "deploy-interrupted",
            Self::OverrideUsed => "override-used",
            Self::Rollback => "rollback",
            Self::Suspend => "suspend",
            Self::Resume => "resume",
            Self::Reset => "reset",
            Self::AlertFired => "alert-fired",
            Self::AlertResolved => "alert-resolved",
            Self::MigrationStarted => "migration-started",
            Self::MigrationCutover => "migration-cutover",
            Self::MigrationAborted => "migration-aborted",
            Self::DriftDetected => "drift-detected",
            Self::DriftResolved => "drift-resolved",
            Self::Test => "test",
        }
    }

    pub(crate) fn headline(self) -> &'static str {
        match self {
            Self::DeployStarted => "deploy started",
            Self::DeploySucceeded => "deploy succeeded",
            Self::DeployUnverified => "deploy unverified: live, too little evidence to say it ingests well",
            Self::DeployRolledBack => "deploy rolled back",
            Self::DeployFailed => "deploy failed",
            Self::DeployInterrupted => "deploy interrupted",
            Self::OverrideUsed => "override used",
            Self::Rollback => "rollback",
            Self::Suspend => "supervisor suspended",
            Self::Resume => "supervisor resumed",
            Self::Reset => "supervisor offsets reset",
            Self::AlertFired => "alert fired",
            Self::AlertResolved => "alert resolved",
            Self::MigrationStarted => "migration started: both supervisors run",
            Self::MigrationCutover => "migration cutover",
            Self::MigrationAborted => "migration aborted",
            Self::DriftDetected => "drift detected: Druid does not run the channel's version",
            Self::DriftResolved => "drift resolved",
            Self::Test => "test message",
        }
    }

    pub(crate) fn emoji(self) -> &'static str {
        match self {
            Self::DeploySucceeded
            | Self::AlertResolved
            | Self::Resume
            | Self::MigrationCutover
            | Self::DriftResolved => ":white_check_mark:",
            Self::MigrationStarted => ":twisted_rightwards_arrows:",
            Self::DeployRolledBack
            | Self::DeployUnverified
            | Self::Rollback
            | Self::OverrideUsed
            | Self::Suspend
            | Self::Reset
            | Self::MigrationAborted
            | Self::DriftDetected => ":warning:",
            Self::DeployFailed | Self::AlertFired | Self::DeployInterrupted => ":rotating_light:",
            Self::DeployStarted | Self::Test => ":information_source:",
        }
    }
}
