//! `druidctl init`: scaffold `druidctl.toml` and `dimensions.json` for a proto root.

use std::path::PathBuf;

use deploy_core::init::{InitOptions, scaffold};

use crate::output::{CliError, Output, Status};

/// Flags of `init`. Nothing is asked: what is not given is derived or defaulted.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Examples:\n  druidctl init                              # schemas/proto (a sample schema if empty)\n  druidctl init --proto-root proto --message acme.v1.Order\n  druidctl init --druid-url https://druid.example.internal:8888 --force"
)]
pub struct Args {
    /// The project directory.
    #[arg(long, value_name = "DIR", default_value = ".")]
    dir: PathBuf,
    /// The proto root, relative to the project directory (a sample schema is written there
    /// when it holds no .proto file).
    #[arg(long, value_name = "DIR", default_value = "schemas/proto")]
    proto_root: PathBuf,
    /// The record's message type [default: the only top-level message with a Timestamp field].
    #[arg(long, value_name = "NAME")]
    message: Option<String>,
    /// Where dimensions.json goes, relative to the project directory.
    #[arg(long, value_name = "PATH", default_value = "config/dimensions.json")]
    dimensions: PathBuf,
    /// The Druid Router every environment starts with.
    #[arg(long, value_name = "URL", default_value = "http://127.0.0.1:8888")]
    druid_url: String,
    /// The Kafka brokers every environment starts with.
    #[arg(long, value_name = "HOST:PORT", default_value = "127.0.0.1:9092")]
    bootstrap_servers: String,
    /// Replace files that exist.
    #[arg(long)]
    force: bool,
}

pub fn run(args: &Args, out: &Output) -> Result<Status, CliError> {
    let done = scaffold(&InitOptions {
        dir: args.dir.clone(),
        proto_root: args.proto_root.clone(),
        message: args.message.clone(),
        dimensions: args.dimensions.clone(),
        druid_url: args.druid_url.clone(),
        bootstrap_servers: args.bootstrap_servers.clone(),
        force: args.force,
    })
    .map_err(|err| {
        let exists = err.to_string().contains("exists already");
        let cli = CliError::from(err);
        if exists { cli.with_hint("pass --force to replace it") } else { cli }
    })?;
    if out.is_json() {
        out.json(
            &serde_json::json!({ "message": done.message, "written": done.written, "notes": done.notes }),
        )?;
        return Ok(Status::Success);
    }
    for path in &done.written {
        out.line(format_args!("wrote {}", path.display()))?;
    }
    for note in &done.notes {
        out.note(note);
    }
    out.line(format_args!(
        "record type {}; next: edit the environments in druidctl.toml, then `druidctl validate` and `druidctl render --env dev`",
        done.message
    ))?;
    Ok(Status::Success)
}
