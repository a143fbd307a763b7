//! The versioned schema registry: immutable versions (descriptor set, sources,
//! `dimensions.json`, a manifest of digests) and channels moved by compare-and-swap, over a
//! minimal object-store contract ([`SchemaStore`]) with memory, local-disk and S3 backends.
//! The `conformance` feature exports the suite every backend passes, to run against your own.
//!
//! ```no_run
//! use std::sync::Arc;
//! use schema_registry::{Channel, LocalStore, Registry};
//!
//! # async fn example() -> schema_registry::Result<()> {
//! let registry = Registry::new(Arc::new(LocalStore::new(".registry")));
//! if let Some(state) = registry.channel(&Channel::parse("stable")?).await? {
//!     let version = registry.get(&schema_registry::Version::parse(&state.pointer.version)?).await?;
//!     println!("{} ({} bytes of descriptor)", version.manifest.version, version.bundle.descriptor_set.len());
//! }
//! # Ok(()) }
//! ```
#![warn(missing_docs)]

#[cfg(feature = "conformance")]
pub mod conformance;
pub mod registry;
pub mod s3;
pub mod store;
pub mod version;

pub use registry::{Bundle, Manifest, PublishMeta, Registry, SourceFile};
pub use store::{LocalStore, MemoryStore, SchemaStore, StoreError};
pub use version::{Channel, Version};

/// Errors of this crate.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
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
}

/// Results of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;
