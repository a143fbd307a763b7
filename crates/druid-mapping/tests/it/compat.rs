//! The compatibility corpus (`tests/compat/corpus.txt`): every case, every mode.

use std::collections::BTreeSet;
use std::path::Path;

use druid_mapping::compat::{self, DruidMapping};
use druid_mapping::{DimensionsConfig, Severity};
use proto_schema::CompiledSchema;
use proto_schema::compat::Mode;

use crate::corpus_format::parse;

fn compile(dir: &Path, files: &[(String, String)]) -> CompiledSchema {
    for (name, text) in files {
        let path = dir.join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }
    CompiledSchema::compile_dir(dir).unwrap()
}

#[test]
fn every_case_in_every_mode() {
    let corpus = include_str!("../compat/corpus.txt");
    let cases = parse(corpus);
    assert!(cases.len() >= 40, "the corpus has {} cases", cases.len());
    let mut failures = Vec::new();
    for case in &cases {
        let dir = tempfile::tempdir().unwrap();
        let old = compile(&dir.path().join("old"), &case.old);
        let new = compile(&dir.path().join("new"), &case.new);
        let dimensions =
            case.dimensions.as_deref().map(|text| DimensionsConfig::parse(text, "dimensions").unwrap());
        let mapping = dimensions.as_ref().map(|dimensions| DruidMapping {
            message: case.message.as_deref().unwrap(),
            dimensions,
            new_dimensions: None,
        });
        // The lean compile (locations kept aside) must say exactly the same.
        let lean_old = CompiledSchema::compile_dir_lean(&dir.path().join("old")).unwrap();
        let lean_new = CompiledSchema::compile_dir_lean(&dir.path().join("new")).unwrap();
        for mode in Mode::ALL {
            let report = compat::check(&old, &new, mode, mapping);
            let lean = compat::check(&lean_old, &lean_new, mode, mapping);
            if lean != report {
                failures.push(format!(
                    "{} [{mode}]: the lean compile reports {:?}",
                    case.name, lean.policy.findings
                ));
            }
            let buf: BTreeSet<String> = report.policy.findings.iter().map(|f| f.rule.to_owned()).collect();
            let druid_findings =
                report.druid.as_ref().map(|druid| druid.findings.as_slice()).unwrap_or_default();
            let druid: BTreeSet<String> = druid_findings.iter().map(|f| f.rule.to_owned()).collect();
            let expected = case.expected.get(&mode.to_string()).cloned().unwrap_or_default();
            let expected_druid = case.druid.clone().unwrap_or_default();
            let breaking = report.policy.findings.iter().any(|f| f.severity == Severity::Error);
            let damaging = druid_findings.iter().any(|f| f.severity == Severity::Error);
            let stops = breaking || damaging;
            if buf != expected
                || druid != expected_druid
                || breaking != report.policy.breaking
                || stops != report.stops
            {
                failures.push(format!(
                    "{} [{mode}]: expected {expected:?} + {expected_druid:?}, got {buf:?} + {druid:?}\n    {}\n    {}",
                    case.name,
                    report.policy.findings.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n    "),
                    druid_findings.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n    ")
                ));
            }
            let lines = report
                .policy
                .findings
                .iter()
                .map(|f| (f.rule, f.line))
                .chain(druid_findings.iter().map(|f| (f.rule, f.line)));
            for (rule, line) in lines {
                if line == 0 {
                    failures.push(format!("{} [{mode}]: {rule} has no location", case.name));
                }
            }
        }
    }
    assert!(failures.is_empty(), "{} failure(s):\n{}", failures.len(), failures.join("\n"));
}

