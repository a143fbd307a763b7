//! Two verdicts on a schema change. The **policy** verdict is buf's, under the category the
//! team chose ([`proto_schema::compat`]): what every reader of the topic may rely on. The
//! **Druid** verdict is druidctl's own promise: what the change does to the values Druid
//! stores for the columns of the old mapping, judged from how Druid decodes protobuf (every
//! record becomes a map keyed by JSON names, proto3 scalars at zero are absent, enums arrive by
//! name, one-element lists of strings are stored as the string), not from buf's categories.
//!
//! Each Druid finding names the column, the records it affects (already in the topic, written
//! after the change, or both) and what Druid stores instead. A finding of severity `error` is
//! damage: the deploy gate always stops on it. No finding where Druid stores the same values:
//! an unmapped field may change freely, `int32` may widen to `int64`, a field may move into a
//! oneof when its presence does not change. The rules model Druid 33's protobuf extension
//! (docs/druid-protobuf.md); `make compat-vs-druid` measures them on the local Druid.

use proto_schema::compat::{Mode, Report};
use proto_schema::{CompiledSchema, Severity};
use serde::Serialize;

mod rules;

pub use rules::druid_findings;

use crate::dimensions::DimensionsConfig;

/// A Druid rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum DruidRule {
    /// The record's message type is gone: nothing decodes.
    MessageDeleted,
    /// A field feeding a column now has another JSON name: the column becomes null.
    DimensionRenamed,
    /// A field feeding a column was deleted: the column becomes null.
    DimensionDeleted,
    /// The column's path now names another field number: one column, two meanings.
    DimensionMoved,
    /// Druid receives another kind of value (a number becoming a string, a message becoming a
    /// scalar, a list in a numeric column).
    DimensionTypeChanged,
    /// The same bytes decode to other numbers (signed/zigzag/width/fixed changes).
    NumberChanged,
    /// An enum value feeding a column was renamed, renumbered or deleted: Druid stores enum
    /// values by name.
    EnumValueChanged,
    /// Explicit presence added or removed: what was stored as 0 becomes null, or the reverse.
    PresenceChanged,
    /// A metric's input is no longer a number.
    MetricNotNumeric,
    /// The timestamp field changed kind or moved: rows become unparseable.
    TimestampChanged,
    /// A message on the column's path became repeated or a map: the path reads null.
    PathParentRepeated,
    /// A field (mapped or not) of a type Druid 33 cannot convert: every record that sets it
    /// fails or is unparseable, whatever columns it has.
    FieldUndecodable,
    /// A new field no dimension reads (information).
    FieldNotIngested,
}

impl DruidRule {
    /// The id shown in findings (`DRUID_DIMENSION_RENAMED`).
    pub fn id(self) -> &'static str {
        match self {
            Self::MessageDeleted => "DRUID_MESSAGE_DELETED",
            Self::DimensionRenamed => "DRUID_DIMENSION_RENAMED",
            Self::DimensionDeleted => "DRUID_DIMENSION_DELETED",
            Self::DimensionMoved => "DRUID_DIMENSION_MOVED",
            Self::DimensionTypeChanged => "DRUID_DIMENSION_TYPE_CHANGED",
            Self::NumberChanged => "DRUID_NUMBER_CHANGED",
            Self::EnumValueChanged => "DRUID_ENUM_VALUE_CHANGED",
            Self::PresenceChanged => "DRUID_PRESENCE_CHANGED",
            Self::MetricNotNumeric => "DRUID_METRIC_NOT_NUMERIC",
            Self::TimestampChanged => "DRUID_TIMESTAMP_CHANGED",
            Self::PathParentRepeated => "DRUID_PATH_PARENT_REPEATED",
            Self::FieldUndecodable => "DRUID_FIELD_UNDECODABLE",
            Self::FieldNotIngested => "DRUID_FIELD_NOT_INGESTED",
        }
    }
}

/// Which records a Druid finding affects.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Records {
    /// Records already in the topic, read with the new schema (replays, lagging consumers).
    Old,
    /// Records written with the new schema.
    New,
    /// Both.
    Both,
}

impl Records {
    fn describe(self) -> &'static str {
        match self {
            Self::Old => "records already in the topic",
            Self::New => "records written with the new schema",
            Self::Both => "old and new records",
        }
    }
}

