//! Plan files: `druidctl plan --out FILE` writes a [`Plan`], `druidctl apply FILE` carries it
//! out, as terraform users expect (docs/plan-files.md).
//!
//! The file is one JSON document of format [`FORMAT`]: who made it and when, the plan as
//! `plan -o json` prints it (for people), the overrides and refusals, and what apply carries
//! out ([`Carry`]: the version's bundle, the rendered spec, what must still hold). Secret
//! values of the spec are masked: apply renders the spec again from the bundle with the
//! environment's settings, checks it equals the planned one but for secrets, and submits it.
//! `digest` is the sha256 of the document without it: an edited or damaged file is refused.
//! It is a checksum, not a signature: keep plan files where merge requests keep artifacts.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};
use sha2::Digest as _;

use crate::config::Environment;
use crate::plan::{Carry, Plan, Refusal, RefusalKind};
use crate::{Error, Result};

/// The format written and read.
pub const FORMAT: &str = "druidctl-plan/1";

#[derive(Debug, Serialize, Deserialize)]
struct PlanFile {
    format: String,
    created_at: String,
    created_by: String,
    druidctl: String,
    environment: String,
    #[serde(default)]
    pipeline: Option<String>,
    plan: serde_json::Value,
    overrides: BTreeMap<String, String>,
    refusals: Vec<Refusal>,
    carry: Carry,
}

/// A plan read back from its file.
#[derive(Debug, Clone)]
pub struct Loaded {
    /// The plan, ready for [`crate::Session::apply`].
    pub plan: Plan,
    /// The plan as `plan -o json` printed it when the file was written.
    pub report: serde_json::Value,
    /// When it was made (RFC 3339).
    pub created_at: String,
    /// Who made it.
    pub created_by: String,
}

/// Writes `plan` to `path` (through a temporary file renamed into place). A plan that would
/// be refused is not written: its refusal is the error, as `deploy` would report it. A
/// closed window does not stop the file: apply judges the window when it runs.
///
/// # Errors
/// The plan's refusal, or the file could not be written.
pub fn write(
    plan: &Plan,
    environment: &Environment,
    path: &Path,
    actor: &str,
    now: jiff::Timestamp,
) -> Result<()> {
    let refused = plan.refusals.iter().find(|refusal| {
        refusal.kind != RefusalKind::WindowClosed
            && refusal.lifted_by.as_ref().is_none_or(|key| !plan.overrides.contains_key(key))
    });
    if let Some(refusal) = refused {
        return Err(plan.refusal_error(refusal, environment));
    }
    let Some(carry) = &plan.carry else {
        return Err(Error::Refused {
            environment: environment.name.clone(),
            reason: "nothing to plan".into(),
        });
    };
    let mut carry = carry.clone();
    carry.spec = masked(&carry.spec);
    let file = PlanFile {
        format: FORMAT.to_owned(),
        created_at: now.to_string(),
        created_by: actor.to_owned(),
        druidctl: env!("CARGO_PKG_VERSION").to_owned(),
        environment: plan.environment.clone(),
        pipeline: carry.pipeline.clone(),
        plan: serde_json::to_value(plan).expect("plans serialise"),
        overrides: plan.overrides.clone(),
        refusals: plan.refusals.clone(),
        carry,
    };
    let mut document = serde_json::to_value(&file).expect("plan files serialise");
    let digest = digest_of(&document);
    document["digest"] = serde_json::Value::String(digest);
    let mut text = serde_json::to_string_pretty(&document).expect("plan files serialise");
    text.push('\n');
    let failed = |source: std::io::Error| Error::PlanFile {
        path: path.to_owned(),
        reason: format!("cannot write it: {source}"),
    };
    let directory = path.parent().filter(|parent| !parent.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let mut temporary = tempfile::NamedTempFile::new_in(directory).map_err(failed)?;
    std::io::Write::write_all(&mut temporary, text.as_bytes()).map_err(failed)?;
    temporary.persist(path).map_err(|err| failed(err.error))?;
    Ok(())
}

/// Reads the plan file at `path`, refusing another format and a file whose digest does not
/// match its content.
///
/// # Errors
/// [`Error::PlanFile`] saying what is wrong with it.
pub fn read(path: &Path) -> Result<Loaded> {
    let refuse = |reason: String| Error::PlanFile { path: path.to_owned(), reason };
    let text = std::fs::read_to_string(path).map_err(|err| refuse(format!("cannot read it: {err}")))?;
    let mut document: serde_json::Value =
        serde_json::from_str(&text).map_err(|err| refuse(format!("not a plan file (not JSON: {err})")))?;
    let format = document.get("format").and_then(serde_json::Value::as_str).unwrap_or_default().to_owned();
    if format != FORMAT {
        return Err(refuse(if format.is_empty() {
            "not a plan file (no `format`)".to_owned()
        } else {
            format!("format `{format}`; this druidctl reads {FORMAT}")
        }));
    }
    let Some(serde_json::Value::String(digest)) =
        document.as_object_mut().and_then(|object| object.shift_remove("digest"))
    else {
        return Err(refuse("it has no digest".into()));
    };
    if digest_of(&document) != digest {
        return Err(refuse(
            "its digest does not match its content: it was edited or damaged since it was written".into(),
        ));
    }
    let file: PlanFile = serde_json::from_value(document)
        .map_err(|err| refuse(format!("not a plan of this format: {err}")))?;
    let carry = file.carry;
    let refused = file
        .refusals
        .iter()
        .find(|refusal| refusal.lifted_by.as_ref().is_none_or(|key| !file.overrides.contains_key(key)))
        .cloned();
    let text_of = |key: &str| file.plan.get(key).and_then(serde_json::Value::as_str).map(str::to_owned);
    let plan = Plan {
        environment: file.environment,
        channel_version: carry.expect.channel_version.clone(),
        version: Some(carry.version.clone()),
        problems: Vec::new(),
        compatibility: None,
        changes: !carry.diff_paths.is_empty() || carry.expect.live_sha256.is_none(),
        diff: Vec::new(),
        refused,
        refusals: file.refusals,
        overrides: file.overrides,
        drift: crate::drift::Drift::default(),
        preflight: None,
        preflight_error: None,
        action: text_of("action").unwrap_or_default(),
        migration: text_of("migration"),
        old_side: None,
        druid_version: carry.expect.druid_version.clone(),
        carry: Some(carry),
        preflight_unreachable: None,
        dimensions_path: std::path::PathBuf::new(),
    };
    Ok(Loaded { plan, report: file.plan, created_at: file.created_at, created_by: file.created_by })
}

fn digest_of(document: &serde_json::Value) -> String {
    let bytes = serde_json::to_vec(document).expect("JSON values serialise");
    format!("sha256:{}", hex::encode(sha2::Sha256::digest(bytes)))
}

/// `spec` with every secret value masked ([`druid_client::redact`]).
pub(crate) fn masked(spec: &druid_client::spec::SupervisorSpec) -> druid_client::spec::SupervisorSpec {
    let mut value = serde_json::to_value(spec).expect("specs serialise");
    druid_client::redact::json(&mut value);
    serde_json::from_value(value).expect("a masked spec is a spec")
}
