//! `POST /druid/v2/sql` on the Broker.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::Result;
use crate::client::{Call, DruidClient, Service};

const BASE: &str = "druid/v2/sql";

/// SQL endpoints; from [`DruidClient::sql`].
#[derive(Debug, Clone, Copy)]
pub struct Sql<'a> {
    client: &'a DruidClient,
}

impl DruidClient {
    /// SQL endpoints (Broker).
    pub fn sql(&self) -> Sql<'_> {
        Sql { client: self }
    }
}

/// A SQL query and its options.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SqlQuery {
    /// The statement; use `?` placeholders with `parameters`.
    pub query: String,
    /// Result format; Druid's default is `object`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result_format: Option<ResultFormat>,
    /// Add a header row (names) to array and CSV formats.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub header: bool,
    /// With `header`: add Druid types.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub types_header: bool,
    /// With `header`: add SQL types.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub sql_types_header: bool,
    /// Query context (`sqlQueryId`, `timeout`, ...).
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub context: Map<String, Value>,
    /// Values of the `?` placeholders, in order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub parameters: Vec<SqlParameter>,
}

impl SqlQuery {
    /// A query with Druid's defaults.
    pub fn new(query: impl Into<String>) -> Self {
        Self { query: query.into(), ..Self::default() }
    }

    /// Adds a parameter (`VARCHAR`, `BIGINT`, `DOUBLE`, `TIMESTAMP`, ...).
    #[must_use]
    pub fn param(mut self, kind: &str, value: impl Into<Value>) -> Self {
        self.parameters.push(SqlParameter { kind: kind.to_owned(), value: value.into() });
        self
    }

    /// Sets the query id, so the query can be cancelled.
    #[must_use]
    pub fn with_id(mut self, id: &str) -> Self {
        self.context.insert("sqlQueryId".into(), Value::String(id.to_owned()));
        self
    }

    /// Sets the result format.
    #[must_use]
    pub fn format(mut self, format: ResultFormat) -> Self {
        self.result_format = Some(format);
        self
    }
}

/// A typed query parameter.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SqlParameter {
    /// SQL type.
    #[serde(rename = "type")]
    pub kind: String,
    /// Value.
    pub value: Value,
}

/// Druid's SQL result formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[allow(missing_docs)]
pub enum ResultFormat {
    Object,
    Array,
    ObjectLines,
    ArrayLines,
    Csv,
}

/// A raw SQL answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SqlResponse {
    /// `X-Druid-SQL-Query-Id`.
    pub query_id: Option<String>,
    /// The body, in the requested format.
    pub body: Vec<u8>,
}

impl Sql<'_> {
    /// Runs `query` and returns the body as Druid sent it (any result format).
    pub async fn query(&self, query: &SqlQuery) -> Result<SqlResponse> {
        // A read: safe to repeat.
        let call = Call::post(Service::Broker, BASE).json_body(query).idempotent();
        let response = self.client.send(&call).await?;
        let query_id =
            response.headers.get("X-Druid-SQL-Query-Id").and_then(|id| id.to_str().ok()).map(str::to_owned);
        Ok(SqlResponse { query_id, body: response.bytes(&call, self.client).await? })
    }

    /// Runs `query` with the `object` format and decodes each row as a `T`.
    pub async fn rows<T: DeserializeOwned>(&self, query: &SqlQuery) -> Result<Vec<T>> {
        let query = query.clone().format(ResultFormat::Object);
        let call = Call::post(Service::Broker, BASE).json_body(&query).idempotent();
        self.client.json(&call).await
    }

    /// Cancels a running query by its id; `false` when Druid no longer knows it.
    pub async fn cancel(&self, query_id: &str) -> Result<bool> {
        let call = Call::new(Service::Broker, reqwest::Method::DELETE, BASE)
            .segment(query_id)
            .accept(|status, _| status == 404);
        Ok(self.client.send(&call).await?.status.is_success())
    }
}
