//! Deploy scenarios against a mocked Druid (mockall) and an in-memory registry.

mod monitor;
mod scenarios;
