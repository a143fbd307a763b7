//! Preflight analysis: what Druid would make of a sample of the topic's records, with the
//! candidate schema and mapping and with the live ones, from the row predictor
//! ([`crate::predict`]). No I/O: deploy-core reads the records from Kafka and asks Druid's
//! sampler; this module turns records into the report and the verdict.

use std::collections::{BTreeMap, HashSet};
use std::hash::{Hash as _, Hasher as _};

use prost_reflect::DynamicMessage;
use serde::Serialize;

use crate::predict::{Cell, Outcome, Predictor};

/// A record read from the topic.
#[derive(Debug, Clone)]
pub struct Record {
    /// Kafka partition.
    pub partition: i32,
    /// Offset in the partition.
    pub offset: i64,
    /// The value (empty for a tombstone).
    pub value: Vec<u8>,
}

/// The limits the verdict applies.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Thresholds {
    /// Largest predicted unparseable ratio accepted (the runbook's 1 %: 0.01).
    pub max_unparseable_ratio: f64,
    /// Largest rise of a dimension's null ratio from the live schema to the candidate (0.5:
    /// a column that goes from mostly set to mostly null fails).
    pub max_null_increase: f64,
}

impl Default for Thresholds {
    fn default() -> Self {
        Self { max_unparseable_ratio: 0.01, max_null_increase: 0.5 }
    }
}

/// Pass or fail.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    /// Within every threshold.
    Pass,
    /// Over a threshold, or records that would fail the ingestion task.
    Fail,
}

/// One dimension.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Dimension {
    /// Column name.
    pub name: String,
    /// Declared type.
    #[serde(rename = "type")]
    pub kind: String,
    /// Share of stored rows where the candidate leaves the column null.
    pub null_ratio: f64,
    /// The same with the live schema and mapping (`None`: no live version, or the column is
    /// new).
    pub live_null_ratio: Option<f64>,
    /// Rows whose value Druid cannot store in the declared type (stored null, counted as
    /// "processed with error").
    pub type_mismatches: usize,
    /// Distinct values among the sampled rows (exact within the sample).
    pub distinct_estimate: usize,
}

/// The time column.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TimeSummary {
    /// Records whose time Druid cannot read (they are unparseable).
    pub unparseable: usize,
    /// Earliest row time (RFC 3339).
    pub earliest: Option<String>,
    /// Latest row time (RFC 3339).
    pub latest: Option<String>,
}

/// What the candidate would do to the sample, next to the live schema.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    /// Records read.
    pub records_sampled: usize,
    /// Records read per partition.
    pub partitions: BTreeMap<i32, usize>,
    /// Share of records the candidate makes unparseable.
    pub unparseable_ratio: f64,
    /// The same with the live schema (`None` without a live version).
    pub live_unparseable_ratio: Option<f64>,
    /// Why records are unparseable with the candidate, counted (`not-protobuf`,
    /// `confluent-framing`, `truncated`, `unknown-message`, `any-field`, `timestamp`).
    pub reasons: BTreeMap<String, usize>,
    /// Records that would fail the ingestion task with the candidate, with the first reason.
    pub task_failures: usize,
    /// Why, when some would.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub task_failure_reason: Option<String>,
    /// Every dimension.
    pub dimensions: Vec<Dimension>,
    /// The time column.
    pub timestamp: TimeSummary,
    /// Columns the live schema leaves always null and the candidate fills.
    pub new_columns: Vec<String>,
    /// Columns the live schema fills and the candidate leaves always null.
    pub vanished_columns: Vec<String>,
    /// Why the verdict is `fail`, one line each.
    pub findings: Vec<String>,
    /// The thresholds applied.
    pub thresholds: Thresholds,
    /// Pass or fail.
    pub verdict: Verdict,
}

struct Tally {
    rows: usize,
    unparseable: usize,
    reasons: BTreeMap<String, usize>,
    task_failures: usize,
    task_failure_reason: Option<String>,
    nulls: Vec<usize>,
    mismatches: Vec<usize>,
    distinct: Vec<HashSet<u64>>,
    earliest: Option<i64>,
    latest: Option<i64>,
    time_unparseable: usize,
}

impl Tally {
    fn new(columns: usize) -> Self {
        Self {
            rows: 0,
            unparseable: 0,
            reasons: BTreeMap::new(),
            task_failures: 0,
            task_failure_reason: None,
            nulls: vec![0; columns],
            mismatches: vec![0; columns],
            distinct: vec![HashSet::new(); columns],
            earliest: None,
            latest: None,
            time_unparseable: 0,
        }
    }

