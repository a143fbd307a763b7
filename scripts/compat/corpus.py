#!/usr/bin/env python3
"""The schema-change corpus of `make compat-vs-buf`.

Writes OUT/<module>/old/<case>/... and OUT/<module>/new/<case>/...: one directory per case, each case in its own
packages (`<case>.v1`, ...) so that all cases live in one module and `buf breaking` and
`druidctl check` run once per category over the whole corpus. OUT/cases.json lists the cases
with their family. Systematic where the space is small (every scalar type to every other, every
cardinality and presence change), one case per kind of change elsewhere.
"""
import itertools
import json
import pathlib
import sys

SCALARS = ["double", "float", "int32", "int64", "uint32", "uint64", "sint32", "sint64",
           "fixed32", "fixed64", "sfixed32", "sfixed64", "bool", "string", "bytes"]

cases = []  # (name, family, old files, new files)


def case(name, family, old, new):
    cases.append((name, family, old, new))


def p3(pkg, body, extra=""):
    return f'syntax = "proto3";\npackage {pkg};\n{extra}\n{body}\n'


def p2(pkg, body, extra=""):
    return f'syntax = "proto2";\npackage {pkg};\n{extra}\n{body}\n'


def ed(pkg, body, extra=""):
    return f'edition = "2023";\npackage {pkg};\n{extra}\n{body}\n'


def one(name, family, old_body, new_body, syntax=p3, old_extra="", new_extra=""):
    """A single-file case: a.proto in package <name>.v1."""
    pkg = f"{name}.v1"
    case(name, family, {"a.proto": syntax(pkg, old_body, old_extra)},
         {"a.proto": syntax(pkg, new_body, new_extra)})


# -- every scalar type to every other (proto3, singular) ------------------------------------
for old, new in itertools.permutations(SCALARS, 2):
    one(f"scalar_{old}_to_{new}", "scalar-type",
        f"message M {{ {old} f = 1; }}", f"message M {{ {new} f = 1; }}")
# and repeated (packed encodings), proto2 optional
for old, new in [("int32", "int64"), ("int64", "sint64"), ("int32", "uint32"), ("fixed32", "sfixed32"),
                 ("string", "bytes"), ("bytes", "string"), ("int64", "uint64"), ("float", "double")]:
    one(f"repeated_{old}_to_{new}", "scalar-type",
        f"message M {{ repeated {old} f = 1; }}", f"message M {{ repeated {new} f = 1; }}")
    one(f"p2_{old}_to_{new}", "scalar-type",
        f"message M {{ optional {old} f = 1; }}", f"message M {{ optional {new} f = 1; }}", syntax=p2)

# -- enums, messages and scalars --------------------------------------------------------------
SVC_MSGS = "message Req {} message Res {} message Other {}"
ENUM = "enum E { E_UNSPECIFIED = 0; E_A = 1; E_B = 2; }"
ENUM2 = "enum E2 { E2_UNSPECIFIED = 0; E2_A = 1; E2_B = 2; }"
for scalar in ["int32", "int64", "uint32", "uint64", "sint32", "bool", "string", "fixed32"]:
    one(f"enum_to_{scalar}", "enum-type", f"{ENUM} message M {{ E f = 1; }}",
        f"{ENUM} message M {{ {scalar} f = 1; }}")
    one(f"{scalar}_to_enum", "enum-type", f"{ENUM} message M {{ {scalar} f = 1; }}",
        f"{ENUM} message M {{ E f = 1; }}")
one("enum_to_other_enum", "enum-type", f"{ENUM} {ENUM2} message M {{ E f = 1; }}",
    f"{ENUM} {ENUM2} message M {{ E2 f = 1; }}")
one("enum_to_same_short_name_superset", "enum-type",
    "message A { enum E { X = 0; Y = 1; } } message B { enum E { X = 0; Y = 1; Z = 2; } } message M { A.E f = 1; }",
    "message A { enum E { X = 0; Y = 1; } } message B { enum E { X = 0; Y = 1; Z = 2; } } message M { B.E f = 1; }")
