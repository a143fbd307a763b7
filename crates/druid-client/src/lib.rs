//! A typed, mockable client for Apache Druid's Overlord, Broker and Coordinator APIs.
//!
//! - [`DruidClient`] built from a [`ClientConfig`] (Router or per-service URLs, basic or
//!   bearer auth, a private CA, timeouts, a [`RetryPolicy`]), or over a ready
//!   `reqwest::Client` for tests.
//! - Endpoints grouped by resource: [`DruidClient::supervisors`], [`DruidClient::tasks`],
//!   [`DruidClient::sql`], plus service status and Coordinator datasources.
//! - [`spec`]: the Kafka supervisor spec, lossless on `GET -> POST`.
//! - [`DruidApi`]: the trait deploy-core uses; `MockDruidApi` with the `mock` feature, and
//!   one stateful fake Druid, `testing::FakeDruid`, with the `testing` feature.
//! - One [`Error`] keeping status, method, redacted URL, body and Druid's parsed error.
//!   Credentials never appear in `Debug` output, errors or logs.
//!
//! ```no_run
//! use druid_client::{ClientConfig, DruidClient};
//!
//! # async fn run() -> druid_client::Result<()> {
//! let client = DruidClient::new(&ClientConfig::new("http://localhost:8888")?)?;
//! for id in client.supervisors().list().await? {
//!     let status = client.supervisors().status(&id).await?;
//!     println!("{id}: {:?} lag {:?}", status.payload.state, status.payload.aggregate_lag);
//! }
//! # Ok(())
//! # }
//! ```
#![warn(missing_docs)]

#[macro_use]
mod open_enum;
pub mod api;
mod client;
pub mod config;
pub mod echo;
pub mod error;
pub mod redact;
pub mod releases;
pub mod sampler;
pub mod spec;
pub mod sql;
pub mod stats;
pub mod status;
pub mod supervisors;
pub mod tasks;
#[cfg(feature = "testing")]
pub mod testing;

pub use api::DruidApi;
#[cfg(any(test, feature = "mock"))]
pub use api::MockDruidApi;
pub use client::{DruidClient, Service};
pub use config::{Auth, ClientConfig, RetryPolicy};
pub use error::{DruidError, Error, Result};
pub use open_enum::ParseOpenEnum;
