//! What a deploy would do, worked out once: the target version, both compatibility verdicts,
//! preflight, the refusals (each with the override that lifts it), the rendered and the live
//! spec, the diff, the migration step. `deploy` is this plan, a confirmation, and
//! [`Session::apply`] of the same plan ([`crate::deploy`]); `plan --out` writes it to a file
//! ([`crate::workflow::plan_file`]).

use std::collections::BTreeMap;
use std::path::Path;

use druid_client::spec::SupervisorSpec;
use schema_registry::Version;
use serde::{Deserialize, Serialize};

pub use crate::workflow::diff::{ChangeOp, SpecChange, spec_changes};

use crate::deploy::DeployOptions;
use crate::drift::Drift;
use crate::migrate::{Placement, Target};
use crate::session::Session;
use crate::{Checked, Error, Result};

/// What [`Session::plan`] found.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Plan {
    /// Environment.
    pub environment: String,
    /// What the channel points at.
    pub channel_version: Option<String>,
    /// The version a deploy would publish and submit (none while the schema cannot be
    /// named: an uncommitted tree where the environment takes only committed schemas).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// Validation findings of the working copy (errors block a deploy).
    pub problems: Vec<druid_mapping::Problem>,
    /// The working schema against the channel's version (wire-json + Druid rules).
    pub compatibility: Option<druid_mapping::compat::Verdict>,
    /// Whether a deploy would change what Druid runs.
    pub changes: bool,
    /// How the spec Druid runs would change, path by path.
    pub diff: Vec<SpecChange>,
    /// Why a deploy would be refused now (the first refusal no override given lifts).
    pub refused: Option<Refusal>,
    /// Every rule that refuses, lifted by an override or not, in the order a deploy meets them.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub refusals: Vec<Refusal>,
    /// The overrides the plan was made with (`breaking`, `window`, `preflight`: their reasons).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub overrides: BTreeMap<String, String>,
    /// Live versus recorded state.
    pub drift: Drift,
    /// Preflight on the topic (prediction only), when the environment runs it and the
    /// mapping is valid.
    pub preflight: Option<crate::preflight::Preflight>,
    /// Why preflight could not run (Kafka unreachable), when it could not.
    pub preflight_error: Option<String>,
    /// What `deploy` would do, in a sentence.
    pub action: String,
    /// The migration a deploy would start, or the one in progress (docs/migrations.md).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub migration: Option<String>,
    /// While a migration is open, its old side as Druid reports it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub old_side: Option<crate::migrate::SideStatus>,
    /// What [`Session::apply`] carries out; `None` when the working copy cannot be deployed
    /// at all (the mapping has errors, the tree is dirty). Not in `plan`'s JSON: a plan file
    /// holds it ([`crate::workflow::plan_file`]).
    #[serde(skip)]
    pub carry: Option<Carry>,
    /// The error behind a preflight that could not run, for `deploy` to report as it is.
    #[serde(skip)]
    pub(crate) preflight_unreachable: Option<(String, String)>,
    /// Where the mapping was read from, for `deploy`'s error.
    #[serde(skip)]
    pub(crate) dimensions_path: std::path::PathBuf,
    /// Druid's release as `/status` reported it.
    #[serde(skip)]
    pub(crate) druid_version: String,
}

/// Why a deploy would be refused.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Refusal {
    /// Which rule refuses.
    pub kind: RefusalKind,
    /// The refusal as `deploy` would word it.
    pub reason: String,
    /// The override that lifts it with a recorded reason (`breaking`, `window`, `preflight`);
    /// none for the rules nothing lifts.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub lifted_by: Option<String>,
    /// A migration rule's reason and way out, for `deploy`'s error.
    #[serde(skip)]
    pub(crate) migration: Option<(String, String)>,
}

impl Refusal {
    fn new(kind: RefusalKind, reason: String) -> Self {
        Self { kind, reason, lifted_by: kind.override_key().map(str::to_owned), migration: None }
    }