one("enum_to_same_short_name_subset", "enum-type",
    "message A { enum E { X = 0; Y = 1; Z = 2; } } message B { enum E { X = 0; Y = 1; } } message M { A.E f = 1; }",
    "message A { enum E { X = 0; Y = 1; Z = 2; } } message B { enum E { X = 0; Y = 1; } } message M { B.E f = 1; }")
one("message_to_other_message", "message-type", "message A { int32 x = 1; } message B { int32 x = 1; } message M { A f = 1; }",
    "message A { int32 x = 1; } message B { int32 x = 1; } message M { B f = 1; }")
for scalar in ["bytes", "string", "int32"]:
    one(f"message_to_{scalar}", "message-type", "message A { int32 x = 1; } message M { A f = 1; }",
        f"message A {{ int32 x = 1; }} message M {{ {scalar} f = 1; }}")
    one(f"{scalar}_to_message", "message-type", f"message A {{ int32 x = 1; }} message M {{ {scalar} f = 1; }}",
        "message A { int32 x = 1; } message M { A f = 1; }")
one("p2_group_to_message", "message-type",
    "message M { optional group G = 1 { optional int32 x = 2; } }",
    "message M { message G { optional int32 x = 2; } optional G g = 1; }", syntax=p2)
one("ed_message_to_delimited", "message-type", "message A { int32 x = 1; } message M { A f = 1; }",
    "message A { int32 x = 1; } message M { A f = 1 [features.message_encoding = DELIMITED]; }", syntax=ed)
one("wkt_timestamp_to_int64", "message-type", "message M { google.protobuf.Timestamp f = 1; }",
    "message M { int64 f = 1; }", old_extra='import "google/protobuf/timestamp.proto";',
    new_extra='import "google/protobuf/timestamp.proto";')
one("wkt_int64value_to_int64", "message-type", "message M { google.protobuf.Int64Value f = 1; }",
    "message M { int64 f = 1; }", old_extra='import "google/protobuf/wrappers.proto";',
    new_extra='import "google/protobuf/wrappers.proto";')

# -- maps ---------------------------------------------------------------------------------------
one("map_value_int32_to_int64", "map", "message M { map<string, int32> f = 1; }", "message M { map<string, int64> f = 1; }")
one("map_value_int64_to_sint64", "map", "message M { map<string, int64> f = 1; }", "message M { map<string, sint64> f = 1; }")
one("map_key_int32_to_int64", "map", "message M { map<int32, string> f = 1; }", "message M { map<int64, string> f = 1; }")
one("map_key_string_to_int32", "map", "message M { map<string, string> f = 1; }", "message M { map<int32, string> f = 1; }")
one("map_value_message_to_other", "map", "message A {} message B {} message M { map<string, A> f = 1; }",
    "message A {} message B {} message M { map<string, B> f = 1; }")
one("map_deleted", "map", "message M { map<string, int32> f = 1; int32 g = 2; }", "message M { int32 g = 2; }")
one("map_renamed", "map", "message M { map<string, int32> f = 1; }", "message M { map<string, int32> g = 1; }")
one("map_to_repeated_entry", "map", "message M { map<string, int32> f = 1; }",
    "message M { message FEntry { string key = 1; int32 value = 2; } repeated FEntry f = 1; }")
one("repeated_message_to_map", "map", "message M { message FEntry { string key = 1; int32 value = 2; } repeated FEntry f = 1; }",
    "message M { map<string, int32> f = 1; }")

# -- cardinality and presence ---------------------------------------------------------------
P3_LABELS = {"singular": "", "optional": "optional ", "repeated": "repeated "}
for (old, new) in itertools.permutations(P3_LABELS, 2):
    for scalar in ["int32", "string", "A"]:
        one(f"card_{old}_to_{new}_{scalar.lower()}", "cardinality",
            f"message A {{}} message M {{ {P3_LABELS[old]}{scalar} f = 1; }}",
            f"message A {{}} message M {{ {P3_LABELS[new]}{scalar} f = 1; }}")
P2_LABELS = ["optional", "required", "repeated"]
for (old, new) in itertools.permutations(P2_LABELS, 2):
    for scalar in ["int32", "string"]:
        one(f"p2card_{old}_to_{new}_{scalar}", "cardinality",
            f"message M {{ {old} {scalar} f = 1; }}", f"message M {{ {new} {scalar} f = 1; }}", syntax=p2)
