//! How the spec Druid runs would change: the rendered spec against the live one, path by
//! path, ignoring what Druid adds or rewrites when it echoes a spec.

use base64::Engine as _;
use druid_client::echo;
use druid_client::spec::SupervisorSpec;
use serde::Serialize;
use sha2::Digest as _;

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
            // What Druid's echo adds or rewrites is no change ([`druid_client::echo`]).
            json_patch::PatchOperation::Add(add)
                if echo::added_by_echo(add.path.as_str(), &add.value, rendered.get("type")) =>
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
                if from.as_ref().is_some_and(|from| echo::same_value(from, &replace.value)) {
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
