//! Code the example programs (and the end-to-end tests) share: generating records from a
//! compiled descriptor and writing them to Kafka.
#![allow(
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    clippy::cast_possible_wrap,
    clippy::cast_precision_loss
)]

pub mod kafka;
pub mod records;
