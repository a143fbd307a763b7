//! Code the example programs (and the end-to-end tests) share: generating records from a
//! compiled descriptor and writing them to Kafka.
#![allow(
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    clippy::cast_possible_wrap,
    clippy::cast_precision_loss
)]

pub mod kafka;
pub mod records;

use std::path::Path;

/// Copies the sample project next to `config` (the project file, `schemas/proto`,
/// `config/`) into `into`, so an example can change it freely.
///
/// # Errors
/// When a file cannot be read or written.
pub fn copy_sample(config: &Path, into: &Path) -> std::io::Result<()> {
    let root = config.parent().filter(|parent| !parent.as_os_str().is_empty()).unwrap_or(Path::new("."));
    std::fs::copy(config, into.join("druidctl.toml"))?;
    for part in ["schemas/proto", "config"] {
        std::fs::create_dir_all(into.join(part))?;
        for entry in std::fs::read_dir(root.join(part))? {
            let entry = entry?;
            std::fs::copy(entry.path(), into.join(part).join(entry.file_name()))?;
        }
    }
    Ok(())
}