for (old, new) in itertools.permutations(["EXPLICIT", "IMPLICIT", "LEGACY_REQUIRED"], 2):
    one(f"edcard_{old.lower()}_to_{new.lower()}", "cardinality",
        f"message M {{ int32 f = 1 [features.field_presence = {old}]; }}",
        f"message M {{ int32 f = 1 [features.field_presence = {new}]; }}", syntax=ed)
one("edcard_default_to_implicit", "cardinality", "message M { int32 f = 1; }",
    "message M { int32 f = 1 [features.field_presence = IMPLICIT]; }", syntax=ed)
one("ed_packed_to_expanded", "cardinality", "message M { repeated int32 f = 1; }",
    "message M { repeated int32 f = 1 [features.repeated_field_encoding = EXPANDED]; }", syntax=ed)
one("p2_required_added", "cardinality", "message M { optional int32 f = 1; }",
    "message M { optional int32 f = 1; required int32 g = 2; }", syntax=p2)
one("p2_required_deleted", "cardinality", "message M { optional int32 f = 1; required int32 g = 2; }",
    "message M { optional int32 f = 1; }", syntax=p2)

# -- names, numbers, deletes, reserved -------------------------------------------------------
one("field_renamed", "field", "message M { int32 amount = 1; }", "message M { int32 total = 1; }")
one("field_renamed_same_json", "field", "message M { int32 foo_bar = 1; }", "message M { int32 fooBar = 1; }")
one("field_json_name_added", "field", "message M { int32 f = 1; }", 'message M { int32 f = 1 [json_name = "g"]; }')
one("field_json_name_same_as_default", "field", "message M { int32 foo_bar = 1; }",
    'message M { int32 foo_bar = 1 [json_name = "fooBar"]; }')
one("field_renumbered", "field", "message M { int32 f = 1; }", "message M { int32 f = 2; }")
one("field_deleted", "field", "message M { int32 f = 1; int32 g = 2; }", "message M { int32 g = 2; }")
one("field_deleted_number_reserved", "field", "message M { int32 f = 1; int32 g = 2; }",
    "message M { reserved 1; int32 g = 2; }")
one("field_deleted_name_reserved", "field", "message M { int32 f = 1; int32 g = 2; }",
    'message M { reserved "f"; int32 g = 2; }')
one("field_deleted_both_reserved", "field", "message M { int32 f = 1; int32 g = 2; }",
    'message M { reserved 1; reserved "f"; int32 g = 2; }')
one("field_added", "field", "message M { int32 f = 1; }", "message M { int32 f = 1; string g = 2; }")
one("reserved_range_removed", "field", "message M { reserved 5 to 10; int32 f = 1; }", "message M { int32 f = 1; }")
one("reserved_range_shrunk", "field", "message M { reserved 5 to 10; int32 f = 1; }", "message M { reserved 5 to 8; int32 f = 1; }")
one("reserved_range_split", "field", "message M { reserved 5 to 10; int32 f = 1; }",
    "message M { reserved 5 to 7, 8 to 10; int32 f = 1; }")
one("reserved_name_removed", "field", 'message M { reserved "x"; int32 f = 1; }', "message M { int32 f = 1; }")
one("field_deprecated", "field", "message M { int32 f = 1; }", "message M { int32 f = 1 [deprecated = true]; }")
one("field_jstype", "field", "message M { int64 f = 1; }", "message M { int64 f = 1 [jstype = JS_STRING]; }")
one("field_ctype", "field", "message M { string f = 1; }", "message M { string f = 1 [ctype = CORD]; }", syntax=p3)
one("p2_packed_added", "field", "message M { repeated int32 f = 1; }", "message M { repeated int32 f = 1 [packed = true]; }", syntax=p2)
one("p2_default_changed", "field", "message M { optional int32 f = 1 [default = 1]; }",
    "message M { optional int32 f = 1 [default = 2]; }", syntax=p2)
one("p2_default_added", "field", "message M { optional int32 f = 1; }",
    "message M { optional int32 f = 1 [default = 5]; }", syntax=p2)
