//! A Druid client from an environment's settings.

use std::time::Duration;

use druid_client::{Auth, ClientConfig, DruidClient};

use crate::config::{Environment, Origin};
use crate::{Error, Result};

/// The client for `environment`: its URLs, credentials (a token wins over user and password),
/// CA certificate and timeouts.
pub fn druid_client(environment: &Environment) -> Result<DruidClient> {
    let settings = &environment.druid;
    // Name where the value came from: a variable, or the key where the file writes it.
    let invalid = |at: &str, message: String| match environment.origins.get(&format!("druid.{at}")) {
        Some(Origin::Variable { name }) => Error::ConfigVariable { name, message },
        Some(Origin::File { key }) => {
            Error::ConfigInvalid { path: "druidctl.toml".into(), at: key.clone(), message }
        }
        None => Error::ConfigInvalid {
            path: "druidctl.toml".into(),
            at: format!("environments.{}.druid.{at}", environment.name),
            message,
        },
    };
    let url = |at: &str, value: &str| {
        druid_client::config::parse_url(value).map_err(|err| invalid(at, err.to_string()))
    };
    let optional =
        |at: &str, value: &Option<String>| value.as_deref().map(|value| url(at, value)).transpose();
    let auth = match (&settings.token, &settings.user, &settings.password) {
        (Some(token), _, _) => Auth::Bearer(token.clone()),
        (None, Some(user), Some(password)) => Auth::Basic { user: user.clone(), password: password.clone() },
        (None, Some(_), None) => {
            return Err(invalid("password", "a user needs a password (DRUIDCTL_DRUID_PASSWORD)".into()));
        }
        _ => Auth::None,
    };
    let ca_cert_pem = match &settings.ca_cert {
        Some(path) => {
            Some(std::fs::read(path).map_err(|source| Error::ConfigRead { path: path.clone(), source })?)
        }
        None => None,
    };
    let config = ClientConfig {
        url: Some(url("url", &settings.url)?),
        overlord_url: optional("overlord_url", &settings.overlord_url)?,
        broker_url: optional("broker_url", &settings.broker_url)?,
        coordinator_url: optional("coordinator_url", &settings.coordinator_url)?,
        auth,
        ca_cert_pem,
        connect_timeout: Some(Duration::from_secs(settings.connect_timeout_secs)),
        request_timeout: Some(Duration::from_secs(settings.request_timeout_secs)),
        retry: druid_client::RetryPolicy::default(),
    };
    DruidClient::new(&config).map_err(|err| invalid("url", err.to_string()))
}
