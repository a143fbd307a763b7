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

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt;

use prost_types::field_descriptor_proto::Label;
use prost_types::{DescriptorProto, EnumDescriptorProto, FieldDescriptorProto, FileDescriptorProto};
use serde::Serialize;

use index::{Element, ElementRef, FILE_OPTIONS, FILE_PACKAGE, FILE_SYNTAX, Side, index_i32, syntax};

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

impl Checker<'_, '_> {
    /// Pairs of messages by full name: fields deleted, oneofs, reserved and extension ranges,
    /// required fields, options; then each pair of fields by number.
    fn messages(&mut self) {
        let (old_side, new_side) = (self.old, self.new);
        for (name, old) in &old_side.messages {
            let Some(new) = new_side.messages.get(name) else { continue };
            self.message_pair(name, old, new);
            let new_fields: HashMap<i32, (usize, &FieldDescriptorProto)> = new
                .proto
                .field
                .iter()
                .enumerate()
                .map(|(index, field)| (field.number(), (index, field)))
                .collect();
            let map_entry = old_side.message_is_map_entry(name) && new_side.message_is_map_entry(name);
            for old_field in &old.proto.field {
                if let Some(&(new_index, new_field)) = new_fields.get(&old_field.number()) {
                    let pair = fields::Pair {
                        owner: name,
                        old: old_field,
                        new: new_field,
                        old_message: Some(old.proto),
                        new_message: Some(new.proto),
                        old_file: old.file,
                        new_file: new.file,
                        new_path: field_path(&new.path, new_index),
                        map_entry,
                    };
                    self.field_pair(&pair);
                }
            }
        }
    }

