//! Deploy scenarios against the shared fake Druid (`druid_client::testing`) and an in-memory
//! registry; the monitor alerts against Druid's fixture responses (mockall).

mod faults;
mod monitor;
mod scenarios;
