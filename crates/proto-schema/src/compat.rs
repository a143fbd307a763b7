//! Breaking-change detection between two schemas: buf's rules and categories ([`Rule`]).
//! The rules only Druid needs live in `druid-mapping`, which adds its findings to a [`Report`].
//!
//! Rule ids are buf's wherever the concept is the same, so a buf user recognises every line.
//! Categories, strictest first: `FILE` (generated code per file), `PACKAGE` (generated code per
//! package), `WIRE_JSON` (binary and JSON encoding), `WIRE` (binary encoding). Deploys use
//! `WIRE_JSON` plus the `DRUID` rules: Druid reads records by JSON name, so a rename that is
//! wire-compatible still turns a column into nulls.
//!
//! Elements are matched by full name (messages, enums, services), by number (fields, enum
//! values) and by name (files, oneofs, methods). Findings point at the new sources, or at the
//! old ones when the element is gone.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;

use prost_types::field_descriptor_proto::{Label, Type};
use prost_types::{
    DescriptorProto, EnumDescriptorProto, FieldDescriptorProto, FileDescriptorProto, ServiceDescriptorProto,
};
use serde::Serialize;

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
    checker.messages();
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

/// One side of the comparison, indexed.
struct Side<'a> {
    schema: &'a CompiledSchema,
    files: BTreeMap<&'a str, &'a FileDescriptorProto>,
    map_entries: HashMap<String, &'a DescriptorProto>,
    messages: BTreeMap<String, Element<'a, DescriptorProto>>,
    enums: BTreeMap<String, Element<'a, EnumDescriptorProto>>,
    services: BTreeMap<String, Element<'a, ServiceDescriptorProto>>,
}

/// A message, enum or service with where it is.
struct Element<'a, T> {
    proto: &'a T,
    file: &'a FileDescriptorProto,
    path: Vec<i32>,
}

// Tags of descriptor.proto fields, for source locations.
const FILE_MESSAGE: i32 = 4;
const FILE_ENUM: i32 = 5;
const FILE_SERVICE: i32 = 6;
const FILE_PACKAGE: i32 = 2;
const FILE_SYNTAX: i32 = 12;
const FILE_OPTIONS: i32 = 8;
const MESSAGE_FIELD: i32 = 2;
const MESSAGE_NESTED: i32 = 3;
const MESSAGE_ENUM: i32 = 4;
const MESSAGE_ONEOF: i32 = 8;
const MESSAGE_RESERVED_NAME: i32 = 10;
const FIELD_NAME: i32 = 1;
const FIELD_LABEL: i32 = 4;
const FIELD_TYPE: i32 = 5;
const FIELD_TYPE_NAME: i32 = 6;
const FIELD_DEFAULT: i32 = 7;
const ENUM_VALUE: i32 = 2;
const ENUM_RESERVED_NAME: i32 = 5;
const VALUE_NAME: i32 = 1;
const SERVICE_METHOD: i32 = 2;
const METHOD_INPUT: i32 = 2;
const METHOD_OUTPUT: i32 = 3;
const METHOD_CLIENT_STREAMING: i32 = 5;
const METHOD_SERVER_STREAMING: i32 = 6;

fn is_own(file: &FileDescriptorProto) -> bool {
    !file.name().starts_with("google/protobuf/")
}

fn prefix(file: &FileDescriptorProto) -> String {
    if file.package().is_empty() { String::new() } else { format!("{}.", file.package()) }
}

