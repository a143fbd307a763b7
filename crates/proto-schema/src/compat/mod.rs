//! Breaking-change detection between two schemas: buf's rules and categories ([`Rule`]).
//! The rules only Druid needs live in `druid-mapping`, which adds its findings to a [`Report`].
//!
//! Rule ids are buf's wherever the concept is the same, so a buf user recognises every line.
//! Categories, strictest first: `FILE` (generated code per file), `PACKAGE` (generated code per
//! package), `WIRE_JSON` (binary and JSON encoding), `WIRE` (binary encoding). Deploys use
//! `WIRE_JSON` plus the `DRUID` rules: Druid reads records by JSON name, so a rename that is
//! wire-compatible still turns a column into nulls.
//!
//! Elements are matched as buf matches them: files by path; messages, enums, extensions and
//! services deleted from a file by their name inside the package, and from a package likewise;
//! pairs of messages, enums and services by full name, fields by number, enum values by number,
//! methods by name. Map entries are messages like any other (a map's key or value type change is
//! a change of its entry's field). Findings point at the new sources, or at the old ones when the
//! element is gone. `make compat-vs-buf` compares every verdict with buf's on a generated corpus.

mod fields;
mod file_options;
mod index;
mod pairs;

use std::collections::{BTreeMap, HashSet};
use std::fmt;

use serde::Serialize;

use index::{ElementRef, FILE_OPTIONS, FILE_PACKAGE, FILE_SYNTAX, Side, syntax};

use crate::rules::Rule;
use crate::{CompiledSchema, Severity};

/// How strict a check is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Mode {
    /// Generated code per file (buf's default).
    File,
    /// Generated code per package.
    Package,
    /// Binary and JSON encoding; the deploy default (with the Druid rules).
    WireJson,
    /// Binary encoding only.
    Wire,
}

impl Mode {
    /// Every mode, strictest first.
    pub const ALL: [Mode; 4] = [Mode::File, Mode::Package, Mode::WireJson, Mode::Wire];

    /// The category name (`WIRE_JSON`).
    pub fn category(self) -> &'static str {
        match self {
            Self::File => "FILE",
            Self::Package => "PACKAGE",
            Self::WireJson => "WIRE_JSON",
            Self::Wire => "WIRE",
        }
    }

    /// Parses `file`, `package`, `wire-json` or `wire` (also the category spellings).
    pub fn parse(text: &str) -> Option<Self> {
        match text.to_ascii_lowercase().replace('_', "-").as_str() {
            "file" => Some(Self::File),
            "package" => Some(Self::Package),
            "wire-json" => Some(Self::WireJson),
            "wire" => Some(Self::Wire),
            _ => None,
        }
    }
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::File => "file",
            Self::Package => "package",
            Self::WireJson => "wire-json",
            Self::Wire => "wire",
        })
    }
}

/// One breaking (or notable) change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// The rule's id: buf's ([`Rule::id`]), or `DRUID_*` for the Druid rules.
    pub rule: &'static str,
    /// `FILE`, `PACKAGE`, `WIRE_JSON`, `WIRE` (the checked mode's category) or `DRUID`.
    pub category: &'static str,
    /// `error` breaks; `info` is worth knowing (a field no dimension ingests).
    pub severity: Severity,
    /// File, relative to its import root.
    pub file: String,
    /// 1-based line (0 when unknown).
    pub line: u32,
    /// 1-based column (0 when unknown).
    pub column: u32,
    /// What changed and what it breaks.
    pub message: String,
    /// Whether `file` is in the old sources (the element is gone from the new ones).
    #[serde(skip)]
    pub in_old: bool,
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}: {} {}", self.file, self.line, self.column, self.rule, self.message)
    }
}

/// The outcome of a check.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Report {
    /// Whether any finding is an error.
    pub breaking: bool,
    /// The mode checked.
    pub mode: Mode,
    /// Findings, by file and position.
    pub findings: Vec<Finding>,
}