    fn message_pair(
        &mut self,
        name: &str,
        old: &Element<'_, DescriptorProto>,
        new: &Element<'_, DescriptorProto>,
    ) {
        let new_file = new.file.name().to_owned();
        let new_numbers: HashSet<i32> = new.proto.field.iter().map(FieldDescriptorProto::number).collect();
        let reserved = merged(message_ranges(new.proto.reserved_range.iter().map(|r| (r.start(), r.end()))));
        for field in &old.proto.field {
            let number = field.number();
            if new_numbers.contains(&number) {
                continue;
            }
            let what = format!("field {number} `{}` of `{name}` was deleted", field.name());
            self.report(Rule::FieldNoDelete, At::New, &new_file, &new.path, what.clone());
            if !covered((i64::from(number), i64::from(number)), &reserved) {
                self.report(
                    Rule::FieldNoDeleteUnlessNumberReserved,
                    At::New,
                    &new_file,
                    &new.path,
                    format!("{what} without reserving its number: reusing {number} would misread old records (add `reserved {number};`)"),
                );
            }
            if !new.proto.reserved_name.iter().any(|reserved| reserved == field.name()) {
                self.report(
                    Rule::FieldNoDeleteUnlessNameReserved,
                    At::New,
                    &new_file,
                    &new.path,
                    format!("{what} without reserving its name (add `reserved \"{}\";`)", field.name()),
                );
            }
        }
        for deleted in real_oneofs(old.proto).iter().filter(|oneof| !real_oneofs(new.proto).contains(oneof)) {
            self.report(
                Rule::OneofNoDelete,
                At::New,
                &new_file,
                &new.path,
                format!("oneof `{deleted}` of `{name}` was deleted"),
            );
        }
        let required = |message: &DescriptorProto| -> Vec<i32> {
            message
                .field
                .iter()
                .filter(|field| field.label() == Label::Required)
                .map(FieldDescriptorProto::number)
                .collect()
        };
        let (old_required, new_required) = (required(old.proto), required(new.proto));
        for number in old_required.iter().filter(|number| !new_required.contains(number)) {
            self.report(
                Rule::MessageSameRequiredFields,
                At::New,
                &new_file,
                &new.path,
                format!("required field {number} of `{name}` was deleted or made optional: old readers reject new messages"),
            );
        }
        for number in new_required.iter().filter(|number| !old_required.contains(number)) {
            self.report(
                Rule::MessageSameRequiredFields,
                At::New,
                &new_file,
                &new.path,
                format!("required field {number} was added to `{name}`: new readers reject old messages"),
            );
        }
        let ranges = |message: &DescriptorProto| {
            message_ranges(message.reserved_range.iter().map(|r| (r.start(), r.end())))
        };
        self.kept_ranges(
            Rule::ReservedMessageNoDelete,
            "reserved",
            name,
            &ranges(old.proto),
            &ranges(new.proto),
            new,
            index::MESSAGE_RESERVED_RANGE,
        );
        let extension_ranges = |message: &DescriptorProto| {
            message_ranges(message.extension_range.iter().map(|r| (r.start(), r.end())))
        };
        self.kept_ranges(
            Rule::ExtensionMessageNoDelete,
            "extension",
            name,
            &extension_ranges(old.proto),
            &extension_ranges(new.proto),
            new,
            index::MESSAGE_EXTENSION_RANGE,
        );
        for reserved in
            old.proto.reserved_name.iter().filter(|reserved| !new.proto.reserved_name.contains(reserved))
        {
            let mut path = new.path.clone();
            path.push(index::MESSAGE_RESERVED_NAME);
            self.report(
                Rule::ReservedMessageNoDelete,
                At::New,
                &new_file,
                &path,
                format!("reserved name `{reserved}` of `{name}` was removed"),
            );
        }
        let accessor = |message: &DescriptorProto| {
            message.options.as_ref().is_some_and(prost_types::MessageOptions::no_standard_descriptor_accessor)
        };
        if !accessor(old.proto) && accessor(new.proto) {
            let mut path = new.path.clone();
            path.push(index::MESSAGE_OPTIONS);
            self.report(
                Rule::MessageNoRemoveStandardDescriptorAccessor,
                At::New,
                &new_file,
                &path,
                format!("`{name}` set no_standard_descriptor_accessor"),
            );
        }
        if json_format_allowed(old.file) && !json_format_allowed(new.file) {
            self.report(
                Rule::MessageSameJsonFormat,
                At::New,
                &new_file,
                &new.path,
                format!("`{name}` no longer fully supports JSON (proto2 semantics)"),
            );
        }
    }

    /// Reports old ranges (inclusive) no longer fully in the new ones.
    #[allow(clippy::too_many_arguments)]
    fn kept_ranges<T>(
        &mut self,
        rule: Rule,
        kind: &str,
        name: &str,
        old: &[(i64, i64)],
        new: &[(i64, i64)],
        element: &Element<'_, T>,
        tag: i32,
    ) {
        let new = merged(new.to_vec());
        for &range in old {
            if !covered(range, &new) {
                let mut path = element.path.clone();
                path.push(tag);
                self.report(
                    rule,
                    At::New,
                    element.file.name(),
                    &path,
                    format!("{kind} range {}..={} of `{name}` is no longer all there", range.0, range.1),
                );
            }
        }
    }

    /// Pairs of extensions by extendee and number.
    fn extensions(&mut self) {
        let (old_side, new_side) = (self.old, self.new);
        for (key, old) in &old_side.extensions {
            let Some(new) = new_side.extensions.get(key) else { continue };
            let owner = format!("extension of `{}`", key.0);
            let pair = fields::Pair {
                owner: &owner,
                old: old.proto,
                new: new.proto,
                old_message: None,
                new_message: None,
                old_file: old.file,
                new_file: new.file,
                new_path: new.path.clone(),
                map_entry: false,
            };
            self.field_pair(&pair);
        }
    }

    fn enums(&mut self) {
        let (old_side, new_side) = (self.old, self.new);
        for (name, old) in &old_side.enums {
            let Some(new) = new_side.enums.get(name) else { continue };
            self.enum_pair(name, old, new);
        }
    }