    /// A migration rule's refusal (its way out kept), or the error when it is not one.
    fn of_migration(err: Error) -> Result<Self> {
        match err {
            Error::Migration { reason, way_out, environment } => Ok(Self {
                kind: RefusalKind::Migration,
                reason: format!("{environment}: {reason}"),
                lifted_by: None,
                migration: Some((reason, way_out)),
            }),
            err => Err(err),
        }
    }
}

/// The rules that refuse a deploy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RefusalKind {
    /// `dimensions.json` does not match the schema.
    InvalidMapping,
    /// Uncommitted schema and the environment does not set `allow_dirty`.
    DirtyTree,
    /// The change breaks the compatibility policy against the channel's version (overridable
    /// with a recorded reason).
    Breaking,
    /// The change damages what Druid stores (never overridden).
    DruidDamage,
    /// The cluster's Druid release cannot run the deploy (35.0.x and protobuf).
    DruidRelease,
    /// Outside the deployment window.
    WindowClosed,
    /// Preflight predicts bad ingestion of the topic, or could not read it (overridable with
    /// a recorded reason).
    Preflight,
    /// A migration rule: one is in progress elsewhere, the topic changes on a supervisor that
    /// Druid will not move, several supervisors per datasource on an older Druid.
    Migration,
}

impl RefusalKind {
    /// The override key that lifts this refusal, if one does.
    pub fn override_key(self) -> Option<&'static str> {
        match self {
            Self::Breaking => Some("breaking"),
            Self::WindowClosed => Some("window"),
            Self::Preflight => Some("preflight"),
            Self::InvalidMapping
            | Self::DirtyTree
            | Self::DruidDamage
            | Self::DruidRelease
            | Self::Migration => None,
        }
    }
}

/// What [`Session::apply`] carries out, and what it checks is unchanged first. Everything is
/// here: applying a plan reads no working copy.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Carry {
    /// The environment.
    pub environment: String,
    /// The pipeline (`[pipelines.NAME]`), when the project file declares several.
    pub pipeline: Option<String>,
    /// The version to publish (if not yet there) and submit.
    pub version: String,
    /// What the version holds.
    pub bundle: BundleFile,
    /// Its commit, recorded in the manifest.
    pub git_commit: Option<String>,
    /// The compatibility verdict against the channel's version, recorded in the manifest.
    pub compatibility: Option<serde_json::Value>,
    /// The spec to submit.
    pub spec: SupervisorSpec,
    /// How many dimensions the mapping declares.
    pub dimensions: usize,
    /// The paths of the spec changes the plan showed.
    pub diff_paths: Vec<String>,
    /// Live versus recorded state before the deploy, when they disagree.
    pub drift_hint: Option<String>,
    /// Preflight's verdict line when it passed (`None`: skipped or off).
    pub preflight: Option<String>,
    /// What preflight noted without changing its verdict.
    pub preflight_notes: Vec<String>,
    /// A migration this deploy starts.
    pub start: Option<StartMigration>,
    /// The spec is live already and the channel at this version: nothing to submit.
    pub nothing_to_do: bool,
    /// What was true when the plan was made, checked again under the lock.
    pub expect: Expect,
}

/// What a plan saw, which must still hold when it is applied.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Expect {
    /// sha256 of the live spec as Druid echoed it; `None`: no supervisor.
    pub live_sha256: Option<String>,
    /// The channel's version.
    pub channel_version: Option<String>,
    /// The channel pointer's sequence (1 for its first move).
    pub channel_sequence: Option<u64>,
    /// Every published version's name, sorted.
    pub registry_versions: Vec<String>,
    /// Druid's release as `/status` reported it.
    pub druid_version: String,
}

/// A migration a deploy starts (docs/migrations.md).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StartMigration {
    /// The placement recorded as live, which keeps running until cutover.
    pub old: Placement,
    /// Both on one datasource (Druid 34+).
    pub same_datasource: bool,
}

