//! The row Druid stores for a record: one predictor for `validate`, preflight and the
//! conformance suite.
//!
//! Given the message descriptor, the mapping (`dimensions.json`) and a record, [`Predictor`]
//! says what Druid 33 does with it, step by step as Druid does:
//!
//! 1. decode the bytes (not protobuf or truncated: **unparseable**);
//! 2. convert the whole message to plain Java values ([`convert`]: JSON names, set fields only,
//!    enum names, well-known types; a set `Any` is **unparseable**, a singular `Struct`, a map
//!    with non-string keys or an out-of-range Timestamp **fails the task**);
//! 3. read each column: a dimension without `from` is the root field of its name, one with
//!    `from` is its flattenSpec JSONPath (a path that does not match gives null);
//! 4. parse the time with the timestampSpec (missing or unreadable: **unparseable**);
//! 5. convert each value to its column's type the way Druid's dimension indexers do (a list in
//!    a numeric column, text that is not a number: the cell is null and the row counts as
//!    "processed with error").
//!
//! Metrics are not predicted (they aggregate). The rules are Druid 33's (and 34's: the
//! converter did not change); [`Predictor::for_release`] refuses releases whose converter
//! differs, rather than guess. The conformance suite (`tests/e2e`, tests named
//! `conformance`) checks every cell against the local Druid.

pub mod convert;
pub mod java;
pub mod wire;

use base64::Engine as _;
use druid_client::releases::Release;
use prost_reflect::{DynamicMessage, MessageDescriptor};
use serde::Serialize;

use crate::dimensions::{ColumnType, DimensionsConfig};
use crate::path::FieldPath;
pub use convert::Failure;
pub use java::{Java, JavaMap};

/// What Druid does with one record.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "outcome", rename_all = "kebab-case")]
pub enum Outcome {
    /// A row is stored.
    Row(Row),
    /// A parse exception: counted unparseable, ingestion goes on.
    Unparseable {
        /// Druid's message, close enough to search for.
        reason: String,
    },
    /// Any other exception: the ingestion task fails on this record (and on its retries).
    TaskFailure {
        /// The exception.
        reason: String,
    },
}

impl Outcome {
    /// The row, when one is stored.
    pub fn row(&self) -> Option<&Row> {
        match self {
            Self::Row(row) => Some(row),
            _ => None,
        }
    }
}

/// A stored row.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Row {
    /// `__time`, in milliseconds since the epoch.
    pub time: i64,
    /// Every dimension of the mapping, in its order.
    pub columns: Vec<(String, Cell)>,
    /// Why the row counts as "processed with error" (a cell Druid could not convert is null).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<String>,
}

impl Row {
    /// The cell of `column`.
    pub fn get(&self, column: &str) -> Option<&Cell> {
        self.columns.iter().find(|(name, _)| name == column).map(|(_, cell)| cell)
    }
}

/// One stored value.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Cell {
    /// No value.
    Null,
    /// A single-value string.
    String(String),
    /// A multi-value string (a list in a string column), sorted as Druid stores it.
    Strings(Vec<Option<String>>),
    /// A `long` column.
    Long(i64),
    /// A `float` column.
    Float(f32),
    /// A `double` column.
    Double(f64),
    /// A `json` column.
    Json(serde_json::Value),
    /// A value whose text Java prints as an object identity (`[B@1b6d3586`).
    Unpredictable,
}

impl Cell {
    /// Whether the cell holds nothing.
    pub fn is_null(&self) -> bool {
        matches!(self, Self::Null)
    }
}

/// Predicts rows for one message type and mapping.
#[derive(Debug, Clone)]
pub struct Predictor {
    message: MessageDescriptor,
    columns: Vec<Column>,
    timestamp: Timestamp,
}

#[derive(Debug, Clone)]
struct Column {
    name: String,
    kind: ColumnType,
    /// `None`: the root field of the column's name.
    path: Option<FieldPath>,
}

#[derive(Debug, Clone)]
struct Timestamp {
    column: String,
    path: Option<FieldPath>,
    format: String,
    missing: Option<i64>,
}

/// A release whose converter the predictor does not model.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("druidctl predicts Druid 33 and 34's protobuf decoding; Druid {release} {why}")]
pub struct UnmodelledRelease {
    /// The release.
    pub release: Release,
    /// What differs.
    pub why: &'static str,
}

impl Predictor {
    /// A predictor of Druid 33's behaviour for `message` read through `dimensions`.
    pub fn new(message: &MessageDescriptor, dimensions: &DimensionsConfig) -> Self {
        let columns = dimensions
            .dimensions
            .iter()
            .map(|dimension| Column {
                name: dimension.name.clone(),
                kind: dimension.kind,
                path: dimension.from.as_ref().map(|_| dimension.source()),
            })
            .collect();
        let timestamp = Timestamp {
            column: dimensions.timestamp.column.clone(),
            path: dimensions.timestamp.from.as_ref().map(|_| dimensions.timestamp.source()),
            format: dimensions.timestamp.format.clone(),
            missing: dimensions.timestamp.missing_value.as_deref().and_then(|text| parse_iso(text).ok()),
        };
        Self { message: message.clone(), columns, timestamp }
    }

