//! `druidctl render`.

use super::Context;
use crate::commands::validate::print_problems;
use crate::output::{CliError, Output, Status};

/// Flags of `render`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Schema version substituted in a descriptor URL [default: sha256- and 12 hex digits of the
    /// descriptor set].
    #[arg(long = "schema-version", value_name = "VERSION", add = clap_complete::ArgValueCandidates::new(crate::complete::versions))]
    schema_version: Option<String>,
    /// Print secrets (a SASL password in `consumerProperties`, say) as they are, for
    /// `curl -d @-`; by default they are masked, as in every other output.
    #[arg(long)]
    show_secrets: bool,
}

pub fn run(context: &Context, args: &Args, out: &Output) -> Result<Status, CliError> {
    let project = context.project()?;
    let environment = context.environment(&project)?;
    let checked = project.check()?;
    let spec = match checked.render(&environment, args.schema_version.as_deref()) {
        Ok(spec) => spec,
        Err(err) => {
            // Show what is wrong with the mapping before the error itself.
            if let deploy_core::Error::InvalidMapping { problems, path, .. } = &err {
                print_problems(out, problems, &path.display().to_string(), true);
            }
            return Err(err.into());
        }
    };
    // Text and JSON are the same here: the spec is JSON, ready for `curl -d @-` (with
    // --show-secrets when it carries any).
    let mut shown = serde_json::to_value(&spec)
        .map_err(|err| CliError::io("serialising the spec", std::io::Error::other(err)))?;
    if !args.show_secrets {
        let before = shown.clone();
        druid_client::redact::json(&mut shown);
        if shown != before {
            out.note("secrets in the spec are masked as ****; --show-secrets prints them");
        }
    }
    out.json(&shown)?;
    out.note(format_args!(
        "rendered {} for {} (datasource {}, descriptor sha256 {})",
        checked.message.full_name(),
        environment.name,
        environment.datasource,
        &checked.schema.sha256()[..12]
    ));
    Ok(Status::Success)
}
