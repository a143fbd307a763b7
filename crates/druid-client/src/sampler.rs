//! `POST /druid/indexer/v1/sampler` on the Overlord: decodes records with the cluster's own
//! input format and returns the rows it would ingest, without creating a supervisor or a task.
//! The spec is a supervisor spec (`type` `kafka`, with `dataSchema` and `ioConfig`) wrapped in
//! `{"type": "kafka", "spec": ..., "samplerConfig": {...}}`.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::Result;
use crate::client::{Call, DruidClient, Service};

const BASE: &str = "druid/indexer/v1/sampler";

/// The sampler endpoint; from [`DruidClient::sampler`].
#[derive(Debug, Clone, Copy)]
pub struct Sampler<'a> {
    client: &'a DruidClient,
}

impl DruidClient {
    /// The sampler (Overlord).
    pub fn sampler(&self) -> Sampler<'_> {
        Sampler { client: self }
    }
}

/// Most rows Druid's sampler reads in one request.
pub const MAX_ROWS: usize = 5000;

/// A sampler request for a Kafka supervisor spec: the spec's ingestion part re-typed as the
/// sampler wants it, and the sampler's limits.
///
/// ```
/// # use druid_client::sampler::SamplerRequest;
/// # fn example(spec: &druid_client::spec::SupervisorSpec) {
/// let request = SamplerRequest::kafka(spec).from_earliest().rows(500);
/// assert_eq!(request.to_json()["samplerConfig"]["numRows"], 500);
/// # }
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct SamplerRequest {
    spec: Value,
    rows: usize,
    timeout_ms: u64,
}

impl SamplerRequest {
    /// Samples what `spec` would ingest (1000 rows, 15 s, from the offsets the spec says).
    pub fn kafka(spec: &crate::spec::SupervisorSpec) -> Self {
        let mut whole = serde_json::to_value(spec).unwrap_or_default();
        // The sampler takes the supervisor's `spec` with its own `type`.
        let mut inner = whole.get_mut("spec").map(Value::take).unwrap_or_default();
        if let Some(object) = inner.as_object_mut() {
            object.insert("type".into(), Value::from("kafka"));
        }
        Self { spec: inner, rows: 1000, timeout_ms: 15_000 }
    }

    /// Reads from the earliest offsets (the sampler reads the earliest or the latest; the
    /// latest means records yet to come).
    #[must_use]
    pub fn from_earliest(mut self) -> Self {
        if let Some(io) = self.spec.get_mut("ioConfig").and_then(Value::as_object_mut) {
            io.insert("useEarliestOffset".into(), Value::Bool(true));
        }
        self
    }

    /// At most `rows` rows, within 1..=[`MAX_ROWS`].
    #[must_use]
    pub fn rows(mut self, rows: usize) -> Self {
        self.rows = rows.clamp(1, MAX_ROWS);
        self
    }

    /// How long Druid may read.
    #[must_use]
    pub fn timeout(mut self, timeout: std::time::Duration) -> Self {
        self.timeout_ms = u64::try_from(timeout.as_millis()).unwrap_or(u64::MAX);
        self
    }

    /// The rows asked for.
    pub fn row_limit(&self) -> usize {
        self.rows
    }

    /// The request body: `{"type": "kafka", "spec": ..., "samplerConfig": {...}}`.
    pub fn to_json(&self) -> Value {
        serde_json::json!({
            "type": "kafka",
            "spec": self.spec,
            "samplerConfig": { "numRows": self.rows, "timeoutMs": self.timeout_ms },
        })
    }
}

/// What the sampler read.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SamplerResponse {
    /// Records read.
    #[serde(default)]
    pub num_rows_read: u64,
    /// Records that became rows.
    #[serde(default)]
    pub num_rows_indexed: u64,
    /// One entry per record read, in order.
    #[serde(default)]
    pub data: Vec<SampledRow>,
}

/// One record and what became of it.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct SampledRow {
    /// The record as the input format read it (for protobuf: the converted map).
    #[serde(default)]
    pub input: Option<Map<String, Value>>,
    /// The row: `__time`, the dimensions and the metrics.
    #[serde(default)]
    pub parsed: Option<Map<String, Value>>,
    /// The record could not be parsed.
    #[serde(default)]
    pub unparseable: bool,
    /// Why, when unparseable.
    #[serde(default)]
    pub error: Option<String>,
}

impl Sampler<'_> {
    /// Samples with `request` (`{"type", "spec", "samplerConfig"}`). A read: safe to repeat.
    pub async fn sample(&self, request: &Value) -> Result<SamplerResponse> {
        let call = Call::post(Service::Overlord, BASE).json_body(request).idempotent();
        self.client.json(&call).await
    }
}

#[cfg(test)]
mod tests {
    use super::SamplerRequest;

    #[test]
    fn a_request_is_the_supervisor_spec_retyped_with_limits() {
        let spec: crate::spec::SupervisorSpec = serde_json::from_value(serde_json::json!({
            "type": "kafka",
            "spec": {
                "dataSchema": {"dataSource": "d", "timestampSpec": {"column": "t"}, "dimensionsSpec": {"dimensions": []}},
                "ioConfig": {"type": "kafka", "topic": "t", "useEarliestOffset": false},
            }
        }))
        .unwrap();
        let request = SamplerRequest::kafka(&spec).from_earliest().rows(9000).to_json();
        assert_eq!(request["type"], "kafka");
        assert_eq!(request["spec"]["type"], "kafka");
        assert_eq!(request["spec"]["ioConfig"]["useEarliestOffset"], true);
        assert_eq!(request["spec"]["dataSchema"]["dataSource"], "d");
        assert_eq!(request["samplerConfig"], serde_json::json!({"numRows": 5000, "timeoutMs": 15000}));
        assert_eq!(SamplerRequest::kafka(&spec).rows(0).row_limit(), 1);
    }
}