/// Compares `old` with `new` under `mode` (buf's rules only).
pub fn check(old: &CompiledSchema, new: &CompiledSchema, mode: Mode) -> Report {
    let old_side = Side::new(old);
    let new_side = Side::new(new);
    let mut checker = Checker { mode, old: &old_side, new: &new_side, findings: Vec::new() };
    checker.files();
    checker.packages();
    checker.messages();
    checker.extensions();
    checker.enums();
    checker.services();
    Report::new(mode, checker.findings)
}

impl Report {
    /// A report of `findings` (sorted by position, duplicates dropped).
    pub fn new(mode: Mode, mut findings: Vec<Finding>) -> Self {
        findings
            .sort_by(|a, b| (&a.file, a.line, a.column, a.rule).cmp(&(&b.file, b.line, b.column, b.rule)));
        findings.dedup();
        Self { breaking: findings.iter().any(|finding| finding.severity == Severity::Error), mode, findings }
    }

    /// Adds findings from other rules (Druid's), keeping the order and the verdict right.
    #[must_use]
    pub fn with(self, more: Vec<Finding>) -> Self {
        let mut findings = self.findings;
        findings.extend(more);
        Self::new(self.mode, findings)
    }
}

struct Checker<'s, 'a> {
    mode: Mode,
    old: &'s Side<'a>,
    new: &'s Side<'a>,
    findings: Vec<Finding>,
}

/// Which side a finding points at.
#[derive(Clone, Copy)]
enum At {
    Old,
    New,
}

/// Merged, sorted inclusive ranges.
fn merged(mut ranges: Vec<(i64, i64)>) -> Vec<(i64, i64)> {
    ranges.sort_unstable();
    let mut out: Vec<(i64, i64)> = Vec::with_capacity(ranges.len());
    for (start, end) in ranges {
        match out.last_mut() {
            Some(last) if start <= last.1 + 1 => last.1 = last.1.max(end),
            _ => out.push((start, end)),
        }
    }
    out
}

/// Whether every number of `range` (inclusive) is in one of `ranges` (inclusive, merged).
fn covered(range: (i64, i64), ranges: &[(i64, i64)]) -> bool {
    ranges.iter().any(|&(start, end)| start <= range.0 && range.1 <= end)
}

/// Message ranges (reserved, extensions) end exclusive; as inclusive pairs.
fn message_ranges(ranges: impl Iterator<Item = (i32, i32)>) -> Vec<(i64, i64)> {
    ranges.map(|(start, end)| (i64::from(start), i64::from(end) - 1)).collect()
}

impl Checker<'_, '_> {
    fn report(&mut self, rule: Rule, at: At, file: &str, path: &[i32], message: String) {
        if !rule.categories().contains(&self.mode) {
            return;
        }
        let side = match at {
            At::Old => self.old,
            At::New => self.new,
        };
        let (line, column) = side.locate(file, path);
        self.findings.push(Finding {
            rule: rule.id(),
            category: self.mode.category(),
            severity: Severity::Error,
            file: file.to_owned(),
            line,
            column,
            message,
            in_old: matches!(at, At::Old),
        });
    }

