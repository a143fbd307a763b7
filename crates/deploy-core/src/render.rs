//! Rendering the Kafka supervisor spec of an environment.

use base64::Engine as _;
use druid_client::spec::{
    DataSchema, DimensionSchema, DimensionType, DimensionsSpec, FlattenField, FlattenSpec, GranularitySpec,
    IngestionSpec, InputFormat, KafkaIoConfig, KafkaTuningConfig, ProtoBytesDecoder, SupervisorSpec,
    TimestampSpec, TypedDimension,
};
use schema_registry::CompiledSchema;
use schema_registry::dimensions::{ColumnType, DimensionsConfig};
use serde_json::{Map, Value, json};

use crate::config::{Delivery, Environment};

/// What a spec is rendered from.
#[derive(Debug, Clone, Copy)]
pub struct RenderInput<'a> {
    /// Target environment.
    pub environment: &'a Environment,
    /// The encoded FileDescriptorSet the spec carries (inline delivery).
    pub descriptor_set: &'a [u8],
    /// Full name of the record's message type.
    pub message_type: &'a str,
    /// The dimension mapping.
    pub dimensions: &'a DimensionsConfig,
    /// Schema version, substituted for `{version}` in a descriptor URL.
    pub version: &'a str,
}

/// The content-derived version name used when no registry version is given:
/// `sha256-` and the first 12 hex digits of the descriptor set's digest.
pub fn content_version(schema: &CompiledSchema) -> String {
    format!("sha256-{}", &schema.sha256()[..12])
}

/// Renders the supervisor spec. The input is assumed validated
/// ([`schema_registry::validate`]); rendering itself cannot fail.
pub fn render(input: &RenderInput<'_>) -> SupervisorSpec {
    let env = input.environment;
    let dims = input.dimensions;

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
        .filter_map(|dimension| {
            let from = dimension.from.as_deref()?;
            Some(FlattenField::path(&dimension.name, json_path(from)))
        })
        .collect();
    if let Some(from) = &dims.timestamp.from {
        flatten_fields.push(FlattenField::path(&dims.timestamp.column, json_path(from)));
    }

    let decoder = match env.descriptor.delivery {
        Delivery::Inline => ProtoBytesDecoder::inline(
            base64::engine::general_purpose::STANDARD.encode(input.descriptor_set),
            input.message_type,
        ),
        Delivery::Url => {
            let template = env.descriptor.url.as_deref().unwrap_or_default();
            ProtoBytesDecoder::file(template.replace("{version}", input.version), input.message_type)
        }
    };

    let mut consumer_properties = Map::new();
    consumer_properties.insert("bootstrap.servers".into(), json!(env.kafka.bootstrap_servers));
    for (key, value) in &env.kafka.consumer_properties {
        consumer_properties.insert(key.clone(), json!(value));
    }

    let metrics = dims
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

    SupervisorSpec::kafka(IngestionSpec {
        data_schema: DataSchema {
            data_source: env.datasource.clone(),
            timestamp_spec: TimestampSpec {
                column: dims.timestamp.column.clone(),
                format: Some(dims.timestamp.format.clone()),
                missing_value: dims.timestamp.missing_value.as_ref().map(|value| json!(value)),
                extra: Map::new(),
            },
            dimensions_spec: DimensionsSpec { dimensions, dimension_exclusions: None, extra: Map::new() },
            metrics_spec: Some(metrics),
            granularity_spec: Some(GranularitySpec {
                kind: Some("uniform".into()),
                segment_granularity: Some(json!(dims.granularity.segment)),
                query_granularity: Some(json!(dims.granularity.query)),
                rollup: Some(dims.granularity.rollup),
                extra: Map::new(),
            }),
            extra: Map::new(),
        },
        io_config: KafkaIoConfig {
            kind: Some("kafka".into()),
            topic: Some(env.kafka.topic.clone()),
            consumer_properties: Some(consumer_properties),
            input_format: Some(InputFormat {
                kind: "protobuf".into(),
                proto_bytes_decoder: Some(decoder),
                flatten_spec: Some(FlattenSpec {
                    use_field_discovery: Some(true),
                    fields: flatten_fields,
                    extra: Map::new(),
                }),
                extra: Map::new(),
            }),
            task_count: Some(env.ingestion.task_count),
            replicas: Some(env.ingestion.replicas),
            task_duration: Some(env.ingestion.task_duration.clone()),
            use_earliest_offset: Some(env.ingestion.use_earliest_offset),
            extra: Map::new(),
        },
        tuning_config: Some(KafkaTuningConfig {
            kind: Some("kafka".into()),
            max_saved_parse_exceptions: Some(env.ingestion.max_saved_parse_exceptions),
            log_parse_exceptions: Some(false),
            extra: Map::new(),
        }),
        extra: Map::new(),
    })
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

/// `fee.amountMinor` -> `$.fee.amountMinor`; segments that are not plain identifiers (map
/// keys such as `order-id`) use bracket notation: `$.metadata['order-id']`.
pub fn json_path(dotted: &str) -> String {
    let dotted = dotted.strip_prefix("$.").unwrap_or(dotted);
    let mut path = String::from("$");
    for segment in dotted.split('.') {
        let plain = segment.chars().next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && segment.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if plain {
            path.push('.');
            path.push_str(segment);
        } else {
            path.push_str("['");
            path.push_str(&segment.replace('\\', "\\\\").replace('\'', "\\'"));
            path.push_str("']");
        }
    }
    path
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_paths() {
        assert_eq!(json_path("fee.amountMinor"), "$.fee.amountMinor");
        assert_eq!(json_path("$.fee.amountMinor"), "$.fee.amountMinor");
        assert_eq!(json_path("metadata.order-id"), "$.metadata['order-id']");
        assert_eq!(json_path("metadata.it's"), "$.metadata['it\\'s']");
    }
}
