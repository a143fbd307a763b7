//! How Druid reads a protobuf record: the `dimensions.json` model, the one parser of field
//! paths, validation of a mapping against a message (JSON names, enum names, Timestamps as
//! strings, null for unset proto3 scalars), the Druid-aware compatibility rules, and the
//! parsing part of the supervisor spec. No storage, no network.
//!
//! The facts these rules follow are in the repository's `docs/druid-protobuf.md`.
//!
//! ```no_run
//! use std::path::Path;
//! use druid_mapping::{DimensionsConfig, validate};
//! use proto_schema::CompiledSchema;
//!
//! let compiled = CompiledSchema::compile_dir(Path::new("schemas/proto"))?;
//! let message = compiled.message("settlement.v1.SettlementTransaction")?;
//! let dimensions = DimensionsConfig::load(Path::new("config/dimensions.json"))?;
//! for problem in validate(&message, &dimensions) {
//!     eprintln!("{}: {}: {}", problem.severity, problem.subject, problem.message);
//! }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![warn(missing_docs)]

use std::path::PathBuf;

pub mod compat;
pub mod decoding;
pub mod dimensions;
pub mod migration;
pub mod path;
pub mod predict;
pub mod preflight;
pub mod spec;
pub mod validate;

pub use compat::{DruidMapping, DruidRule};
pub use dimensions::DimensionsConfig;
pub use path::FieldPath;
pub use predict::{Cell, Outcome, Predictor};
pub use validate::{Problem, Severity, validate};

/// Errors of this crate.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// `dimensions.json` is not valid JSON or does not follow the format.
    #[error("{location}: {message}")]
    Dimensions {
        /// `path:line:col`.
        location: String,
        /// What is wrong.
        message: String,
    },
    /// A file could not be read.
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
