//! The parsing part of a Kafka supervisor spec, from `dimensions.json`: the protobuf
//! `inputFormat` (decoder and flattenSpec), `timestampSpec`, `dimensionsSpec`, `metricsSpec`
//! and `granularitySpec`. Where the records come from (topic, consumer properties, sizing)
//! is the environment's business and is rendered by `deploy-core`.

use base64::Engine as _;
use druid_client::spec::{
    DimensionSchema, DimensionType, DimensionsSpec, FlattenField, FlattenSpec, GranularitySpec, InputFormat,
    ProtoBytesDecoder, TimestampSpec, TypedDimension,
};
use serde_json::{Map, Value, json};

use crate::dimensions::{ColumnType, DimensionsConfig};

/// How Druid gets the descriptor set.
#[derive(Debug, Clone, Copy)]
pub enum Descriptor<'a> {
    /// Carried in the spec (`inline`, base64): the spec holds its exact schema.
    Inline(&'a [u8]),
    /// Read by Druid from a URL (`file` decoder: file, http or https).
    Url(&'a str),
}

/// How Druid parses a record into a row.
#[derive(Debug, Clone, PartialEq)]
pub struct Parsing {
    /// `ioConfig.inputFormat`: the protobuf decoder and the flattenSpec.
    pub input_format: InputFormat,
    /// `dataSchema.timestampSpec`.
    pub timestamp_spec: TimestampSpec,
    /// `dataSchema.dimensionsSpec`.
    pub dimensions_spec: DimensionsSpec,
    /// `dataSchema.metricsSpec`.
    pub metrics_spec: Vec<Value>,
    /// `dataSchema.granularitySpec`.
    pub granularity_spec: GranularitySpec,
}

/// The parsing part of the spec for records of `message_type` mapped by `dims`. The mapping
/// is assumed validated ([`crate::validate()`]); this cannot fail.
pub fn parsing(dims: &DimensionsConfig, descriptor: Descriptor<'_>, message_type: &str) -> Parsing {
    let dimensions = dims
        .dimensions
        .iter()
        .map(|dimension| {
            DimensionSchema::Typed(TypedDimension {
                kind: column_type(dimension.kind),
                name: dimension.name.clone(),
                extra: Map::new(),
            })
        })
        .collect();
    let mut flatten_fields: Vec<FlattenField> = dims
        .dimensions
        .iter()
        .filter(|dimension| dimension.from.is_some())
        .map(|dimension| FlattenField::path(&dimension.name, dimension.source().json_path()))
        .collect();
    if dims.timestamp.from.is_some() {
        flatten_fields.push(FlattenField::path(&dims.timestamp.column, dims.timestamp.source().json_path()));
    }
    let decoder = match descriptor {
        Descriptor::Inline(bytes) => {
            ProtoBytesDecoder::inline(base64::engine::general_purpose::STANDARD.encode(bytes), message_type)
        }
        Descriptor::Url(url) => ProtoBytesDecoder::file(url.to_owned(), message_type),
    };
    let metrics_spec = dims
        .metrics
        .iter()
        .map(|metric| {
            let mut object = Map::new();
            object.insert("type".into(), json!(metric.kind.as_str()));
            object.insert("name".into(), json!(metric.name));
            if let Some(field) = &metric.field_name {
                object.insert("fieldName".into(), json!(field));
            }
            Value::Object(object)
        })
        .collect();
    Parsing {
        input_format: InputFormat {
            kind: "protobuf".into(),
            proto_bytes_decoder: Some(decoder),
            flatten_spec: Some(FlattenSpec {
                use_field_discovery: Some(true),
                fields: flatten_fields,
                extra: Map::new(),
            }),
            extra: Map::new(),
        },
        timestamp_spec: TimestampSpec {
            column: dims.timestamp.column.clone(),
            format: Some(dims.timestamp.format.clone()),
            missing_value: dims.timestamp.missing_value.as_ref().map(|value| json!(value)),
            extra: Map::new(),
        },
        dimensions_spec: DimensionsSpec { dimensions, dimension_exclusions: None, extra: Map::new() },
        metrics_spec,
        granularity_spec: GranularitySpec {
            kind: Some("uniform".into()),
            segment_granularity: Some(json!(dims.granularity.segment)),
            query_granularity: Some(json!(dims.granularity.query)),
            rollup: Some(dims.granularity.rollup),
            extra: Map::new(),
        },
    }
}

fn column_type(kind: ColumnType) -> DimensionType {
    match kind {
        ColumnType::String => DimensionType::String,
        ColumnType::Long => DimensionType::Long,
        ColumnType::Float => DimensionType::Float,
        ColumnType::Double => DimensionType::Double,
        ColumnType::Json => DimensionType::Json,
    }
}
