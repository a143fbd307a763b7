//! Writes the large synthetic schema and its breaking variant for `make bench-compat`:
//! `gen-large-schema OUT_DIR` creates `OUT_DIR/old` and `OUT_DIR/new` (20 files, 200 messages
//! of 50 fields, 10 breaking edits).
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::path::Path;
use std::process::ExitCode;

fn main() -> ExitCode {
    let Some(out) = std::env::args().nth(1) else {
        eprintln!("usage: gen-large-schema OUT_DIR");
        return ExitCode::from(2);
    };
    let (old, new) = proto_schema::synthetic::large_schema(20, 200, 50, 10);
    for (side, files) in [("old", old), ("new", new)] {
        for (name, text) in files {
            let path = Path::new(&out).join(side).join(name);
            if let Err(err) = std::fs::create_dir_all(path.parent().expect("files have a parent"))
                .and_then(|()| std::fs::write(&path, text))
            {
                eprintln!("error: writing {}: {err}", path.display());
                return ExitCode::FAILURE;
            }
        }
    }
    println!("wrote {out}/old and {out}/new: 20 files, 200 messages x 50 fields, 10 breaking edits");
    ExitCode::SUCCESS
}