one("p2_default_zero_added", "field", "message M { optional int32 f = 1; }",
    "message M { optional int32 f = 1 [default = 0]; }", syntax=p2)
one("p2_default_float_spelling", "field", "message M { optional float f = 1 [default = 1.0]; }",
    "message M { optional float f = 1 [default = 1]; }", syntax=p2)
one("p2_default_string_changed", "field", 'message M { optional string f = 1 [default = "a"]; }',
    'message M { optional string f = 1 [default = "b"]; }', syntax=p2)
one("p2_default_enum_changed", "field", "enum E { A = 0; B = 1; } message M { optional E f = 1 [default = A]; }",
    "enum E { A = 0; B = 1; } message M { optional E f = 1 [default = B]; }", syntax=p2)
one("ed_utf8_validation", "field", "message M { string f = 1; }",
    "message M { string f = 1 [features.utf8_validation = NONE]; }", syntax=ed)
one("p2_java_string_check_utf8", "field", "message M { optional string f = 1; }",
    "message M { optional string f = 1; }", syntax=p2, new_extra="option java_string_check_utf8 = true;")

# -- oneofs ---------------------------------------------------------------------------------------
one("oneof_field_moved_in", "oneof", "message M { int32 f = 1; oneof o { string g = 2; } }",
    "message M { oneof o { int32 f = 1; string g = 2; } }")
one("oneof_field_moved_out", "oneof", "message M { oneof o { int32 f = 1; string g = 2; } }",
    "message M { int32 f = 1; oneof o { string g = 2; } }")
one("oneof_field_moved_between", "oneof", "message M { oneof a { int32 f = 1; } oneof b { string g = 2; } }",
    "message M { oneof a { string x = 3; } oneof b { string g = 2; int32 f = 1; } }")
one("oneof_deleted", "oneof", "message M { oneof o { int32 f = 1; string g = 2; } }",
    "message M { int32 f = 1; string g = 2; }")
one("oneof_renamed", "oneof", "message M { oneof o { int32 f = 1; } }", "message M { oneof p { int32 f = 1; } }")
one("oneof_single_wrapped", "oneof", "message M { int32 f = 1; }", "message M { oneof o { int32 f = 1; } }")
one("oneof_optional_to_oneof", "oneof", "message M { optional int32 f = 1; }", "message M { oneof o { int32 f = 1; } }")

# -- enums ---------------------------------------------------------------------------------------
one("enum_value_renamed", "enum", "enum S { S_UNSPECIFIED = 0; S_SETTLED = 3; }",
    "enum S { S_UNSPECIFIED = 0; S_CLEARED = 3; }")
one("enum_value_renumbered", "enum", "enum S { S_UNSPECIFIED = 0; S_SETTLED = 3; }",
    "enum S { S_UNSPECIFIED = 0; S_SETTLED = 4; }")
one("enum_value_deleted", "enum", "enum S { S_UNSPECIFIED = 0; S_A = 1; S_B = 2; }",
    "enum S { S_UNSPECIFIED = 0; S_A = 1; }")
one("enum_value_deleted_number_reserved", "enum", "enum S { S_UNSPECIFIED = 0; S_A = 1; S_B = 2; }",
    "enum S { S_UNSPECIFIED = 0; S_A = 1; reserved 2; }")
one("enum_value_deleted_name_reserved", "enum", "enum S { S_UNSPECIFIED = 0; S_A = 1; S_B = 2; }",
    'enum S { S_UNSPECIFIED = 0; S_A = 1; reserved "S_B"; }')
one("enum_value_deleted_range_end", "enum", "enum S { S_UNSPECIFIED = 0; S_A = 1; S_B = 2; S_C = 3; }",
    "enum S { S_UNSPECIFIED = 0; S_A = 1; reserved 2 to 3; }")
one("enum_value_added", "enum", "enum S { S_UNSPECIFIED = 0; S_A = 1; }", "enum S { S_UNSPECIFIED = 0; S_A = 1; S_B = 2; }")
one("enum_alias_added", "enum", "enum S { S_UNSPECIFIED = 0; S_A = 1; }",
    "enum S { option allow_alias = true; S_UNSPECIFIED = 0; S_A = 1; S_ALIAS = 1; }")
