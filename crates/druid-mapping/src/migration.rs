//! Reading across a migration: one Druid SQL `UNION ALL` over the old datasource and the new
//! one, with the old columns mapped onto the new ones.
//!
//! A new column is matched with the old column that reads the same protobuf field, found by
//! field numbers (a field renamed for JSON keeps its number, so `country` in the old mapping
//! and `countryCode` in the new one are the same column), else by column name. Where the
//! types differ the old value is `CAST`; where no old column matches, or a JSON column meets a
//! scalar one (Druid cannot cast between them), the old side reads `NULL`.
//!
//! Druid has no views: the query is what a dashboard's virtual dataset (Superset, Grafana)
//! or a saved query holds. It is a top-level `UNION ALL`, which Druid runs as two queries
//! and concatenates (docs/migrations.md).

use prost_reflect::{Kind, MessageDescriptor};
use serde::Serialize;

use crate::dimensions::{ColumnType, DimensionsConfig};
use crate::path::FieldPath;

/// One side of a migration.
#[derive(Debug, Clone, Copy)]
pub struct Side<'a> {
    /// Its datasource.
    pub datasource: &'a str,
    /// Its mapping.
    pub dimensions: &'a DimensionsConfig,
    /// Its record type.
    pub message: &'a MessageDescriptor,
}

/// How a column of the new datasource is read from the old one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ColumnMapping {
    /// The new column.
    pub column: String,
    /// Its type in the new datasource.
    #[serde(rename = "type")]
    pub kind: ColumnType,
    /// The old column it reads, if one matches.
    pub old_column: Option<String>,
    /// The old column's type.
    pub old_type: Option<ColumnType>,
    /// How the old column was matched: `same-field` (field numbers) or `same-name`.
    pub matched_by: Option<&'static str>,
    /// The expression the old side selects.
    pub old_expression: String,
}

/// The query and how each column is mapped.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UnionView {
    /// The SQL.
    pub sql: String,
    /// One entry per column of the new datasource, in its order.
    pub columns: Vec<ColumnMapping>,
    /// Old columns no new column reads (left out of the view).
    pub dropped: Vec<String>,
}

/// The `UNION ALL` of `old` and `new`, in the new datasource's columns.
pub fn union_all(old: &Side<'_>, new: &Side<'_>) -> UnionView {
    let old_by_field: Vec<(Option<Vec<String>>, &crate::dimensions::Dimension)> = old
        .dimensions
        .dimensions
        .iter()
        .map(|dimension| (numbers(old.message, &dimension.source()), dimension))
        .collect();
    let mut used = Vec::new();
    let columns: Vec<ColumnMapping> = new
        .dimensions
        .dimensions
        .iter()
        .map(|dimension| {
            let wanted = numbers(new.message, &dimension.source());
            let by_field = wanted.as_ref().and_then(|wanted| {
                old_by_field.iter().find(|(numbers, _)| numbers.as_ref() == Some(wanted)).map(|(_, old)| *old)
            });
            let (found, matched_by) = match by_field {
                Some(old) => (Some(old), Some("same-field")),
                None => match old.dimensions.dimensions.iter().find(|old| old.name == dimension.name) {
                    Some(old) => (Some(old), Some("same-name")),
                    None => (None, None),
                },
            };
            if let Some(found) = found {
                used.push(found.name.clone());
            }
            let old_expression = match found {
                Some(found) => expression(&found.name, found.kind, dimension.kind),
                None => null_of(dimension.kind),
            };
            ColumnMapping {
                column: dimension.name.clone(),
                kind: dimension.kind,
                old_column: found.map(|found| found.name.clone()),
                old_type: found.map(|found| found.kind),
                matched_by,
                old_expression,
            }
        })
        .collect();
    let dropped = old
        .dimensions
        .dimensions
        .iter()
        .filter(|dimension| !used.contains(&dimension.name))
        .map(|dimension| dimension.name.clone())
        .collect();
    let select = |expressions: Vec<String>, datasource: &str| {
        let mut list = vec!["\"__time\"".to_owned()];
        list.extend(expressions);
        format!("SELECT\n  {}\nFROM {}", list.join(",\n  "), quote(datasource))
    };
    let old_select = select(
        columns
            .iter()
            .map(|column| {
                let alias = quote(&column.column);
                if column.old_expression == alias {
                    alias
                } else {
                    format!("{} AS {alias}", column.old_expression)
                }
            })
            .collect(),
        old.datasource,
    );
    let new_select = select(columns.iter().map(|column| quote(&column.column)).collect(), new.datasource);
    let sql = format!("{old_select}\nUNION ALL\n{new_select}");
    UnionView { sql, columns, dropped }
}

