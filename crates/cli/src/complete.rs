//! Completion candidates that come from the project: environment names, channels and
//! versions (shell completion through `COMPLETE=<shell> druidctl`, see `druidctl completions
//! --help`). They must be quick and never fail: anything unreadable completes nothing, and
//! only local (`file://`) registries are listed (an S3 listing could hang a shell).

use clap_complete::CompletionCandidate;
use deploy_core::Project;
use deploy_core::config::{Config, Overrides, RegistryLocation};

fn project() -> Option<Project> {
    let cwd = std::env::current_dir().ok()?;
    Project::open(&Config::discover(&cwd).ok()?).ok()
}

/// The environments of the nearest project file.
pub fn environments() -> Vec<CompletionCandidate> {
    let Some(project) = project() else { return Vec::new() };
    project.config().environment_names().map(CompletionCandidate::new).collect()
}

/// The channels the environments follow.
pub fn channels() -> Vec<CompletionCandidate> {
    let Some(project) = project() else { return Vec::new() };
    let mut channels: Vec<String> = project
        .config()
        .environment_names()
        .filter_map(|name| project.environment(name, &Overrides::default()).ok())
        .map(|environment| environment.channel)
        .collect();
    channels.sort();
    channels.dedup();
    channels.into_iter().map(CompletionCandidate::new).collect()
}

/// Versions of the local registries, newest first, then channels and `previous`.
pub fn versions() -> Vec<CompletionCandidate> {
    let Some(project) = project() else { return Vec::new() };
    let mut locations: Vec<std::path::PathBuf> = project
        .config()
        .environment_names()
        .filter_map(|name| project.environment(name, &Overrides::default()).ok())
        .filter_map(|environment| match environment.registry {
            RegistryLocation::File(path) => Some(path),
            RegistryLocation::S3 { .. } => None,
        })
        .collect();
    locations.sort();
    locations.dedup();
    let Ok(runtime) = tokio::runtime::Builder::new_current_thread().enable_all().build() else {
        return Vec::new();
    };
    let mut versions: Vec<String> = Vec::new();
    for location in locations {
        let registry =
            schema_registry::Registry::new(std::sync::Arc::new(schema_registry::LocalStore::new(location)));
        if let Ok(infos) = runtime.block_on(registry.list()) {
            versions.extend(infos.into_iter().rev().map(|info| info.version));
        }
    }
    versions.dedup();
    let mut candidates: Vec<CompletionCandidate> =
        versions.into_iter().map(CompletionCandidate::new).collect();
    candidates.extend(channels());
    candidates.push(
        CompletionCandidate::new("previous").help(Some("the channel's version before its last move".into())),
    );
    candidates
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(candidates: &[CompletionCandidate]) -> Vec<String> {
        candidates.iter().map(|candidate| candidate.get_value().to_string_lossy().into_owned()).collect()
    }

    #[test]
    fn the_sample_project_completes_its_environments_and_channels() {
        // Tests run in crates/cli: the nearest project file is the sample's.
        assert_eq!(values(&environments()), ["dev", "prod", "staging"]);
        assert_eq!(values(&channels()), ["develop-latest", "stable", "staging-latest"]);
        let versions = values(&versions());
        assert!(
            versions.ends_with(&[
                "develop-latest".into(),
                "stable".into(),
                "staging-latest".into(),
                "previous".into()
            ]),
            "{versions:?}"
        );
    }
}