    /// A predictor for the cluster's release: 33 and 34 are modelled; 35.0.x cannot load
    /// descriptors at all and 35+ changed the converter's `Struct` and nested-map handling.
    pub fn for_release(
        message: &MessageDescriptor,
        dimensions: &DimensionsConfig,
        release: Release,
    ) -> Result<Self, UnmodelledRelease> {
        match (release.major, release.minor) {
            (33 | 34, _) => Ok(Self::new(message, dimensions)),
            (35, 0) => Err(UnmodelledRelease {
                release,
                why: "cannot load protobuf descriptors (apache/druid#18730, fixed in 36.0.0)",
            }),
            _ => Err(UnmodelledRelease {
                release,
                why: "changed how google.protobuf.Struct and nested maps convert; the prediction would be a guess",
            }),
        }
    }

    /// The columns predicted, in order: name and declared type.
    pub fn columns(&self) -> impl Iterator<Item = (&str, ColumnType)> {
        self.columns.iter().map(|column| (column.name.as_str(), column.kind))
    }

    /// The message type predicted.
    pub fn message(&self) -> &MessageDescriptor {
        &self.message
    }

    /// What Druid does with the record `bytes`.
    pub fn predict(&self, bytes: &[u8]) -> Outcome {
        match DynamicMessage::decode(self.message.clone(), bytes) {
            Ok(message) => self.convert(&message, wire::Orders::read(&self.message, bytes).as_ref()),
            Err(err) => Outcome::Unparseable { reason: format!("Fail to decode protobuf message! ({err})") },
        }
    }

    /// What Druid does with a decoded record (map entries in sorted key order: see
    /// [`convert::message`]).
    pub fn predict_message(&self, message: &DynamicMessage) -> Outcome {
        self.convert(message, None)
    }

    fn convert(&self, message: &DynamicMessage, orders: Option<&wire::Orders>) -> Outcome {
        let record = match convert::message(message, orders) {
            Ok(record) => record,
            Err(Failure::Unparseable(reason)) => {
                return Outcome::Unparseable {
                    reason: format!("Protobuf message could not be parsed: {reason}"),
                };
            }
            Err(Failure::TaskFailure(reason)) => return Outcome::TaskFailure { reason },
        };
        self.row(&record)
    }

    /// The row Druid builds from a converted record.
    pub fn row(&self, record: &JavaMap) -> Outcome {
        let raw_time = read(record, &self.timestamp.column, self.timestamp.path.as_ref());
        let time = match time(&raw_time, &self.timestamp.format) {
            Ok(Some(time)) => time,
            Ok(None) => match self.timestamp.missing {
                Some(time) => time,
                None => return Outcome::Unparseable { reason: "Timestamp[null] is unparseable!".into() },
            },
            Err(reason) => return Outcome::Unparseable { reason },
        };
        let mut errors = Vec::new();
        let columns = self
            .columns
            .iter()
            .map(|column| {
                let value = read(record, &column.name, column.path.as_ref());
                let cell = match cell(&value, column.kind) {
                    Ok(cell) => cell,
                    Err(error) => {
                        errors.push(format!("column `{}`: {error}", column.name));
                        Cell::Null
                    }
                };
                (column.name.clone(), cell)
            })
            .collect();
        Outcome::Row(Row { time, columns, errors })
    }
}

/// The value Druid reads for a column: the root field, or the JSONPath of its `from`.
fn read(record: &JavaMap, name: &str, path: Option<&FieldPath>) -> Java {
    let Some(path) = path else {
        return record.get(name).cloned().unwrap_or(Java::Null);
    };
    let mut current: Option<&Java> = None;
    for (index, segment) in path.segments().iter().enumerate() {
        let map = if index == 0 {
            record
        } else {
            match current {
                Some(Java::Map(map)) => map,
                _ => return Java::Null,
            }
        };
        current = map.get(segment);
        if current.is_none() {
            return Java::Null;
        }
    }
    current.cloned().unwrap_or(Java::Null)
}

/// A value converted to its column type, or why Druid could not.
fn cell(value: &Java, kind: ColumnType) -> Result<Cell, String> {
    if matches!(value, Java::Null) {
        return Ok(Cell::Null);
    }
    match kind {
        ColumnType::String => Ok(string_cell(value)),
        ColumnType::Long => number(value, "long").map(|number| match number {
            Number::Long(value) => Cell::Long(value),
            Number::Double(value) => {
                #[allow(clippy::cast_possible_truncation)]
                let truncated = value as i64;
                Cell::Long(truncated)
            }
        }),
        ColumnType::Double => number(value, "double").map(|number| match number {
            #[allow(clippy::cast_precision_loss)]
            Number::Long(value) => Cell::Double(value as f64),
            Number::Double(value) => Cell::Double(value),
        }),
        ColumnType::Float => number(value, "float").map(|number| match number {
            #[allow(clippy::cast_precision_loss)]
            Number::Long(value) => Cell::Float(value as f32),
            #[allow(clippy::cast_possible_truncation)]
            Number::Double(value) => Cell::Float(value as f32),
        }),
        ColumnType::Json => Ok(Cell::Json(value.to_json())),
    }
}

