//! Publishing: opening an environment's registry, naming versions from git, reading a
//! published version back as a compatibility baseline, and publishing through the gate
//! ([`crate::policy::gate`]).

use std::path::Path;
use std::process::Command;
use std::sync::Arc;

use druid_mapping::DimensionsConfig;
use proto_schema::CompiledSchema;
use schema_registry::registry::{Bundle, Override, PublishMeta, Published};
use schema_registry::s3::{S3Options, S3Store};
use schema_registry::{Channel, LocalStore, Registry, SourceFile, Version};

use crate::config::{Environment, RegistryLocation};
use crate::{Checked, Error, Result};

/// Opens the registry at `location`. S3 settings (region, credentials, `AWS_ENDPOINT_URL`)
/// come from the standard AWS chain.
pub async fn open_registry(location: &RegistryLocation) -> Registry {
    open_store(location, false).await
}

/// The registry of `environment`, as its settings say (`registry_private` included).
pub async fn open_registry_for(environment: &crate::config::Environment) -> Registry {
    open_store(&environment.registry, environment.registry_private).await
}

async fn open_store(location: &RegistryLocation, private: bool) -> Registry {
    match location {
        RegistryLocation::File(path) => Registry::new(Arc::new(LocalStore::new(path).private(private))),
        RegistryLocation::S3 { bucket, prefix } => {
            Registry::new(Arc::new(S3Store::connect(bucket, prefix, S3Options::default()).await))
        }
    }
}

/// Where the sources are in git.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GitState {
    /// Full commit id of `HEAD`.
    pub commit: String,
    /// Abbreviated commit id (7 characters, more when git needs them to be unique).
    pub short: String,
    /// Whether the published inputs have uncommitted changes (untracked files included).
    pub dirty: bool,
}

/// The git state of the checkout holding `dir`, or `None` outside git (or without git).
/// Only `inputs` (the proto root, `dimensions.json`) count for `dirty`: a local registry or
/// build output in the tree does not make the schema uncommitted.
pub fn git_state(dir: &Path, inputs: &[&Path]) -> Option<GitState> {
    let run = |args: &[&std::ffi::OsStr]| -> Option<String> {
        let output = Command::new("git").arg("-C").arg(dir).args(args).output().ok()?;
        output.status.success().then(|| String::from_utf8_lossy(&output.stdout).trim().to_owned())
    };
    let commit = run(&["rev-parse".as_ref(), "--verify".as_ref(), "HEAD".as_ref()])?;
    let short = run(&["rev-parse".as_ref(), "--short=7".as_ref(), "HEAD".as_ref()])?;
    let mut status: Vec<&std::ffi::OsStr> = vec!["status".as_ref(), "--porcelain".as_ref(), "--".as_ref()];
    status.extend(inputs.iter().map(|input| input.as_os_str()));
    let dirty = !run(&status)?.is_empty();
    Some(GitState { commit, short, dirty })
}

/// The version name of `bundle` for `environment`:
///
/// - a clean git checkout: the short commit id, as the team's runbook does;
/// - uncommitted changes: refused unless the environment sets `allow_dirty`; there the name is
///   `<short>-dirty-<12 hex digits of the content digest>` so it is never mistaken for a commit;
/// - outside git: `sha256-<12 hex digits of the content digest>`.
pub fn version_name(environment: &Environment, git: Option<&GitState>, bundle: &Bundle) -> Result<Version> {
    let digest = bundle.content_sha256();
    let name = match git {
        Some(git) if !git.dirty => git.short.clone(),
        Some(git) if crate::policy::allows_dirty(environment) => {
            format!("{}-dirty-{}", git.short, &digest[..12])
        }
        Some(_) => return Err(Error::DirtyTree { environment: environment.name.clone() }),
        None => format!("sha256-{}", &digest[..12]),
    };
    Ok(Version::parse(&name)?)
}

