//! The Kafka supervisor spec, as POSTed to and returned by `/druid/indexer/v1/supervisor`.
//!
//! Only the parts druidctl reads or writes are named; every struct carries an `extra` map
//! with the rest, so `GET spec -> POST spec` is lossless. Optional fields are skipped when
//! absent rather than written as `null`, for the same reason.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// Fields of a JSON object that the model does not name, kept in their original order.
pub type Extra = Map<String, Value>;

/// A supervisor spec: `{"type": "kafka", "spec": {...}}` plus whatever Druid adds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SupervisorSpec {
    /// Supervisor type, `kafka` for the specs druidctl renders.
    #[serde(rename = "type")]
    pub kind: String,
    /// The ingestion spec. Druid also repeats its three parts at the top level when it
    /// returns a spec; those copies stay in `extra`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spec: Option<IngestionSpec>,
    /// Fields not named above (`context`, `suspended`, Druid's top-level copies, ...).
    #[serde(flatten)]
    pub extra: Extra,
}

impl SupervisorSpec {
    /// A Kafka supervisor spec.
    pub fn kafka(spec: IngestionSpec) -> Self {
        Self { kind: "kafka".to_owned(), spec: Some(spec), extra: Extra::new() }
    }

    /// The supervisor's id: its `id` (Druid 34+ lets several supervisors write one
    /// datasource), else its datasource.
    pub fn id(&self) -> Option<&str> {
        self.extra.get("id").and_then(Value::as_str).or_else(|| self.datasource())
    }

    /// The datasource the spec writes to (the supervisor id, unless `id` says otherwise).
    pub fn datasource(&self) -> Option<&str> {
        self.spec.as_ref().map(|spec| spec.data_schema.data_source.as_str()).or_else(|| {
            self.extra.get("dataSchema").and_then(|schema| schema.get("dataSource")).and_then(Value::as_str)
        })
    }
}

/// `dataSchema` + `ioConfig` + `tuningConfig`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct IngestionSpec {
    /// What the rows look like and where they go.
    pub data_schema: DataSchema,
    /// Where the rows come from.
    pub io_config: KafkaIoConfig,
    /// How the tasks ingest.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tuning_config: Option<KafkaTuningConfig>,
    /// Fields not named above.
    #[serde(flatten)]
    pub extra: Extra,
}

/// `dataSchema`: datasource, timestamp, dimensions, metrics and granularity.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DataSchema {
    /// Target datasource.
    pub data_source: String,
    /// Which input column is the row time, and how to parse it.
    pub timestamp_spec: TimestampSpec,
    /// The dimensions to store.
    pub dimensions_spec: DimensionsSpec,
    /// Aggregators computed at ingestion (`count`, `longSum`, ...), kept as JSON.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metrics_spec: Option<Vec<Value>>,
    /// Segment and query granularity, rollup.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub granularity_spec: Option<GranularitySpec>,
    /// Fields not named above (`transformSpec`, ...).
    #[serde(flatten)]
    pub extra: Extra,
}

/// `timestampSpec`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TimestampSpec {
    /// Input column holding the time.
    pub column: String,
    /// `iso`, `auto`, `millis`, `posix`, `micro`, `nano` or a Joda pattern.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format: Option<String>,
    /// Time used when the column is missing. Druid answers `"missingValue": null`; that null
    /// is kept as `Some(Value::Null)` so it is posted back as it came.
    #[serde(default, deserialize_with = "keep_null", skip_serializing_if = "Option::is_none")]
    pub missing_value: Option<Value>,
    /// Fields not named above.
    #[serde(flatten)]
    pub extra: Extra,
}

/// Deserialises a present value, `null` included, as `Some` (absent stays `None`).
fn keep_null<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Option<Value>, D::Error> {
    Value::deserialize(deserializer).map(Some)
}

/// `dimensionsSpec`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DimensionsSpec {
    /// Dimensions in column order.
    #[serde(default)]
    pub dimensions: Vec<DimensionSchema>,
    /// Input columns never stored.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dimension_exclusions: Option<Vec<String>>,
    /// Fields not named above (`useSchemaDiscovery`, `spatialDimensions`, ...).
    #[serde(flatten)]
    pub extra: Extra,
}

/// One dimension: Druid accepts a bare name (a string dimension) or an object.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum DimensionSchema {
    /// `"name"`: a string dimension.
    Name(String),
    /// `{"type": "long", "name": "amount", ...}`.
    Typed(TypedDimension),
}

impl DimensionSchema {
    /// The column name.
    pub fn name(&self) -> &str {
        match self {
            Self::Name(name) => name,
            Self::Typed(typed) => &typed.name,
        }
    }
}

