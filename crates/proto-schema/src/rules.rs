//! buf's breaking-change rules as a type: each rule's id and the categories it belongs to,
//! in one table. A rule id that is not here does not compile.

use serde::Serialize;

use crate::compat::Mode;

/// A buf breaking-change rule this checker implements.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
#[allow(missing_docs)] // each variant is buf's rule of the same name
pub enum Rule {
    EnumNoDelete,
    EnumValueNoDelete,
    EnumValueNoDeleteUnlessNameReserved,
    EnumValueNoDeleteUnlessNumberReserved,
    EnumValueSameName,
    FieldNoDelete,
    FieldNoDeleteUnlessNameReserved,
    FieldNoDeleteUnlessNumberReserved,
    FieldSameCardinality,
    FieldSameDefault,
    FieldSameJsonName,
    FieldSameName,
    FieldSameOneof,
    FieldSameType,
    FieldWireCompatibleCardinality,
    FieldWireCompatibleType,
    FieldWireJsonCompatibleCardinality,
    FieldWireJsonCompatibleType,
    FileNoDelete,
    FileSameGoPackage,
    FileSameJavaMultipleFiles,
    FileSameJavaPackage,
    FileSamePackage,
    FileSameSyntax,
    MessageNoDelete,
    MessageSameRequiredFields,
    OneofNoDelete,
    PackageEnumNoDelete,
    PackageMessageNoDelete,
    PackageNoDelete,
    PackageServiceNoDelete,
    ReservedEnumNoDelete,
    ReservedMessageNoDelete,
    RpcNoDelete,
    RpcSameClientStreaming,
    RpcSameRequestType,
    RpcSameResponseType,
    RpcSameServerStreaming,
    ServiceNoDelete,
}

use Mode::{File as F, Package as P, Wire as W, WireJson as J};