impl<'a> Side<'a> {
    fn new(schema: &'a CompiledSchema) -> Self {
        let pool = schema.pool();
        let mut side = Side {
            schema,
            files: BTreeMap::new(),
            map_entries: HashMap::new(),
            messages: BTreeMap::new(),
            enums: BTreeMap::new(),
            services: BTreeMap::new(),
        };
        for file in pool.file_descriptor_protos().filter(|file| is_own(file)) {
            side.files.insert(file.name(), file);
            let scope = prefix(file);
            for (index, message) in file.message_type.iter().enumerate() {
                side.add_message(file, &scope, message, vec![FILE_MESSAGE, index_i32(index)]);
            }
            for (index, enumeration) in file.enum_type.iter().enumerate() {
                side.enums.insert(
                    format!("{scope}{}", enumeration.name()),
                    Element { proto: enumeration, file, path: vec![FILE_ENUM, index_i32(index)] },
                );
            }
            for (index, service) in file.service.iter().enumerate() {
                side.services.insert(
                    format!("{scope}{}", service.name()),
                    Element { proto: service, file, path: vec![FILE_SERVICE, index_i32(index)] },
                );
            }
        }
        side
    }

    fn add_message(
        &mut self,
        file: &'a FileDescriptorProto,
        scope: &str,
        message: &'a DescriptorProto,
        path: Vec<i32>,
    ) {
        let name = format!("{scope}{}", message.name());
        if message.options.as_ref().is_some_and(prost_types::MessageOptions::map_entry) {
            // Map entries are compared through their map field.
            self.map_entries.insert(name, message);
            return;
        }
        let nested_scope = format!("{name}.");
        for (index, nested) in message.nested_type.iter().enumerate() {
            let mut nested_path = path.clone();
            nested_path.extend([MESSAGE_NESTED, index_i32(index)]);
            self.add_message(file, &nested_scope, nested, nested_path);
        }
        for (index, enumeration) in message.enum_type.iter().enumerate() {
            let mut enum_path = path.clone();
            enum_path.extend([MESSAGE_ENUM, index_i32(index)]);
            self.enums.insert(
                format!("{nested_scope}{}", enumeration.name()),
                Element { proto: enumeration, file, path: enum_path },
            );
        }
        self.messages.insert(name, Element { proto: message, file, path });
    }

    /// Where `path` (or its closest ancestor with a location) is in `file`, 1-based.
    fn locate(&self, file: &str, path: &[i32]) -> (u32, u32) {
        self.schema.locate(file, path)
    }

    /// The entry message of a map field, when it is one.
    fn map_entry(&self, field: &FieldDescriptorProto) -> Option<&'a DescriptorProto> {
        self.map_entries.get(trim(field.type_name())).copied()
    }
}

