//! `config view --show-origin`: each setting of an environment and where its value came from
//! (the project file's key, a `DRUIDCTL_*` variable, a default).

use std::collections::BTreeMap;
use std::fmt;

use super::{Config, Overrides, flatten, merge};
use crate::Result;

/// One setting of an environment as `config view` shows it.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Setting {
    /// Dotted key relative to the environment (`druid.url`).
    pub key: String,
    /// The value (secrets as `"***"`).
    pub value: serde_json::Value,
    /// Where it came from; `None`: druidctl's built-in default.
    pub origin: Option<Origin>,
}

impl Config {
    /// The environment `name` as written (its table over `[defaults]`, then the variables),
    /// key by key with where each value came from, plus the channel when it is implied by the
    /// name. Settings not listed take their built-in defaults (docs/configuration.md).
    pub fn view(&self, name: &str, overrides: &Overrides) -> Result<Vec<Setting>> {
        let environment = self.environment(name, overrides)?;
        let mut merged = self.defaults.clone();
        merge(&mut merged, self.environments[name].clone());
        let mut flat = BTreeMap::new();
        flatten(&toml::Value::Table(merged), "", &mut flat);
        let variables = [
            ("druid.url", overrides.druid_url.as_ref().map(|url| serde_json::json!(url))),
            ("druid.user", overrides.druid_user.as_ref().map(|user| serde_json::json!(user))),
            ("druid.password", overrides.druid_password.as_ref().map(|_| serde_json::json!("***"))),
            ("druid.token", overrides.druid_token.as_ref().map(|_| serde_json::json!("***"))),
            ("registry", overrides.registry.as_ref().map(|registry| serde_json::json!(registry))),
            (
                "kafka.bootstrap_servers",
                overrides.kafka_bootstrap.as_ref().map(|servers| serde_json::json!(servers)),
            ),
        ];
        for (key, value) in variables {
            if let Some(value) = value {
                flat.insert(key.to_owned(), value);
            }
        }
        flat.entry("channel".to_owned()).or_insert_with(|| serde_json::json!(environment.channel));
        Ok(flat
            .into_iter()
            .map(|(key, value)| Setting {
                // What is secret is decided once (druid_client::redact): passwords, tokens,
                // `sasl.jaas.config`, a password inside a URL.
                value: if druid_client::redact::is_secret_key(&key) {
                    serde_json::json!("***")
                } else {
                    druid_client::redact::json_copy(&value)
                },
                origin: environment.origins.get(&key).cloned(),
                key,
            })
            .collect())
    }
}

/// Where a setting's value came from.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "from", rename_all = "snake_case")]
pub enum Origin {
    /// A key of the project file (`defaults.druid.url`, `environments.prod.druid.url`).
    File {
        /// The dotted key.
        key: String,
    },
    /// A `DRUIDCTL_*` variable.
    Variable {
        /// Its name.
        name: &'static str,
    },
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::File { key } => write!(f, "{key}"),
            Self::Variable { name } => write!(f, "${name}"),
        }
    }
}

/// Every leaf key of `table` as `prefix.key`, with its origin `root.prefix.key`.
pub(super) fn collect_origins(
    table: &toml::Table,
    prefix: &str,
    root: &str,
    origins: &mut BTreeMap<String, Origin>,
) {
    for (key, value) in table {
        let path = if prefix.is_empty() { key.clone() } else { format!("{prefix}.{key}") };
        match value {
            toml::Value::Table(inner) => collect_origins(inner, &path, root, origins),
            _ => {
                origins.insert(path.clone(), Origin::File { key: format!("{root}.{path}") });
            }
        }
    }
}
