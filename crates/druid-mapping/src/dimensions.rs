//! `dimensions.json`: how a Protobuf message becomes a Druid row.
//!
//! The file is written by hand, so it is strict (unknown keys are errors, which catches
//! typos such as `"tpye"`) and small. The reference is `docs/dimensions.md`; in short:
//!
//! ```json
//! {
//!   "timestamp": { "column": "createdAt", "format": "iso" },
//!   "dimensions": [
//!     { "name": "merchantId", "type": "string" },
//!     { "name": "feeAmountMinor", "type": "long", "from": "fee.amountMinor" }
//!   ],
//!   "metrics": [],
//!   "granularity": { "segment": "HOUR", "query": "NONE", "rollup": false }
//! }
//! ```
//!
//! Names are the fields' JSON names, because that is how Druid reads a record. `from` is a
//! dotted path of JSON names into nested messages or map keys; druidctl turns it into a
//! `flattenSpec` entry.

use std::fmt;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::path::FieldPath;
use crate::{Error, Result};

/// The contents of `dimensions.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DimensionsConfig {
    /// Free text for the reader; JSON has no comments.
    #[serde(rename = "$comment", default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    /// The JSON Schema editors complete from (`docs/schemas/dimensions.schema.json`).
    #[serde(rename = "$schema", default, skip_serializing_if = "Option::is_none")]
    pub schema: Option<String>,
    /// Which field is the row time.
    pub timestamp: TimestampConfig,
    /// Columns to store, in order.
    pub dimensions: Vec<Dimension>,
    /// Aggregates computed at ingestion; none by default.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub metrics: Vec<Metric>,
    /// Segment and query granularity, rollup.
    #[serde(default)]
    pub granularity: Granularity,
}

impl DimensionsConfig {
    /// Reads and parses the file at `path`.
    pub fn load(path: &Path) -> Result<Self> {
        let text =
            std::fs::read_to_string(path).map_err(|source| Error::Read { path: path.to_owned(), source })?;
        Self::parse(&text, &path.display().to_string())
    }

    /// Parses `text`; `origin` names it in errors (`config/dimensions.json:12:5: ...`).
    pub fn parse(text: &str, origin: &str) -> Result<Self> {
        let mut deserializer = serde_json::Deserializer::from_str(text);
        serde_path_to_error::deserialize(&mut deserializer).map_err(|err| {
            let inner = err.inner();
            let at = err.path().to_string();
            let message = if at == "." { inner.to_string() } else { format!("at {at}: {inner}") };
            Error::Dimensions {
                location: format!("{origin}:{}:{}", inner.line(), inner.column()),
                message: strip_serde_position(&message),
            }
        })
    }

    /// The column name of every flattened input (`from` paths and a nested timestamp).
    pub fn flattened_columns(&self) -> impl Iterator<Item = &str> {
        self.dimensions
            .iter()
            .filter(|dimension| dimension.from.is_some())
            .map(|dimension| dimension.name.as_str())
            .chain(self.timestamp.from.as_ref().map(|_| self.timestamp.column.as_str()))
    }
}

impl Dimension {
    /// The path Druid reads the column from: `from`, or the column's own name.
    pub fn source(&self) -> FieldPath {
        FieldPath::parse(self.from.as_deref().unwrap_or(&self.name))
    }
}

impl TimestampConfig {
    /// The path Druid reads the time from: `from`, or the column's own name.
    pub fn source(&self) -> FieldPath {
        FieldPath::parse(self.from.as_deref().unwrap_or(&self.column))
    }
}

/// serde_json appends "at line L column C"; the location already says it.
fn strip_serde_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(index) => message[..index].to_owned(),
        None => message.to_owned(),
    }
}

/// `timestamp`: the column Druid uses for `__time`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TimestampConfig {
    /// Field JSON name (or, with `from`, the name given to the flattened value).
    pub column: String,
    /// `iso`, `auto`, `millis`, `posix`, `micro`, `nano` or a Joda pattern. A
    /// `google.protobuf.Timestamp` arrives as an RFC 3339 string: use `iso` or `auto`.
    #[serde(default = "default_timestamp_format")]
    pub format: String,
    /// Dotted path when the time is nested (`event.occurredAt`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    /// Time used for records that lack the field (ISO 8601); unset, such records are
    /// unparseable.
    #[serde(rename = "missingValue", default, skip_serializing_if = "Option::is_none")]
    pub missing_value: Option<String>,
}