/// A registry bundle in a form a plan file holds (bytes as base64).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BundleFile {
    /// Full name of the record's message type.
    pub message_type: String,
    /// The encoded FileDescriptorSet.
    #[serde(with = "base64_bytes")]
    pub descriptor_set: Vec<u8>,
    /// `dimensions.json`, byte for byte.
    #[serde(with = "base64_bytes")]
    pub dimensions: Vec<u8>,
    /// The `.proto` files: import name and bytes.
    pub sources: Vec<(String, BytesFile)>,
}

/// Bytes kept as base64 in JSON.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct BytesFile(#[serde(with = "base64_bytes")] pub Vec<u8>);

impl BundleFile {
    /// What the registry publishes.
    pub fn to_bundle(&self) -> schema_registry::registry::Bundle {
        schema_registry::registry::Bundle {
            message_type: self.message_type.clone(),
            descriptor_set: self.descriptor_set.clone(),
            dimensions: self.dimensions.clone(),
            sources: self
                .sources
                .iter()
                .map(|(name, contents)| schema_registry::SourceFile {
                    name: name.clone(),
                    contents: contents.0.clone(),
                })
                .collect(),
        }
    }

    fn of(bundle: schema_registry::registry::Bundle) -> Self {
        Self {
            message_type: bundle.message_type,
            descriptor_set: bundle.descriptor_set,
            dimensions: bundle.dimensions,
            sources: bundle
                .sources
                .into_iter()
                .map(|source| (source.name, BytesFile(source.contents)))
                .collect(),
        }
    }
}