/// A dimension with an explicit type.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TypedDimension {
    /// Column type.
    #[serde(rename = "type")]
    pub kind: DimensionType,
    /// Column name.
    pub name: String,
    /// Fields not named above (`multiValueHandling`, `createBitmapIndex`, ...).
    #[serde(flatten)]
    pub extra: Extra,
}

open_enum! {
    /// Druid column types for dimensions.
    pub enum DimensionType {
        /// Strings; lists become multi-value dimensions.
        String => "string",
        /// 64-bit integers.
        Long => "long",
        /// 32-bit floats.
        Float => "float",
        /// 64-bit floats.
        Double => "double",
        /// Nested data (objects, arrays), queried with JSON functions.
        Json => "json",
        /// Type discovered from the data.
        Auto => "auto",
    }
}

/// `granularitySpec`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GranularitySpec {
    /// `uniform` (the default).
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// Time span of one segment: `"HOUR"`, or an object such as `{"type": "period", ...}`
    /// (Druid answers with objects where the spec had strings).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub segment_granularity: Option<Value>,
    /// Truncation of `__time`: `"NONE"`, `{"type": "none"}`, ...
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub query_granularity: Option<Value>,
    /// Whether rows with equal dimensions are combined.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rollup: Option<bool>,
    /// Fields not named above.
    #[serde(flatten)]
    pub extra: Extra,
}

/// `ioConfig` of a Kafka supervisor.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct KafkaIoConfig {
    /// `kafka`.
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// Topic to read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub topic: Option<String>,
    /// Kafka consumer properties; `bootstrap.servers` at least.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub consumer_properties: Option<Map<String, Value>>,
    /// How each record is decoded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input_format: Option<InputFormat>,
    /// Reading tasks per replica.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task_count: Option<u32>,
    /// Copies of each task.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replicas: Option<u32>,
    /// ISO 8601 duration a task reads before publishing (`PT1H`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task_duration: Option<String>,
    /// Start from the earliest offset when the datasource has none stored.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub use_earliest_offset: Option<bool>,
    /// Fields not named above.
    #[serde(flatten)]
    pub extra: Extra,
}

/// `inputFormat`; druidctl renders `protobuf`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InputFormat {
    /// `protobuf`, `json`, ...
    #[serde(rename = "type")]
    pub kind: String,
    /// How protobuf bytes become a message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proto_bytes_decoder: Option<ProtoBytesDecoder>,
    /// Which (nested) fields become input columns.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub flatten_spec: Option<FlattenSpec>,
    /// Fields not named above.
    #[serde(flatten)]
    pub extra: Extra,
}

open_enum! {
    /// `protoBytesDecoder.type`. Druid reads a decoder with no type as `schema_registry`.
    pub enum DecoderType {
        /// Base64 FileDescriptorSet in the spec (Druid 25+).
        Inline => "inline",
        /// Descriptor at a classpath entry or a file/http/https/jar URL (not s3://).
        File => "file",
        /// Confluent schema registry (needs jars Druid does not ship).
        SchemaRegistry => "schema_registry",
    }
}

/// `protoBytesDecoder`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProtoBytesDecoder {
    /// Decoder type; absent means `schema_registry` to Druid.
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<DecoderType>,
    /// `inline`: base64 of the FileDescriptorSet.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub descriptor_string: Option<String>,
    /// `file`: where Druid loads the descriptor from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub descriptor: Option<String>,
    /// Full name of the record's message type (`settlement.v1.SettlementTransaction`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proto_message_type: Option<String>,
    /// Fields not named above.
    #[serde(flatten)]
    pub extra: Extra,
}

impl ProtoBytesDecoder {
    /// An `inline` decoder carrying the descriptor set itself.
    pub fn inline(descriptor_base64: String, message_type: &str) -> Self {
        Self {
            kind: Some(DecoderType::Inline),
            descriptor_string: Some(descriptor_base64),
            descriptor: None,
            proto_message_type: Some(message_type.to_owned()),
            extra: Extra::new(),
        }
    }

    /// A `file` decoder loading the descriptor set from a URL.
    pub fn file(url: String, message_type: &str) -> Self {
        Self {
            kind: Some(DecoderType::File),
            descriptor_string: None,
            descriptor: Some(url),
            proto_message_type: Some(message_type.to_owned()),
            extra: Extra::new(),
        }
    }
}

/// `flattenSpec`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FlattenSpec {
    /// Expose top-level fields as columns without listing them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub use_field_discovery: Option<bool>,
    /// Columns computed from paths into the record.
    #[serde(default)]
    pub fields: Vec<FlattenField>,
    /// Fields not named above.
    #[serde(flatten)]
    pub extra: Extra,
}

