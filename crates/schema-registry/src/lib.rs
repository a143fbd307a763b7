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

pub mod compat;
pub mod compile;
pub mod dimensions;
pub mod registry;
pub mod s3;
pub mod store;
#[doc(hidden)]
pub mod synthetic;
pub mod validate;
pub mod version;

pub use compile::{CompiledSchema, SourceFile};
pub use dimensions::DimensionsConfig;
pub use registry::{Bundle, Manifest, PublishMeta, Registry};
pub use store::{LocalStore, MemoryStore, SchemaStore, StoreError};
pub use validate::{Problem, Severity, validate};
pub use version::{Channel, Version};

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
    /// A version or channel name is not acceptable; nothing was read or written.
    #[error("invalid {kind} name `{name}`: {reason}")]
    InvalidName {
        /// `version` or `channel`.
        kind: &'static str,
        /// The name, escaped.
        name: String,
        /// Why.
        reason: String,
    },
    /// The registry's storage failed.
    #[error("registry at {location} failed")]
    Store {
        /// `s3://bucket/prefix`, `file://...`.
        location: String,
        /// What failed.
        #[source]
        source: StoreError,
    },
    /// A registry record is not what this version of druidctl wrote.
    #[error("registry record `{key}` is unreadable: {message}")]
    Corrupt {
        /// The key.
        key: String,
        /// What is wrong.
        message: String,
    },
    /// Different content under a version that exists (or is being published).
    #[error("version `{version}` already exists: {detail}; versions are immutable, publish a new one")]
    VersionConflict {
        /// The version.
        version: String,
        /// What differs.
        detail: String,
    },
    /// No such version.
    #[error("no version `{version}` in the registry")]
    UnknownVersion {
        /// The version.
        version: String,
    },
    /// The channel has never been moved.
    #[error("channel `{channel}` points at no version yet")]
    EmptyChannel {
        /// The channel.
        channel: String,
    },
    /// The channel has moved only once.
    #[error("channel `{channel}` has no previous version (it has moved only once)")]
    NoPrevious {
        /// The channel.
        channel: String,
    },
    /// Someone moved the channel between our read and our write.
    #[error(
        "channel `{channel}` was moved concurrently (expected {}, now {}); nothing was changed",
        expected.as_deref().unwrap_or("no version"),
        found.as_deref().unwrap_or("no version")
    )]
    ChannelMoved {
        /// The channel.
        channel: String,
        /// What we read.
        expected: Option<String>,
        /// What it is now.
        found: Option<String>,
    },
    /// A stored file does not match its manifest: tampered with or damaged.
    #[error("version `{version}`: {file} does not match its manifest (sha256 {actual}, expected {expected})")]
    Digest {
        /// The version.
        version: String,
        /// Path inside the version folder.
        file: String,
        /// Digest in the manifest.
        expected: String,
        /// Digest of what is stored (or `missing`).
        actual: String,
    },
    /// Someone else holds the environment's deploy lock.
    #[error("environment `{environment}` is locked by {owner} since {since} (until {expires})")]
    LockHeld {
        /// Environment.
        environment: String,
        /// Holder.
        owner: String,
        /// Taken at.
        since: String,
        /// Expires at.
        expires: String,
    },
    /// Our lease expired and was taken over, or vanished.
    #[error("the deploy lock of `{environment}` was lost (expired and taken over)")]
    LockLost {
        /// Environment.
        environment: String,
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
