//! buf's breaking-change rules as a type: each rule's id and the categories it belongs to,
//! in one table (buf 1.75's `buf config ls-breaking-rules`). A rule id that is not here does
//! not compile. `make compat-vs-buf` checks the table and the rules against buf itself.

use serde::Serialize;

use crate::compat::Mode;

use Mode::{File as F, Package as P, Wire as W, WireJson as J};

macro_rules! rules {
    ($($variant:ident => $id:literal in [$($category:ident),+];)+) => {
        /// A buf breaking-change rule this checker implements.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
        #[serde(rename_all = "SCREAMING_SNAKE_CASE")]
        #[allow(missing_docs)] // each variant is buf's rule of the same name
        pub enum Rule {
            $($variant,)+
        }

        impl Rule {
            /// Every rule, in the table's order.
            pub const ALL: &[Rule] = &[$(Rule::$variant,)+];

            /// buf's id (`FIELD_SAME_JSON_NAME`).
            pub fn id(self) -> &'static str {
                match self {
                    $(Self::$variant => $id,)+
                }
            }

            /// The categories the rule belongs to (buf's table).
            pub fn categories(self) -> &'static [Mode] {
                match self {
                    $(Self::$variant => &[$($category),+],)+
                }
            }
        }
    };
}

rules! {
    // Elements deleted from a file: generated code per file.
    EnumNoDelete => "ENUM_NO_DELETE" in [F];
    ExtensionNoDelete => "EXTENSION_NO_DELETE" in [F];
    FileNoDelete => "FILE_NO_DELETE" in [F];
    MessageNoDelete => "MESSAGE_NO_DELETE" in [F];
    ServiceNoDelete => "SERVICE_NO_DELETE" in [F];
    // Elements deleted from a package.
    PackageEnumNoDelete => "PACKAGE_ENUM_NO_DELETE" in [P];
    PackageExtensionNoDelete => "PACKAGE_EXTENSION_NO_DELETE" in [P];
    PackageMessageNoDelete => "PACKAGE_MESSAGE_NO_DELETE" in [P];
    PackageNoDelete => "PACKAGE_NO_DELETE" in [P];
    PackageServiceNoDelete => "PACKAGE_SERVICE_NO_DELETE" in [P];
    // Generated code, per file or package.
    EnumSameType => "ENUM_SAME_TYPE" in [F, P];
    EnumValueNoDelete => "ENUM_VALUE_NO_DELETE" in [F, P];
    ExtensionMessageNoDelete => "EXTENSION_MESSAGE_NO_DELETE" in [F, P];
    FieldNoDelete => "FIELD_NO_DELETE" in [F, P];
    FieldSameCardinality => "FIELD_SAME_CARDINALITY" in [F, P];
    FieldSameCppStringType => "FIELD_SAME_CPP_STRING_TYPE" in [F, P];
    FieldSameJavaUtf8Validation => "FIELD_SAME_JAVA_UTF8_VALIDATION" in [F, P];
    FieldSameJstype => "FIELD_SAME_JSTYPE" in [F, P];
    FieldSameType => "FIELD_SAME_TYPE" in [F, P];
    FieldSameUtf8Validation => "FIELD_SAME_UTF8_VALIDATION" in [F, P];
    FileSameCcEnableArenas => "FILE_SAME_CC_ENABLE_ARENAS" in [F, P];
    FileSameCcGenericServices => "FILE_SAME_CC_GENERIC_SERVICES" in [F, P];
    FileSameCsharpNamespace => "FILE_SAME_CSHARP_NAMESPACE" in [F, P];
    FileSameGoPackage => "FILE_SAME_GO_PACKAGE" in [F, P];
    FileSameJavaGenericServices => "FILE_SAME_JAVA_GENERIC_SERVICES" in [F, P];
    FileSameJavaMultipleFiles => "FILE_SAME_JAVA_MULTIPLE_FILES" in [F, P];
    FileSameJavaOuterClassname => "FILE_SAME_JAVA_OUTER_CLASSNAME" in [F, P];
    FileSameJavaPackage => "FILE_SAME_JAVA_PACKAGE" in [F, P];
    FileSameObjcClassPrefix => "FILE_SAME_OBJC_CLASS_PREFIX" in [F, P];
    FileSameOptimizeFor => "FILE_SAME_OPTIMIZE_FOR" in [F, P];
    FileSamePhpClassPrefix => "FILE_SAME_PHP_CLASS_PREFIX" in [F, P];
    FileSamePhpMetadataNamespace => "FILE_SAME_PHP_METADATA_NAMESPACE" in [F, P];
    FileSamePhpNamespace => "FILE_SAME_PHP_NAMESPACE" in [F, P];
    FileSamePyGenericServices => "FILE_SAME_PY_GENERIC_SERVICES" in [F, P];
    FileSameRubyPackage => "FILE_SAME_RUBY_PACKAGE" in [F, P];
    FileSameSwiftPrefix => "FILE_SAME_SWIFT_PREFIX" in [F, P];
    FileSameSyntax => "FILE_SAME_SYNTAX" in [F, P];
    MessageNoRemoveStandardDescriptorAccessor => "MESSAGE_NO_REMOVE_STANDARD_DESCRIPTOR_ACCESSOR" in [F, P];
    OneofNoDelete => "ONEOF_NO_DELETE" in [F, P];
    RpcNoDelete => "RPC_NO_DELETE" in [F, P];
    // Names: generated code and JSON.
    EnumSameJsonFormat => "ENUM_SAME_JSON_FORMAT" in [F, P, J];
    EnumValueSameName => "ENUM_VALUE_SAME_NAME" in [F, P, J];
    FieldSameJsonName => "FIELD_SAME_JSON_NAME" in [F, P, J];
    FieldSameName => "FIELD_SAME_NAME" in [F, P, J];
    MessageSameJsonFormat => "MESSAGE_SAME_JSON_FORMAT" in [F, P, J];
    // Every category.
    FieldSameDefault => "FIELD_SAME_DEFAULT" in [F, P, J, W];
    FieldSameOneof => "FIELD_SAME_ONEOF" in [F, P, J, W];
    FileSamePackage => "FILE_SAME_PACKAGE" in [F, P, J, W];
    MessageSameRequiredFields => "MESSAGE_SAME_REQUIRED_FIELDS" in [F, P, J, W];
    ReservedEnumNoDelete => "RESERVED_ENUM_NO_DELETE" in [F, P, J, W];
    ReservedMessageNoDelete => "RESERVED_MESSAGE_NO_DELETE" in [F, P, J, W];
    RpcSameClientStreaming => "RPC_SAME_CLIENT_STREAMING" in [F, P, J, W];
    RpcSameIdempotencyLevel => "RPC_SAME_IDEMPOTENCY_LEVEL" in [F, P, J, W];
    RpcSameRequestType => "RPC_SAME_REQUEST_TYPE" in [F, P, J, W];
    RpcSameResponseType => "RPC_SAME_RESPONSE_TYPE" in [F, P, J, W];
    RpcSameServerStreaming => "RPC_SAME_SERVER_STREAMING" in [F, P, J, W];
    // The encodings.
    EnumValueNoDeleteUnlessNameReserved => "ENUM_VALUE_NO_DELETE_UNLESS_NAME_RESERVED" in [J];
    FieldNoDeleteUnlessNameReserved => "FIELD_NO_DELETE_UNLESS_NAME_RESERVED" in [J];
    FieldWireJsonCompatibleCardinality => "FIELD_WIRE_JSON_COMPATIBLE_CARDINALITY" in [J];
    FieldWireJsonCompatibleType => "FIELD_WIRE_JSON_COMPATIBLE_TYPE" in [J];
    EnumValueNoDeleteUnlessNumberReserved => "ENUM_VALUE_NO_DELETE_UNLESS_NUMBER_RESERVED" in [J, W];
    FieldNoDeleteUnlessNumberReserved => "FIELD_NO_DELETE_UNLESS_NUMBER_RESERVED" in [J, W];
    FieldWireCompatibleCardinality => "FIELD_WIRE_COMPATIBLE_CARDINALITY" in [W];
    FieldWireCompatibleType => "FIELD_WIRE_COMPATIBLE_TYPE" in [W];
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
        for &rule in Rule::ALL {
            assert_eq!(serde_json::to_value(rule).unwrap(), rule.id());
        }
        assert_eq!(Rule::FieldWireCompatibleType.categories(), &[Mode::Wire]);
        assert_eq!(Rule::FileSamePackage.categories(), &Mode::ALL);
    }
}
