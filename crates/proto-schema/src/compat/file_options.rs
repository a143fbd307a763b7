//! The file options buf's `FILE_SAME_*` rules compare, with their defaults.

use prost_types::FileOptions;

use crate::rules::Rule;

/// One file option: its name, its field number in `FileOptions`, its rule and its value
/// (the default when unset, so writing the default out is no change).
pub(super) struct FileOption {
    pub name: &'static str,
    pub number: i32,
    pub rule: Rule,
    value: fn(&FileOptions) -> String,
}

impl FileOption {
    pub fn value(&self, options: &FileOptions) -> String {
        (self.value)(options)
    }
}

macro_rules! options {
    ($($name:ident = $number:literal => $rule:ident;)+) => {
        pub(super) const ALL: &[FileOption] = &[$(FileOption {
            name: stringify!($name),
            number: $number,
            rule: Rule::$rule,
            value: |options| format!("{:?}", options.$name()),
        },)+];
    };
}

options! {
    java_package = 1 => FileSameJavaPackage;
    java_outer_classname = 8 => FileSameJavaOuterClassname;
    optimize_for = 9 => FileSameOptimizeFor;
    java_multiple_files = 10 => FileSameJavaMultipleFiles;
    go_package = 11 => FileSameGoPackage;
    cc_generic_services = 16 => FileSameCcGenericServices;
    java_generic_services = 17 => FileSameJavaGenericServices;
    py_generic_services = 18 => FileSamePyGenericServices;
    cc_enable_arenas = 31 => FileSameCcEnableArenas;
    objc_class_prefix = 36 => FileSameObjcClassPrefix;
    csharp_namespace = 37 => FileSameCsharpNamespace;
    swift_prefix = 39 => FileSameSwiftPrefix;
    php_class_prefix = 40 => FileSamePhpClassPrefix;
    php_namespace = 41 => FileSamePhpNamespace;
    php_metadata_namespace = 44 => FileSamePhpMetadataNamespace;
    ruby_package = 45 => FileSameRubyPackage;
}