    fn add(&mut self, predictor: &Predictor, record: &[u8]) {
        match predictor.predict(record) {
            Outcome::Row(row) => {
                self.rows += 1;
                self.earliest = Some(self.earliest.map_or(row.time, |t| t.min(row.time)));
                self.latest = Some(self.latest.map_or(row.time, |t| t.max(row.time)));
                for (index, (name, cell)) in row.columns.iter().enumerate() {
                    if cell.is_null() {
                        self.nulls[index] += 1;
                        if row.errors.iter().any(|error| error.starts_with(&format!("column `{name}`"))) {
                            self.mismatches[index] += 1;
                        }
                    } else {
                        self.distinct[index].insert(cell_hash(cell));
                    }
                }
            }
            Outcome::Unparseable { reason } => {
                self.unparseable += 1;
                let kind = classify(predictor, record, &reason);
                if kind == "timestamp" {
                    self.time_unparseable += 1;
                }
                *self.reasons.entry(kind.to_owned()).or_default() += 1;
            }
            Outcome::TaskFailure { reason } => {
                self.task_failures += 1;
                self.task_failure_reason.get_or_insert(reason);
            }
        }
    }
}

fn cell_hash(cell: &Cell) -> u64 {
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    match cell {
        Cell::Null | Cell::Unpredictable => 0_u8.hash(&mut hasher),
        Cell::String(text) => text.hash(&mut hasher),
        Cell::Strings(texts) => texts.hash(&mut hasher),
        Cell::Long(value) => value.hash(&mut hasher),
        Cell::Float(value) => value.to_bits().hash(&mut hasher),
        Cell::Double(value) => value.to_bits().hash(&mut hasher),
        Cell::Json(value) => value.to_string().hash(&mut hasher),
    }
    hasher.finish()
}

/// Why a record is unparseable, in one word.
fn classify(predictor: &Predictor, record: &[u8], reason: &str) -> &'static str {
    if reason.starts_with("Timestamp[") {
        // A record of another message type decodes too, but sets none of our fields.
        if let Ok(message) = DynamicMessage::decode(predictor.message().clone(), record)
            && message.fields().next().is_none()
            && message.unknown_fields().next().is_some()
        {
            return "unknown-message";
        }
        return "timestamp";
    }
    if reason.starts_with("Protobuf message could not be parsed") {
        return "any-field";
    }
    // Confluent's serializer prepends a zero magic byte and a 4-byte schema id (and, for
    // protobuf, message indexes: a single 0 for the first message).
    if record.len() > 5 && record[0] == 0 {
        for skip in [6, 5] {
            if record.len() > skip
                && !matches!(predictor.predict(&record[skip..]), Outcome::Unparseable { ref reason } if reason.starts_with("Fail to decode"))
            {
                return "confluent-framing";
            }
        }
    }
    let lower = reason.to_lowercase();
    if lower.contains("underflow") || lower.contains("unexpected end") || lower.contains("truncated") {
        return "truncated";
    }
    "not-protobuf"
}

fn column_list(predictor: &Predictor) -> Vec<(String, String)> {
    predictor.columns().map(|(name, kind)| (name.to_owned(), kind.as_str().to_owned())).collect()
}

fn ratio(part: usize, whole: usize) -> f64 {
    if whole == 0 {
        0.0
    } else {
        #[allow(clippy::cast_precision_loss)]
        let value = part as f64 / whole as f64;
        value
    }
}

fn time_text(millis: Option<i64>) -> Option<String> {
    millis.and_then(|millis| jiff::Timestamp::from_millisecond(millis).ok()).map(|time| time.to_string())
}

