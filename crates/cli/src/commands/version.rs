//! `druidctl version`: this binary's version, and the Druid version of the environment's
//! cluster when `--env` is given and Druid answers.

use serde::Serialize;

use super::{Context, block_on};
use crate::output::{CliError, Output, Status};

#[derive(Serialize)]
struct Versions {
    druidctl: &'static str,
    /// `None` without --env.
    druid: Option<DruidVersion>,
}

#[derive(Serialize)]
struct DruidVersion {
    environment: String,
    /// `None` when Druid did not answer (`error` says why).
    version: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
}

pub fn run(context: &Context, out: &Output) -> Result<Status, CliError> {
    let druid = if context.env.is_some() {
        let (_, session) = context.connect(out)?;
        let answer = block_on(async { Ok(session.druid.version().await) })?;
        Some(DruidVersion {
            environment: session.environment.name.clone(),
            version: answer.as_ref().ok().cloned(),
            error: answer.err().map(|err| err.to_string()),
        })
    } else {
        None
    };
    let versions = Versions { druidctl: env!("CARGO_PKG_VERSION"), druid };
    if out.is_json() {
        out.json(&versions)?;
        return Ok(Status::Success);
    }
    out.line(format_args!("druidctl {}", versions.druidctl))?;
    if let Some(druid) = &versions.druid {
        match (&druid.version, &druid.error) {
            (Some(version), _) => out.line(format_args!("Druid {version} ({})", druid.environment))?,
            (None, error) => out.line(format_args!(
                "Druid unreachable ({}): {}",
                druid.environment,
                error.as_deref().unwrap_or("no answer")
            ))?,
        }
    }
    Ok(Status::Success)
}
