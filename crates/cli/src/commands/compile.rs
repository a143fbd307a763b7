//! `druidctl compile`.

use std::path::{Path, PathBuf};

use serde::Serialize;

use super::Context;
use crate::output::{CliError, Output, Status};

/// Flags of `compile`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Where to write the FileDescriptorSet, `-` for stdout (the summary then goes to stderr)
    /// [default: target/druidctl/descriptor.binpb next to the project file].
    #[arg(long, value_name = "PATH")]
    out: Option<PathBuf>,
}

#[derive(Serialize)]
struct Report<'a> {
    message_type: &'a str,
    output: String,
    bytes: usize,
    sha256: &'a str,
    files: usize,
    sources: Vec<&'a str>,
}

pub fn run(context: &Context, args: &Args, out: &Output) -> Result<Status, CliError> {
    let project = context.project()?;
    let schema = project.compile()?;
    let message = schema.message(&project.config().schema.message).map_err(deploy_core::Error::from)?;
    if args.out.as_deref() == Some(Path::new("-")) {
        // The bytes are the result: nothing else on stdout.
        out.bytes(schema.descriptor_set())?;
        out.note(format_args!(
            "compiled {} ({} bytes, sha256 {}) to stdout",
            message.full_name(),
            schema.descriptor_set().len(),
            schema.sha256()
        ));
        return Ok(Status::Success);
    }
    let path = args
        .out
        .clone()
        .unwrap_or_else(|| project.config().resolve(Path::new("target/druidctl/descriptor.binpb")));
    write_atomically(&path, schema.descriptor_set())?;

    let report = Report {
        message_type: message.full_name(),
        output: path.display().to_string(),
        bytes: schema.descriptor_set().len(),
        sha256: schema.sha256(),
        files: schema.file_count(),
        sources: schema.sources().iter().map(|source| source.name.as_str()).collect(),
    };
    if out.is_json() {
        out.json(&report)?;
    } else {
        let imports = report.files - report.sources.len();
        out.line(format_args!(
            "compiled {} from {} file{} ({} source{}, {} import{})",
            report.message_type,
            report.files,
            plural(report.files),
            report.sources.len(),
            plural(report.sources.len()),
            imports,
            plural(imports),
        ))?;
        out.line(format_args!("wrote {} ({} bytes)", report.output, report.bytes))?;
        out.line(format_args!("sha256 {}", report.sha256))?;
    }
    Ok(Status::Success)
}

/// Writes through a temporary file and a rename, so a reader never sees half a descriptor.
fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), CliError> {
    let failed = |err| CliError::io(format_args!("writing {}", path.display()), err);
    if let Some(parent) = path.parent().filter(|parent| !parent.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(failed)?;
    }
    let mut temporary = path.as_os_str().to_owned();
    temporary.push(format!(".tmp{}", std::process::id()));
    let temporary = PathBuf::from(temporary);
    std::fs::write(&temporary, bytes).map_err(failed)?;
    std::fs::rename(&temporary, path).map_err(|err| {
        let _ = std::fs::remove_file(&temporary);
        failed(err)
    })
}

pub fn plural(count: usize) -> &'static str {
    if count == 1 { "" } else { "s" }
}