/// Predicts every record with the candidate (and the live schema when there is one) and
/// judges the result against `thresholds`.
pub fn analyse(
    records: &[Record],
    candidate: &Predictor,
    live: Option<&Predictor>,
    thresholds: Thresholds,
) -> Report {
    let columns = column_list(candidate);
    let mut tally = Tally::new(columns.len());
    let mut partitions: BTreeMap<i32, usize> = BTreeMap::new();
    for record in records {
        *partitions.entry(record.partition).or_default() += 1;
        tally.add(candidate, &record.value);
    }
    let live_tally = live.map(|predictor| {
        let live_columns = column_list(predictor);
        let mut tally = Tally::new(live_columns.len());
        for record in records {
            tally.add(predictor, &record.value);
        }
        (tally, live_columns)
    });
    let total = records.len();
    let mut dimensions = Vec::new();
    let mut new_columns = Vec::new();
    let mut vanished_columns = Vec::new();
    let mut findings = Vec::new();
    for (index, (name, kind)) in columns.iter().enumerate() {
        let null_ratio = ratio(tally.nulls[index], tally.rows);
        let live_null_ratio = live_tally.as_ref().and_then(|(live, live_columns)| {
            let live_index = live_columns.iter().position(|(live_name, _)| live_name == name)?;
            Some(ratio(live.nulls[live_index], live.rows))
        });
        match live_null_ratio {
            Some(live) if live >= 1.0 && null_ratio < 1.0 && tally.rows > 0 => new_columns.push(name.clone()),
            None if live_tally.is_some() && null_ratio < 1.0 => new_columns.push(name.clone()),
            Some(live) if live < 1.0 && null_ratio >= 1.0 && tally.rows > 0 => {
                vanished_columns.push(name.clone());
            }
            _ => {}
        }
        if let Some(live) = live_null_ratio
            && null_ratio - live > thresholds.max_null_increase
        {
            findings.push(format!(
                "dimension `{name}`: null in {:.1} % of rows with the candidate, {:.1} % with the live schema (more than {:.0} points more)",
                null_ratio * 100.0,
                live * 100.0,
                thresholds.max_null_increase * 100.0
            ));
        }
        dimensions.push(Dimension {
            name: name.clone(),
            kind: kind.clone(),
            null_ratio,
            live_null_ratio,
            type_mismatches: tally.mismatches[index],
            distinct_estimate: tally.distinct[index].len(),
        });
    }
    let unparseable_ratio = ratio(tally.unparseable, total);
    if unparseable_ratio > thresholds.max_unparseable_ratio {
        let reasons: Vec<String> =
            tally.reasons.iter().map(|(reason, count)| format!("{reason} {count}")).collect();
        findings.insert(
            0,
            format!(
                "{:.2} % of records would be unparseable (threshold {:.2} %): {}",
                unparseable_ratio * 100.0,
                thresholds.max_unparseable_ratio * 100.0,
                reasons.join(", ")
            ),
        );
    }
    if tally.task_failures > 0 {
        findings.insert(
            0,
            format!(
                "{} record(s) would fail the ingestion task: {}",
                tally.task_failures,
                tally.task_failure_reason.clone().unwrap_or_default()
            ),
        );
    }
    let verdict = if findings.is_empty() { Verdict::Pass } else { Verdict::Fail };
    Report {
        records_sampled: total,
        partitions,
        unparseable_ratio,
        live_unparseable_ratio: live_tally.as_ref().map(|(live, _)| ratio(live.unparseable, total)),
        reasons: tally.reasons,
        task_failures: tally.task_failures,
        task_failure_reason: tally.task_failure_reason,
        dimensions,
        timestamp: TimeSummary {
            unparseable: tally.time_unparseable,
            earliest: time_text(tally.earliest),
            latest: time_text(tally.latest),
        },
        new_columns,
        vanished_columns,
        findings,
        thresholds,
        verdict,
    }
}

/// Druid's own answer on the same records: its sampler's rows next to the prediction.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SamplerAgreement {
    /// Records Druid's sampler read.
    pub records: usize,
    /// Of which rows.
    pub rows: usize,
    /// Of which unparseable.
    pub unparseable: usize,
    /// Sampler entries the prediction has too (same outcome, same time, same cells).
    pub agreeing: usize,
    /// `agreeing / records`.
    pub agreement: f64,
    /// The first entries the prediction does not have, for people.
    pub disagreements: Vec<String>,
}

