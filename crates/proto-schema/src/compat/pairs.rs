//! The rules on pairs of elements that exist on both sides: messages (fields by number,
//! oneofs, reserved and extension ranges, required fields, options), extensions, enums (values
//! by number) and services (methods by name).

use std::collections::{BTreeMap, HashMap, HashSet};

use prost_types::field_descriptor_proto::Label;
use prost_types::{DescriptorProto, EnumDescriptorProto, FieldDescriptorProto, FileDescriptorProto};

use super::index::{Element, index_i32};
use super::{At, Checker, covered, fields, index, merged, message_ranges};
use crate::rules::Rule;

impl Checker<'_, '_> {
    /// Pairs of messages by full name: fields deleted, oneofs, reserved and extension ranges,
    /// required fields, options; then each pair of fields by number.
    pub(super) fn messages(&mut self) {
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

    pub(super) fn message_pair(
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
    pub(super) fn kept_ranges<T>(
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
    pub(super) fn extensions(&mut self) {
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

    pub(super) fn enums(&mut self) {
        let (old_side, new_side) = (self.old, self.new);
        for (name, old) in &old_side.enums {
            let Some(new) = new_side.enums.get(name) else { continue };
            self.enum_pair(name, old, new);
        }
    }

    pub(super) fn enum_pair(
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

    pub(super) fn services(&mut self) {
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
pub(super) fn names(enumeration: &EnumDescriptorProto) -> BTreeMap<i32, Vec<&str>> {
    let mut names: BTreeMap<i32, Vec<&str>> = BTreeMap::new();
    for value in &enumeration.value {
        names.entry(value.number()).or_default().push(value.name());
    }
    names
}

pub(super) fn field_path(message: &[i32], index: usize) -> Vec<i32> {
    let mut path = message.to_vec();
    path.extend([index::MESSAGE_FIELD, index_i32(index)]);
    path
}

/// The names of a message's oneofs, proto3 `optional`'s synthetic ones left out.
pub(super) fn real_oneofs(message: &DescriptorProto) -> Vec<&str> {
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
pub(super) fn json_format_allowed(file: &FileDescriptorProto) -> bool {
    index::is_proto3(file)
}