one("enum_alias_removed", "enum", "enum S { option allow_alias = true; S_UNSPECIFIED = 0; S_A = 1; S_ALIAS = 1; }",
    "enum S { S_UNSPECIFIED = 0; S_A = 1; }")
one("enum_alias_swapped", "enum", "enum S { option allow_alias = true; S_UNSPECIFIED = 0; S_A = 1; S_ALIAS = 1; }",
    "enum S { S_UNSPECIFIED = 0; S_OTHER = 1; }")
one("enum_reserved_range_removed", "enum", "enum S { S_UNSPECIFIED = 0; reserved 5 to 9; }",
    "enum S { S_UNSPECIFIED = 0; }")
one("enum_reserved_name_removed", "enum", 'enum S { S_UNSPECIFIED = 0; reserved "S_X"; }',
    "enum S { S_UNSPECIFIED = 0; }")
one("enum_open_to_closed", "enum", "enum S { S_UNSPECIFIED = 0; S_A = 1; }",
    "enum S { option features.enum_type = CLOSED; S_UNSPECIFIED = 0; S_A = 1; }", syntax=ed)
one("enum_json_format_legacy", "enum", "enum S { S_UNSPECIFIED = 0; S_A = 1; }",
    "enum S { option features.json_format = LEGACY_BEST_EFFORT; S_UNSPECIFIED = 0; S_A = 1; }", syntax=ed)
one("message_json_format_legacy", "message", "message M { int32 f = 1; }",
    "message M { option features.json_format = LEGACY_BEST_EFFORT; int32 f = 1; }", syntax=ed)
one("enum_deleted", "enum", "enum S { S_UNSPECIFIED = 0; } message M {}", "message M {}")
one("nested_enum_deleted", "enum", "message M { enum S { S_UNSPECIFIED = 0; } }", "message M {}")
one("nested_enum_to_top_level", "enum", "message M { enum S { S_UNSPECIFIED = 0; } S f = 1; }",
    "enum S { S_UNSPECIFIED = 0; } message M { S f = 1; }")

# -- messages, files, packages ------------------------------------------------------------------
one("message_deleted", "message", "message A {} message M {}", "message M {}")
one("nested_message_deleted", "message", "message M { message N {} }", "message M {}")
one("nested_message_to_top_level", "message", "message M { message N { int32 x = 1; } N n = 1; }",
    "message N { int32 x = 1; } message M { N n = 1; }")
one("message_renamed", "message", "message A { int32 x = 1; }", "message B { int32 x = 1; }")
one("message_no_standard_descriptor_accessor", "message", "message M { int32 f = 1; }",
    "message M { option no_standard_descriptor_accessor = true; int32 f = 1; }")
one("message_deprecated", "message", "message M { int32 f = 1; }", "message M { option deprecated = true; int32 f = 1; }")
one("extension_range_removed", "message", "message M { optional int32 f = 1; extensions 100 to 199; }",
    "message M { optional int32 f = 1; }", syntax=p2)
one("extension_deleted", "message", "message M { optional int32 f = 1; extensions 100 to 199; } extend M { optional int32 x = 100; }",
    "message M { optional int32 f = 1; extensions 100 to 199; }", syntax=p2)
one("extension_type_changed", "message", "message M { optional int32 f = 1; extensions 100 to 199; } extend M { optional int32 x = 100; }",
    "message M { optional int32 f = 1; extensions 100 to 199; } extend M { optional sint32 x = 100; }", syntax=p2)
one("syntax_proto2_to_proto3", "file", "message M { optional int32 f = 1; }", "message M { optional int32 f = 1; }")
case("syntax_proto2_to_proto3_real", "file", {"a.proto": p2("syntax_proto2_to_proto3_real.v1", "message M { optional int32 f = 1; }")},
     {"a.proto": p3("syntax_proto2_to_proto3_real.v1", "message M { optional int32 f = 1; }")})
for old_syntax, new_syntax in [(p2, p3), (p3, p2)]:
    label = "p2_to_p3" if old_syntax is p2 else "p3_to_p2"
    body = "enum E { E_UNSPECIFIED = 0; E_A = 1; } message M { optional string s = 1; optional E e = 2; map<string, int32> m = 3; repeated int32 r = 4; }"
    case(f"syntax_{label}_strings_enums", "file", {"a.proto": old_syntax(f"syntax_{label}_strings_enums.v1", body)},
         {"a.proto": new_syntax(f"syntax_{label}_strings_enums.v1", body)})
