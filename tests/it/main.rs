//! Cross-crate integration tests, one binary (linking happens once).

mod architecture;
mod packaging;
mod pipeline;
mod render;
mod schemas;

pub use druidctl_tests::repo_root;