/// Compares what Druid's sampler made of a window of records with the prediction on
/// `window` (the records the sampler was pointed at, possibly more of them): entries are
/// matched as a multiset, so the order the sampler read partitions in does not matter.
pub fn compare_sampler(
    window: &[Record],
    candidate: &Predictor,
    sampler: &druid_client::sampler::SamplerResponse,
) -> SamplerAgreement {
    let columns = column_list(candidate);
    let mut predicted: BTreeMap<String, usize> = BTreeMap::new();
    for record in window {
        let key = match candidate.predict(&record.value) {
            Outcome::Row(row) => {
                let cells: Vec<serde_json::Value> =
                    row.columns.iter().map(|(_, cell)| cell_json(cell)).collect();
                canonical(row.time, &cells)
            }
            Outcome::Unparseable { .. } | Outcome::TaskFailure { .. } => "unparseable".to_owned(),
        };
        *predicted.entry(key).or_default() += 1;
    }
    let mut agreement = SamplerAgreement {
        records: sampler.data.len(),
        rows: 0,
        unparseable: 0,
        agreeing: 0,
        agreement: 0.0,
        disagreements: Vec::new(),
    };
    for entry in &sampler.data {
        let key = if let (Some(parsed), false) = (&entry.parsed, entry.unparseable) {
            agreement.rows += 1;
            let time = parsed.get("__time").and_then(serde_json::Value::as_i64).unwrap_or_default();
            let cells: Vec<serde_json::Value> =
                columns.iter().map(|(name, _)| parsed.get(name).cloned().unwrap_or_default()).collect();
            canonical(time, &cells)
        } else {
            agreement.unparseable += 1;
            "unparseable".to_owned()
        };
        match predicted.get_mut(&key) {
            Some(count) if *count > 0 => {
                *count -= 1;
                agreement.agreeing += 1;
            }
            _ if agreement.disagreements.len() < 5 => {
                let error = entry.error.as_deref().map(|error| format!(" ({error})")).unwrap_or_default();
                agreement
                    .disagreements
                    .push(format!("Druid: {}{error}", key.chars().take(300).collect::<String>()));
            }
            _ => {}
        }
    }
    agreement.agreement = ratio(agreement.agreeing, agreement.records);
    agreement
}

fn cell_json(cell: &Cell) -> serde_json::Value {
    match cell {
        Cell::Null | Cell::Unpredictable => serde_json::Value::Null,
        other => serde_json::to_value(other).unwrap_or_default(),
    }
}

/// One row as comparable text: single-element lists as their element, integers exact,
/// other numbers at float precision (float columns), JSON objects with sorted keys.
fn canonical(time: i64, cells: &[serde_json::Value]) -> String {
    fn norm(value: &serde_json::Value) -> String {
        match value {
            serde_json::Value::Array(items) if items.len() == 1 => norm(&items[0]),
            serde_json::Value::Array(items) => {
                format!("[{}]", items.iter().map(norm).collect::<Vec<_>>().join(","))
            }
            serde_json::Value::Number(number) => match number.as_i64() {
                Some(integer) => integer.to_string(),
                #[allow(clippy::cast_possible_truncation)]
                None => format!("{}", number.as_f64().unwrap_or_default() as f32),
            },
            serde_json::Value::Object(map) => {
                let mut entries: Vec<String> =
                    map.iter().map(|(key, value)| format!("{key}:{}", norm(value))).collect();
                entries.sort();
                format!("{{{}}}", entries.join(","))
            }
            other => other.to_string(),
        }
    }
    let cells: Vec<String> = cells.iter().map(norm).collect();
    format!("{time}|{}", cells.join("|"))
}

#[cfg(test)]
// Ratios of small counts are exact in binary; test indexes are small.
#[allow(clippy::float_cmp, clippy::cast_possible_wrap)]
mod tests {
    use prost::Message as _;
    use prost_reflect::{DynamicMessage, ReflectMessage as _, Value};
    use proto_schema::CompiledSchema;

    use super::*;
    use crate::DimensionsConfig;

