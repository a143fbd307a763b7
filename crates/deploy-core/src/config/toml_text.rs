//! Reading TOML: syntax errors without quoted values (a secret may be on the line), tables
//! flattened and merged key by key.

use std::collections::BTreeMap;
use std::path::Path;

use serde::de::DeserializeOwned;

use super::Origin;
use crate::Error;
use crate::Result;

/// A TOML error as `line L, column C: message`, without the source line the parser quotes
/// (it may be a `password = "..."` line); on a line whose key is secret, quoted values in the
/// message are hidden too.
pub(super) fn syntax_message(text: &str, err: &toml::de::Error) -> String {
    let message = err.message().trim_end().to_owned();
    let Some(span) = err.span() else { return message };
    let before = &text[..span.start.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |start| start.chars().count()) + 1;
    let source_line = text.lines().nth(line - 1).unwrap_or_default();
    let key = source_line.split('=').next().unwrap_or_default();
    let message = if druid_client::redact::is_secret_key(key) || druid_client::redact::is_secret_key(&message)
    {
        hide_quoted(&message)
    } else {
        message
    };
    format!("line {line}, column {column}: {message}")
}

/// `message` with every `"..."` and `` `...` `` replaced by `****`.
pub(super) fn hide_quoted(message: &str) -> String {
    let mut shown = String::new();
    let mut quote = None;
    for character in message.chars() {
        match quote {
            Some(open) if character == open => {
                shown.push_str(druid_client::redact::MASK);
                shown.push(character);
                quote = None;
            }
            Some(_) => {}
            None => {
                shown.push(character);
                if matches!(character, '"' | '`') {
                    quote = Some(character);
                }
            }
        }
    }
    shown
}

/// `table` as dotted keys and JSON values.
pub(super) fn flatten(value: &toml::Value, prefix: &str, into: &mut BTreeMap<String, serde_json::Value>) {
    match value {
        toml::Value::Table(table) => {
            for (key, inner) in table {
                let path = if prefix.is_empty() { key.clone() } else { format!("{prefix}.{key}") };
                flatten(inner, &path, into);
            }
        }
        other => {
            into.insert(prefix.to_owned(), serde_json::to_value(other).unwrap_or(serde_json::Value::Null));
        }
    }
}

/// Deep-merges `over` into `base`: tables merge key by key, other values replace.
pub(super) fn merge(base: &mut toml::Table, over: toml::Table) {
    for (key, value) in over {
        match (base.get_mut(&key), value) {
            (Some(toml::Value::Table(base_table)), toml::Value::Table(over_table)) => {
                merge(base_table, over_table);
            }
            (_, value) => {
                base.insert(key, value);
            }
        }
    }
}

/// Deserialises a merged environment table; an error names the key where it is written
/// (`defaults.thresholds.x` when it comes from `[defaults]`), and an unknown key comes with
/// the closest known one.
pub(super) fn deserialize_table<T: DeserializeOwned>(
    table: toml::Table,
    path: &Path,
    at: &str,
    origins: &BTreeMap<String, Origin>,
) -> Result<T> {
    serde_path_to_error::deserialize(toml::Value::Table(table)).map_err(|err| {
        let field = err.path().to_string();
        let field = if field == "." { String::new() } else { field };
        // toml appends "in `key`" on a second line; `at` already says where.
        let mut message = err.inner().to_string().lines().next().unwrap_or_default().to_owned();
        let mut key = field.clone();
        if let Some(unknown) = between(&message, "unknown field `", "`") {
            // The path may end at the unknown key already, or at the table holding it.
            if !(field == unknown || field.ends_with(&format!(".{unknown}"))) {
                key = if field.is_empty() { unknown.to_owned() } else { format!("{field}.{unknown}") };
            }
            let expected: Vec<&str> = message.split('`').skip(3).step_by(2).collect();
            if let Some(closest) = proto_schema::closest(unknown, expected.iter().copied()) {
                message = format!("{message}; did you mean `{closest}`?");
            }
        }
        let written = origins
            .iter()
            .find(|(setting, _)| **setting == key || setting.starts_with(&format!("{key}.")))
            .and_then(|(setting, origin)| match origin {
                Origin::File { key: written } => {
                    Some(written.strip_suffix(&setting[key.len()..]).unwrap_or(written).to_owned())
                }
                Origin::Variable { .. } => None,
            });
        Error::ConfigInvalid {
            path: path.to_owned(),
            at: written.unwrap_or_else(|| if key.is_empty() { at.to_owned() } else { format!("{at}.{key}") }),
            message,
        }
    })
}

/// The text between `start` and the next `end` in `text`.
pub(super) fn between<'t>(text: &'t str, start: &str, end: &str) -> Option<&'t str> {
    let from = text.find(start)? + start.len();
    let to = text[from..].find(end)? + from;
    Some(&text[from..to])
}