/// What a change does to one Druid column.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DruidFinding {
    /// `DRUID_*`.
    pub rule: &'static str,
    /// `error` damages what Druid stores; `warning` changes it in a way worth knowing;
    /// `info` does not change it.
    pub severity: Severity,
    /// The Druid column (empty for a finding about the whole record).
    pub column: String,
    /// Which records are affected.
    pub records: Records,
    /// What Druid stores instead (`null`, `other numbers`, `an unparseable record`...).
    pub stores: String,
    /// Where, in the new sources (or the old ones when the field is gone).
    pub file: String,
    /// 1-based line (0 when unknown).
    pub line: u32,
    /// 1-based column of the source position (0 when unknown).
    #[serde(rename = "col")]
    pub col: u32,
    /// The whole story, for people.
    pub message: String,
    /// Whether `file` is in the old sources.
    #[serde(skip)]
    pub in_old: bool,
}

impl std::fmt::Display for DruidFinding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}:{}: {} {}", self.file, self.line, self.col, self.rule, self.message)
    }
}

/// The Druid verdict.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DruidVerdict {
    /// Whether any finding is an error: Druid would store other values than today.
    pub damaging: bool,
    /// Findings, errors first.
    pub findings: Vec<DruidFinding>,
}

/// Both verdicts. Serialises as the policy report (`breaking`, `mode`, `findings`) plus
/// `druid` (null when the mapping is unknown) and `stops`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Verdict {
    /// buf's verdict under the policy's category.
    #[serde(flatten)]
    pub policy: Report,
    /// What Druid would store; `None` without a mapping.
    pub druid: Option<DruidVerdict>,
    /// Whether the gate stops: the policy breaks, or Druid's data is damaged.
    pub stops: bool,
}

impl Verdict {
    /// Whether the change damages what Druid stores.
    pub fn damages_druid(&self) -> bool {
        self.druid.as_ref().is_some_and(|druid| druid.damaging)
    }

    /// The gate's one-line summary: which verdict stops, and plainly when only the policy does.
    pub fn summary(&self) -> String {
        let errors = self.policy.findings.iter().filter(|f| f.severity == Severity::Error).count();
        let policy = if self.policy.breaking {
            format!("{errors} breaking change{} ({})", if errors == 1 { "" } else { "s" }, self.policy.mode)
        } else {
            format!("no breaking change ({})", self.policy.mode)
        };
        match &self.druid {
            None => policy,
            Some(druid) if druid.damaging => {
                let damage = druid.findings.iter().filter(|f| f.severity == Severity::Error).count();
                format!("{policy}; Druid: {damage} damaging change{}", if damage == 1 { "" } else { "s" })
            }
            Some(_) if self.policy.breaking => {
                format!("{policy}; Druid: the data Druid stores is unchanged (the policy alone objects)")
            }
            Some(_) => format!("{policy}; Druid: the data Druid stores is unchanged"),
        }
    }
}

/// What Druid ingests from the old schema, for the Druid rules.
#[derive(Debug, Clone, Copy)]
pub struct DruidMapping<'a> {
    /// Full name of the record's message type.
    pub message: &'a str,
    /// The dimension mapping deployed with the old schema.
    pub dimensions: &'a DimensionsConfig,
    /// The mapping deployed with the new schema, when known: a column it reads from the field's
    /// new name is no damage (a rename with `dimensions.json` updated); a column it drops is the
    /// mapping's choice, not the schema's. `None`: the old mapping is kept.
    pub new_dimensions: Option<&'a DimensionsConfig>,
}

/// buf's rules under `mode` (the policy) and, when the mapping is known, the Druid rules: the
/// check `druidctl check` and the deploy gate run.
pub fn check(
    old: &CompiledSchema,
    new: &CompiledSchema,
    mode: Mode,
    druid: Option<DruidMapping<'_>>,
) -> Verdict {
    let policy = proto_schema::compat::check(old, new, mode);
    let druid = druid.map(|mapping| {
        let mut findings = druid_findings(old, new, mapping);
        findings.sort_by_key(|finding| std::cmp::Reverse(finding.severity));
        DruidVerdict { damaging: findings.iter().any(|f| f.severity == Severity::Error), findings }
    });
    let stops = policy.breaking || druid.as_ref().is_some_and(|druid| druid.damaging);
    Verdict { policy, druid, stops }
}
