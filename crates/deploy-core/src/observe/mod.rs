//! The observe layer: what runs and how it is doing, without changing it: status and logs
//! ([`ops`]), live versus recorded ([`drift`]), monitoring and its alerts ([`monitor`]), the
//! incident draft ([`incident`]).

pub mod drift;
pub mod incident;
pub mod monitor;
pub mod ops;
