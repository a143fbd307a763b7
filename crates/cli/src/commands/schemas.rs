//! `druidctl schemas list|show|publish|promote`: the registry of the selected environment.

use std::path::Path;

use deploy_core::promote;
use deploy_core::publish::{self as versions, PublishOptions};
use schema_registry::{Channel, Version};
use serde::Serialize;

use crate::output::table;
use deploy_core::session::whoami;

use super::{Context, block_on, confirm};
use crate::output::{CliError, FindingStyle, Output, Sink, Status, print_findings};

/// `schemas` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// List published versions and the channels pointing at them.
    List {
        /// Only the versions this channel has pointed at, oldest first.
        #[arg(long, value_name = "CHANNEL", add = clap_complete::ArgValueCandidates::new(crate::complete::channels))]
        channel: Option<String>,
    },
    /// Show a version's manifest: a version, a channel (`stable`) or `previous-<channel>`.
    Show {
        /// What to show.
        #[arg(add = clap_complete::ArgValueCandidates::new(crate::complete::versions))]
        reference: String,
    },
    /// Publish the working schema and dimensions as a new immutable version.
    Publish {
        /// Accept breaking changes; the reason is recorded with the version.
        #[arg(long, requires = "reason")]
        allow_breaking: bool,
        /// Why the breaking change is acceptable.
        #[arg(long, value_name = "TEXT", requires = "allow_breaking")]
        reason: Option<String>,
        /// Version name [default: the short git commit; `<commit>-dirty-<digest>` for dev with
        /// uncommitted changes; `sha256-<digest>` outside git].
        #[arg(long = "schema-version", value_name = "VERSION")]
        schema_version: Option<String>,
    },
    /// Point a channel at a version (compare-and-swap; every move is recorded). The rules of
    /// the environment following the channel apply: an uncommitted version, or one that failed
    /// verification, needs --reason; an environment with `confirm` asks first.
    Promote {
        /// A version, a channel or `previous-<channel>`.
        #[arg(add = clap_complete::ArgValueCandidates::new(crate::complete::versions))]
        reference: String,
        /// The channel to move (one an environment of the project file follows).
        #[arg(long, value_name = "CHANNEL", add = clap_complete::ArgValueCandidates::new(crate::complete::channels))]
        channel: String,
        /// Why, recorded with the move (needed where the rules say so).
        #[arg(long, value_name = "TEXT")]
        reason: Option<String>,
        /// Do not ask for confirmation (needed where the environment asks, off a terminal).
        #[arg(long, short = 'y')]
        yes: bool,
    },
}

pub fn run(context: &Context, command: &Command, out: &Output) -> Result<Status, CliError> {
    let project = context.project()?;
    let environment = context.environment(&project)?;
    block_on(async {
        let registry = deploy_core::publish::open_registry_for(&environment).await;
        match command {
            Command::List { channel } => list(&registry, channel.as_deref(), out).await,
            Command::Show { reference } => show(&registry, reference, out).await,
            Command::Publish { reason, schema_version, .. } => {
                let checked = project.check()?;
                let options = PublishOptions {
                    version: schema_version.clone(),
                    allow_breaking: reason.clone(),
                    author: Some(whoami()),
                    new_datasource: false,
                };
                let published =
                    versions::publish(&checked, &environment, project.config().base_dir(), &options).await;
                let outcome = match published {
                    Ok(outcome) => outcome,
                    Err(err) => {
                        // The findings first, so the error line ends the output.
                        if let deploy_core::Error::Breaking { verdict, .. }
                        | deploy_core::Error::DruidDamage { verdict, .. } = &err
                        {
                            let style = FindingStyle {
                                located: Some((Path::new(""), checked.schema.root())),
                                ..FindingStyle::default()
                            };
                            print_findings(out, verdict, Sink::Error, style)?;
                        }
                        return Err(err.into());
                    }
                };
                if let Some(verdict) = &outcome.compatibility {
                    let style = FindingStyle {
                        located: Some((Path::new(""), checked.schema.root())),
                        prefix: "",
                        info: true,
                    };
                    print_findings(out, verdict, Sink::Note, style)?;
                }
                let manifest = &outcome.published.manifest;
                if out.is_json() {
                    out.json(&serde_json::json!({
                        "version": outcome.version.as_str(),
                        "created": outcome.published.created,
                        "registry": outcome.registry,
                        "parent": outcome.parent.as_ref().map(Version::as_str),
                        "manifest": manifest,
                    }))?;
                } else if outcome.published.created {
                    out.line(format_args!(
                        "published {} to {} ({} files, descriptor sha256 {})",
                        outcome.version,
                        outcome.registry,
                        manifest.files.len(),
                        short(manifest.descriptor_sha256().unwrap_or_default())
                    ))?;
                } else {
                    out.line(format_args!(
                        "{} is already published to {} with this content: nothing to do",
                        outcome.version, outcome.registry
                    ))?;
                }
                Ok(Status::Success)
            }
            Command::Promote { reference, channel, reason, yes } => {
                let version = registry.resolve(reference).await.map_err(deploy_core::Error::from)?;
                let promotion = promote::check(project.config(), &registry, &version, channel).await?;
                if !promotion.reasons_needed.is_empty() && reason.is_none() {
                    return Err(CliError::from(deploy_core::Error::PromotionNeedsReason {
                        channel: promotion.channel.clone(),
                        version: promotion.version.clone(),
                        why: promotion.reasons_needed.clone(),
                    })
                    .with_hint(
                        "pass --reason TEXT to promote it anyway (the reason is recorded with the move)",
                    ));
                }
                if promotion.needs_confirmation && promotion.from.as_deref() != Some(version.as_str()) {
                    confirm(
                        &format!(
                            "Point {} ({}) at {version} (now {})",
                            promotion.channel,
                            promotion.environments.join(", "),
                            promotion.from.as_deref().unwrap_or("no version")
                        ),
                        *yes,
                    )?;
                }
                let pointer = promote::apply(&registry, &promotion, &whoami(), reason.as_deref()).await?;
                if out.is_json() {
                    out.json(&pointer)?;
                } else if promotion.from.as_deref() == Some(pointer.version.as_str()) {
                    out.line(format_args!("{channel} already points at {version}: nothing to do"))?;
                } else {
                    out.line(format_args!(
                        "{channel}: {} -> {} (move {})",
                        pointer.previous.as_deref().unwrap_or("(none)"),
                        pointer.version,
                        pointer.sequence
                    ))?;
                }
                Ok(Status::Success)
            }
        }
    })
}