fn string_cell(value: &Java) -> Cell {
    match value {
        Java::Null => Cell::Null,
        Java::Bytes(bytes) => Cell::String(base64::engine::general_purpose::STANDARD.encode(bytes)),
        Java::List(items) => match items.as_slice() {
            [] => Cell::Null,
            [one] => string_cell(one),
            many => {
                let texts: Option<Vec<Option<String>>> = many
                    .iter()
                    .map(|item| match item {
                        Java::Null => Some(None),
                        other => other.java_string().map(Some),
                    })
                    .collect();
                // Druid sorts the values of a multi-value row (multiValueHandling SORTED_ARRAY):
                // by Java's String order (UTF-16 code units), null first.
                texts.map_or(Cell::Unpredictable, |mut texts| {
                    texts.sort_by(|a, b| match (a, b) {
                        (Some(a), Some(b)) => a.encode_utf16().cmp(b.encode_utf16()),
                        (a, b) => a.is_some().cmp(&b.is_some()),
                    });
                    Cell::Strings(texts)
                })
            }
        },
        other => other.java_string().map_or(Cell::Unpredictable, Cell::String),
    }
}

enum Number {
    Long(i64),
    Double(f64),
}

/// What a numeric column makes of a value.
fn number(value: &Java, column: &str) -> Result<Number, String> {
    match value {
        Java::Int(value) => Ok(Number::Long(i64::from(*value))),
        Java::Long(value) => Ok(Number::Long(*value)),
        Java::Float(value) => Ok(Number::Double(f64::from(*value))),
        Java::Double(value) => Ok(Number::Double(*value)),
        Java::Bool(value) => Ok(Number::Long(i64::from(*value))),
        Java::Str(text) => {
            if let Ok(value) = text.trim().parse::<i64>() {
                return Ok(Number::Long(value));
            }
            match text.trim().parse::<f64>() {
                Ok(value) if column != "long" || value.fract() == 0.0 => Ok(Number::Double(value)),
                _ => Err(format!("could not convert value [{text}] to {column}")),
            }
        }
        Java::List(_) => Err(format!("a {column} column cannot hold a list")),
        other => Err(format!("a {column} column cannot hold {}", describe(other))),
    }
}

fn describe(value: &Java) -> &'static str {
    match value {
        Java::Null => "null",
        Java::Bool(_) => "a boolean",
        Java::Int(_) | Java::Long(_) | Java::Float(_) | Java::Double(_) => "a number",
        Java::Str(_) => "text",
        Java::Bytes(_) => "bytes",
        Java::List(_) => "a list",
        Java::Map(_) => "a map",
    }
}

/// The time of a row: `Ok(None)` when the value is missing.
fn time(value: &Java, format: &str) -> Result<Option<i64>, String> {
    let unparseable = || format!("Timestamp[{}] is unparseable!", value.java_string().unwrap_or_default());
    let integer = match value {
        Java::Null => return Ok(None),
        Java::Int(value) => Some(i64::from(*value)),
        Java::Long(value) => Some(*value),
        #[allow(clippy::cast_possible_truncation)]
        Java::Float(value) => Some(*value as i64),
        #[allow(clippy::cast_possible_truncation)]
        Java::Double(value) => Some(*value as i64),
        Java::Str(text) => text.trim().parse::<i64>().ok(),
        _ => return Err(unparseable()),
    };
    let scaled = |number: i64| match format {
        "millis" | "auto" => Some(number),
        "posix" => number.checked_mul(1000),
        "micro" => Some(number.div_euclid(1000)),
        "nano" => Some(number.div_euclid(1_000_000)),
        _ => None,
    };
    match (integer, value) {
        (Some(number), _) if matches!(format, "millis" | "posix" | "micro" | "nano" | "auto") => {
            scaled(number).map(Some).ok_or_else(unparseable)
        }
        (_, Java::Str(text)) if matches!(format, "iso" | "auto") => {
            parse_iso(text).map(Some).map_err(|_| unparseable())
        }
        _ => Err(unparseable()),
    }
}

/// An ISO 8601 time in milliseconds (Joda keeps milliseconds: finer digits are dropped).
fn parse_iso(text: &str) -> Result<i64, String> {
    let text = text.trim();
    let instant: jiff::Timestamp = text
        .parse()
        .or_else(|_| {
            text.parse::<jiff::civil::DateTime>()
                .and_then(|civil| jiff::tz::TimeZone::UTC.to_timestamp(civil))
        })
        .or_else(|_| {
            text.parse::<jiff::civil::Date>().and_then(|date| {
                jiff::tz::TimeZone::UTC.to_timestamp(date.to_datetime(jiff::civil::Time::midnight()))
            })
        })
        .map_err(|err| err.to_string())?;
    Ok(instant.as_millisecond())
}

#[cfg(test)]
mod tests;