fn index_i32(index: usize) -> i32 {
    i32::try_from(index).unwrap_or(i32::MAX)
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

    fn files(&mut self) {
        let old_packages: BTreeSet<&str> = self.old.files.values().map(|file| file.package()).collect();
        let new_packages: BTreeSet<&str> = self.new.files.values().map(|file| file.package()).collect();
        for package in old_packages.difference(&new_packages) {
            let file =
                self.old.files.values().find(|file| file.package() == *package).expect("package has a file");
            self.report(
                Rule::PackageNoDelete,
                At::Old,
                file.name(),
                &[FILE_PACKAGE],
                format!("package `{package}` was deleted"),
            );
        }
        for (name, old) in &self.old.files {
            let Some(new) = self.new.files.get(name) else {
                self.report(Rule::FileNoDelete, At::Old, name, &[], format!("file `{name}` was deleted"));
                continue;
            };
            if old.package() != new.package() {
                self.report(
                    Rule::FileSamePackage,
                    At::New,
                    name,
                    &[FILE_PACKAGE],
                    format!("package changed from `{}` to `{}`", old.package(), new.package()),
                );
            }
            let syntax = |file: &FileDescriptorProto| {
                if file.syntax().is_empty() { "proto2".to_owned() } else { file.syntax().to_owned() }
            };
            if syntax(old) != syntax(new) {
                self.report(
                    Rule::FileSameSyntax,
                    At::New,
                    name,
                    &[FILE_SYNTAX],
                    format!("syntax changed from {} to {}", syntax(old), syntax(new)),
                );
            }
            let options = |file: &FileDescriptorProto| file.options.clone().unwrap_or_default();
            let (old_options, new_options) = (options(old), options(new));
            for (rule, option, before, after) in [
                (
                    Rule::FileSameJavaPackage,
                    "java_package",
                    old_options.java_package().to_owned(),
                    new_options.java_package().to_owned(),
                ),
                (
                    Rule::FileSameGoPackage,
                    "go_package",
                    old_options.go_package().to_owned(),
                    new_options.go_package().to_owned(),
                ),
                (
                    Rule::FileSameJavaMultipleFiles,
                    "java_multiple_files",
                    old_options.java_multiple_files().to_string(),
                    new_options.java_multiple_files().to_string(),
                ),
            ] {
                if before != after {
                    self.report(
                        rule,
                        At::New,
                        name,
                        &[FILE_OPTIONS],
                        format!("option {option} changed from `{before}` to `{after}`"),
                    );
                }
            }
        }
    }

    fn messages(&mut self) {
        for (name, old) in &self.old.messages {
            let Some(new) = self.new.messages.get(name) else {
                let file = old.file.name();
                self.report(
                    Rule::MessageNoDelete,
                    At::Old,
                    file,
                    &old.path,
                    format!("message `{name}` was deleted"),
                );
                let package = old.file.package();
                self.report(
                    Rule::PackageMessageNoDelete,
                    At::Old,
                    file,
                    &old.path,
                    format!("message `{name}` was deleted from package `{package}`"),
                );
                continue;
            };
            if old.file.name() != new.file.name() {
                self.report(
                    Rule::MessageNoDelete,
                    At::Old,
                    old.file.name(),
                    &old.path,
                    format!("message `{name}` moved from `{}` to `{}`", old.file.name(), new.file.name()),
                );
            }
            self.message(name, old, new);
        }
    }

    fn message(
        &mut self,
        name: &str,
        old: &Element<'_, DescriptorProto>,
        new: &Element<'_, DescriptorProto>,
    ) {
        let new_file = new.file.name().to_owned();
        let field_path = |element: &Element<'_, DescriptorProto>, index: usize, part: Option<i32>| {
            let mut path = element.path.clone();
            path.extend([MESSAGE_FIELD, index_i32(index)]);
            path.extend(part);
            path
        };
        let new_fields: HashMap<i32, (usize, &FieldDescriptorProto)> = new
            .proto
            .field
            .iter()
            .enumerate()
            .map(|(index, field)| (field.number(), (index, field)))
            .collect();
        for (old_index, old_field) in old.proto.field.iter().enumerate() {
            let number = old_field.number();
            let Some(&(new_index, new_field)) = new_fields.get(&number) else {
                self.deleted_field(name, old, old_index, old_field, new);
                continue;
            };
            let at = |part| field_path(new, new_index, Some(part));
            let label = format!("field {number} of `{name}`");
            if old_field.name() != new_field.name() {
                self.report(
                    Rule::FieldSameName,
                    At::New,
                    &new_file,
                    &at(FIELD_NAME),
                    format!("{label} was renamed from `{}` to `{}`", old_field.name(), new_field.name()),
                );
            }
            if old_field.json_name() != new_field.json_name() {
                self.report(
                    Rule::FieldSameJsonName,
                    At::New,
                    &new_file,
                    &at(FIELD_NAME),
                    format!(
                        "{label}: JSON name changed from `{}` to `{}`",
                        old_field.json_name(),
                        new_field.json_name()
                    ),
                );
            }
            self.field_type(&label, old_field, new_field, &new_file, &at(FIELD_TYPE));
            self.cardinality(&label, old_field, new_field, &new_file, &at(FIELD_LABEL));
            let oneof = |message: &DescriptorProto, field: &FieldDescriptorProto| {
                if field.proto3_optional() {
                    return None;
                }
                field
                    .oneof_index
                    .and_then(|index| message.oneof_decl.get(usize::try_from(index).ok()?))
                    .map(|oneof| oneof.name().to_owned())
            };
            let (before, after) = (oneof(old.proto, old_field), oneof(new.proto, new_field));
            if before != after {
                let describe = |oneof: &Option<String>| {
                    oneof.as_ref().map_or("no oneof".to_owned(), |name| format!("oneof `{name}`"))
                };
                self.report(
                    Rule::FieldSameOneof,
                    At::New,
                    &new_file,
                    &at(FIELD_NAME),
                    format!("{label} moved from {} to {}", describe(&before), describe(&after)),
                );
            }
            if old_field.default_value() != new_field.default_value() {
                self.report(
                    Rule::FieldSameDefault,
                    At::New,
                    &new_file,
                    &at(FIELD_DEFAULT),
                    format!(
                        "{label}: default changed from `{}` to `{}`",
                        old_field.default_value(),
                        new_field.default_value()
                    ),
                );
            }
        }
        let required = |message: &DescriptorProto| -> BTreeSet<i32> {
            message
                .field
                .iter()
                .filter(|field| field.label() == Label::Required)
                .map(FieldDescriptorProto::number)
                .collect()
        };
        if required(old.proto) != required(new.proto) {
            self.report(
                Rule::MessageSameRequiredFields,
                At::New,
                &new_file,
                &new.path,
                format!(
                    "required fields of `{name}` changed: old readers or writers reject the other's messages"
                ),
            );
        }
        let oneofs = |message: &DescriptorProto| -> BTreeSet<String> {
            let synthetic: BTreeSet<i32> = message
                .field
                .iter()
                .filter(|field| field.proto3_optional())
                .filter_map(|field| field.oneof_index)
                .collect();
            message
                .oneof_decl
                .iter()
                .enumerate()
                .filter(|(index, _)| !synthetic.contains(&index_i32(*index)))
                .map(|(_, oneof)| oneof.name().to_owned())
                .collect()
        };
        for deleted in oneofs(old.proto).difference(&oneofs(new.proto)) {
            let index = old.proto.oneof_decl.iter().position(|oneof| oneof.name() == deleted).unwrap_or(0);
            let mut path = old.path.clone();
            path.extend([MESSAGE_ONEOF, index_i32(index)]);
            self.report(
                Rule::OneofNoDelete,
                At::Old,
                old.file.name(),
                &path,
                format!("oneof `{deleted}` of `{name}` was deleted"),
            );
        }
        let covered = |ranges: &[prost_types::descriptor_proto::ReservedRange], start: i32, end: i32| {
            (start..end)
                .all(|number| ranges.iter().any(|range| range.start() <= number && number < range.end()))
        };
        for range in &old.proto.reserved_range {
            if !covered(&new.proto.reserved_range, range.start(), range.end()) {
                self.report(
                    Rule::ReservedMessageNoDelete,
                    At::New,
                    &new_file,
                    &new.path,
                    format!(
                        "reserved numbers {}..{} of `{name}` are no longer all reserved",
                        range.start(),
                        range.end() - 1
                    ),
                );
            }
        }
        for reserved in &old.proto.reserved_name {
            if !new.proto.reserved_name.contains(reserved) {
                let mut path = new.path.clone();
                path.push(MESSAGE_RESERVED_NAME);
                self.report(
                    Rule::ReservedMessageNoDelete,
                    At::New,
                    &new_file,
                    &path,
                    format!("reserved name `{reserved}` of `{name}` was removed"),
                );
            }
        }
    }

    fn deleted_field(
        &mut self,
        name: &str,
        old: &Element<'_, DescriptorProto>,
        old_index: usize,
        field: &FieldDescriptorProto,
        new: &Element<'_, DescriptorProto>,
    ) {
        let mut path = old.path.clone();
        path.extend([MESSAGE_FIELD, index_i32(old_index)]);
        let old_file = old.file.name().to_owned();
        let number = field.number();
        let what =
            format!("field {number} `{}` ({}) of `{name}` was deleted", field.name(), field.json_name());
        self.report(Rule::FieldNoDelete, At::Old, &old_file, &path, what.clone());
        let number_reserved =
            new.proto.reserved_range.iter().any(|range| range.start() <= number && number < range.end());
        if !number_reserved {
            self.report(
                Rule::FieldNoDeleteUnlessNumberReserved,
                At::Old,
                &old_file,
                &path,
                format!("{what} without reserving its number: reusing {number} would misread old records (add `reserved {number};`)"),
            );
        }
        if !new.proto.reserved_name.iter().any(|reserved| reserved == field.name()) {
            self.report(
                Rule::FieldNoDeleteUnlessNameReserved,
                At::Old,
                &old_file,
                &path,
                format!("{what} without reserving its name (add `reserved \"{}\";`)", field.name()),
            );
        }
    }

    fn field_type(
        &mut self,
        label: &str,
        old: &FieldDescriptorProto,
        new: &FieldDescriptorProto,
        file: &str,
        path: &[i32],
    ) {
        let describe = |field: &FieldDescriptorProto, side: &Side<'_>| {
            if let Some(entry) = side.map_entry(field) {
                let key = entry.field.first().map(type_name).unwrap_or_default();
                let value = entry.field.get(1).map(type_name).unwrap_or_default();
                format!("map<{key}, {value}>")
            } else {
                type_name(field)
            }
        };
        let (before, after) = (describe(old, self.old), describe(new, self.new));
        if before == after {
            return;
        }
        let mut type_path = path.to_vec();
        if !new.type_name().is_empty()
            && let Some(last) = type_path.last_mut()
        {
            *last = FIELD_TYPE_NAME;
        }
        let message = format!("{label}: type changed from `{before}` to `{after}`");
        self.report(Rule::FieldSameType, At::New, file, &type_path, message.clone());
        if !same_group(old, new, &before, &after, wire_group) {
            self.report(
                Rule::FieldWireCompatibleType,
                At::New,
                file,
                &type_path,
                format!("{message}: old records no longer decode"),
            );
        }
        if !same_group(old, new, &before, &after, wire_json_group) {
            self.report(
                Rule::FieldWireJsonCompatibleType,
                At::New,
                file,
                &type_path,
                format!("{message}: the binary or JSON encoding changes"),
            );
        }
    }

    fn cardinality(
        &mut self,
        label: &str,
        old: &FieldDescriptorProto,
        new: &FieldDescriptorProto,
        file: &str,
        path: &[i32],
    ) {
        let describe = |field: &FieldDescriptorProto| match field.label() {
            Label::Repeated => "repeated",
            Label::Required => "required",
            Label::Optional if field.proto3_optional() => "optional",
            Label::Optional => "singular",
        };
        let (before, after) = (describe(old), describe(new));
        if before == after {
            return;
        }
        let message = format!("{label} changed from {before} to {after}");
        self.report(Rule::FieldSameCardinality, At::New, file, path, message.clone());
        let repeated_changed = (before == "repeated") != (after == "repeated");
        if repeated_changed {
            self.report(
                Rule::FieldWireJsonCompatibleCardinality,
                At::New,
                file,
                path,
                format!("{message}: JSON and binary readers disagree"),
            );
            // A length-delimited singular field read as repeated still decodes; numbers do not.
            let delimited = matches!(new.r#type(), Type::String | Type::Bytes | Type::Message);
            if !delimited || before == "repeated" {
                self.report(
                    Rule::FieldWireCompatibleCardinality,
                    At::New,
                    file,
                    path,
                    format!("{message}: old records no longer decode"),
                );
            }
        }
    }

    fn enums(&mut self) {
        for (name, old) in &self.old.enums {
            let Some(new) = self.new.enums.get(name) else {
                self.report(
                    Rule::EnumNoDelete,
                    At::Old,
                    old.file.name(),
                    &old.path,
                    format!("enum `{name}` was deleted"),
                );
                self.report(
                    Rule::PackageEnumNoDelete,
                    At::Old,
                    old.file.name(),
                    &old.path,
                    format!("enum `{name}` was deleted from package `{}`", old.file.package()),
                );
                continue;
            };
            if old.file.name() != new.file.name() {
                self.report(
                    Rule::EnumNoDelete,
                    At::Old,
                    old.file.name(),
                    &old.path,
                    format!("enum `{name}` moved from `{}` to `{}`", old.file.name(), new.file.name()),
                );
            }
            let new_file = new.file.name().to_owned();
            for (old_index, value) in old.proto.value.iter().enumerate() {
                let number = value.number();
                let Some((new_index, new_value)) =
                    new.proto.value.iter().enumerate().find(|(_, candidate)| candidate.number() == number)
                else {
                    let mut path = old.path.clone();
                    path.extend([ENUM_VALUE, index_i32(old_index)]);
                    let what = format!("value {number} `{}` of enum `{name}` was deleted", value.name());
                    self.report(Rule::EnumValueNoDelete, At::Old, old.file.name(), &path, what.clone());
                    let reserved_number = new
                        .proto
                        .reserved_range
                        .iter()
                        .any(|range| range.start() <= number && number <= range.end());
                    if !reserved_number {
                        self.report(
                            Rule::EnumValueNoDeleteUnlessNumberReserved,
                            At::Old,
                            old.file.name(),
                            &path,
                            format!("{what} without reserving its number"),
                        );
                    }
                    if !new.proto.reserved_name.iter().any(|reserved| reserved == value.name()) {
                        self.report(
                            Rule::EnumValueNoDeleteUnlessNameReserved,
                            At::Old,
                            old.file.name(),
                            &path,
                            format!("{what} without reserving its name: JSON and Druid carry enum names"),
                        );
                    }
                    continue;
                };
                if value.name() != new_value.name() {
                    let mut path = new.path.clone();
                    path.extend([ENUM_VALUE, index_i32(new_index), VALUE_NAME]);
                    self.report(
                        Rule::EnumValueSameName,
                        At::New,
                        &new_file,
                        &path,
                        format!(
                            "value {number} of enum `{name}` was renamed from `{}` to `{}`: JSON and Druid see the name",
                            value.name(),
                            new_value.name()
                        ),
                    );
                }
            }
            for range in &old.proto.reserved_range {
                let kept = (range.start()..=range.end()).all(|number| {
                    new.proto
                        .reserved_range
                        .iter()
                        .any(|candidate| candidate.start() <= number && number <= candidate.end())
                });
                if !kept {
                    self.report(
                        Rule::ReservedEnumNoDelete,
                        At::New,
                        &new_file,
                        &new.path,
                        format!(
                            "reserved numbers {}..{} of enum `{name}` are no longer all reserved",
                            range.start(),
                            range.end()
                        ),
                    );
                }
            }
            for reserved in &old.proto.reserved_name {
                if !new.proto.reserved_name.contains(reserved) {
                    let mut path = new.path.clone();
                    path.push(ENUM_RESERVED_NAME);
                    self.report(
                        Rule::ReservedEnumNoDelete,
                        At::New,
                        &new_file,
                        &path,
                        format!("reserved name `{reserved}` of enum `{name}` was removed"),
                    );
                }
            }
        }
    }

    fn services(&mut self) {
        for (name, old) in &self.old.services {
            let Some(new) = self.new.services.get(name) else {
                self.report(
                    Rule::ServiceNoDelete,
                    At::Old,
                    old.file.name(),
                    &old.path,
                    format!("service `{name}` was deleted"),
                );
                self.report(
                    Rule::PackageServiceNoDelete,
                    At::Old,
                    old.file.name(),
                    &old.path,
                    format!("service `{name}` was deleted from package `{}`", old.file.package()),
                );
                continue;
            };
            let new_file = new.file.name().to_owned();
            for (old_index, method) in old.proto.method.iter().enumerate() {
                let Some((new_index, new_method)) = new
                    .proto
                    .method
                    .iter()
                    .enumerate()
                    .find(|(_, candidate)| candidate.name() == method.name())
                else {
                    let mut path = old.path.clone();
                    path.extend([SERVICE_METHOD, index_i32(old_index)]);
                    self.report(
                        Rule::RpcNoDelete,
                        At::Old,
                        old.file.name(),
                        &path,
                        format!("rpc `{}` of `{name}` was deleted", method.name()),
                    );
                    continue;
                };
                let at = |part: i32| {
                    let mut path = new.path.clone();
                    path.extend([SERVICE_METHOD, index_i32(new_index), part]);
                    path
                };
                let rpc = format!("rpc `{}` of `{name}`", method.name());
                if method.input_type() != new_method.input_type() {
                    self.report(
                        Rule::RpcSameRequestType,
                        At::New,
                        &new_file,
                        &at(METHOD_INPUT),
                        format!(
                            "{rpc}: request changed from `{}` to `{}`",
                            trim(method.input_type()),
                            trim(new_method.input_type())
                        ),
                    );
                }
                if method.output_type() != new_method.output_type() {
                    self.report(
                        Rule::RpcSameResponseType,
                        At::New,
                        &new_file,
                        &at(METHOD_OUTPUT),
                        format!(
                            "{rpc}: response changed from `{}` to `{}`",
                            trim(method.output_type()),
                            trim(new_method.output_type())
                        ),
                    );
                }
                if method.client_streaming() != new_method.client_streaming() {
                    self.report(
                        Rule::RpcSameClientStreaming,
                        At::New,
                        &new_file,
                        &at(METHOD_CLIENT_STREAMING),
                        format!("{rpc}: client streaming changed"),
                    );
                }
                if method.server_streaming() != new_method.server_streaming() {
                    self.report(
                        Rule::RpcSameServerStreaming,
                        At::New,
                        &new_file,
                        &at(METHOD_SERVER_STREAMING),
                        format!("{rpc}: server streaming changed"),
                    );
                }
            }
        }
    }
}

