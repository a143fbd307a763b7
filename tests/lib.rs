//! Cross-crate integration tests live in `it/`, the end-to-end suite against the local stack
//! in `e2e/`; this library holds what both need.

use std::path::{Path, PathBuf};

/// The repository root, which holds the sample project.
///
/// # Panics
/// Never in this layout (`tests/` has a parent).
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("tests/ has a parent").to_owned()
}

/// Copies the directory tree `from` into `to`, creating it.
///
/// # Panics
/// When a file cannot be read or written (a test fixture problem).
pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}
