//! Cross-crate integration tests, one binary (linking happens once).

mod pipeline;
mod render;

pub use druidctl_tests::repo_root;
