//! A large synthetic schema and a variant with breaking edits, for benchmarks
//! (`make bench-compat`, the `compat` criterion bench). Not part of the stable API.

use std::collections::BTreeMap;
use std::fmt::Write as _;

/// Sources by file name: `files` files of `messages / files` messages of `fields` fields.
/// The variant has exactly `breaking` edits, alternating deleted fields, wire-incompatible
/// type changes and renames, spread over the files.
pub fn large_schema(
    files: usize,
    messages: usize,
    fields: usize,
    breaking: usize,
) -> (BTreeMap<String, String>, BTreeMap<String, String>) {
    let mut old = BTreeMap::new();
    let mut new = BTreeMap::new();
    let per_file = messages.div_ceil(files);
    let mut edits = 0;
    for file in 0..files {
        let name = format!("bench/v1/file_{file:02}.proto");
        let mut old_text = String::from(
            "syntax = \"proto3\";\npackage bench.v1;\nimport \"google/protobuf/timestamp.proto\";\n\n",
        );
        let mut new_text = old_text.clone();
        for index in 0..per_file {
            let message = file * per_file + index;
            if message >= messages {
                break;
            }
            let _ = writeln!(old_text, "message Message{message:03} {{");
            let _ = writeln!(new_text, "message Message{message:03} {{");
            for field in 1..=fields {
                let kind = match field % 5 {
                    0 => "int64",
                    1 => "string",
                    2 => "double",
                    3 => "bool",
                    _ => "google.protobuf.Timestamp",
                };
                let line = format!("  {kind} field_{field:02} = {field};\n");
                old_text.push_str(&line);
                // One edit in the first field of every (messages / breaking)-th message.
                let edit_here = edits < breaking
                    && index == 0
                    && field == 1
                    && file % (files / breaking.max(1)).max(1) == 0;
                if edit_here {
                    match edits % 3 {
                        0 => {} // deleted, number not reserved
                        1 => {
                            let _ = writeln!(new_text, "  int64 field_{field:02} = {field};");
                        }
                        _ => {
                            let _ = writeln!(new_text, "  {kind} renamed_{field:02} = {field};");
                        }
                    }
                    edits += 1;
                } else {
                    new_text.push_str(&line);
                }
            }
            old_text.push_str("}\n\n");
            new_text.push_str("}\n\n");
        }
        old.insert(name.clone(), old_text);
        new.insert(name, new_text);
    }
    (old, new)
}
