//! One side of a comparison, indexed the ways buf's rules look elements up.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use prost_types::{
    DescriptorProto, EnumDescriptorProto, FieldDescriptorProto, FileDescriptorProto, ServiceDescriptorProto,
};

use crate::CompiledSchema;

// Tags of descriptor.proto fields, for source locations.
pub(super) const FILE_MESSAGE: i32 = 4;
pub(super) const FILE_ENUM: i32 = 5;
pub(super) const FILE_SERVICE: i32 = 6;
pub(super) const FILE_EXTENSION: i32 = 7;
pub(super) const FILE_OPTIONS: i32 = 8;
pub(super) const FILE_PACKAGE: i32 = 2;
pub(super) const FILE_SYNTAX: i32 = 12;
pub(super) const MESSAGE_FIELD: i32 = 2;
pub(super) const MESSAGE_NESTED: i32 = 3;
pub(super) const MESSAGE_ENUM: i32 = 4;
pub(super) const MESSAGE_EXTENSION_RANGE: i32 = 5;
pub(super) const MESSAGE_EXTENSION: i32 = 6;
pub(super) const MESSAGE_OPTIONS: i32 = 7;
pub(super) const MESSAGE_RESERVED_RANGE: i32 = 9;
pub(super) const MESSAGE_RESERVED_NAME: i32 = 10;
pub(super) const FIELD_NAME: i32 = 1;
pub(super) const FIELD_LABEL: i32 = 4;
pub(super) const FIELD_TYPE: i32 = 5;
pub(super) const FIELD_TYPE_NAME: i32 = 6;
pub(super) const FIELD_DEFAULT: i32 = 7;
pub(super) const FIELD_OPTIONS: i32 = 8;
pub(super) const FIELD_JSON_NAME: i32 = 10;
pub(super) const ENUM_VALUE: i32 = 2;
pub(super) const ENUM_RESERVED_RANGE: i32 = 4;
pub(super) const ENUM_RESERVED_NAME: i32 = 5;
pub(super) const VALUE_NUMBER: i32 = 2;
pub(super) const SERVICE_METHOD: i32 = 2;
pub(super) const METHOD_INPUT: i32 = 2;
pub(super) const METHOD_OUTPUT: i32 = 3;
pub(super) const METHOD_OPTIONS: i32 = 4;
pub(super) const METHOD_CLIENT_STREAMING: i32 = 5;
pub(super) const METHOD_SERVER_STREAMING: i32 = 6;

/// A message, enum, service or extension with where it is.
pub(super) struct Element<'a, T> {
    pub proto: &'a T,
    pub file: &'a FileDescriptorProto,
    /// Source path in `file`.
    pub path: Vec<i32>,
    /// The name inside the package (`Outer.Inner`), as buf reports deletions.
    pub nested: String,
}

/// One side of the comparison, indexed.
pub(super) struct Side<'a> {
    pub schema: &'a CompiledSchema,
    /// Own files (not google/protobuf/*) by path.
    pub files: BTreeMap<&'a str, &'a FileDescriptorProto>,
    /// Messages by full name, map entries included.
    pub messages: BTreeMap<String, Element<'a, DescriptorProto>>,
    pub enums: BTreeMap<String, Element<'a, EnumDescriptorProto>>,
    pub services: BTreeMap<String, Element<'a, ServiceDescriptorProto>>,
    /// Extensions by (extendee, number).
    pub extensions: BTreeMap<(String, i32), Element<'a, FieldDescriptorProto>>,
    /// Every enum by full name, imports included (a field may use one from google/protobuf).
    all_enums: HashMap<String, &'a EnumDescriptorProto>,
    map_entries: BTreeSet<String>,
}

fn is_own(file: &FileDescriptorProto) -> bool {
    !file.name().starts_with("google/protobuf/")
}

pub(super) fn index_i32(index: usize) -> i32 {
    i32::try_from(index).unwrap_or(i32::MAX)
}

pub(super) fn trim(name: &str) -> &str {
    name.trim_start_matches('.')
}

fn child(path: &[i32], tag: i32, index: usize) -> Vec<i32> {
    let mut path = path.to_vec();
    path.extend([tag, index_i32(index)]);
    path
}

impl<'a> Side<'a> {
    pub fn new(schema: &'a CompiledSchema) -> Self {
        let mut side = Side {
            schema,
            files: BTreeMap::new(),
            messages: BTreeMap::new(),
            enums: BTreeMap::new(),
            services: BTreeMap::new(),
            extensions: BTreeMap::new(),
            all_enums: HashMap::new(),
            map_entries: BTreeSet::new(),
        };
        for file in schema.pool().file_descriptor_protos() {
            let own = is_own(file);
            if own {
                side.files.insert(file.name(), file);
            }
            let package = file.package();
            for (index, message) in file.message_type.iter().enumerate() {
                side.add_message(file, own, package, "", message, child(&[], FILE_MESSAGE, index));
            }
            for (index, enumeration) in file.enum_type.iter().enumerate() {
                side.add_enum(file, own, package, "", enumeration, child(&[], FILE_ENUM, index));
            }
            if !own {
                continue;
            }
            for (index, extension) in file.extension.iter().enumerate() {
                side.add_extension(file, "", extension, child(&[], FILE_EXTENSION, index));
            }
            for (index, service) in file.service.iter().enumerate() {
                let element = Element {
                    proto: service,
                    file,
                    path: child(&[], FILE_SERVICE, index),
                    nested: service.name().to_owned(),
                };
                side.services.insert(qualify(package, service.name()), element);
            }
        }
        side
    }

