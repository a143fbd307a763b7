//! `DRUIDCTL_*` variables that override the selected environment, so a CI job can point it
//! elsewhere without editing files.

use std::path::Path;

use secrecy::SecretString;

use super::{Environment, Origin, RegistryLocation};
use crate::Error;
use crate::Result;

/// Variables that override the selected environment. Read by the binary from the process
/// environment and passed in, so library users decide where they come from.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    /// `DRUIDCTL_DRUID_URL`: Router, or one address serving Overlord and Broker.
    pub druid_url: Option<String>,
    /// `DRUIDCTL_DRUID_USER`.
    pub druid_user: Option<String>,
    /// `DRUIDCTL_DRUID_PASSWORD`.
    pub druid_password: Option<SecretString>,
    /// `DRUIDCTL_DRUID_TOKEN`.
    pub druid_token: Option<SecretString>,
    /// `DRUIDCTL_REGISTRY`: `s3://bucket/prefix` or `file://path`.
    pub registry: Option<String>,
    /// `DRUIDCTL_KAFKA_BOOTSTRAP`.
    pub kafka_bootstrap: Option<String>,
    /// `DRUIDCTL_NOTIFY_WEBHOOK`: a generic webhook added to every environment's notifiers.
    pub notify_webhook: Option<SecretString>,
}

impl Overrides {
    /// Picks the `DRUIDCTL_*` variables out of `vars` (such as `std::env::vars()`); empty
    /// values count as unset.
    pub fn from_vars(vars: impl IntoIterator<Item = (String, String)>) -> Self {
        let mut overrides = Self::default();
        for (key, value) in vars {
            if value.is_empty() {
                continue;
            }
            match key.as_str() {
                "DRUIDCTL_DRUID_URL" => overrides.druid_url = Some(value),
                "DRUIDCTL_DRUID_USER" => overrides.druid_user = Some(value),
                "DRUIDCTL_DRUID_PASSWORD" => overrides.druid_password = Some(value.into()),
                "DRUIDCTL_DRUID_TOKEN" => overrides.druid_token = Some(value.into()),
                "DRUIDCTL_REGISTRY" => overrides.registry = Some(value),
                "DRUIDCTL_KAFKA_BOOTSTRAP" => overrides.kafka_bootstrap = Some(value),
                "DRUIDCTL_NOTIFY_WEBHOOK" => overrides.notify_webhook = Some(value.into()),
                _ => {}
            }
        }
        overrides
    }

    pub(super) fn apply(&self, environment: &mut Environment) -> Result<()> {
        let mut from = |key: &str, name: &'static str| {
            environment.origins.insert(key.to_owned(), Origin::Variable { name });
        };
        for (set, key, name) in [
            (self.druid_url.is_some(), "druid.url", "DRUIDCTL_DRUID_URL"),
            (self.druid_user.is_some(), "druid.user", "DRUIDCTL_DRUID_USER"),
            (self.druid_password.is_some(), "druid.password", "DRUIDCTL_DRUID_PASSWORD"),
            (self.druid_token.is_some(), "druid.token", "DRUIDCTL_DRUID_TOKEN"),
            (self.registry.is_some(), "registry", "DRUIDCTL_REGISTRY"),
            (self.kafka_bootstrap.is_some(), "kafka.bootstrap_servers", "DRUIDCTL_KAFKA_BOOTSTRAP"),
        ] {
            if set {
                from(key, name);
            }
        }
        if let Some(url) = &self.druid_url {
            // One address for everything: per-service URLs from the file no longer apply.
            environment.druid.url.clone_from(url);
            environment.druid.overlord_url = None;
            environment.druid.broker_url = None;
            environment.druid.coordinator_url = None;
        }
        if let Some(user) = &self.druid_user {
            environment.druid.user = Some(user.clone());
        }
        if let Some(password) = &self.druid_password {
            environment.druid.password = Some(password.clone());
        }
        if let Some(token) = &self.druid_token {
            environment.druid.token = Some(token.clone());
        }
        if let Some(webhook) = &self.notify_webhook {
            environment.notify_webhook = Some(webhook.clone());
        }
        if let Some(bootstrap) = &self.kafka_bootstrap {
            environment.kafka.bootstrap_servers.clone_from(bootstrap);
        }
        if let Some(registry) = &self.registry {
            // Relative to the working directory, as any path given on a command line.
            environment.registry = RegistryLocation::parse(registry, Path::new(""))
                .map_err(|message| Error::ConfigVariable { name: "DRUIDCTL_REGISTRY", message })?;
        }
        Ok(())
    }
}
