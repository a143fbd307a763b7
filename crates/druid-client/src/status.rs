//! Health of any service, and the Coordinator's datasources.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::Result;
use crate::client::{Call, DruidClient, Service};
use crate::spec::Extra;

/// `GET /status`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ServerStatus {
    /// Druid version (`34.0.0`).
    pub version: String,
    /// Loaded extensions.
    #[serde(default)]
    pub modules: Vec<Value>,
    /// JVM memory figures.
    #[serde(default)]
    pub memory: Option<Value>,
    /// Fields not named above.
    #[serde(flatten)]
    pub extra: Extra,
}

impl ServerStatus {
    /// Whether this version's protobuf `file` and `inline` decoders are broken
    /// (35.0.x, apache/druid#18730).
    pub fn has_broken_protobuf_descriptors(&self) -> bool {
        self.release().is_some_and(|release| release.capabilities().protobuf_descriptors_broken)
    }

    /// The release, for the table of what it does ([`crate::releases`]).
    pub fn release(&self) -> Option<crate::releases::Release> {
        crate::releases::Release::parse(&self.version)
    }
}

/// A datasource with its segment figures (`?simple`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DatasourceSummary {
    /// Datasource name.
    pub name: String,
    /// Tiers and segment figures.
    #[serde(default)]
    pub properties: DatasourceProperties,
}

/// `properties` of a datasource summary.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DatasourceProperties {
    /// Per tier figures.
    #[serde(default)]
    pub tiers: BTreeMap<String, Value>,
    /// Segment count, size and time range.
    #[serde(default)]
    pub segments: Option<SegmentSummary>,
}

/// Segment figures of a datasource.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SegmentSummary {
    /// Segments.
    #[serde(default)]
    pub count: u64,
    /// Bytes.
    #[serde(default)]
    pub size: u64,
    /// Earliest segment start.
    #[serde(default)]
    pub min_time: Option<String>,
    /// Latest segment end.
    #[serde(default)]
    pub max_time: Option<String>,
}

impl DruidClient {
    /// `GET /status` of `service`: version and extensions.
    pub async fn server_status(&self, service: Service) -> Result<ServerStatus> {
        self.json(&Call::get(service, "status")).await
    }

    /// `GET /status/health`: whether `service` is up.
    pub async fn is_healthy(&self, service: Service) -> Result<bool> {
        self.json(&Call::get(service, "status/health")).await
    }

    /// `GET /status/selfDiscovered`: whether `service` is ready (joined the cluster). A 503 is
    /// an answer here: not ready.
    pub async fn is_self_discovered(&self, service: Service) -> Result<bool> {
        // Not retried on 503: the caller polls with its own deadline.
        let call = Call::get(service, "status/selfDiscovered").accept(|status, _| status == 503);
        Ok(self.send(&call).await?.status.is_success())
    }

    /// Names of the datasources that have segments.
    pub async fn datasources(&self) -> Result<Vec<String>> {
        self.json(&Call::get(Service::Coordinator, "druid/coordinator/v1/datasources")).await
    }

    /// Datasources with their segment counts and sizes.
    pub async fn datasources_simple(&self) -> Result<Vec<DatasourceSummary>> {
        self.json(&Call::get(Service::Coordinator, "druid/coordinator/v1/datasources").query("simple", ""))
            .await
    }
}