case("syntax_proto3_to_editions", "file", {"a.proto": p3("syntax_proto3_to_editions.v1", "message M { int32 f = 1; }")},
     {"a.proto": ed("syntax_proto3_to_editions.v1", "message M { int32 f = 1 [features.field_presence = IMPLICIT]; }")})
case("syntax_proto2_to_editions", "file", {"a.proto": p2("syntax_proto2_to_editions.v1", "message M { optional int32 f = 1; }")},
     {"a.proto": ed("syntax_proto2_to_editions.v1", "message M { int32 f = 1; }")})
case("package_renamed", "file", {"a.proto": p3("package_renamed.v1", "message M { int32 f = 1; }")},
     {"a.proto": p3("package_renamed.v2", "message M { int32 f = 1; }")})
case("file_renamed", "file", {"a.proto": p3("file_renamed.v1", "message M { int32 f = 1; }")},
     {"b.proto": p3("file_renamed.v1", "message M { int32 f = 1; }")})
case("file_moved_dir", "file", {"a.proto": p3("file_moved_dir.v1", "message M { int32 f = 1; }")},
     {"sub/a.proto": p3("file_moved_dir.v1", "message M { int32 f = 1; }")})
case("file_deleted", "file", {"a.proto": p3("file_deleted.v1", "message M {}"), "b.proto": p3("file_deleted.v1", "message N {}")},
     {"a.proto": p3("file_deleted.v1", "message M {}")})
case("file_deleted_package_gone", "file", {"a.proto": p3("file_deleted_package_gone.v1", "message M {}"),
                                           "b.proto": p3("file_deleted_package_gone.v2", "message N {}")},
     {"a.proto": p3("file_deleted_package_gone.v1", "message M {}")})
case("message_moved_file", "file",
     {"a.proto": p3("message_moved_file.v1", "message M {} message N {}"), "b.proto": p3("message_moved_file.v1", "message O {}")},
     {"a.proto": p3("message_moved_file.v1", "message M {}"), "b.proto": p3("message_moved_file.v1", "message O {} message N {}")})
case("enum_moved_file", "file",
     {"a.proto": p3("enum_moved_file.v1", "enum E { E_UNSPECIFIED = 0; } message M {}"), "b.proto": p3("enum_moved_file.v1", "message O {}")},
     {"a.proto": p3("enum_moved_file.v1", "message M {}"), "b.proto": p3("enum_moved_file.v1", "message O {} enum E { E_UNSPECIFIED = 0; }")})
case("service_moved_file", "file",
     {"a.proto": p3("service_moved_file.v1", "message M {} service S { rpc Do(M) returns (M); }"), "b.proto": p3("service_moved_file.v1", "message O {}")},
     {"a.proto": p3("service_moved_file.v1", "message M {}"),
      "b.proto": p3("service_moved_file.v1", 'import "service_moved_file/a.proto"; message O {} service S { rpc Do(M) returns (M); }')})
case("message_moved_package", "file",
     {"a.proto": p3("message_moved_package.v1", "message M {} message N {}"), "b.proto": p3("message_moved_package.v2", "message O {}")},
     {"a.proto": p3("message_moved_package.v1", "message M {}"), "b.proto": p3("message_moved_package.v2", "message O {} message N {}")})
case("import_added", "file", {"a.proto": p3("import_added.v1", "message M {}"), "b.proto": p3("import_added.v1", "message B {}")},
     {"a.proto": p3("import_added.v1", 'import "import_added/b.proto"; message M { B b = 1; }'), "b.proto": p3("import_added.v1", "message B {}")})
case("import_removed", "file", {"a.proto": p3("import_removed.v1", 'import "import_removed/b.proto"; message M {}'), "b.proto": p3("import_removed.v1", "message B {}")},
     {"a.proto": p3("import_removed.v1", "message M {}"), "b.proto": p3("import_removed.v1", "message B {}")})
