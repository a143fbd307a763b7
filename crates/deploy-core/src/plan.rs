//! What a deploy would do, without doing it: validation, compatibility against the
//! channel's version, the spec diff against what Druid runs, drift.

use std::path::Path;

use base64::Engine as _;
use druid_client::spec::SupervisorSpec;
use schema_registry::Version;
use serde::Serialize;
use sha2::Digest as _;

use crate::drift::Drift;
use crate::session::Session;
use crate::{Checked, Result};

/// What [`Session::plan`] found.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Plan {
    /// Environment.
    pub environment: String,
    /// What the channel points at.
    pub channel_version: Option<String>,
    /// Validation findings of the working copy (errors block a deploy).
    pub problems: Vec<druid_mapping::Problem>,
    /// The working schema against the channel's version (wire-json + Druid rules).
    pub compatibility: Option<druid_mapping::compat::Verdict>,
    /// Whether a deploy would change what Druid runs.
    pub changes: bool,
    /// How the spec Druid runs would change, path by path.
    pub diff: Vec<SpecChange>,
    /// Why a deploy would be refused now (the first reason found), if it would.
    pub refused: Option<Refusal>,
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
}

/// Why a deploy would be refused.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Refusal {
    /// Which rule refuses.
    pub kind: RefusalKind,
    /// The refusal as `deploy` would word it.
    pub reason: String,
}

/// The rules that refuse a deploy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
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

/// One difference between the live spec and the rendered one.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SpecChange {
    /// What happens at `path`.
    pub op: ChangeOp,
    /// JSON pointer (`/spec/dataSchema/dimensionsSpec/dimensions/16`).
    pub path: String,
    /// Live value.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from: Option<serde_json::Value>,
    /// Rendered value.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub to: Option<serde_json::Value>,
}

/// What a spec change does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ChangeOp {
    /// A value the live spec lacks (the whole spec when `path` is empty).
    Add,
    /// An element of a rendered list that the live spec has and the rendered one drops.
    Remove,
    /// A value that differs.
    Change,
}

/// Replaces the base64 descriptor by its digest and message type, so a diff reads.
fn readable(spec: &SupervisorSpec) -> serde_json::Value {
    let mut value = serde_json::to_value(spec).expect("specs serialise");
    if let Some(decoder) = value.pointer_mut("/spec/ioConfig/inputFormat/protoBytesDecoder")
        && let Some(blob) = decoder.get("descriptorString").and_then(serde_json::Value::as_str)
    {
        let digest = base64::engine::general_purpose::STANDARD
            .decode(blob)
            .map_or_else(|_| "not base64".into(), |bytes| hex::encode(sha2::Sha256::digest(bytes)));
        decoder["descriptorString"] =
            serde_json::Value::String(format!("sha256:{}", &digest[..digest.len().min(12)]));
    }
    value
}

/// Differences that matter: what the rendered spec sets differently, and elements removed
/// from lists it renders; fields only Druid adds (defaults) are not changes.
///
/// Secrets never leave: a change under a secret key (`consumerProperties."sasl.jaas.config"`)
/// shows `(secret changed)` instead of either value, and secrets inside any value shown are
/// masked ([`druid_client::redact`]).
pub fn spec_changes(live: Option<&SupervisorSpec>, rendered: &SupervisorSpec) -> Vec<SpecChange> {
    use druid_client::redact;
    raw_spec_changes(live, rendered)
        .into_iter()
        .map(|mut change| {
            if redact::is_secret_pointer(&change.path) {
                let hidden =
                    |value: Option<serde_json::Value>, shown: &str| value.map(|_| serde_json::json!(shown));
                change.from = hidden(change.from, redact::MASK);
                change.to = hidden(change.to, redact::SECRET_CHANGED);
            } else {
                change.from.as_mut().map(redact::json);
                change.to.as_mut().map(redact::json);
            }
            change
        })
        .collect()
}