fn short(digest: &str) -> &str {
    &digest[..digest.len().min(12)]
}

#[derive(Serialize)]
struct ChannelListing {
    channel: String,
    moves: Vec<schema_registry::registry::ChannelPointer>,
}

async fn list(
    registry: &schema_registry::Registry,
    channel: Option<&str>,
    out: &Output,
) -> Result<Status, CliError> {
    if let Some(channel) = channel {
        let channel = Channel::parse(channel).map_err(deploy_core::Error::from)?;
        let moves = registry.channel_history(&channel).await.map_err(deploy_core::Error::from)?;
        if out.is_json() {
            out.json(&ChannelListing { channel: channel.to_string(), moves })?;
            return Ok(Status::Success);
        }
        let mut table = table(&["#", "VERSION", "MOVED AT", "BY", "REASON"]);
        for pointer in &moves {
            table.add_row(vec![
                pointer.sequence.to_string(),
                pointer.version.clone(),
                pointer.moved_at.clone(),
                pointer.moved_by.clone().unwrap_or_default(),
                pointer.reason.clone().unwrap_or_default(),
            ]);
        }
        out.line(table)?;
        out.note(format_args!("{} move(s) of {channel} in {}", moves.len(), registry.location()));
        return Ok(Status::Success);
    }
    let versions = registry.list().await.map_err(deploy_core::Error::from)?;
    if out.is_json() {
        out.json(&versions)?;
        return Ok(Status::Success);
    }
    let mut table = table(&["VERSION", "CREATED", "CHANNELS", "COMMIT", "DESCRIPTOR"]);
    for info in &versions {
        if let Some(problem) = &info.unreadable {
            out.error_line(format_args!("warning: {problem}"));
        }
        table.add_row(vec![
            info.version.clone(),
            if info.unreadable.is_some() { "UNREADABLE".to_owned() } else { info.created_at.clone() },
            info.channels.join(", "),
            info.git_commit.as_deref().map(short).unwrap_or_default().to_owned(),
            info.descriptor_sha256.as_deref().map(short).unwrap_or_default().to_owned(),
        ]);
    }
    out.line(table)?;
    out.note(format_args!("{} version(s) in {}", versions.len(), registry.location()));
    Ok(Status::Success)
}

async fn show(
    registry: &schema_registry::Registry,
    reference: &str,
    out: &Output,
) -> Result<Status, CliError> {
    let version = registry.resolve(reference).await.map_err(deploy_core::Error::from)?;
    let contents = registry.get(&version).await.map_err(deploy_core::Error::from)?;
    let manifest = &contents.manifest;
    if out.is_json() {
        out.json(manifest)?;
        return Ok(Status::Success);
    }
    let field = |name: &str, value: Option<&str>| format!("{name:<14}{}", value.unwrap_or("-"));
    out.line(field("version", Some(&manifest.version)))?;
    out.line(field("message type", Some(&manifest.message_type)))?;
    out.line(field("created", Some(&manifest.created_at)))?;
    out.line(field("author", manifest.author.as_deref()))?;
    out.line(field("git commit", manifest.git_commit.as_deref()))?;
    out.line(field("parent", manifest.parent.as_deref()))?;
    if let Some(accepted) = &manifest.breaking_override {
        out.line(field("override", Some(&accepted.reason)))?;
    }
    let mut table = table(&["FILE", "BYTES", "SHA256"]);
    for (path, entry) in &manifest.files {
        table.add_row(vec![path.clone(), entry.size.to_string(), entry.sha256.clone()]);
    }
    out.line(table)?;
    out.note("every file matches its digest");
    Ok(Status::Success)
}
