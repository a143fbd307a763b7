//! Protobuf schemas for Druid ingestion: compile them, check them against the way Druid reads
//! records, and (soon) store immutable versions in a registry.
//!
//! ```no_run
//! use std::path::Path;
//! use schema_registry::{CompiledSchema, DimensionsConfig, validate};
//!
//! let compiled = CompiledSchema::compile_dir(Path::new("schemas/proto"))?;
//! let message = compiled.message("settlement.v1.SettlementTransaction")?;
//! let dimensions = DimensionsConfig::load(Path::new("config/dimensions.json"))?;
//! for problem in validate(&message, &dimensions) {
//!     eprintln!("{}: {}: {}", problem.severity, problem.subject, problem.message);
//! }
//! # Ok::<(), schema_registry::Error>(())
//! ```
#![warn(missing_docs)]

use std::path::PathBuf;

pub mod compile;
pub mod dimensions;
pub mod validate;

pub use compile::{CompiledSchema, SourceFile};
pub use dimensions::DimensionsConfig;
pub use validate::{Problem, Severity, validate};

/// Errors of this crate.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A `.proto` file does not compile; `location` is `path:line:col` when known.
    #[error("{location}: {message}")]
    Compile {
        /// `path:line:col`, or the path alone.
        location: String,
        /// The compiler's message.
        message: String,
    },
    /// The proto root holds no `.proto` file.
    #[error("no .proto file under {}", root.display())]
    NoProtoFiles {
        /// The directory searched.
        root: PathBuf,
    },
    /// The configured message type is not defined by the sources.
    #[error(
        "message type `{name}` is not defined under {}{}",
        root.display(),
        suggestion.as_ref().map(|s| format!("; did you mean `{s}`?")).unwrap_or_default()
    )]
    UnknownMessage {
        /// The name asked for.
        name: String,
        /// The proto root compiled.
        root: PathBuf,
        /// The closest defined name.
        suggestion: Option<String>,
    },
    /// `dimensions.json` is not valid JSON or does not follow the format.
    #[error("{location}: {message}")]
    Dimensions {
        /// `path:line:col`.
        location: String,
        /// What is wrong.
        message: String,
    },
    /// A file or directory could not be read.
    #[error("cannot read {}", path.display())]
    Read {
        /// The path.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
}

/// Results of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// The candidate closest to `wanted` by edit distance, if it is close enough to be a typo.
pub(crate) fn closest<'a>(wanted: &str, candidates: impl Iterator<Item = &'a str>) -> Option<&'a str> {
    let wanted_lower = wanted.to_lowercase();
    candidates
        .map(|candidate| (strsim::jaro_winkler(&wanted_lower, &candidate.to_lowercase()), candidate))
        .filter(|(score, _)| *score >= 0.85)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, candidate)| candidate)
}
