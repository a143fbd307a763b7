//! The compatibility corpus: buf's rules and the Druid rules on every case, every mode.

mod compat;
mod corpus_format;
