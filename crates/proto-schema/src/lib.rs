//! Protobuf schemas as druidctl reads them: compile a tree of `.proto` files into one
//! deterministic `FileDescriptorSet` (pure Rust, no `protoc`), and compare two compilations
//! with buf's breaking-change rules and categories. Knows nothing of Druid or storage.
//!
//! ```no_run
//! use std::path::Path;
//! use proto_schema::{CompiledSchema, compat::{self, Mode}};
//!
//! let old = CompiledSchema::compile_dir(Path::new("old/proto"))?;
//! let new = CompiledSchema::compile_dir(Path::new("schemas/proto"))?;
//! for finding in compat::check(&old, &new, Mode::WireJson).findings {
//!     eprintln!("{finding}");
//! }
//! # Ok::<(), proto_schema::Error>(())
//! ```
#![warn(missing_docs)]

use std::fmt;
use std::path::PathBuf;

use serde::Serialize;

pub mod compat;
pub mod compile;
pub mod rules;
#[doc(hidden)]
pub mod synthetic;

pub use compile::{CompiledSchema, SourceFile};
pub use rules::Rule;

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
    /// A symbolic link below the proto root: never followed (it could publish files from
    /// outside the root).
    #[error("{} is a symbolic link: druidctl compiles and publishes only the proto root's own files (copy the file in)", path.display())]
    Symlink {
        /// The link.
        path: PathBuf,
    },
    /// The sources are larger than the limit.
    #[error("the .proto files under {} exceed {limit} bytes (`max_source_bytes` in [schema] raises the limit)", root.display())]
    TooLarge {
        /// The proto root.
        root: PathBuf,
        /// The limit, in bytes.
        limit: u64,
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

/// How bad a finding is (compatibility findings here, mapping findings in `druid-mapping`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Worth knowing; ingestion works.
    Info,
    /// Ingestion works but probably not as intended.
    Warning,
    /// Breaks: ingestion would produce null columns, wrong values or fail.
    Error,
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Info => "info",
            Self::Warning => "warning",
            Self::Error => "error",
        })
    }
}

/// The candidate closest to `wanted`, if it is close enough to be a typo (used for "did you
/// mean" suggestions everywhere): similar by Jaro-Winkler (>= 0.85), or within one edit per
/// four characters, a swapped pair counting as one (`dve` -> `dev`).
pub fn closest<'a>(wanted: &str, candidates: impl Iterator<Item = &'a str>) -> Option<&'a str> {
    let wanted_lower = wanted.to_lowercase();
    let allowed_edits = (wanted.chars().count() / 4).max(1);
    candidates
        .filter_map(|candidate| {
            let candidate_lower = candidate.to_lowercase();
            let score = strsim::jaro_winkler(&wanted_lower, &candidate_lower);
            let edits = strsim::osa_distance(&wanted_lower, &candidate_lower);
            (score >= 0.85 || edits <= allowed_edits).then_some((edits, score, candidate))
        })
        .min_by(|a, b| a.0.cmp(&b.0).then(b.1.total_cmp(&a.1)))
        .map(|(_, _, candidate)| candidate)
}

#[cfg(test)]
mod tests {
    use super::closest;

    #[test]
    fn typos_find_their_word() {
        let known = ["dev", "staging", "prod"];
        assert_eq!(closest("dve", known.into_iter()), Some("dev"));
        assert_eq!(closest("prd", known.into_iter()), Some("prod"));
        assert_eq!(closest("stagign", known.into_iter()), Some("staging"));
        assert_eq!(closest("nope", known.into_iter()), None);
        assert_eq!(
            closest("stabel", ["develop-latest", "staging-latest", "stable"].into_iter()),
            Some("stable")
        );
    }
}