/// What a version holds: the compiled set, its sources, the mapping's bytes.
pub fn bundle(schema: &CompiledSchema, message_type: &str, dimensions: Vec<u8>) -> Bundle {
    Bundle {
        message_type: message_type.to_owned(),
        descriptor_set: schema.descriptor_set().to_vec(),
        dimensions,
        sources: schema
            .sources()
            .iter()
            .map(|source| SourceFile { name: source.name.clone(), contents: source.contents.clone() })
            .collect(),
    }
}

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

/// The baseline `reference` names in `environment`'s registry: a version, a channel or
/// `previous-<channel>` (what `druidctl check --against` compares with).
pub async fn resolve_baseline(environment: &Environment, reference: &str) -> Result<Baseline> {
    let registry = open_registry_for(environment).await;
    let version = registry.resolve(reference).await?;
    baseline(&registry, &version).await
}

/// Refuses an uncommitted schema where the environment does not allow one (what a publish
/// without an explicit version name would refuse).
pub fn check_committed(checked: &Checked, environment: &Environment, project_dir: &Path) -> Result<()> {
    let (proto_root, dimensions_path) = inputs(checked);
    match git_state(project_dir, &[&proto_root, &dimensions_path]) {
        Some(git) if git.dirty && !crate::policy::allows_dirty(environment) => {
            Err(Error::DirtyTree { environment: environment.name.clone() })
        }
        _ => Ok(()),
    }
}

/// The git state of the checked project's inputs (the proto root, `dimensions.json`).
pub fn git_state_of(checked: &Checked, project_dir: &Path) -> Option<GitState> {
    let (proto_root, dimensions_path) = inputs(checked);
    git_state(project_dir, &[&proto_root, &dimensions_path])
}

/// The published inputs, canonical where possible (git compares paths).
fn inputs(checked: &Checked) -> (std::path::PathBuf, std::path::PathBuf) {
    let proto_root =
        checked.schema.root().canonicalize().unwrap_or_else(|_| checked.schema.root().to_owned());
    let dimensions_path =
        checked.dimensions_path.canonicalize().unwrap_or_else(|_| checked.dimensions_path.clone());
    (proto_root, dimensions_path)
}

/// How to publish.
#[derive(Debug, Clone, Default)]
pub struct PublishOptions {
    /// Use this name instead of the git-derived one.
    pub version: Option<String>,
    /// Accept breaking findings, with the reason recorded in the manifest.
    pub allow_breaking: Option<String>,
    /// Who publishes (recorded).
    pub author: Option<String>,
    /// The version goes to a new datasource (a migration): what the channel's version stored
    /// in the old one cannot be damaged, so damage is reported, not refused.
    pub new_datasource: bool,
}

/// What [`publish`] did.
#[derive(Debug, Clone)]
pub struct PublishOutcome {
    /// Both compatibility verdicts against `parent`, when there is a parent.
    pub compatibility: Option<druid_mapping::compat::Verdict>,
    /// The version name.
    pub version: Version,
    /// The version the environment's channel pointed at, recorded as parent.
    pub parent: Option<Version>,
    /// The manifest, and whether it was new.
    pub published: Published,
    /// Where it went.
    pub registry: String,
}

/// Publishes the checked project to `environment`'s registry (idempotent). A mapping with
/// errors is refused; so is a change that damages what Druid stores for the channel's version
/// (always), and one that breaks the environment's compatibility policy without
/// `allow_breaking`.
pub async fn publish(
    checked: &Checked,
    environment: &Environment,
    project_dir: &Path,
    options: &PublishOptions,
) -> Result<PublishOutcome> {
    let registry = open_registry_for(environment).await;
    publish_to(&registry, checked, environment, project_dir, options).await
}