    fn enum_pair(
        &mut self,
        name: &str,
        old: &Element<'_, EnumDescriptorProto>,
        new: &Element<'_, EnumDescriptorProto>,
    ) {
        let new_file = new.file.name().to_owned();
        let (old_names, new_names) = (names(old.proto), names(new.proto));
        let reserved = merged(
            new.proto.reserved_range.iter().map(|r| (i64::from(r.start()), i64::from(r.end()))).collect(),
        );
        for (number, before) in &old_names {
            let Some(after) = new_names.get(number) else {
                let what = format!("value {number} (`{}`) of enum `{name}` was deleted", before.join("`, `"));
                self.report(Rule::EnumValueNoDelete, At::New, &new_file, &new.path, what.clone());
                if !covered((i64::from(*number), i64::from(*number)), &reserved) {
                    self.report(
                        Rule::EnumValueNoDeleteUnlessNumberReserved,
                        At::New,
                        &new_file,
                        &new.path,
                        format!("{what} without reserving its number"),
                    );
                }
                if !before
                    .iter()
                    .all(|value| new.proto.reserved_name.iter().any(|reserved| reserved == value))
                {
                    self.report(
                        Rule::EnumValueNoDeleteUnlessNameReserved,
                        At::New,
                        &new_file,
                        &new.path,
                        format!("{what} without reserving its name: JSON and Druid carry enum names"),
                    );
                }
                continue;
            };
            // Aliases may be added; every old name of the number must stay.
            if !before.iter().all(|value| after.contains(value)) {
                let index = new.proto.value.iter().position(|value| value.number() == *number).unwrap_or(0);
                let mut path = new.path.clone();
                path.extend([index::ENUM_VALUE, index_i32(index), index::VALUE_NUMBER]);
                self.report(
                    Rule::EnumValueSameName,
                    At::New,
                    &new_file,
                    &path,
                    format!(
                        "value {number} of enum `{name}` was renamed from `{}` to `{}`: JSON and Druid see the name",
                        before.join("`, `"),
                        after.join("`, `")
                    ),
                );
            }
        }
        let ranges = |enumeration: &EnumDescriptorProto| -> Vec<(i64, i64)> {
            enumeration.reserved_range.iter().map(|r| (i64::from(r.start()), i64::from(r.end()))).collect()
        };
        self.kept_ranges(
            Rule::ReservedEnumNoDelete,
            "reserved",
            name,
            &ranges(old.proto),
            &ranges(new.proto),
            new,
            index::ENUM_RESERVED_RANGE,
        );
        for reserved in
            old.proto.reserved_name.iter().filter(|reserved| !new.proto.reserved_name.contains(reserved))
        {
            let mut path = new.path.clone();
            path.push(index::ENUM_RESERVED_NAME);
            self.report(
                Rule::ReservedEnumNoDelete,
                At::New,
                &new_file,
                &path,
                format!("reserved name `{reserved}` of enum `{name}` was removed"),
            );
        }
        // proto2 enums are closed (unknown numbers go to unknown fields), proto3 enums open.
        let closed = |file: &FileDescriptorProto| !index::is_proto3(file);
        if closed(old.file) != closed(new.file) {
            let state = |closed: bool| if closed { "closed" } else { "open" };
            self.report(
                Rule::EnumSameType,
                At::New,
                &new_file,
                &new.path,
                format!(
                    "enum `{name}` changed from {} to {}",
                    state(closed(old.file)),
                    state(closed(new.file))
                ),
            );
        }
        if json_format_allowed(old.file) && !json_format_allowed(new.file) {
            self.report(
                Rule::EnumSameJsonFormat,
                At::New,
                &new_file,
                &new.path,
                format!("enum `{name}` no longer fully supports JSON (proto2 semantics)"),
            );
        }
    }

