//! The format of `tests/compat/corpus.txt`: `=== name` blocks with `mode: RULES` lines,
//! `druid: RULES`, `message: NAME`, then `--- old FILE`, `--- new FILE` and `--- dimensions`
//! sections. Shared by this crate's tests and the end-to-end suite (which measures the `druid_*`
//! cases on the local Druid).

use std::collections::{BTreeMap, BTreeSet};

/// One before/after case.
pub struct Case {
    pub name: String,
    pub expected: BTreeMap<String, BTreeSet<String>>,
    pub druid: Option<BTreeSet<String>>,
    pub message: Option<String>,
    pub old: Vec<(String, String)>,
    pub new: Vec<(String, String)>,
    pub dimensions: Option<String>,
}

pub fn parse(corpus: &str) -> Vec<Case> {
    let mut cases = Vec::new();
    for block in corpus.split("\n=== ").skip(1) {
        let mut lines = block.lines();
        let name = lines.next().unwrap().trim().to_owned();
        let mut case = Case {
            name,
            expected: BTreeMap::new(),
            druid: None,
            message: None,
            old: vec![],
            new: vec![],
            dimensions: None,
        };
        let mut current: Option<(String, String, String)> = None; // (kind, file, text)
        let flush = |current: &mut Option<(String, String, String)>, case: &mut Case| {
            if let Some((kind, file, text)) = current.take() {
                match kind.as_str() {
                    "old" => case.old.push((file, text)),
                    "new" => case.new.push((file, text)),
                    _ => case.dimensions = Some(text),
                }
            }
        };
        for line in lines {
            if let Some(header) = line.strip_prefix("--- ") {
                flush(&mut current, &mut case);
                let mut parts = header.splitn(2, ' ');
                let kind = parts.next().unwrap().to_owned();
                let file = parts.next().unwrap_or_default().to_owned();
                current = Some((kind, file, String::new()));
            } else if let Some((_, _, text)) = &mut current {
                text.push_str(line);
                text.push('\n');
            } else if let Some((key, value)) = line.split_once(':') {
                let rules: BTreeSet<String> = value.split_whitespace().map(str::to_owned).collect();
                match key {
                    "druid" => case.druid = Some(rules),
                    "message" => case.message = Some(value.trim().to_owned()),
                    mode => {
                        case.expected.insert(mode.to_owned(), rules);
                    }
                }
            }
        }
        flush(&mut current, &mut case);
        cases.push(case);
    }
    cases
}
