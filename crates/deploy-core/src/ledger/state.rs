//! What the registry keeps about an environment (`environments/ENV.json`): where it ingests
//! and its migration, the open one or the last one (docs/migrations.md). The types live here,
//! with the ledger that stores them; [`crate::migrate`] moves them.

use serde::{Deserialize, Serialize};

use crate::config::Environment;

/// Where an environment ingests: a datasource, the supervisor writing it, its topic, and the
/// version it runs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Placement {
    /// Datasource.
    pub datasource: String,
    /// Supervisor id (the datasource unless the environment sets `supervisor`).
    pub supervisor: String,
    /// Kafka topic.
    pub topic: String,
    /// The registry version it runs, once known.
    #[serde(default)]
    pub version: Option<String>,
}

impl Placement {
    /// Where `environment`'s settings say it ingests.
    pub fn of(environment: &Environment, version: Option<String>) -> Self {
        Self {
            datasource: environment.datasource.clone(),
            supervisor: environment.supervisor_id().to_owned(),
            topic: environment.kafka.topic.clone(),
            version,
        }
    }

    /// Whether both name the same supervisor writing the same datasource.
    pub fn same_target(&self, other: &Self) -> bool {
        self.datasource == other.datasource && self.supervisor == other.supervisor
    }

    /// The placement in words: `supervisor on datasource (version, topic)`.
    pub fn describe(&self) -> String {
        let version = self.version.as_deref().unwrap_or("no version");
        if self.supervisor == self.datasource {
            format!("{} ({version}, topic {})", self.datasource, self.topic)
        } else {
            format!("{} on {} ({version}, topic {})", self.supervisor, self.datasource, self.topic)
        }
    }
}

/// Where a migration is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum MigrationState {
    /// The new supervisor is being submitted and verified.
    Starting,
    /// Both supervisors run; the new one is current.
    Dual,
    /// The old supervisor's task groups are handing off; it is terminated next.
    CuttingOver,
    /// The old supervisor is terminated; its rows stay queryable.
    Done,
    /// The new supervisor is being terminated.
    Aborting,
    /// The new supervisor was terminated (or never verified); the old one is current.
    Aborted,
}

impl MigrationState {
    /// Whether the migration has not ended.
    pub fn is_open(self) -> bool {
        !matches!(self, Self::Done | Self::Aborted)
    }

    /// The word stored and shown.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Starting => "starting",
            Self::Dual => "dual",
            Self::CuttingOver => "cutting-over",
            Self::Done => "done",
            Self::Aborting => "aborting",
            Self::Aborted => "aborted",
        }
    }
}

impl std::fmt::Display for MigrationState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One migration of an environment from one placement to another.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Migration {
    /// Environment.
    pub environment: String,
    /// Where it ingested before.
    pub old: Placement,
    /// Where it ingests after.
    pub new: Placement,
    /// Where the migration is.
    pub state: MigrationState,
    /// Both supervisors write one datasource (Druid 34+).
    #[serde(default)]
    pub same_datasource: bool,
    /// Who started it.
    pub started_by: String,
    /// When (RFC 3339).
    pub started_at: String,
    /// When its state last changed.
    pub updated_at: String,
    /// Who ended it (cutover or abort).
    #[serde(default)]
    pub finished_by: Option<String>,
    /// When.
    #[serde(default)]
    pub finished_at: Option<String>,
    /// The old supervisor's tasks asked to hand off at cutover.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub handoff_tasks: Vec<String>,
    /// The last step, in a sentence.
    #[serde(default)]
    pub detail: Option<String>,
}

/// What the registry says about an environment: where it ingests, and its migration (the
/// open one, or the last one).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnvironmentState {
    /// Environment.
    pub environment: String,
    /// Where it ingests now (the new side while a migration is dual).
    pub live: Placement,
    /// Its migration.
    #[serde(default)]
    pub migration: Option<Migration>,
    /// When this was written.
    pub updated_at: String,
}

impl EnvironmentState {
    /// The migration, while it is open.
    pub fn open_migration(&self) -> Option<&Migration> {
        self.migration.as_ref().filter(|migration| migration.state.is_open())
    }
}