    fn services(&mut self) {
        let (old_side, new_side) = (self.old, self.new);
        for (name, old) in &old_side.services {
            let Some(new) = new_side.services.get(name) else { continue };
            let new_file = new.file.name().to_owned();
            for method in &old.proto.method {
                let Some((new_index, new_method)) = new
                    .proto
                    .method
                    .iter()
                    .enumerate()
                    .find(|(_, candidate)| candidate.name() == method.name())
                else {
                    self.report(
                        Rule::RpcNoDelete,
                        At::New,
                        &new_file,
                        &new.path,
                        format!("rpc `{}` of `{name}` was deleted", method.name()),
                    );
                    continue;
                };
                let at = |part: i32| {
                    let mut path = new.path.clone();
                    path.extend([index::SERVICE_METHOD, index_i32(new_index), part]);
                    path
                };
                let rpc = format!("rpc `{}` of `{name}`", method.name());
                let idempotency = |method: &prost_types::MethodDescriptorProto| {
                    method
                        .options
                        .as_ref()
                        .map(prost_types::MethodOptions::idempotency_level)
                        .unwrap_or_default()
                };
                let checks = [
                    (
                        Rule::RpcSameRequestType,
                        index::METHOD_INPUT,
                        "request type",
                        index::trim(method.input_type()).to_owned(),
                        index::trim(new_method.input_type()).to_owned(),
                    ),
                    (
                        Rule::RpcSameResponseType,
                        index::METHOD_OUTPUT,
                        "response type",
                        index::trim(method.output_type()).to_owned(),
                        index::trim(new_method.output_type()).to_owned(),
                    ),
                    (
                        Rule::RpcSameClientStreaming,
                        index::METHOD_CLIENT_STREAMING,
                        "client streaming",
                        method.client_streaming().to_string(),
                        new_method.client_streaming().to_string(),
                    ),
                    (
                        Rule::RpcSameServerStreaming,
                        index::METHOD_SERVER_STREAMING,
                        "server streaming",
                        method.server_streaming().to_string(),
                        new_method.server_streaming().to_string(),
                    ),
                    (
                        Rule::RpcSameIdempotencyLevel,
                        index::METHOD_OPTIONS,
                        "idempotency_level",
                        idempotency(method).as_str_name().to_owned(),
                        idempotency(new_method).as_str_name().to_owned(),
                    ),
                ];
                for (rule, part, what, before, after) in checks {
                    if before != after {
                        self.report(
                            rule,
                            At::New,
                            &new_file,
                            &at(part),
                            format!("{rpc}: {what} changed from `{before}` to `{after}`"),
                        );
                    }
                }
            }
        }
    }
}

/// An enum's value names by number (aliases share a number).
fn names(enumeration: &EnumDescriptorProto) -> BTreeMap<i32, Vec<&str>> {
    let mut names: BTreeMap<i32, Vec<&str>> = BTreeMap::new();
    for value in &enumeration.value {
        names.entry(value.number()).or_default().push(value.name());
    }
    names
}

fn field_path(message: &[i32], index: usize) -> Vec<i32> {
    let mut path = message.to_vec();
    path.extend([index::MESSAGE_FIELD, index_i32(index)]);
    path
}

/// The names of a message's oneofs, proto3 `optional`'s synthetic ones left out.
fn real_oneofs(message: &DescriptorProto) -> Vec<&str> {
    message
        .oneof_decl
        .iter()
        .enumerate()
        .filter(|(index, _)| {
            !message
                .field
                .iter()
                .any(|field| field.proto3_optional() && field.oneof_index == Some(index_i32(*index)))
        })
        .map(|(_, oneof)| oneof.name())
        .collect()
}

/// Whether a file's elements fully support JSON: proto3 (`ALLOW`), not proto2
/// (`LEGACY_BEST_EFFORT`).
fn json_format_allowed(file: &FileDescriptorProto) -> bool {
    index::is_proto3(file)
}