mod base64_bytes {
    use base64::Engine as _;
    use serde::{Deserialize as _, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(bytes: &[u8], serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&base64::engine::general_purpose::STANDARD.encode(bytes))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<u8>, D::Error> {
        let text = String::deserialize(deserializer)?;
        base64::engine::general_purpose::STANDARD.decode(text).map_err(serde::de::Error::custom)
    }
}

/// The version name and bundle of the working copy, or why it cannot be named.
struct Candidate {
    version: Option<Version>,
    bundle: schema_registry::registry::Bundle,
    git_commit: Option<String>,
}

impl Session {
    /// What `deploy` with `options` would do, without doing it: validation, the committed-tree
    /// rule, compatibility against the channel's version, the release and migration rules,
    /// preflight, the window, and the spec diff against Druid. Every refusal is listed with
    /// the override that lifts it; `refused` is the first one `options` does not lift.
    /// `project_dir` is where git is asked whether the schema is committed.
    ///
    /// # Errors
    /// Druid or the registry could not be read, or `options.version` is not a version name.
    pub async fn plan(&self, checked: &Checked, project_dir: &Path, options: &DeployOptions) -> Result<Plan> {
        let druid_version = self
            .druid
            .version()
            .await
            .map_err(|source| Error::Druid { action: "reaching Druid", source: Box::new(source) })?;
        let channel = self.channel()?;
        let base = self.registry.channel(&channel).await?;
        let channel_version = base.as_ref().map(|state| state.pointer.version.clone());
        let registry_versions = self.registry.version_names().await?;
        let live = self
            .druid
            .get_spec(self.environment.supervisor_id())
            .await
            .map_err(self.druid_failed("reading the live spec"))?;
        let mut drift = self.drift_of(channel_version.clone(), live.as_ref()).await?;
        let old_side = self.old_side().await?;
        let mut refusals = Vec::new();
        macro_rules! refuse {
            ($kind:expr, $reason:expr $(,)?) => {
                refusals.push(Refusal::new($kind, $reason))
            };
        }

        if let Err(err) = crate::policy::check_window(&self.environment, self.clock.now()) {
            refuse!(RefusalKind::WindowClosed, err.to_string());
        }
        let valid = checked.ensure_valid();
        if let Err(err) = &valid {
            refuse!(RefusalKind::InvalidMapping, err.to_string());
        }
        if druid_client::releases::Release::parse(&druid_version)
            .is_some_and(|release| release.capabilities().protobuf_descriptors_broken)
        {
            refuse!(
                RefusalKind::DruidRelease,
                format!(
                    "Druid {druid_version} cannot load protobuf descriptors (apache/druid#18730); fixed in 36.0.0 (apache/druid#18770)"
                ),
            );
        }
        let start = match self.deploy_target(options.same_datasource, &druid_version).await {
            Ok(Target::Start { old, same_datasource }) => Some(StartMigration { old, same_datasource }),
            Ok(Target::InPlace) => None,
            Err(err) => {
                refusals.push(Refusal::of_migration(err)?);
                None
            }
        };
        if start.is_some() {
            // The new supervisor does not exist yet: that is the plan, not drift.
            drift.hint = None;
        }
        let candidate = self.candidate(checked, project_dir, options)?;
        if candidate.version.is_none() {
            refuse!(
                RefusalKind::DirtyTree,
                Error::DirtyTree { environment: self.environment.name.clone() }.to_string()
            );
        }
        // A migration to a new datasource damages nothing stored and may break; one to a new
        // supervisor on the same datasource may break.
        let new_datasource = start.as_ref().is_some_and(|start| !start.same_datasource);
        let compatibility = match &channel_version {
            Some(parent)
                if valid.is_ok()
                    && candidate.version.as_ref().is_none_or(|version| version.as_str() != parent) =>
            {
                let baseline = crate::publish::baseline(&self.registry, &Version::parse(parent)?).await?;
                Some(crate::policy::gate(&self.environment, &baseline, checked))
            }
            _ => None,
        };
        if let Some(verdict) = &compatibility {
            if verdict.damages_druid() && !new_datasource {
                refuse!(
                    RefusalKind::DruidDamage,
                    format!("against the channel's version: {} (no override)", verdict.summary()),
                );
            }
            if verdict.policy.breaking && start.is_none() {
                refuse!(
                    RefusalKind::Breaking,
                    format!(
                        "against the channel's version: {} (an override needs a recorded reason)",
                        verdict.summary()
                    ),
                );
            }
        }
        let (preflight, preflight_error, preflight_unreachable) = if valid.is_ok()
            && self.environment.preflight.enabled
            && options.skip_preflight.is_none()
        {
            let sampled =
                crate::preflight::Options { druid_sampler: false, ..crate::preflight::Options::default() };
            // The live version is the drift's, read above: not looked up again.
            match self
                .preflight_knowing(
                    checked,
                    sampled,
                    crate::preflight::LiveVersion::Known(drift.live_version.clone()),
                )
                .await
            {
                Ok(preflight) => (Some(preflight), None, None),
                Err(err) => {
                    let unreachable = match &err {
                        Error::Kafka(crate::kafka::KafkaError::Unreachable { brokers, message }) => {
                            Some((brokers.clone(), message.clone()))
                        }
                        _ => None,
                    };
                    (None, Some(format!("could not run: {err}")), unreachable)
                }
            }
        } else {
            (None, None, None)
        };
        if let Some(preflight) = preflight.as_ref().filter(|preflight| !preflight.passed()) {
            refuse!(
                RefusalKind::Preflight,
                format!("preflight failed: {}", preflight.report.findings.join("; "))
            );
        } else if let Some(error) = &preflight_error {
            refuse!(RefusalKind::Preflight, format!("preflight {error}"));
        }
        if start.is_none()
            && let Err(err) = self.check_topic_change(live.as_ref(), &druid_version)
        {
            refusals.push(Refusal::of_migration(err)?);
        }

        let overrides = given_overrides(options);
        let refused = refusals
            .iter()
            .find(|refusal| refusal.lifted_by.as_ref().is_none_or(|key| !overrides.contains_key(key)))
            .cloned();
        let version_name = candidate.version.as_ref().map(Version::to_string);
        let rendered = match &valid {
            Ok(()) => Some(checked.render(
                &self.environment,
                Some(version_name.as_deref().unwrap_or(&crate::render::content_version(&checked.schema))),
            )?),
            Err(_) => None,
        };
        let diff = rendered.as_ref().map(|spec| spec_changes(live.as_ref(), spec)).unwrap_or_default();
        let same_version = version_name.is_some() && channel_version == version_name;
        let nothing_to_do = same_version && live.is_some() && diff.is_empty();
        let migration = self.migration_sentence(start.as_ref(), old_side.as_ref());
        let action = match &refused {
            Some(refusal) => format!("refuse: {}", refusal.reason),
            None if start.is_some() => format!(
                "publish the working schema (breaking allowed: a migration), submit the new supervisor, verify, move {}",
                self.environment.channel
            ),
            None if nothing_to_do || diff.is_empty() => {
                "nothing: the live spec is already this one".to_owned()
            }
            None => format!(
                "publish the working schema, submit the spec ({} change{}), verify, move {}",
                diff.len(),
                if diff.len() == 1 { "" } else { "s" },
                self.environment.channel
            ),
        };
        let druid_version_seen = druid_version.clone();
        let carry = match (candidate.version, rendered) {
            (Some(version), Some(spec)) => Some(Carry {
                environment: self.environment.name.clone(),
                pipeline: self.environment.pipeline.clone(),
                version: version.to_string(),
                bundle: BundleFile::of(candidate.bundle),
                git_commit: candidate.git_commit,
                compatibility: compatibility
                    .as_ref()
                    .map(|verdict| serde_json::to_value(verdict).expect("verdicts serialise")),
                spec,
                dimensions: checked.dimensions.dimensions.len(),
                diff_paths: diff.iter().map(|change| change.path.clone()).collect(),
                drift_hint: drift.hint.clone(),
                preflight: preflight.as_ref().filter(|preflight| preflight.passed()).map(|preflight| {
                    format!(
                        "passed: {} records, {:.2} % unparseable predicted",
                        preflight.report.records_sampled,
                        preflight.report.unparseable_ratio * 100.0
                    )
                }),
                preflight_notes: preflight
                    .as_ref()
                    .map(|preflight| preflight.notes.clone())
                    .unwrap_or_default(),
                start,
                nothing_to_do,
                expect: Expect {
                    live_sha256: live.as_ref().map(crate::journal::spec_sha256),
                    channel_version: channel_version.clone(),
                    channel_sequence: base.as_ref().map(|state| state.pointer.sequence),
                    registry_versions,
                    druid_version: druid_version.clone(),
                },
            }),
            _ => None,
        };
        Ok(Plan {
            environment: self.environment.name.clone(),
            channel_version,
            version: version_name,
            problems: checked.problems.clone(),
            compatibility,
            changes: !diff.is_empty(),
            diff,
            refused,
            refusals,
            overrides,
            drift,
            preflight,
            preflight_error,
            action,
            migration,
            old_side,
            carry,
            preflight_unreachable,
            dimensions_path: checked.dimensions_path.clone(),
            druid_version: druid_version_seen,
        })
    }

