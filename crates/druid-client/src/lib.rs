//! Typed models and (soon) a client for Apache Druid's Overlord, Broker and Coordinator APIs.
//!
//! The [`spec`] module models the Kafka supervisor spec that druidctl renders and submits.
//! Every struct keeps the fields it does not name in an `extra` map, so a spec fetched from
//! Druid and posted back loses nothing.
//!
//! ```no_run
//! use druid_client::spec::SupervisorSpec;
//!
//! let live: SupervisorSpec = serde_json::from_str(r#"{"type":"kafka","spec":{}}"#)?;
//! println!("{}", serde_json::to_string_pretty(&live)?);
//! # Ok::<(), serde_json::Error>(())
//! ```
#![warn(missing_docs)]

#[macro_use]
mod open_enum;
pub mod spec;

pub use open_enum::ParseOpenEnum;
