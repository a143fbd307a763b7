//! docs/architecture.md stays true: every folder and file it names in deploy-core exists, and
//! no deploy-core module imports from a layer above its own.

use std::path::{Path, PathBuf};

use crate::repo_root;

fn deploy_core() -> PathBuf {
    repo_root().join("crates/deploy-core/src")
}

/// The layers, bottom up; a module outside these folders is in the base layer.
const LAYERS: [&str; 5] = ["base", "observe", "migrate", "workflow", "fleet"];

/// The crate-root names that re-export a folder's module (`deploy_core::verify`).
const RE_EXPORTS: [(&str, &str); 14] = [
    ("reconcile", "fleet"),
    ("service", "fleet"),
    ("drift", "observe"),
    ("incident", "observe"),
    ("monitor", "observe"),
    ("ops", "observe"),
    ("controls", "workflow"),
    ("deploy", "workflow"),
    ("plan", "workflow"),
    ("preflight", "workflow"),
    ("promote", "workflow"),
    ("recover", "workflow"),
    ("rollback", "workflow"),
    ("verify", "workflow"),
];

fn layer_of_module(name: &str) -> usize {
    let folder = RE_EXPORTS.iter().find(|(module, _)| *module == name).map_or(name, |(_, folder)| folder);
    LAYERS.iter().position(|layer| *layer == folder).unwrap_or(0)
}

fn layer_of_file(relative: &Path) -> usize {
    let mut parts = relative.components();
    match (parts.next(), parts.next()) {
        (Some(folder), Some(_)) => LAYERS.iter().position(|layer| folder.as_os_str() == *layer).unwrap_or(0),
        _ => 0,
    }
}

fn sources(dir: &Path, into: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            sources(&path, into);
        } else if path.extension().is_some_and(|extension| extension == "rs") {
            into.push(path);
        }
    }
}

/// The top-level modules a source names as `crate::NAME` (comments and tests left out).
fn crate_references(text: &str) -> Vec<(usize, String)> {
    let code = text.split("#[cfg(test)]").next().unwrap_or_default();
    let mut found = Vec::new();
    let mut in_group = false;
    for (number, line) in code.lines().enumerate() {
        let line = line.trim();
        if line.starts_with("//") {
            continue;
        }
        let mut rest = line;
        while let Some(at) = rest.find("crate::") {
            rest = &rest[at + "crate::".len()..];
            if let Some(group) = rest.strip_prefix('{') {
                in_group = !group.contains('}');
                for item in group.split([',', '}']) {
                    if let Some((module, _)) = item.trim().split_once("::") {
                        found.push((number + 1, module.to_owned()));
                    }
                }
                continue;
            }
            let name: String = rest.chars().take_while(|c| c.is_ascii_lowercase() || *c == '_').collect();
            if rest[name.len()..].starts_with("::") {
                found.push((number + 1, name));
            }
        }
        if in_group && !line.contains("crate::") {
            // A multi-line `use crate::{...}` group.
            for item in line.split([',', '}']) {
                if let Some((module, _)) = item.trim().split_once("::") {
                    found.push((number + 1, module.to_owned()));
                }
            }
            in_group = !line.contains('}');
        }
    }
    found
}

#[test]
fn no_deploy_core_module_imports_from_a_layer_above_its_own() {
    let root = deploy_core();
    let mut files = Vec::new();
    sources(&root, &mut files);
    let mut upward = Vec::new();
    for file in &files {
        let relative = file.strip_prefix(&root).unwrap();
        if relative.file_name().is_some_and(|name| name == "tests.rs") {
            continue;
        }
        let own = layer_of_file(relative);
        for (line, module) in crate_references(&std::fs::read_to_string(file).unwrap()) {
            let theirs = layer_of_module(&module);
            if theirs > own {
                upward.push(format!(
                    "{}:{line}: {} imports {module} ({})",
                    relative.display(),
                    LAYERS[own],
                    LAYERS[theirs]
                ));
            }
        }
    }
    assert!(files.len() > 40, "read {} files", files.len());
    assert!(upward.is_empty(), "imports from a higher layer:\n{}", upward.join("\n"));
}

#[test]
fn the_reference_finder_sees_paths_groups_and_multi_line_groups() {
    let text = "use crate::ledger::Lease;\nuse crate::{fleet::runtime, events::Step};\nuse crate::{\n    workflow::plan,\n};\n// crate::migrate::x\nlet x = crate::ops::status();\n";
    let modules: Vec<String> = crate_references(text).into_iter().map(|(_, module)| module).collect();
    assert_eq!(modules, ["ledger", "fleet", "events", "workflow", "ops"]);
    assert_eq!(layer_of_module("verify"), 3);
    assert_eq!(layer_of_module("ledger"), 0);
}

#[test]
fn every_deploy_core_folder_and_file_the_architecture_names_exists() {
    let text = std::fs::read_to_string(repo_root().join("docs/architecture.md")).unwrap();
    let section = text
        .split("## deploy-core, in layers")
        .nth(1)
        .and_then(|rest| rest.split("\n## ").next())
        .expect("the layers section");
    let root = deploy_core();
    let mut named = Vec::new();
    for row in section.lines().filter(|line| line.starts_with("| ")) {
        let cells: Vec<&str> = row.split('|').collect();
        let (Some(folder), Some(concern)) = (cells.get(2), cells.get(3)) else { continue };
        for path in backticked(folder) {
            if names_source(&path) {
                named.push(PathBuf::from(&path));
                // Files named in a folder's row live in that folder.
                if let Some(folder) = path.strip_suffix('/') {
                    for file in backticked(concern).into_iter().filter(|file| names_source(file)) {
                        named.push(Path::new(folder).join(file));
                    }
                }
            }
        }
    }
    assert!(named.len() > 30, "{named:?}");
    let missing: Vec<String> = named
        .iter()
        .filter(|path| !root.join(path).exists())
        .map(|path| path.display().to_string())
        .collect();
    assert!(missing.is_empty(), "docs/architecture.md names what deploy-core lacks: {missing:?}");
    // And every folder of deploy-core is in the table.
    for entry in std::fs::read_dir(&root).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            let folder = format!("{}/", path.file_name().unwrap().to_string_lossy());
            assert!(
                named.iter().any(|named| named == Path::new(&folder)),
                "{folder} is not in docs/architecture.md"
            );
        }
    }
}

/// A folder (`observe/`) or a Rust file (`plan.rs`).
fn names_source(path: &str) -> bool {
    path.ends_with('/') || Path::new(path).extension().is_some_and(|extension| extension == "rs")
}

fn backticked(text: &str) -> Vec<String> {
    text.split('`').skip(1).step_by(2).map(str::to_owned).collect()
}