case("import_made_public", "file", {"a.proto": p3("import_made_public.v1", 'import "import_made_public/b.proto"; message M {}'), "b.proto": p3("import_made_public.v1", "message B {}")},
     {"a.proto": p3("import_made_public.v1", 'import public "import_made_public/b.proto"; message M {}'), "b.proto": p3("import_made_public.v1", "message B {}")})
case("type_moved_to_imported_file", "file",
     {"a.proto": p3("type_moved_to_imported_file.v1", "message M { N n = 1; } message N {}"), "b.proto": p3("type_moved_to_imported_file.v1", "message O {}")},
     {"a.proto": p3("type_moved_to_imported_file.v1", 'import "type_moved_to_imported_file/b.proto"; message M { N n = 1; }'),
      "b.proto": p3("type_moved_to_imported_file.v1", "message O {} message N {}")})
for option, old, new in [("java_package", '"com.a"', '"com.b"'), ("java_outer_classname", '"A"', '"B"'),
                         ("java_multiple_files", "false", "true"), ("go_package", '"a/b"', '"a/c"'),
                         ("optimize_for", "SPEED", "CODE_SIZE"), ("csharp_namespace", '"A"', '"B"'),
                         ("objc_class_prefix", '"AB"', '"CD"'), ("php_namespace", '"A"', '"B"'),
                         ("php_class_prefix", '"A"', '"B"'), ("php_metadata_namespace", '"A"', '"B"'),
                         ("ruby_package", '"A"', '"B"'), ("swift_prefix", '"A"', '"B"'),
                         ("cc_enable_arenas", "true", "false"), ("cc_generic_services", "false", "true"),
                         ("java_generic_services", "false", "true"), ("py_generic_services", "false", "true"),
                         ("deprecated", "false", "true")]:
    one(f"option_{option}_changed", "file-option", "message M {}", "message M {}", syntax=p2,
        old_extra=f"option {option} = {old};", new_extra=f"option {option} = {new};")
    one(f"option_{option}_added", "file-option", "message M {}", "message M {}", syntax=p2,
        new_extra=f"option {option} = {new};")
one("option_java_package_default_written", "file-option", "message M {}", "message M {}",
    new_extra='option java_package = "";')

one("p2_nested_required_message", "cardinality", "message N { required int32 x = 1; } message M { optional N n = 1; }",
    "message N { optional int32 x = 1; } message M { optional N n = 1; }", syntax=p2)
one("oneof_message_moved_in", "oneof", "message A {} message M { A a = 1; oneof o { string g = 2; } }",
    "message A {} message M { oneof o { A a = 1; string g = 2; } }")
one("field_swap_numbers", "field", "message M { int32 a = 1; string b = 2; }", "message M { int32 a = 2; string b = 1; }")
one("enum_value_zero_renamed", "enum", "enum S { S_UNSPECIFIED = 0; } message M { S s = 1; }",
    "enum S { S_UNKNOWN = 0; } message M { S s = 1; }")
one("enum_value_negative", "enum", "enum S { S_UNSPECIFIED = 0; S_NEG = -1; }", "enum S { S_UNSPECIFIED = 0; }")
one("reserved_max_range_kept", "field", "message M { reserved 100 to max; int32 f = 1; }",
    "message M { reserved 100 to 200, 201 to max; int32 f = 1; }")
one("enum_reserved_max_range_shrunk", "enum", "enum S { S_UNSPECIFIED = 0; reserved 10 to max; }",
    "enum S { S_UNSPECIFIED = 0; reserved 10 to 1000; }")
one("message_deleted_with_nested", "message", "message A { message B {} enum C { C_UNSPECIFIED = 0; } } message M {}", "message M {}")
one("service_only_deleted_last", "service", f"{SVC_MSGS} service S {{ rpc Do(Req) returns (Res); }} service T {{ rpc Do(Req) returns (Res); }}",
    f"{SVC_MSGS} service T {{ rpc Do(Req) returns (Res); }}")

# -- services --------------------------------------------------------------------------------------
one("service_deleted", "service", f"{SVC_MSGS} service S {{ rpc Do(Req) returns (Res); }}", SVC_MSGS)
one("service_renamed", "service", f"{SVC_MSGS} service S {{ rpc Do(Req) returns (Res); }}",
    f"{SVC_MSGS} service T {{ rpc Do(Req) returns (Res); }}")