    fn add_message(
        &mut self,
        file: &'a FileDescriptorProto,
        own: bool,
        package: &str,
        scope: &str,
        message: &'a DescriptorProto,
        path: Vec<i32>,
    ) {
        let nested = format!("{scope}{}", message.name());
        let full = qualify(package, &nested);
        if message.options.as_ref().is_some_and(prost_types::MessageOptions::map_entry) {
            self.map_entries.insert(full.clone());
        }
        let inner = format!("{nested}.");
        for (index, child_message) in message.nested_type.iter().enumerate() {
            self.add_message(file, own, package, &inner, child_message, child(&path, MESSAGE_NESTED, index));
        }
        for (index, enumeration) in message.enum_type.iter().enumerate() {
            self.add_enum(file, own, package, &inner, enumeration, child(&path, MESSAGE_ENUM, index));
        }
        if own {
            for (index, extension) in message.extension.iter().enumerate() {
                self.add_extension(file, &inner, extension, child(&path, MESSAGE_EXTENSION, index));
            }
            self.messages.insert(full, Element { proto: message, file, path, nested });
        }
    }

    fn add_enum(
        &mut self,
        file: &'a FileDescriptorProto,
        own: bool,
        package: &str,
        scope: &str,
        enumeration: &'a EnumDescriptorProto,
        path: Vec<i32>,
    ) {
        let nested = format!("{scope}{}", enumeration.name());
        let full = qualify(package, &nested);
        self.all_enums.insert(full.clone(), enumeration);
        if own {
            self.enums.insert(full, Element { proto: enumeration, file, path, nested });
        }
    }

    fn add_extension(
        &mut self,
        file: &'a FileDescriptorProto,
        scope: &str,
        extension: &'a FieldDescriptorProto,
        path: Vec<i32>,
    ) {
        let nested = format!("{scope}{}", extension.name());
        let key = (trim(extension.extendee()).to_owned(), extension.number());
        self.extensions.insert(key, Element { proto: extension, file, path, nested });
    }

    /// Where `path` (or its closest ancestor with a location) is in `file`, 1-based.
    pub fn locate(&self, file: &str, path: &[i32]) -> (u32, u32) {
        self.schema.locate(file, path)
    }

    /// Whether the message named by a field's `type_name` is a map entry.
    pub fn is_map_entry(&self, type_name: &str) -> bool {
        self.map_entries.contains(trim(type_name))
    }

    /// The enum named by a field's `type_name`, imports included.
    pub fn enumeration(&self, type_name: &str) -> Option<&'a EnumDescriptorProto> {
        self.all_enums.get(trim(type_name)).copied()
    }

    /// Whether the message `full_name` is a map entry (its fields are generated).
    pub fn message_is_map_entry(&self, full_name: &str) -> bool {
        self.map_entries.contains(full_name)
    }
}

/// `package.Name`, or `Name` without a package.
pub(super) fn qualify(package: &str, nested: &str) -> String {
    if package.is_empty() { nested.to_owned() } else { format!("{package}.{nested}") }
}

/// `proto2`, `proto3` (an empty syntax is proto2).
pub(super) fn syntax(file: &FileDescriptorProto) -> &str {
    if file.syntax().is_empty() { "proto2" } else { file.syntax() }
}

pub(super) fn is_proto3(file: &FileDescriptorProto) -> bool {
    syntax(file) == "proto3"
}

/// What the deletion rules need of any element.
pub(super) struct ElementRef<'s> {
    pub file: &'s str,
    pub package: &'s str,
    pub nested: &'s str,
    pub path: &'s [i32],
}

impl<T> Element<'_, T> {
    fn as_ref(&self) -> ElementRef<'_> {
        ElementRef {
            file: self.file.name(),
            package: self.file.package(),
            nested: &self.nested,
            path: &self.path,
        }
    }
}

impl Side<'_> {
    pub fn message_refs(&self) -> Vec<ElementRef<'_>> {
        self.messages.values().map(Element::as_ref).collect()
    }

    pub fn enum_refs(&self) -> Vec<ElementRef<'_>> {
        self.enums.values().map(Element::as_ref).collect()
    }

    pub fn extension_refs(&self) -> Vec<ElementRef<'_>> {
        self.extensions.values().map(Element::as_ref).collect()
    }

    pub fn service_refs(&self) -> Vec<ElementRef<'_>> {
        self.services.values().map(Element::as_ref).collect()
    }
}
