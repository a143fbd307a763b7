//! Promotion: pointing a channel at a published version by hand. Channels are the ones the
//! environments declare, and the rules of the environment that follows the channel apply as
//! they do to a deploy: an uncommitted version needs `allow_dirty` there or a recorded reason,
//! a version whose deploy failed verification needs a recorded reason, and an environment
//! with `confirm` asks first.

use schema_registry::registry::ChannelPointer;
use schema_registry::{Channel, Registry, Version};
use serde::Serialize;

use crate::config::{Config, Environment, Overrides};
use crate::ledger::{Action, Ledger, Outcome};
use crate::{Error, Result};

/// What a promotion needs before it may move the channel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Promotion {
    /// The channel to move.
    pub channel: String,
    /// The version it would point at.
    pub version: String,
    /// What it points at now.
    pub from: Option<String>,
    /// The environment(s) following the channel.
    pub environments: Vec<String>,
    /// Why a recorded reason is needed (empty: none is).
    pub reasons_needed: Vec<String>,
    /// Whether an environment following the channel asks for confirmation.
    pub needs_confirmation: bool,
}

/// The environments of `config` following `channel`, or an error naming the channels that
/// exist (with the closest one when it looks like a typo).
pub fn environments_following(config: &Config, channel: &str) -> Result<Vec<Environment>> {
    let mut following = Vec::new();
    let mut known = Vec::new();
    for name in config.environment_names() {
        let environment = config.environment(name, &Overrides::default())?;
        if environment.channel == channel {
            following.push(environment.clone());
        }
        if !known.contains(&environment.channel) {
            known.push(environment.channel);
        }
    }
    if following.is_empty() {
        let suggestion = proto_schema::closest(channel, known.iter().map(String::as_str)).map(str::to_owned);
        return Err(Error::UnknownChannel { channel: channel.to_owned(), known, suggestion });
    }
    Ok(following)
}

/// Checks a promotion of `version` to `channel` against the rules of the environments that
/// follow the channel; moves nothing.
pub async fn check(
    config: &Config,
    registry: &Registry,
    version: &Version,
    channel: &str,
) -> Result<Promotion> {
    let following = environments_following(config, channel)?;
    let from = registry.channel(&Channel::parse(channel)?).await?.map(|state| state.pointer.version);
    let mut reasons_needed = Vec::new();
    let dirty = version.as_str().contains("-dirty-");
    for environment in
        following.iter().filter(|environment| dirty && !crate::policy::allows_dirty(environment))
    {
        reasons_needed.push(format!(
            "{version} was built from an uncommitted tree and `{}` takes only committed schemas",
            environment.name
        ));
    }
    let ledger = Ledger::new(registry.clone());
    for name in config.environment_names() {
        let failed = ledger.history(name).await?.into_iter().find(|record| {
            record.to.as_deref() == Some(version.as_str())
                && matches!(
                    (record.action, record.outcome),
                    (Action::Deploy, Outcome::RolledBack | Outcome::RollbackFailed)
                        | (Action::Rollback, Outcome::Failed)
                )
        });
        if let Some(record) = failed {
            reasons_needed.push(format!(
                "{version} failed verification in {name} ({}, {})",
                record.at,
                record.detail.unwrap_or_default()
            ));
        }
    }
    Ok(Promotion {
        channel: channel.to_owned(),
        version: version.to_string(),
        from,
        environments: following.iter().map(|environment| environment.name.clone()).collect(),
        reasons_needed,
        needs_confirmation: following.iter().any(crate::policy::needs_confirmation),
    })
}

/// Moves the channel as `promotion` says (compare-and-swap against what `check` read),
/// recording `actor` and `reason`. Refused without a reason when `check` said one is needed.
pub async fn apply(
    registry: &Registry,
    promotion: &Promotion,
    actor: &str,
    reason: Option<&str>,
) -> Result<ChannelPointer> {
    if !promotion.reasons_needed.is_empty() && reason.is_none_or(|reason| reason.trim().is_empty()) {
        return Err(Error::PromotionNeedsReason {
            channel: promotion.channel.clone(),
            version: promotion.version.clone(),
            why: promotion.reasons_needed.clone(),
        });
    }
    let channel = Channel::parse(&promotion.channel)?;
    let version = Version::parse(&promotion.version)?;
    let before = registry.channel(&channel).await?;
    if before.as_ref().map(|state| &state.pointer.version) != promotion.from.as_ref() {
        let found = before.map(|state| state.pointer.version);
        return Err(schema_registry::Error::ChannelMoved {
            channel: promotion.channel.clone(),
            expected: promotion.from.clone(),
            found,
        }
        .into());
    }
    Ok(registry.promote_from(&channel, before.as_ref(), &version, Some(actor), reason).await?)
}