/// The field numbers `path` goes through in `message` (a map key after its map field, as
/// written), `None` when a segment names no field.
fn numbers(message: &MessageDescriptor, path: &FieldPath) -> Option<Vec<String>> {
    let mut current = message.clone();
    let mut numbers = Vec::new();
    let mut segments = path.segments().iter();
    while let Some(segment) = segments.next() {
        let field = current.fields().find(|field| field.json_name() == segment || field.name() == segment)?;
        numbers.push(field.number().to_string());
        if field.is_map() {
            numbers.extend(segments.map(|key| format!("[{key}]")));
            return Some(numbers);
        }
        match field.kind() {
            Kind::Message(inner) => current = inner,
            _ => return Some(numbers),
        }
    }
    Some(numbers)
}

/// The old column read as the new column's type.
fn expression(old: &str, from: ColumnType, to: ColumnType) -> String {
    let column = quote(old);
    match (from, to) {
        (from, to) if from == to => column,
        (ColumnType::Json, _) | (_, ColumnType::Json) => null_of(to),
        (_, to) => format!("CAST({column} AS {})", sql_type(to)),
    }
}

/// A typed `NULL` (Druid's JSON columns take a bare one).
fn null_of(kind: ColumnType) -> String {
    match kind {
        ColumnType::Json => "NULL".to_owned(),
        other => format!("CAST(NULL AS {})", sql_type(other)),
    }
}

fn sql_type(kind: ColumnType) -> &'static str {
    match kind {
        ColumnType::String | ColumnType::Json => "VARCHAR",
        ColumnType::Long => "BIGINT",
        ColumnType::Float => "FLOAT",
        ColumnType::Double => "DOUBLE",
    }
}

/// A double-quoted SQL identifier.
fn quote(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(source: &str) -> MessageDescriptor {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("m.proto"), source).unwrap();
        let schema = proto_schema::CompiledSchema::compile_dir(dir.path()).unwrap();
        schema.message("p.M").unwrap()
    }

    fn dimensions(json: &str) -> DimensionsConfig {
        DimensionsConfig::parse(json, "dimensions.json").unwrap()
    }

    #[test]
    fn renamed_fields_are_aliased_and_retyped_columns_cast() {
        let old_message = message(
            "syntax = \"proto3\"; package p; message Fee { int64 amount = 1; }\n\
             message M { string created_at = 1; string country = 2; int32 amount = 3; Fee fee = 4; string gone = 5; string note = 6; map<string, string> meta = 9; }",
        );
        let new_message = message(
            "syntax = \"proto3\"; package p; message Fee { int64 amount = 1; }\n\
             message M { string created_at = 1; string country_code = 2; double amount = 7; Fee fee = 4; string extra = 8; string note = 6; map<string, string> meta = 9; }",
        );
        let old = dimensions(
            r#"{"timestamp": {"column": "createdAt"}, "dimensions": [
                {"name": "country"}, {"name": "amount", "type": "long"},
                {"name": "fee", "type": "long", "from": "fee.amount"}, {"name": "gone"}, {"name": "note", "type": "json"},
                {"name": "orderId", "from": "meta.orderId"}, {"name": "meta", "type": "json"}]}"#,
        );
        let new = dimensions(
            r#"{"timestamp": {"column": "createdAt"}, "dimensions": [
                {"name": "countryCode"}, {"name": "amount", "type": "double"},
                {"name": "feeAmount", "type": "long", "from": "fee.amount"}, {"name": "extra"}, {"name": "note"},
                {"name": "meta", "type": "json"}, {"name": "order", "from": "meta.orderId"}]}"#,
        );
        let view = union_all(
            &Side { datasource: "tx", dimensions: &old, message: &old_message },
            &Side { datasource: "tx_v2", dimensions: &new, message: &new_message },
        );
        let expressions: Vec<(&str, &str, Option<&str>)> = view
            .columns
            .iter()
            .map(|column| (column.column.as_str(), column.old_expression.as_str(), column.matched_by))
            .collect();
        assert_eq!(
            expressions,
            [
                ("countryCode", "\"country\"", Some("same-field")),
                // A new number is a new field: matched by its column name, and cast.
                ("amount", "CAST(\"amount\" AS DOUBLE)", Some("same-name")),
                ("feeAmount", "\"fee\"", Some("same-field")),
                ("extra", "CAST(NULL AS VARCHAR)", None),
                ("note", "CAST(NULL AS VARCHAR)", Some("same-field")),
                // A map and one of its keys are different columns.
                ("meta", "\"meta\"", Some("same-field")),
                ("order", "\"orderId\"", Some("same-field")),
            ]
        );
        assert_eq!(view.dropped, ["gone"]);
        assert!(
            view.sql.starts_with("SELECT\n  \"__time\",\n  \"country\" AS \"countryCode\",\n"),
            "{}",
            view.sql
        );
        assert!(
            view.sql.contains("FROM \"tx\"\nUNION ALL\nSELECT\n  \"__time\",\n  \"countryCode\",\n"),
            "{}",
            view.sql
        );
        assert!(view.sql.ends_with("FROM \"tx_v2\""), "{}", view.sql);
    }
}
