//! Rendering the Kafka supervisor spec of an environment: the parsing part from
//! `druid-mapping` ([`druid_mapping::spec`]), the rest (topic, consumer properties, sizing,
//! tuning) from the environment.

use druid_client::spec::{DataSchema, IngestionSpec, KafkaIoConfig, KafkaTuningConfig, SupervisorSpec};
use druid_mapping::DimensionsConfig;
use druid_mapping::spec::{Descriptor, parsing};
use proto_schema::CompiledSchema;
use schema_registry::Version;
use serde_json::{Map, json};

use crate::Result;
use crate::config::{Delivery, Environment};
use crate::session::Session;

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
/// ([`druid_mapping::validate()`]); rendering itself cannot fail.
pub fn render(input: &RenderInput<'_>) -> SupervisorSpec {
    let env = input.environment;
    let url;
    let descriptor = match env.descriptor.delivery {
        Delivery::Inline => Descriptor::Inline(input.descriptor_set),
        Delivery::Url => {
            url = env.descriptor.url.as_deref().unwrap_or_default().replace("{version}", input.version);
            Descriptor::Url(&url)
        }
    };
    let parsed = parsing(input.dimensions, descriptor, input.message_type);

    let mut consumer_properties = Map::new();
    consumer_properties.insert("bootstrap.servers".into(), json!(env.kafka.bootstrap_servers));
    for (key, value) in &env.kafka.consumer_properties {
        consumer_properties.insert(key.clone(), json!(value));
    }

    let mut spec = SupervisorSpec::kafka(IngestionSpec {
        data_schema: DataSchema {
            data_source: env.datasource.clone(),
            timestamp_spec: parsed.timestamp_spec,
            dimensions_spec: parsed.dimensions_spec,
            metrics_spec: Some(parsed.metrics_spec),
            granularity_spec: Some(parsed.granularity_spec),
            extra: Map::new(),
        },
        io_config: KafkaIoConfig {
            kind: Some("kafka".into()),
            topic: Some(env.kafka.topic.clone()),
            consumer_properties: Some(consumer_properties),
            input_format: Some(parsed.input_format),
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
    });
    if let Some(id) = &env.supervisor {
        // Druid 34+: a supervisor id of its own, one of several supervisors writing the
        // datasource, which all take concurrent locks (docs/migrations.md).
        spec.extra.insert("id".into(), json!(id));
        spec.extra.insert("context".into(), json!({ "useConcurrentLocks": true }));
    }
    spec
}

impl Session {
    /// Renders the spec of a registry version (digests checked), from its stored descriptor.
    pub async fn render_version(&self, version: &Version) -> Result<SupervisorSpec> {
        let contents = self.registry.get(version).await?;
        let dimensions = DimensionsConfig::parse(
            &String::from_utf8_lossy(&contents.bundle.dimensions),
            &format!("{version}/dimensions.json"),
        )?;
        Ok(render(&RenderInput {
            environment: &self.environment,
            descriptor_set: &contents.bundle.descriptor_set,
            message_type: &contents.manifest.message_type,
            dimensions: &dimensions,
            version: version.as_str(),
        }))
    }
}