impl Rule {
    /// buf's id (`FIELD_SAME_JSON_NAME`).
    pub fn id(self) -> &'static str {
        match self {
            Self::EnumNoDelete => "ENUM_NO_DELETE",
            Self::EnumValueNoDelete => "ENUM_VALUE_NO_DELETE",
            Self::EnumValueNoDeleteUnlessNameReserved => "ENUM_VALUE_NO_DELETE_UNLESS_NAME_RESERVED",
            Self::EnumValueNoDeleteUnlessNumberReserved => "ENUM_VALUE_NO_DELETE_UNLESS_NUMBER_RESERVED",
            Self::EnumValueSameName => "ENUM_VALUE_SAME_NAME",
            Self::FieldNoDelete => "FIELD_NO_DELETE",
            Self::FieldNoDeleteUnlessNameReserved => "FIELD_NO_DELETE_UNLESS_NAME_RESERVED",
            Self::FieldNoDeleteUnlessNumberReserved => "FIELD_NO_DELETE_UNLESS_NUMBER_RESERVED",
            Self::FieldSameCardinality => "FIELD_SAME_CARDINALITY",
            Self::FieldSameDefault => "FIELD_SAME_DEFAULT",
            Self::FieldSameJsonName => "FIELD_SAME_JSON_NAME",
            Self::FieldSameName => "FIELD_SAME_NAME",
            Self::FieldSameOneof => "FIELD_SAME_ONEOF",
            Self::FieldSameType => "FIELD_SAME_TYPE",
            Self::FieldWireCompatibleCardinality => "FIELD_WIRE_COMPATIBLE_CARDINALITY",
            Self::FieldWireCompatibleType => "FIELD_WIRE_COMPATIBLE_TYPE",
            Self::FieldWireJsonCompatibleCardinality => "FIELD_WIRE_JSON_COMPATIBLE_CARDINALITY",
            Self::FieldWireJsonCompatibleType => "FIELD_WIRE_JSON_COMPATIBLE_TYPE",
            Self::FileNoDelete => "FILE_NO_DELETE",
            Self::FileSameGoPackage => "FILE_SAME_GO_PACKAGE",
            Self::FileSameJavaMultipleFiles => "FILE_SAME_JAVA_MULTIPLE_FILES",
            Self::FileSameJavaPackage => "FILE_SAME_JAVA_PACKAGE",
            Self::FileSamePackage => "FILE_SAME_PACKAGE",
            Self::FileSameSyntax => "FILE_SAME_SYNTAX",
            Self::MessageNoDelete => "MESSAGE_NO_DELETE",
            Self::MessageSameRequiredFields => "MESSAGE_SAME_REQUIRED_FIELDS",
            Self::OneofNoDelete => "ONEOF_NO_DELETE",
            Self::PackageEnumNoDelete => "PACKAGE_ENUM_NO_DELETE",
            Self::PackageMessageNoDelete => "PACKAGE_MESSAGE_NO_DELETE",
            Self::PackageNoDelete => "PACKAGE_NO_DELETE",
            Self::PackageServiceNoDelete => "PACKAGE_SERVICE_NO_DELETE",
            Self::ReservedEnumNoDelete => "RESERVED_ENUM_NO_DELETE",
            Self::ReservedMessageNoDelete => "RESERVED_MESSAGE_NO_DELETE",
            Self::RpcNoDelete => "RPC_NO_DELETE",
            Self::RpcSameClientStreaming => "RPC_SAME_CLIENT_STREAMING",
            Self::RpcSameRequestType => "RPC_SAME_REQUEST_TYPE",
            Self::RpcSameResponseType => "RPC_SAME_RESPONSE_TYPE",
            Self::RpcSameServerStreaming => "RPC_SAME_SERVER_STREAMING",
            Self::ServiceNoDelete => "SERVICE_NO_DELETE",
        }
    }

    /// The categories the rule belongs to (buf's table).
    pub fn categories(self) -> &'static [Mode] {
        match self {
            Self::FileNoDelete
            | Self::FileSamePackage
            | Self::MessageNoDelete
            | Self::EnumNoDelete
            | Self::ServiceNoDelete => &[F],
            Self::PackageNoDelete
            | Self::PackageMessageNoDelete
            | Self::PackageEnumNoDelete
            | Self::PackageServiceNoDelete => &[P],
            Self::FileSameSyntax
            | Self::FileSameJavaPackage
            | Self::FileSameGoPackage
            | Self::FileSameJavaMultipleFiles
            | Self::FieldNoDelete
            | Self::FieldSameType
            | Self::FieldSameCardinality
            | Self::OneofNoDelete
            | Self::EnumValueNoDelete
            | Self::RpcNoDelete => &[F, P],
            Self::FieldSameName | Self::FieldSameJsonName | Self::EnumValueSameName => &[F, P, J],
            Self::FieldNoDeleteUnlessNameReserved
            | Self::EnumValueNoDeleteUnlessNameReserved
            | Self::FieldWireJsonCompatibleType
            | Self::FieldWireJsonCompatibleCardinality => &[J],
            Self::FieldNoDeleteUnlessNumberReserved | Self::EnumValueNoDeleteUnlessNumberReserved => &[J, W],
            Self::FieldWireCompatibleType | Self::FieldWireCompatibleCardinality => &[W],
            Self::FieldSameOneof
            | Self::FieldSameDefault
            | Self::MessageSameRequiredFields
            | Self::ReservedEnumNoDelete
            | Self::ReservedMessageNoDelete
            | Self::RpcSameClientStreaming
            | Self::RpcSameRequestType
            | Self::RpcSameResponseType
            | Self::RpcSameServerStreaming => &[F, P, J, W],
        }
    }
}

impl std::fmt::Display for Rule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.id())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_the_serialised_names() {
        for rule in [Rule::FieldSameJsonName, Rule::EnumValueNoDeleteUnlessNumberReserved, Rule::RpcNoDelete]
        {
            assert_eq!(serde_json::to_value(rule).unwrap(), rule.id());
        }
        assert_eq!(Rule::FieldWireCompatibleType.categories(), &[Mode::Wire]);
    }
}
