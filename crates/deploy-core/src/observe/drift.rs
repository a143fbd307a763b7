//! Drift: what Druid runs compared with what the environment's channel says, and what to
//! run when they differ. Specs are compared by what decides ingestion
//! ([`druid_client::echo::fingerprint`]).

use druid_client::spec::SupervisorSpec;
use schema_registry::Version;
use serde::Serialize;

use crate::Result;
use crate::session::Session;

/// Live versus recorded state.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Drift {
    /// The registry version whose descriptor is live, when one matches.
    pub live_version: Option<String>,
    /// sha256 of the live descriptor (inline delivery).
    pub live_descriptor_sha256: Option<String>,
    /// What the channel points at.
    pub expected_version: Option<String>,
    /// Whether they agree.
    pub in_sync: bool,
    /// What to run when they do not.
    pub hint: Option<String>,
}

pub use druid_client::echo::{descriptor_sha256, fingerprint};

impl Session {
    /// What is live compared with what the channel says, and what to run if they differ.
    /// Specs are compared by what decides ingestion ([`fingerprint`]): descriptor, message
    /// type, timestamp, dimensions, flattened paths, topic.
    pub async fn drift(&self) -> Result<Drift> {
        let channel = self.channel()?;
        let expected = self.registry.channel(&channel).await?.map(|state| state.pointer.version);
        let live = self
            .druid
            .get_spec(self.environment.supervisor_id())
            .await
            .map_err(self.druid_failed("reading the live spec"))?;
        self.drift_of(expected, live.as_ref()).await
    }

    /// [`Session::drift`] of what was read already: the channel's version and the live spec.
    pub(crate) async fn drift_of(
        &self,
        expected: Option<String>,
        live: Option<&SupervisorSpec>,
    ) -> Result<Drift> {
        let live_print = live.map(fingerprint);
        let live_digest = live.and_then(descriptor_sha256);
        let mut live_version = None;
        if let Some(live_print) = &live_print {
            // The channel's version first, then every version with the live descriptor, newest first.
            let mut candidates: Vec<String> = expected.iter().cloned().collect();
            for info in self.registry.list().await?.into_iter().rev().filter(|info| info.unreadable.is_none())
            {
                if info.descriptor_sha256 == live_digest && !candidates.contains(&info.version) {
                    candidates.push(info.version);
                }
            }
            for candidate in candidates {
                let spec = self.render_version(&Version::parse(&candidate)?).await?;
                if fingerprint(&spec) == *live_print {
                    live_version = Some(candidate);
                    break;
                }
            }
        }
        let in_sync = match (&live_print, &expected) {
            (None, None) => true,
            (Some(_), Some(expected)) => live_version.as_ref() == Some(expected),
            _ => false,
        };
        let env = &self.environment.name;
        let channel_name = &self.environment.channel;
        let hint = if in_sync {
            None
        } else {
            Some(match (&live_version, &expected) {
                (Some(live), Some(expected)) => format!(
                    "Druid runs {live} but {channel_name} points at {expected} (a deploy stopped before its end?): `druidctl deploy --env {env} --schema-version {live}` to finish it, or `druidctl rollback --env {env} --schema-version {expected}`"
                ),
                (Some(live), None) => format!(
                    "Druid runs {live}, which no deploy recorded: `druidctl schemas promote {live} --channel {channel_name} --env {env}` to adopt it"
                ),
                (None, Some(expected)) if live_print.is_none() => format!(
                    "no supervisor runs but {channel_name} points at {expected}: `druidctl rollback --env {env} --schema-version {expected}` restores it"
                ),
                (None, Some(expected)) => format!(
                    "the live spec matches no registry version: `druidctl rollback --env {env} --schema-version {expected}` restores {expected}"
                ),
                (None, None) => {
                    format!("the live spec matches no registry version: `druidctl deploy --env {env}`")
                }
            })
        };
        Ok(Drift {
            live_version,
            live_descriptor_sha256: live_digest,
            expected_version: expected,
            in_sync,
            hint,
        })
    }
}