one("rpc_deleted", "service", f"{SVC_MSGS} service S {{ rpc Do(Req) returns (Res); rpc Go(Req) returns (Res); }}",
    f"{SVC_MSGS} service S {{ rpc Do(Req) returns (Res); }}")
one("rpc_request_changed", "service", f"{SVC_MSGS} service S {{ rpc Do(Req) returns (Res); }}",
    f"{SVC_MSGS} service S {{ rpc Do(Other) returns (Res); }}")
one("rpc_response_changed", "service", f"{SVC_MSGS} service S {{ rpc Do(Req) returns (Res); }}",
    f"{SVC_MSGS} service S {{ rpc Do(Req) returns (Other); }}")
one("rpc_client_streaming", "service", f"{SVC_MSGS} service S {{ rpc Do(Req) returns (Res); }}",
    f"{SVC_MSGS} service S {{ rpc Do(stream Req) returns (Res); }}")
one("rpc_server_streaming", "service", f"{SVC_MSGS} service S {{ rpc Do(Req) returns (stream Res); }}",
    f"{SVC_MSGS} service S {{ rpc Do(Req) returns (Res); }}")
one("rpc_idempotency", "service", f"{SVC_MSGS} service S {{ rpc Do(Req) returns (Res); }}",
    f"{SVC_MSGS} service S {{ rpc Do(Req) returns (Res) {{ option idempotency_level = NO_SIDE_EFFECTS; }} }}")
one("rpc_added", "service", f"{SVC_MSGS} service S {{ rpc Do(Req) returns (Res); }}",
    f"{SVC_MSGS} service S {{ rpc Do(Req) returns (Res); rpc Go(Req) returns (Res); }}")

# -- the sample project's own changes (the examples) -----------------------------------
SETTLE = """enum Status { STATUS_UNSPECIFIED = 0; STATUS_PENDING = 1; STATUS_SETTLED = 3; }
message Fee { int64 amount_minor = 1; string currency = 2; }
message SettlementTransaction {
  string transaction_id = 1; int64 amount_minor = 5; Status status = 6; Fee fee = 7;
  optional string merchant = 8; repeated string tags = 9;
}"""
def settle(name, old_sub, new_sub):
    one(name, "sample", SETTLE, SETTLE.replace(old_sub, new_sub))
settle("sample_amount_sint64", "int64 amount_minor = 5", "sint64 amount_minor = 5")
settle("sample_amount_uint64", "int64 amount_minor = 5", "uint64 amount_minor = 5")
settle("sample_status_renamed_value", "STATUS_SETTLED = 3", "STATUS_CLEARED = 3")
settle("sample_status_to_int32", "Status status = 6", "int32 status = 6")
settle("sample_tags_singular", "repeated string tags = 9", "string tags = 9")
settle("sample_transaction_id_repeated", "string transaction_id = 1", "repeated string transaction_id = 1")
settle("sample_merchant_not_optional", "optional string merchant = 8", "string merchant = 8")
settle("sample_fee_repeated", "Fee fee = 7", "repeated Fee fee = 7")
case("sample_package_v2", "sample", {"a.proto": p3("sample_package_v2.v1", SETTLE)}, {"a.proto": p3("sample_package_v2.v2", SETTLE)})


def main():
    out = pathlib.Path(sys.argv[1])
    names = set()
    listed = []
    for name, family, old, new in cases:
        assert name not in names, f"duplicate case {name}"
        names.add(name)
        # protox (druidctl's compiler) does not parse editions yet: those cases form a module
        # of their own, compared through descriptor sets that buf builds.
        texts = list(old.values()) + list(new.values())
        module = "editions" if any(text.startswith("edition") for text in texts) else "proto"
        listed.append({"case": name, "family": family, "module": module})
        for side, files in (("old", old), ("new", new)):
            for path, text in files.items():
                target = out / module / side / name / path
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_text(text)
    (out / "cases.json").write_text(json.dumps(listed, indent=1))
    print(f"{len(cases)} cases in {out}", file=sys.stderr)


if __name__ == "__main__":
    main()
