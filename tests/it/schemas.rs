//! The JSON Schemas in docs/schemas/ say exactly what the parsers accept: for every object
//! of a schema, the keys it lists are the keys the parser names when it refuses an unknown
//! one (serde's "expected one of ..."), and the sample project's files use only those keys.

use std::collections::BTreeSet;
use std::path::Path;

use deploy_core::config::{Config, Overrides};
use druid_mapping::DimensionsConfig;
use serde_json::Value;

use crate::repo_root;

fn schema(name: &str) -> Value {
    serde_json::from_str(&std::fs::read_to_string(repo_root().join("docs/schemas").join(name)).unwrap())
        .unwrap()
}

/// The keys an error for the unknown key `zz_unknown` says were expected.
fn expected_keys(error: &str) -> BTreeSet<String> {
    assert!(error.contains("unknown field `zz_unknown`"), "{error}");
    error
        .split("expected one of ")
        .nth(1)
        .or_else(|| error.split("expected ").nth(1))
        .unwrap()
        .split('`')
        .skip(1)
        .step_by(2)
        .map(str::to_owned)
        .collect()
}

fn properties(node: &Value) -> BTreeSet<String> {
    node["properties"].as_object().unwrap().keys().cloned().collect()
}

/// The error for an environment whose `table` holds `zz_unknown` (or the environment itself
/// when `table` is empty).
fn config_error(table: &str) -> String {
    let druid = if table == "druid" {
        "druid = { url = \"http://d\", zz_unknown = 1 }"
    } else {
        "druid.url = \"http://d\""
    };
    let kafka = if table == "kafka" {
        "kafka = { topic = \"t\", bootstrap_servers = \"k:1\", zz_unknown = 1 }"
    } else {
        "kafka = { topic = \"t\", bootstrap_servers = \"k:1\" }"
    };
    let extra = match table {
        "" => "zz_unknown = 1".to_owned(),
        "druid" | "kafka" => String::new(),
        other => format!("{other}.zz_unknown = 1"),
    };
    let text = format!(
        "[schema]\nmessage = \"p.M\"\n[environments.dev]\ndatasource = \"d\"\n{druid}\n{kafka}\n{extra}\n"
    );
    match Config::parse(&text, Path::new("druidctl.toml"))
        .and_then(|config| config.environment("dev", &Overrides::default()))
    {
        Ok(_) => panic!("{table}.zz_unknown was accepted"),
        Err(err) => err.to_string(),
    }
}

#[test]
fn the_project_file_schema_lists_exactly_the_accepted_keys() {
    let schema = schema("druidctl.toml.schema.json");
    let top = Config::parse("zz_unknown = 1\n[schema]\nmessage = \"p.M\"\n", Path::new("x"))
        .unwrap_err()
        .to_string();
    assert_eq!(properties(&schema), expected_keys(&top));
    let environment = &schema["$defs"]["environment"];
    assert_eq!(properties(environment), expected_keys(&config_error("")));
    for table in ["druid", "kafka", "ingestion", "descriptor", "window", "thresholds", "preflight"] {
        let error = config_error(table);
        assert_eq!(properties(&environment["properties"][table]), expected_keys(&error), "[{table}]");
    }
    let schema_table = Config::parse("[schema]\nmessage = \"p.M\"\nzz_unknown = 1\n", Path::new("x"))
        .unwrap_err()
        .to_string();
    assert_eq!(properties(&schema["properties"]["schema"]), expected_keys(&schema_table));
    let pipeline_table = Config::parse(
        "[schema]\nmessage = \"p.M\"\n[environments.dev]\ndatasource = \"d\"\n[pipelines.a]\nzz_unknown = 1\n",
        Path::new("x"),
    )
    .unwrap_err()
    .to_string();
    assert_eq!(properties(&schema["$defs"]["pipeline"]), expected_keys(&pipeline_table));
}

#[test]
fn the_dimensions_schema_lists_exactly_the_accepted_keys() {
    let schema = schema("dimensions.schema.json");
    let error = |text: &str| DimensionsConfig::parse(text, "d.json").unwrap_err().to_string();
    let minimal = r#""timestamp": {"column": "t"}, "dimensions": []"#;
    assert_eq!(properties(&schema), expected_keys(&error(&format!("{{{minimal}, \"zz_unknown\": 1}}"))));
    assert_eq!(
        properties(&schema["properties"]["timestamp"]),
        expected_keys(&error(r#"{"timestamp": {"column": "t", "zz_unknown": 1}, "dimensions": []}"#))
    );
    assert_eq!(
        properties(&schema["properties"]["dimensions"]["items"]),
        expected_keys(&error(
            r#"{"timestamp": {"column": "t"}, "dimensions": [{"name": "a", "zz_unknown": 1}]}"#
        ))
    );
    assert_eq!(
        properties(&schema["properties"]["metrics"]["items"]),
        expected_keys(&error(&format!(
            r#"{{{minimal}, "metrics": [{{"name": "n", "type": "count", "zz_unknown": 1}}]}}"#
        )))
    );
    assert_eq!(
        properties(&schema["properties"]["granularity"]),
        expected_keys(&error(&format!(r#"{{{minimal}, "granularity": {{"zz_unknown": 1}}}}"#)))
    );
}

#[test]
fn the_sample_project_uses_only_schema_keys() {
    let schema = schema("druidctl.toml.schema.json");
    let sample: toml::Table =
        std::fs::read_to_string(repo_root().join("druidctl.toml")).unwrap().parse().unwrap();
    let environment = &schema["$defs"]["environment"];
    let tables: Vec<&toml::Table> = std::iter::once(sample["defaults"].as_table().unwrap())
        .chain(sample["environments"].as_table().unwrap().values().map(|value| value.as_table().unwrap()))
        .collect();
    for table in tables {
        for (key, value) in table {
            let node = &environment["properties"][key];
            assert!(node.is_object(), "`{key}` is not in the schema");
            if let (Some(inner), Some(allowed)) = (value.as_table(), node["properties"].as_object()) {
                for inner_key in inner.keys() {
                    assert!(
                        allowed.contains_key(inner_key) || node["additionalProperties"].is_object(),
                        "`{key}.{inner_key}` is not in the schema"
                    );
                }
            }
        }
    }
}
