//! Cross-crate integration tests, one binary (linking happens once).

mod pipeline;
mod render;

use std::path::{Path, PathBuf};

/// The repository root, where the sample project lives.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("tests/ has a parent").to_owned()
}