fn default_timestamp_format() -> String {
    "auto".to_owned()
}

/// One dimension.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Dimension {
    /// Column name in Druid. Without `from`, also the field's JSON name.
    pub name: String,
    /// Druid column type; `string` when omitted.
    #[serde(rename = "type", default)]
    pub kind: ColumnType,
    /// Dotted path of JSON names to a nested field or map key (`fee.amountMinor`,
    /// `metadata.orderId`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    /// Free text for the reader.
    #[serde(rename = "$comment", default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
}

/// Druid column types a dimension can have.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ColumnType {
    /// Text; a repeated field becomes a multi-value dimension.
    #[default]
    String,
    /// 64-bit integer.
    Long,
    /// 32-bit float.
    Float,
    /// 64-bit float.
    Double,
    /// Nested data: messages, maps, lists.
    Json,
}

impl ColumnType {
    /// The type as Druid spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::String => "string",
            Self::Long => "long",
            Self::Float => "float",
            Self::Double => "double",
            Self::Json => "json",
        }
    }
}

impl fmt::Display for ColumnType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One ingestion-time aggregator.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Metric {
    /// Column name of the aggregate.
    pub name: String,
    /// Aggregator.
    #[serde(rename = "type")]
    pub kind: MetricKind,
    /// Input column aggregated (a field JSON name or a `from` dimension's name); not used by
    /// `count`.
    #[serde(rename = "fieldName", default, skip_serializing_if = "Option::is_none")]
    pub field_name: Option<String>,
}

/// Aggregators Druid ships without extensions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum MetricKind {
    /// Rows ingested.
    Count,
    /// Sum of a long column.
    LongSum,
    /// Sum of a double column.
    DoubleSum,
    /// Minimum of a long column.
    LongMin,
    /// Maximum of a long column.
    LongMax,
    /// Minimum of a double column.
    DoubleMin,
    /// Maximum of a double column.
    DoubleMax,
}

impl MetricKind {
    /// The aggregator type as Druid spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Count => "count",
            Self::LongSum => "longSum",
            Self::DoubleSum => "doubleSum",
            Self::LongMin => "longMin",
            Self::LongMax => "longMax",
            Self::DoubleMin => "doubleMin",
            Self::DoubleMax => "doubleMax",
        }
    }
}

/// `granularity`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Granularity {
    /// Time span of one segment; `HOUR` suits a continuous stream.
    #[serde(default = "default_segment")]
    pub segment: String,
    /// Truncation of `__time`; `NONE` keeps full precision.
    #[serde(default = "default_query")]
    pub query: String,
    /// Combine rows with equal dimensions; off, so every record stays a row.
    #[serde(default)]
    pub rollup: bool,
}

impl Default for Granularity {
    fn default() -> Self {
        Self { segment: default_segment(), query: default_query(), rollup: false }
    }
}

fn default_segment() -> String {
    "HOUR".to_owned()
}

fn default_query() -> String {
    "NONE".to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_apply() {
        let config = DimensionsConfig::parse(
            r#"{"timestamp":{"column":"createdAt"},"dimensions":[{"name":"country"}]}"#,
            "d.json",
        )
        .unwrap();
        assert_eq!(config.timestamp.format, "auto");
        assert_eq!(config.dimensions[0].kind, ColumnType::String);
        assert_eq!(config.granularity, Granularity::default());
    }

    #[test]
    fn typos_are_errors_with_a_location() {
        let err = DimensionsConfig::parse(
            "{\"timestamp\":{\"column\":\"t\"},\n\"dimensions\":[{\"name\":\"a\",\"tpye\":\"long\"}]}",
            "config/dimensions.json",
        )
        .unwrap_err()
        .to_string();
        assert!(err.starts_with("config/dimensions.json:2:"), "{err}");
        assert!(err.contains("dimensions[0]"), "{err}");
        assert!(err.contains("unknown field `tpye`"), "{err}");
    }

    #[test]
    fn unknown_types_list_the_valid_ones() {
        let err = DimensionsConfig::parse(
            r#"{"timestamp":{"column":"t"},"dimensions":[{"name":"a","type":"int"}]}"#,
            "d.json",
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("expected one of"), "{err}");
        assert!(err.contains("`long`"), "{err}");
    }
}
