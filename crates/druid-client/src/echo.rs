//! How Druid echoes a spec: what `GET /druid/indexer/v1/supervisor/ID` returns for a spec that
//! was submitted, and which differences from the submitted spec mean nothing. One view, used
//! wherever a live spec is compared with a rendered one (druidctl's plan, drift and reconcile):
//!
//! - Druid copies the top-level `type` into `ioConfig.type` and `tuningConfig.type`;
//! - it writes durations in seconds (`PT1H` comes back as `PT3600S`);
//! - it writes granularities as objects (`HOUR` as `{"type": "period", "period": "PT1H"}`);
//! - it adds the defaults of every field it knows.
//!
//! [`fingerprint`] keeps what decides how records are ingested, in a form that survives the
//! echo.

use base64::Engine as _;
use serde_json::Value;
use sha2::Digest as _;

use crate::spec::SupervisorSpec;

/// Whether `live` (as Druid echoes it) says what `rendered` says.
pub fn same_value(live: &Value, rendered: &Value) -> bool {
    live == rendered || same_duration(live, rendered) || same_granularity(live, rendered)
}

/// Whether Druid's echo adds `value` at `path` itself: the `type` of `ioConfig` and
/// `tuningConfig`, copied from the spec's top-level `type` (`top_type`).
pub fn added_by_echo(path: &str, value: &Value, top_type: Option<&Value>) -> bool {
    matches!(path, "/spec/ioConfig/type" | "/spec/tuningConfig/type") && top_type == Some(value)
}

/// Whether `a` and `b` name the same granularity, one as a name (`NONE`, `HOUR`) and the other
/// as the object Druid echoes (`{"type": "none"}`, `{"type": "period", "period": "PT1H"}`).
pub fn same_granularity(a: &Value, b: &Value) -> bool {
    fn as_object(value: &Value) -> Option<Value> {
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
    let covers = |named: &Value, object: &Value| {
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
pub fn same_duration(a: &Value, b: &Value) -> bool {
    let seconds = |value: &Value| {
        let text = value.as_str()?;
        let span: jiff::Span = text.parse().ok()?;
        // Only time units: days and longer have no fixed length without a date.
        span.total(jiff::Unit::Second).ok()
    };
    matches!((seconds(a), seconds(b)), (Some(a), Some(b)) if (a - b).abs() < 1e-9)
}

/// sha256 of an inline descriptor in a spec.
pub fn descriptor_sha256(spec: &SupervisorSpec) -> Option<String> {
    let decoder = spec.spec.as_ref()?.io_config.input_format.as_ref()?.proto_bytes_decoder.as_ref()?;
    let bytes = base64::engine::general_purpose::STANDARD.decode(decoder.descriptor_string.as_ref()?).ok()?;
    Some(hex::encode(sha2::Sha256::digest(bytes)))
}

/// What decides how records are ingested, in a form that survives Druid's echo of a spec
/// (Druid adds defaults and rewrites some values, such as `PT1H` as `PT3600S`).
pub fn fingerprint(spec: &SupervisorSpec) -> Value {
    let Some(spec) = spec.spec.as_ref() else { return Value::Null };
    let decoder = spec.io_config.input_format.as_ref().and_then(|format| format.proto_bytes_decoder.as_ref());
    let flatten = spec.io_config.input_format.as_ref().and_then(|format| format.flatten_spec.as_ref());
    let schema = &spec.data_schema;
    serde_json::json!({
        "dataSource": schema.data_source,
        "topic": spec.io_config.topic,
        "descriptor": decoder.map(|decoder| (decoder.descriptor_string.clone(), decoder.descriptor.clone())),
        "messageType": decoder.and_then(|decoder| decoder.proto_message_type.clone()),
        "timestamp": (&schema.timestamp_spec.column, &schema.timestamp_spec.format),
        "dimensions": schema.dimensions_spec.dimensions.iter().map(|dimension| match dimension {
            crate::spec::DimensionSchema::Name(name) => ("string".to_owned(), name.clone()),
            crate::spec::DimensionSchema::Typed(typed) => (typed.kind.to_string(), typed.name.clone()),
        }).collect::<Vec<_>>(),
        "flatten": flatten.map(|flatten| flatten.fields.iter().map(|field| (field.name.clone(), field.expr.clone())).collect::<Vec<_>>()),
    })
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