/// [`publish`] to an open registry.
pub async fn publish_to(
    registry: &Registry,
    checked: &Checked,
    environment: &Environment,
    project_dir: &Path,
    options: &PublishOptions,
) -> Result<PublishOutcome> {
    checked.ensure_valid()?;
    let dimensions = std::fs::read(&checked.dimensions_path)
        .map_err(|source| Error::ConfigRead { path: checked.dimensions_path.clone(), source })?;
    let bundle = bundle(&checked.schema, checked.message.full_name(), dimensions);
    let (proto_root, dimensions_path) = inputs(checked);
    let git = git_state(project_dir, &[&proto_root, &dimensions_path]);
    let version = match &options.version {
        // A name given by hand does not lift the committed-tree rule.
        Some(_) if git.as_ref().is_some_and(|git| git.dirty) && !crate::policy::allows_dirty(environment) => {
            return Err(Error::DirtyTree { environment: environment.name.clone() });
        }
        Some(name) => Version::parse(name)?,
        None => version_name(environment, git.as_ref(), &bundle)?,
    };
    let channel = Channel::parse(&environment.channel)?;
    let parent = match registry.channel(&channel).await? {
        Some(state) => Some(Version::parse(&state.pointer.version)?),
        None => None,
    };
    // The gate: against what the environment's channel points at.
    let compatibility = match &parent {
        Some(parent) if *parent != version => {
            let baseline = baseline(registry, parent).await?;
            let verdict = crate::policy::gate(environment, &baseline, checked);
            if verdict.damages_druid() && !options.new_datasource {
                return Err(Error::DruidDamage { parent: parent.to_string(), verdict });
            }
            if verdict.policy.breaking && options.allow_breaking.is_none() {
                return Err(Error::Breaking { parent: parent.to_string(), verdict });
            }
            Some(verdict)
        }
        _ => None,
    };
    let meta = PublishMeta {
        author: options.author.clone(),
        git_commit: git.map(|git| git.commit),
        parent: parent.clone(),
        compatibility: compatibility
            .as_ref()
            .map(|report| serde_json::to_value(report).expect("reports serialise")),
        breaking_override: options
            .allow_breaking
            .as_ref()
            .map(|reason| Override { reason: reason.clone(), by: options.author.clone() }),
    };
    let published = registry.publish(&version, &bundle, meta).await?;
    Ok(PublishOutcome { compatibility, version, parent, published, registry: registry.location() })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn environment(name: &str) -> Environment {
        let dirty = if name == "dev" { "allow_dirty = true\n" } else { "" };
        let text = format!(
            "[schema]\nmessage = \"p.M\"\n[environments.{name}]\ndatasource = \"d\"\nchannel = \"c\"\ndruid.url = \"http://d\"\nkafka = {{ topic = \"t\", bootstrap_servers = \"k:9092\" }}\n{dirty}"
        );
        crate::config::Config::parse(&text, Path::new("druidctl.toml"))
            .unwrap()
            .environment(name, &crate::config::Overrides::default())
            .unwrap()
    }

    fn bundle() -> Bundle {
        Bundle { message_type: "p.M".into(), descriptor_set: vec![1], dimensions: vec![2], sources: vec![] }
    }

    #[test]
    fn versions_follow_git() {
        let clean = GitState { commit: "abc123f".repeat(6), short: "abc123f".into(), dirty: false };
        let dirty = GitState { dirty: true, ..clean.clone() };
        assert_eq!(version_name(&environment("prod"), Some(&clean), &bundle()).unwrap().as_str(), "abc123f");
        let dev = version_name(&environment("dev"), Some(&dirty), &bundle()).unwrap();
        assert!(dev.as_str().starts_with("abc123f-dirty-"), "{dev}");
        assert_eq!(dev.as_str().len(), "abc123f-dirty-".len() + 12);
        let err = version_name(&environment("prod"), Some(&dirty), &bundle()).unwrap_err();
        assert!(err.to_string().contains("uncommitted changes"), "{err}");
        assert!(version_name(&environment("staging"), Some(&dirty), &bundle()).is_err());
        let outside = version_name(&environment("prod"), None, &bundle()).unwrap();
        assert!(outside.as_str().starts_with("sha256-"), "{outside}");
    }
}
