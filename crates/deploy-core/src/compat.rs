//! The compatibility gate: the working schema against what a channel or version holds.

use schema_registry::compat::{self, DruidMapping, Mode, Report};
use schema_registry::{CompiledSchema, DimensionsConfig, Registry, Version};

use crate::{Checked, Error, Result};

/// A published version, compiled again from its stored sources so findings can point at
/// lines in them.
#[derive(Debug)]
pub struct Baseline {
    /// The version.
    pub version: Version,
    /// Its schema.
    pub schema: CompiledSchema,
    /// Its dimension mapping.
    pub dimensions: DimensionsConfig,
    /// Its record type.
    pub message_type: String,
    /// Keeps the sources on disk while `schema` refers to them.
    _sources: tempfile::TempDir,
}

/// Reads `version` (digests checked) and compiles its sources.
pub async fn baseline(registry: &Registry, version: &Version) -> Result<Baseline> {
    let contents = registry.get(version).await?;
    let sources = tempfile::Builder::new()
        .prefix(&format!("druidctl-{version}-"))
        .tempdir()
        .map_err(|source| Error::Scratch { source })?;
    for source in &contents.bundle.sources {
        let path = sources.path().join(&source.name);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|source| Error::Scratch { source })?;
        }
        std::fs::write(&path, &source.contents).map_err(|source| Error::Scratch { source })?;
    }
    let schema = CompiledSchema::compile_dir(sources.path())?;
    let dimensions = DimensionsConfig::parse(
        &String::from_utf8_lossy(&contents.bundle.dimensions),
        &format!("{version}/dimensions.json"),
    )?;
    Ok(Baseline {
        version: version.clone(),
        schema,
        dimensions,
        message_type: contents.manifest.message_type,
        _sources: sources,
    })
}

/// The deploy gate: `WIRE_JSON` plus the Druid rules of the baseline's mapping.
pub fn gate(baseline: &Baseline, checked: &Checked) -> Report {
    let mapping = DruidMapping { message: &baseline.message_type, dimensions: &baseline.dimensions };
    compat::check(&baseline.schema, &checked.schema, Mode::WireJson, Some(mapping))
}