/// One flattened column: `{"type": "path", "name": "feeAmount", "expr": "$.fee.amount"}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FlattenField {
    /// `path` (JSONPath), `root`, `jq` or `tree`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Column name.
    pub name: String,
    /// The expression, for `path` and `jq`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expr: Option<String>,
    /// Fields not named above (`nodes` for `tree`).
    #[serde(flatten)]
    pub extra: Extra,
}

impl FlattenField {
    /// A JSONPath column.
    pub fn path(name: &str, expr: String) -> Self {
        Self { kind: "path".to_owned(), name: name.to_owned(), expr: Some(expr), extra: Extra::new() }
    }
}

/// `tuningConfig` of a Kafka supervisor.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct KafkaTuningConfig {
    /// `kafka`.
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// How many parse errors each task keeps for `/parseErrors`; 0 keeps none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_saved_parse_exceptions: Option<u32>,
    /// Log every parse error in the task log.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log_parse_exceptions: Option<bool>,
    /// Fields not named above.
    #[serde(flatten)]
    pub extra: Extra,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What Druid returns for GET /supervisor/{id}: the spec, its parts repeated at the top
    /// level, and fields this model does not name at every depth.
    const LIVE_SPEC: &str = r#"{
      "type": "kafka",
      "spec": {
        "dataSchema": {
          "dataSource": "settlements",
          "timestampSpec": {"column": "createdAt", "format": "iso", "missingValue": null},
          "dimensionsSpec": {
            "dimensions": ["country", {"type": "long", "name": "amountMinor", "multiValueHandling": "SORTED_ARRAY", "createBitmapIndex": false}],
            "dimensionExclusions": ["__time", "createdAt"],
            "includeAllDimensions": false,
            "useSchemaDiscovery": false
          },
          "metricsSpec": [],
          "granularitySpec": {"type": "uniform", "segmentGranularity": "HOUR", "queryGranularity": {"type": "none"}, "rollup": false, "intervals": []},
          "transformSpec": {"filter": null, "transforms": []}
        },
        "ioConfig": {
          "topic": "settlements",
          "inputFormat": {
            "type": "protobuf",
            "protoBytesDecoder": {"type": "inline", "descriptorString": "AAAA", "protoMessageType": "settlement.v1.SettlementTransaction"},
            "flattenSpec": {"useFieldDiscovery": true, "fields": [{"type": "path", "name": "feeAmountMinor", "expr": "$.fee.amountMinor", "nodes": null}]}
          },
          "replicas": 1,
          "taskCount": 1,
          "taskDuration": "PT3600S",
          "consumerProperties": {"bootstrap.servers": "localhost:9092"},
          "autoScalerConfig": null,
          "pollTimeout": 100,
          "startDelay": "PT5S",
          "period": "PT30S",
          "useEarliestOffset": false,
          "completionTimeout": "PT1800S",
          "lateMessageRejectionPeriod": null,
          "stream": "settlements",
          "useEarliestSequenceNumber": false,
          "type": "kafka"
        },
        "tuningConfig": {"type": "kafka", "maxRowsInMemory": 150000, "maxSavedParseExceptions": 100, "logParseExceptions": false, "indexSpec": {"bitmap": {"type": "roaring"}}}
      },
      "dataSchema": {"dataSource": "settlements"},
      "tuningConfig": {"type": "kafka"},
      "ioConfig": {"topic": "settlements"},
      "context": null,
      "suspended": false
    }"#;

    #[test]
    fn live_spec_survives_a_round_trip() {
        let original: Value = serde_json::from_str(LIVE_SPEC).unwrap();
        let spec: SupervisorSpec = serde_json::from_str(LIVE_SPEC).unwrap();
        assert_eq!(spec.datasource(), Some("settlements"));
        let io = &spec.spec.as_ref().unwrap().io_config;
        assert_eq!(io.task_count, Some(1));
        let decoder = io.input_format.as_ref().unwrap().proto_bytes_decoder.as_ref().unwrap();
        assert_eq!(decoder.kind, Some(DecoderType::Inline));
        assert_eq!(serde_json::to_value(&spec).unwrap(), original);
    }

    #[test]
    fn unknown_values_are_kept_in_open_enums() {
        let decoder: ProtoBytesDecoder = serde_json::from_str(r#"{"type":"future_decoder","x":1}"#).unwrap();
        assert_eq!(decoder.kind, Some(DecoderType::Other("future_decoder".into())));
        assert_eq!(serde_json::to_string(&decoder).unwrap(), r#"{"type":"future_decoder","x":1}"#);
        let dimension: DimensionSchema = serde_json::from_str(r#""country""#).unwrap();
        assert_eq!(dimension.name(), "country");
    }
}