fn trim(name: &str) -> &str {
    name.trim_start_matches('.')
}

/// `int64`, `string`, `settlement.v1.Fee`, ...
fn type_name(field: &FieldDescriptorProto) -> String {
    match field.r#type() {
        Type::Message | Type::Enum | Type::Group => trim(field.type_name()).to_owned(),
        other => other.as_str_name().trim_start_matches("TYPE_").to_ascii_lowercase(),
    }
}

/// Whether two types are in the same compatibility group; named types must keep their name.
fn same_group(
    old: &FieldDescriptorProto,
    new: &FieldDescriptorProto,
    before: &str,
    after: &str,
    group: fn(Type) -> u8,
) -> bool {
    let named = |kind: Type| matches!(kind, Type::Message | Type::Group);
    if named(old.r#type()) || named(new.r#type()) || before.starts_with("map<") || after.starts_with("map<") {
        return false;
    }
    let (old_group, new_group) = (group(old.r#type()), group(new.r#type()));
    old_group != 0 && old_group == new_group
}

/// Binary encoding groups: values of one group decode as another of the same group.
fn wire_group(kind: Type) -> u8 {
    match kind {
        Type::Int32 | Type::Uint32 | Type::Int64 | Type::Uint64 | Type::Bool | Type::Enum => 1,
        Type::Sint32 | Type::Sint64 => 2,
        Type::Fixed32 | Type::Sfixed32 => 3,
        Type::Fixed64 | Type::Sfixed64 => 4,
        Type::String | Type::Bytes => 5,
        _ => 0,
    }
}

/// Binary and JSON encoding groups (JSON quotes 64-bit integers, base64s bytes, names enums).
fn wire_json_group(kind: Type) -> u8 {
    match kind {
        Type::Int32 | Type::Sint32 | Type::Sfixed32 => 1,
        Type::Int64 | Type::Sint64 | Type::Sfixed64 => 2,
        Type::Uint32 | Type::Fixed32 => 3,
        Type::Uint64 | Type::Fixed64 => 4,
        _ => 0,
    }
}
