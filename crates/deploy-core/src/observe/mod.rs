//! The observe layer: what runs and how it is doing, without changing it: status and logs
//! ([`ops`]), live versus recorded ([`drift`]), monitoring and its alerts ([`monitor`]), the
//! incident draft ([`incident`]); the one Prometheus writer ([`prometheus`]) and HTTP server
//! ([`http`]) of the long-running commands.

pub mod drift;
pub mod http;
pub mod incident;
pub mod monitor;
pub mod ops;
pub mod prometheus;
