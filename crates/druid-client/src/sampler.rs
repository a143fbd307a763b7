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