    /// The working copy's version name (the git-derived one or `options.version`) and bundle.
    /// The name is `None` when the tree is dirty and the environment takes only committed
    /// schemas (even with a name given by hand).
    fn candidate(&self, checked: &Checked, project_dir: &Path, options: &DeployOptions) -> Result<Candidate> {
        let dimensions = std::fs::read(&checked.dimensions_path)
            .map_err(|source| Error::ConfigRead { path: checked.dimensions_path.clone(), source })?;
        let bundle = crate::publish::bundle(&checked.schema, checked.message.full_name(), dimensions);
        let git = crate::publish::git_state_of(checked, project_dir);
        let dirty_refused =
            git.as_ref().is_some_and(|git| git.dirty) && !crate::policy::allows_dirty(&self.environment);
        let version = match &options.version {
            _ if dirty_refused => None,
            Some(name) => Some(Version::parse(name)?),
            None => Some(crate::publish::version_name(&self.environment, git.as_ref(), &bundle)?),
        };
        Ok(Candidate { version, bundle, git_commit: git.map(|git| git.commit) })
    }

    fn migration_sentence(
        &self,
        start: Option<&StartMigration>,
        old_side: Option<&crate::migrate::SideStatus>,
    ) -> Option<String> {
        match (start, old_side) {
            (Some(StartMigration { old, same_datasource: true }), _) => Some(format!(
                "start a migration: supervisor {} on {} beside {} until `druidctl migrate cutover`",
                self.environment.supervisor_id(),
                old.datasource,
                old.supervisor
            )),
            (Some(StartMigration { old, same_datasource: false }), _) => Some(format!(
                "start a migration: from {} (topic {}) to the new datasource {} (topic {}); {} keeps running until `druidctl migrate cutover`",
                old.datasource,
                old.topic,
                self.environment.datasource,
                self.environment.kafka.topic,
                old.supervisor
            )),
            (None, Some(side)) => Some(format!(
                "a migration is in progress: {} ({}) still runs beside {}",
                side.placement.supervisor,
                side.placement.datasource,
                self.environment.supervisor_id()
            )),
            (None, None) => None,
        }
    }
}

/// The overrides `options` give, by key, with their reasons.
pub(crate) fn given_overrides(options: &DeployOptions) -> BTreeMap<String, String> {
    [
        ("breaking", &options.allow_breaking),
        ("window", &options.ignore_window),
        ("preflight", &options.skip_preflight),
    ]
    .into_iter()
    .filter_map(|(key, reason)| reason.clone().map(|reason| (key.to_owned(), reason)))
    .collect()
}

impl Plan {
    /// The error `deploy` reports for `refusal`, as it always has: the policy's findings with
    /// a breaking change, the preflight findings, Kafka out of reach, the migration's way out.
    pub(crate) fn refusal_error(&self, refusal: &Refusal, environment: &crate::config::Environment) -> Error {
        let parent = self.channel_version.clone().unwrap_or_default();
        match (refusal.kind, &self.compatibility, &self.preflight_unreachable, &refusal.migration) {
            (RefusalKind::Breaking, Some(verdict), ..) => {
                Error::Breaking { parent, verdict: verdict.clone() }
            }
            (RefusalKind::DruidDamage, Some(verdict), ..) => {
                Error::DruidDamage { parent, verdict: verdict.clone() }
            }
            (RefusalKind::InvalidMapping, ..) => Error::InvalidMapping {
                path: self.dimensions_path.clone(),
                errors: self
                    .problems
                    .iter()
                    .filter(|problem| problem.severity == crate::Severity::Error)
                    .count(),
                problems: self.problems.clone(),
            },
            (RefusalKind::DirtyTree, ..) => Error::DirtyTree { environment: environment.name.clone() },
            (RefusalKind::DruidRelease, ..) => Error::UnsupportedDruid {
                version: self.druid_version.clone(),
                reason: "it cannot load protobuf descriptors (file, url or inline; apache/druid#18730): every record would fail",
                fixed_in: "36.0.0 (apache/druid#18770)",
            },
            (RefusalKind::Preflight, _, Some((brokers, message)), _) => {
                Error::Kafka(crate::kafka::KafkaError::Unreachable {
                    brokers: brokers.clone(),
                    message: message.clone(),
                })
            }
            (RefusalKind::Preflight, ..) => Error::PreflightFailed {
                findings: self.preflight.as_ref().map_or_else(
                    || vec![refusal.reason.clone()],
                    |preflight| preflight.report.findings.clone(),
                ),
            },
            (RefusalKind::Migration, _, _, Some((reason, way_out))) => Error::Migration {
                environment: environment.name.clone(),
                reason: reason.clone(),
                way_out: way_out.clone(),
            },
            _ => Error::Refused { environment: environment.name.clone(), reason: refusal.reason.clone() },
        }
    }
}
