//! How the spec Druid runs would change: the rendered spec against the live one, path by
//! path, ignoring what Druid adds or rewrites when it echoes a spec.

use base64::Engine as _;
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