#[test]
fn the_druid_rules_catch_a_rename_that_wire_accepts() {
    let cases = parse(include_str!("../compat/corpus.txt"));
    let case = cases.iter().find(|case| case.name == "druid_renamed_dimension_field").unwrap();
    let dir = tempfile::tempdir().unwrap();
    let old = compile(&dir.path().join("old"), &case.old);
    let new = compile(&dir.path().join("new"), &case.new);
    assert!(!compat::check(&old, &new, Mode::Wire, None).stops, "wire accepts a rename");
    let dimensions = DimensionsConfig::parse(case.dimensions.as_deref().unwrap(), "dimensions").unwrap();
    let mapping = DruidMapping { message: "settlement.v1.Tx", dimensions: &dimensions, new_dimensions: None };
    let verdict = compat::check(&old, &new, Mode::Wire, Some(mapping));
    assert!(!verdict.policy.breaking && verdict.damages_druid() && verdict.stops);
    let finding = &verdict.druid.as_ref().unwrap().findings[0];
    assert_eq!(
        (finding.rule, finding.file.as_str(), finding.line, finding.col, finding.column.as_str()),
        ("DRUID_DIMENSION_RENAMED", "a.proto", 5, 3, "transactionId")
    );
    assert_eq!((finding.records, finding.stores.as_str()), (compat::Records::Both, "null"));
    assert!(finding.message.contains("it reads `transactionId`, which is now `txnId`"), "{finding}");

    // The same rename with dimensions.json updated to read the new name: Druid's data is intact.
    let updated = case
        .dimensions
        .as_deref()
        .unwrap()
        .replace(r#""name": "transactionId""#, r#""name": "transactionId", "from": "txnId""#);
    let updated = DimensionsConfig::parse(&updated, "dimensions").unwrap();
    let mapping =
        DruidMapping { message: "settlement.v1.Tx", dimensions: &dimensions, new_dimensions: Some(&updated) };
    let verdict = compat::check(&old, &new, Mode::Wire, Some(mapping));
    assert!(!verdict.damages_druid(), "{:?}", verdict.druid);
}

#[test]
fn the_druid_verdict_stops_damage_and_nothing_else() {
    // What Druid stores for the same records: these change it...
    let damaging = [
        "druid_enum_value_renamed",
        "druid_enum_value_deleted",
        "druid_amount_sint64",
        "druid_amount_int32",
        "druid_transaction_id_renamed",
        "druid_country_deleted",
        "druid_country_moved",
        "druid_country_bytes",
        "druid_message_renamed",
        "druid_units_string",
        "druid_retries_not_optional",
        "druid_amount_repeated",
        "druid_fee_repeated",
        "druid_struct_added",
        "druid_int_map_added",
        "druid_timestamp_to_int64",
    ];
    // ...these do not (some are worth a warning: a repeated string stays one value per record
    // until producers write several; optional lets producers send zeros that were nulls).
    let harmless = [
        "druid_enum_value_added",
        "druid_units_widened",
        "druid_amount_uint64",
        "druid_units_uint32",
        "druid_units_optional",
        "druid_unmapped_renamed",
        "druid_unmapped_retyped",
        "druid_country_repeated",
        "druid_country_into_oneof",
        "druid_rename_keeps_json_name",
    ];
    let cases = parse(include_str!("../compat/corpus.txt"));
    for name in damaging.iter().chain(&harmless) {
        let case = cases.iter().find(|case| case.name == *name).unwrap_or_else(|| panic!("no case {name}"));
        let dir = tempfile::tempdir().unwrap();
        let old = compile(&dir.path().join("old"), &case.old);
        let new = compile(&dir.path().join("new"), &case.new);
        let dimensions = DimensionsConfig::parse(case.dimensions.as_deref().unwrap(), "dimensions").unwrap();
        let mapping = DruidMapping { message: "druid.v1.Tx", dimensions: &dimensions, new_dimensions: None };
        let verdict = compat::check(&old, &new, Mode::Wire, Some(mapping));
        let druid = verdict.druid.as_ref().unwrap();
        assert_eq!(druid.damaging, damaging.contains(name), "{name}: {:#?}", druid.findings);
        for finding in &druid.findings {
            assert!(!finding.stores.is_empty() && finding.message.contains(&finding.stores), "{finding}");
        }
    }
}