    /// Files by path: deleted files, and what each kept file must keep.
    fn files(&mut self) {
        for (name, old) in &self.old.files {
            let Some(new) = self.new.files.get(name) else {
                self.report(Rule::FileNoDelete, At::Old, name, &[], format!("file `{name}` was deleted"));
                continue;
            };
            let same = |checker: &mut Self, rule, path: &[i32], what: &str, before: String, after: String| {
                if before != after {
                    checker.report(
                        rule,
                        At::New,
                        name,
                        path,
                        format!("{what} changed from `{before}` to `{after}`"),
                    );
                }
            };
            same(
                self,
                Rule::FileSamePackage,
                &[FILE_PACKAGE],
                "package",
                old.package().into(),
                new.package().into(),
            );
            same(
                self,
                Rule::FileSameSyntax,
                &[FILE_SYNTAX],
                "syntax",
                syntax(old).into(),
                syntax(new).into(),
            );
            let (before, after) =
                (old.options.clone().unwrap_or_default(), new.options.clone().unwrap_or_default());
            for option in file_options::ALL {
                let (value_before, value_after) = (option.value(&before), option.value(&after));
                same(
                    self,
                    option.rule,
                    &[FILE_OPTIONS, option.number],
                    &format!("option {}", option.name),
                    value_before,
                    value_after,
                );
            }
        }
        // Elements deleted from a file that is still there, by their name in the package.
        let new_side = self.new;
        let kept = |file: &str| new_side.files.contains_key(file);
        let by_file = |element: &ElementRef<'_>| element.file.to_owned();
        self.deleted(
            Rule::MessageNoDelete,
            "message",
            &self.old.message_refs(),
            &self.new.message_refs(),
            by_file,
            kept,
        );
        self.deleted(Rule::EnumNoDelete, "enum", &self.old.enum_refs(), &self.new.enum_refs(), by_file, kept);
        self.deleted(
            Rule::ExtensionNoDelete,
            "extension",
            &self.old.extension_refs(),
            &self.new.extension_refs(),
            by_file,
            kept,
        );
        self.deleted(
            Rule::ServiceNoDelete,
            "service",
            &self.old.service_refs(),
            &self.new.service_refs(),
            by_file,
            kept,
        );
    }

    /// Packages deleted, and elements deleted from a package that is still there.
    fn packages(&mut self) {
        let packages = |side: &Side<'_>| -> BTreeMap<String, String> {
            let mut packages = BTreeMap::new();
            for file in side.files.values() {
                packages.entry(file.package().to_owned()).or_insert_with(|| file.name().to_owned());
            }
            packages
        };
        let (old_packages, new_packages) = (packages(self.old), packages(self.new));
        for (package, file) in &old_packages {
            if !new_packages.contains_key(package) {
                self.report(
                    Rule::PackageNoDelete,
                    At::Old,
                    file,
                    &[FILE_PACKAGE],
                    format!("package `{package}` was deleted"),
                );
            }
        }
        // Unlike buf, a package that lost its last message (enum, service...) is reported too:
        // buf only looks at packages that still have one (see scripts/compat/compare.py).
        let kept = |package: &str| new_packages.contains_key(package);
        let by_package = |element: &ElementRef<'_>| element.package.to_owned();
        self.deleted(
            Rule::PackageMessageNoDelete,
            "message",
            &self.old.message_refs(),
            &self.new.message_refs(),
            by_package,
            kept,
        );
        self.deleted(
            Rule::PackageEnumNoDelete,
            "enum",
            &self.old.enum_refs(),
            &self.new.enum_refs(),
            by_package,
            kept,
        );
        self.deleted(
            Rule::PackageExtensionNoDelete,
            "extension",
            &self.old.extension_refs(),
            &self.new.extension_refs(),
            by_package,
            kept,
        );
        self.deleted(
            Rule::PackageServiceNoDelete,
            "service",
            &self.old.service_refs(),
            &self.new.service_refs(),
            by_package,
            kept,
        );
    }

    /// Reports the `old` elements whose name is gone from their group (file or package) in
    /// `new`, for the groups `kept` says still exist.
    fn deleted(
        &mut self,
        rule: Rule,
        what: &str,
        old: &[ElementRef<'_>],
        new: &[ElementRef<'_>],
        group: impl Fn(&ElementRef<'_>) -> String,
        kept: impl Fn(&str) -> bool,
    ) {
        let present: HashSet<(String, &str)> =
            new.iter().map(|element| (group(element), element.nested)).collect();
        for element in old {
            let key = group(element);
            if kept(&key) && !present.contains(&(key.clone(), element.nested)) {
                let place = if element.package == key { "package" } else { "file" };
                self.report(
                    rule,
                    At::Old,
                    element.file,
                    element.path,
                    format!("{what} `{}` was deleted from {place} `{key}`", element.nested),
                );
            }
        }
    }
}