    fn predictor(proto: &str, dimensions: &str) -> (Predictor, prost_reflect::MessageDescriptor) {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("t.proto"), proto).unwrap();
        let compiled = CompiledSchema::compile_dir(dir.path()).unwrap();
        let message = compiled.message("t.Tx").unwrap();
        let dimensions = DimensionsConfig::parse(dimensions, "dimensions.json").unwrap();
        (Predictor::new(&message, &dimensions), message)
    }

    const LIVE: &str = r#"syntax = "proto3"; package t;
        message Tx { string id = 1; int64 at = 2; string country = 3; }"#;
    const RENAMED: &str = r#"syntax = "proto3"; package t;
        message Tx { string id = 1; int64 at = 2; string country_code = 3; }"#;
    const DIMENSIONS: &str = r#"{"timestamp": {"column": "at", "format": "millis"},
        "dimensions": [{"name": "id"}, {"name": "country"}]}"#;

    fn records(message: &prost_reflect::MessageDescriptor, count: usize) -> Vec<Record> {
        (0..count)
            .map(|index| {
                let mut record = DynamicMessage::new(message.clone());
                let field = |name: &str| record.descriptor().get_field_by_name(name).unwrap();
                let (id, at, country) = (field("id"), field("at"), field("country"));
                record.set_field(&id, Value::String(format!("tx-{}", index % 50)));
                record.set_field(&at, Value::I64(1_764_460_800_000 + index as i64));
                record.set_field(&country, Value::String("FR".into()));
                Record {
                    partition: i32::from(index % 2 == 0),
                    offset: index as i64,
                    value: record.encode_to_vec(),
                }
            })
            .collect()
    }

    #[test]
    fn a_clean_sample_passes_with_its_figures() {
        let (live, message) = predictor(LIVE, DIMENSIONS);
        let report = analyse(&records(&message, 200), &live, Some(&live), Thresholds::default());
        assert_eq!(report.records_sampled, 200);
        assert_eq!(report.partitions.len(), 2);
        assert_eq!(report.unparseable_ratio, 0.0);
        assert_eq!(report.verdict, Verdict::Pass, "{:?}", report.findings);
        let id = &report.dimensions[0];
        assert_eq!((id.null_ratio, id.distinct_estimate), (0.0, 50));
        assert_eq!(report.timestamp.earliest.as_deref(), Some("2025-11-30T00:00:00Z"));
    }

    #[test]
    fn garbage_and_framing_are_counted_by_reason_and_fail_over_the_threshold() {
        let (live, message) = predictor(LIVE, DIMENSIONS);
        let mut sample = records(&message, 96);
        let mut framed = vec![0, 0, 0, 0, 7, 0];
        framed.extend_from_slice(&sample[0].value);
        sample.push(Record { partition: 0, offset: 96, value: framed });
        sample.push(Record { partition: 0, offset: 97, value: b"{\"id\": 1}".to_vec() });
        let truncated = sample[1].value[..sample[1].value.len() - 2].to_vec();
        sample.push(Record { partition: 0, offset: 98, value: truncated });
        sample.push(Record { partition: 0, offset: 99, value: Vec::new() });
        let report = analyse(&sample, &live, None, Thresholds::default());
        assert_eq!(report.reasons.get("confluent-framing"), Some(&1), "{:?}", report.reasons);
        assert_eq!(report.reasons.values().sum::<usize>(), 4, "{:?}", report.reasons);
        assert!((report.unparseable_ratio - 0.04).abs() < 1e-9);
        assert_eq!(report.verdict, Verdict::Fail);
        assert!(report.findings[0].contains("4.00 %"), "{:?}", report.findings);
    }

    #[test]
    fn a_renamed_mapped_field_fails_and_names_the_column() {
        let (live, message) = predictor(LIVE, DIMENSIONS);
        let (candidate, _) = predictor(RENAMED, DIMENSIONS);
        let report = analyse(&records(&message, 100), &candidate, Some(&live), Thresholds::default());
        assert_eq!(report.verdict, Verdict::Fail);
        let country = report.dimensions.iter().find(|d| d.name == "country").unwrap();
        assert_eq!((country.null_ratio, country.live_null_ratio), (1.0, Some(0.0)));
        assert_eq!(report.vanished_columns, ["country"]);
        assert!(report.findings.iter().any(|finding| finding.contains("`country`")), "{:?}", report.findings);
    }

    #[test]
    fn the_sampler_is_compared_as_a_multiset() {
        let (live, message) = predictor(LIVE, DIMENSIONS);
        let window = records(&message, 3);
        let row = |id: &str, at: i64| druid_client::sampler::SampledRow {
            parsed: Some(
                serde_json::json!({"__time": at, "id": id, "country": "FR"}).as_object().unwrap().clone(),
            ),
            ..Default::default()
        };
        let response = druid_client::sampler::SamplerResponse {
            data: vec![
                row("tx-1", 1_764_460_800_001),
                row("tx-0", 1_764_460_800_000),
                row("tx-9", 1_764_460_800_002),
            ],
            ..Default::default()
        };
        let agreement = compare_sampler(&window, &live, &response);
        assert_eq!((agreement.records, agreement.agreeing), (3, 2));
        assert!(agreement.disagreements[0].contains("tx-9"), "{:?}", agreement.disagreements);
    }
}