fn raw_spec_changes(live: Option<&SupervisorSpec>, rendered: &SupervisorSpec) -> Vec<SpecChange> {
    let rendered = readable(rendered);
    let Some(live) = live.map(readable) else {
        return vec![SpecChange { op: ChangeOp::Add, path: String::new(), from: None, to: Some(rendered) }];
    };
    let operations = json_patch::diff(&live, &rendered);
    let parent_is_list = |path: &str| {
        let parent = path.rsplit_once('/').map_or("", |(parent, _)| parent);
        rendered.pointer(parent).is_some_and(serde_json::Value::is_array)
    };
    operations
        .0
        .into_iter()
        .filter_map(|operation| match operation {
            // Druid's echo of a spec drops the `type` it also holds at the top (`kafka`).
            json_patch::PatchOperation::Add(add)
                if matches!(add.path.as_str(), "/spec/ioConfig/type" | "/spec/tuningConfig/type")
                    && rendered.get("type") == Some(&add.value) =>
            {
                None
            }
            json_patch::PatchOperation::Add(add) => Some(SpecChange {
                op: ChangeOp::Add,
                path: add.path.to_string(),
                from: None,
                to: Some(add.value),
            }),
            json_patch::PatchOperation::Replace(replace) => {
                let path = replace.path.to_string();
                let from = live.pointer(&path).cloned();
                // Druid echoes durations in seconds (`PT1H` comes back as `PT3600S`) and
                // granularities as objects (`NONE` as `{"type": "none"}`).
                if from.as_ref().is_some_and(|from| {
                    same_duration(from, &replace.value) || same_granularity(from, &replace.value)
                }) {
                    return None;
                }
                Some(SpecChange { op: ChangeOp::Change, from, path, to: Some(replace.value) })
            }
            json_patch::PatchOperation::Remove(remove) if parent_is_list(remove.path.as_str()) => {
                let path = remove.path.to_string();
                Some(SpecChange { op: ChangeOp::Remove, from: live.pointer(&path).cloned(), path, to: None })
            }
            _ => None,
        })
        .collect()
}

/// Whether `a` and `b` name the same granularity, one as a name (`NONE`, `HOUR`) and the other
/// as the object Druid echoes (`{"type": "none"}`, `{"type": "period", "period": "PT1H"}`).
fn same_granularity(a: &serde_json::Value, b: &serde_json::Value) -> bool {
    fn as_object(value: &serde_json::Value) -> Option<serde_json::Value> {
        let name = value.as_str()?.to_ascii_uppercase();
        let period = match name.as_str() {
            "NONE" | "ALL" => return Some(serde_json::json!({"type": name.to_ascii_lowercase()})),
            "SECOND" => "PT1S",
            "MINUTE" => "PT1M",
            "FIVE_MINUTE" => "PT5M",
            "TEN_MINUTE" => "PT10M",
            "FIFTEEN_MINUTE" => "PT15M",
            "THIRTY_MINUTE" => "PT30M",
            "HOUR" => "PT1H",
            "SIX_HOUR" => "PT6H",
            "EIGHT_HOUR" => "PT8H",
            "DAY" => "P1D",
            "WEEK" => "P1W",
            "MONTH" => "P1M",
            "QUARTER" => "P3M",
            "YEAR" => "P1Y",
            _ => return None,
        };
        Some(serde_json::json!({"type": "period", "period": period}))
    }
    // The echoed object may add `timeZone: "UTC"` / `origin: null`: compare what both say.
    let covers = |named: &serde_json::Value, object: &serde_json::Value| {
        let (Some(expected), Some(object)) = (as_object(named), object.as_object()) else { return false };
        expected.as_object().is_some_and(|expected| {
            expected.iter().all(|(key, value)| {
                object.get(key).is_some_and(|found| found == value || same_duration(found, value))
            }) && object.iter().all(|(key, value)| {
                expected.contains_key(key)
                    || value.is_null()
                    || (key == "timeZone" && value.as_str().is_some_and(|zone| zone == "UTC"))
            })
        })
    };
    covers(a, b) || covers(b, a)
}

/// Whether `a` and `b` are ISO 8601 durations of the same length (`PT1H`, `PT3600S`).
fn same_duration(a: &serde_json::Value, b: &serde_json::Value) -> bool {
    let seconds = |value: &serde_json::Value| {
        let text = value.as_str()?;
        let span: jiff::Span = text.parse().ok()?;
        // Only time units: days and longer have no fixed length without a date.
        span.total(jiff::Unit::Second).ok()
    };
    matches!((seconds(a), seconds(b)), (Some(a), Some(b)) if (a - b).abs() < 1e-9)
}

impl Session {
    /// What `deploy` would do, without doing it: validation, compatibility against the
    /// channel's version, the spec diff against Druid, drift.
    ///
    /// It checks what a deploy checks before acting (the mapping, the committed-tree rule, the
    /// compatibility gate, the window), in that order, and reports the first refusal.
    /// `project_dir` is where git is asked whether the schema is committed.
    pub async fn plan(&self, checked: &Checked, project_dir: &Path) -> Result<Plan> {
        self.plan_for(checked, project_dir, false).await
    }

    /// [`Session::plan`] of `deploy --same-datasource` when `same_datasource`.
    pub async fn plan_for(
        &self,
        checked: &Checked,
        project_dir: &Path,
        same_datasource: bool,
    ) -> Result<Plan> {
        let channel = self.channel()?;
        let channel_version = self.registry.channel(&channel).await?.map(|state| state.pointer.version);
        let compatibility = match &channel_version {
            Some(version) => {
                let baseline = crate::publish::baseline(&self.registry, &Version::parse(version)?).await?;
                Some(crate::policy::gate(&self.environment, &baseline, checked))
            }
            None => None,
        };
        let live = self
            .druid
            .get_spec(self.environment.supervisor_id())
            .await
            .map_err(self.druid_failed("reading the live spec"))?;
        let diff = if checked.error_count() == 0 {
            spec_changes(live.as_ref(), &checked.render(&self.environment, None)?)
        } else {
            Vec::new()
        };
        let mut drift = self.drift().await?;
        let version = self.druid.version().await.map_err(self.druid_failed("reading Druid's version"))?;
        let target = self.deploy_target(same_datasource, &version).await;
        let old_side = self.old_side().await?;
        let migration_refusal = match &target {
            Err(err @ crate::Error::Migration { .. }) => Some(err.to_string()),
            Err(_) => None,
            Ok(_) => self.check_topic_change(live.as_ref(), &version).err().map(|err| err.to_string()),
        };
        let target = match target {
            Ok(target) => Some(target),
            Err(crate::Error::Migration { .. }) => None,
            Err(err) => return Err(err),
        };
        let start = match &target {
            Some(crate::migrate::Target::Start { old, same_datasource }) => {
                Some((old.clone(), *same_datasource))
            }
            _ => None,
        };
        if start.is_some() {
            // The new supervisor does not exist yet: that is the plan, not drift.
            drift.hint = None;
        }
        let migration = match (&start, &old_side) {
            (Some((old, true)), _) => Some(format!(
                "start a migration: supervisor {} on {} beside {} until `druidctl migrate cutover`",
                self.environment.supervisor_id(),
                old.datasource,
                old.supervisor
            )),
            (Some((old, false)), _) => Some(format!(
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
        };
        let (preflight, preflight_error) = if checked.error_count() == 0 && self.environment.preflight.enabled
        {
            let options =
                crate::preflight::Options { druid_sampler: false, ..crate::preflight::Options::default() };
            match self.preflight(checked, options).await {
                Ok(preflight) => (Some(preflight), None),
                Err(err) => (None, Some(format!("could not run: {err}"))),
            }
        } else {
            (None, None)
        };
        let mut refused = self.refusal(
            checked,
            project_dir,
            compatibility.as_ref(),
            &version,
            start.as_ref().map(|(_, same)| *same),
        );
        if refused.is_none()
            && let Some(reason) = migration_refusal
        {
            refused = Some(Refusal { kind: RefusalKind::Migration, reason });
        }
        if refused.is_none() {
            if let Some(preflight) = preflight.as_ref().filter(|preflight| !preflight.passed()) {
                refused = Some(Refusal {
                    kind: RefusalKind::Preflight,
                    reason: format!("preflight failed: {}", preflight.report.findings.join("; ")),
                });
            } else if let Some(error) = &preflight_error {
                refused =
                    Some(Refusal { kind: RefusalKind::Preflight, reason: format!("preflight {error}") });
            }
        }
        let action = match &refused {
            Some(refusal) => format!("refuse: {}", refusal.reason),
            None if start.is_some() => format!(
                "publish the working schema (breaking allowed: a migration), submit the new supervisor, verify, move {}",
                self.environment.channel
            ),
            None if diff.is_empty() => "nothing: the live spec is already this one".to_owned(),
            None => format!(
                "publish the working schema, submit the spec ({} change{}), verify, move {}",
                diff.len(),
                if diff.len() == 1 { "" } else { "s" },
                self.environment.channel
            ),
        };
        Ok(Plan {
            environment: self.environment.name.clone(),
            channel_version,
            problems: checked.problems.clone(),
            compatibility,
            changes: !diff.is_empty(),
            diff,
            refused,
            drift,
            preflight,
            preflight_error,
            action,
            migration,
            old_side,
        })
    }

    /// The first rule that would refuse a deploy now, worded as the deploy's error.
    fn refusal(
        &self,
        checked: &Checked,
        project_dir: &Path,
        compatibility: Option<&druid_mapping::compat::Verdict>,
        druid_version: &str,
        migration: Option<bool>,
    ) -> Option<Refusal> {
        // A migration to a new datasource (`Some(false)`) damages nothing stored and may
        // break; one to a new supervisor on the same datasource (`Some(true)`) may break.
        let damage_counts = migration != Some(false);
        let breaking_counts = migration.is_none();
        let refuse = |kind, reason: String| Some(Refusal { kind, reason });
        if let Err(err) = checked.ensure_valid() {
            return refuse(RefusalKind::InvalidMapping, err.to_string());
        }
        if druid_client::releases::Release::parse(druid_version)
            .is_some_and(|release| release.capabilities().protobuf_descriptors_broken)
        {
            return refuse(
                RefusalKind::DruidRelease,
                format!(
                    "Druid {druid_version} cannot load protobuf descriptors (apache/druid#18730); fixed in 36.0.0 (apache/druid#18770)"
                ),
            );
        }
        if let Err(err) = crate::publish::check_committed(checked, &self.environment, project_dir) {
            return refuse(RefusalKind::DirtyTree, err.to_string());
        }
        if let Some(verdict) = compatibility.filter(|verdict| damage_counts && verdict.damages_druid()) {
            return refuse(
                RefusalKind::DruidDamage,
                format!("against the channel's version: {} (no override)", verdict.summary()),
            );
        }
        if let Some(verdict) = compatibility.filter(|verdict| breaking_counts && verdict.policy.breaking) {
            return refuse(
                RefusalKind::Breaking,
                format!(
                    "against the channel's version: {} (an override needs a recorded reason)",
                    verdict.summary()
                ),
            );
        }
        if let Err(err) = crate::policy::check_window(&self.environment, self.clock.now()) {
            return refuse(RefusalKind::WindowClosed, err.to_string());
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::{same_duration, same_granularity};

    #[test]
    fn durations_are_compared_by_length() {
        assert!(same_duration(&json!("PT1H"), &json!("PT3600S")));
        assert!(same_duration(&json!("PT30M"), &json!("PT1800S")));
        assert!(!same_duration(&json!("PT1H"), &json!("PT30M")));
        assert!(!same_duration(&json!("PT1H"), &json!(3600)));
        assert!(!same_duration(&json!("HOUR"), &json!("HOUR")), "not durations: compared as values");
    }

    #[test]
    fn granularities_are_compared_as_druid_reads_them() {
        assert!(same_granularity(&json!({"type": "none"}), &json!("NONE")));
        assert!(same_granularity(&json!("ALL"), &json!({"type": "all"})));
        assert!(same_granularity(
            &json!({"type": "period", "period": "PT3600S", "timeZone": "UTC", "origin": null}),
            &json!("HOUR")
        ));
        assert!(!same_granularity(&json!({"type": "none"}), &json!("HOUR")));
        assert!(!same_granularity(
            &json!({"type": "period", "period": "PT1H", "timeZone": "Europe/Paris"}),
            &json!("HOUR")
        ));
        assert!(!same_granularity(&json!("DAY"), &json!("HOUR")));
    }
}
