//! Reading a sample of an environment's topic for preflight, with rskafka (pure Rust). Reads
//! partitions directly at offsets (no consumer group), so nothing is committed and no group
//! appears on the cluster: preflight disturbs nothing.
//!
//! Security follows the environment's `kafka.consumer_properties` (the same Java client
//! properties Druid receives): `security.protocol` `PLAINTEXT`, `SSL`, `SASL_PLAINTEXT` or
//! `SASL_SSL`; `sasl.mechanism` `PLAIN`, `SCRAM-SHA-256` or `SCRAM-SHA-512` with the user and
//! password of `sasl.jaas.config`; the CA from `ssl.truststore.location` when
//! `ssl.truststore.type` is `PEM` (else the public roots). Anything else is a clear error.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use druid_mapping::preflight::Record;
use rskafka::client::partition::{OffsetAt, UnknownTopicHandling};
use rskafka::client::{ClientBuilder, Credentials, SaslConfig};

use crate::config::KafkaSettings;

/// Where in each partition the sample starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Start {
    /// The last records of each partition (the default).
    Latest,
    /// The first records still kept.
    Earliest,
    /// The first records at or after a time.
    At(jiff::Timestamp),
}

impl Start {
    /// Parses `latest`, `earliest` or an RFC 3339 time.
    ///
    /// # Errors
    /// Anything else, with what is accepted.
    pub fn parse(text: &str) -> Result<Self, String> {
        match text {
            "latest" => Ok(Self::Latest),
            "earliest" => Ok(Self::Earliest),
            other => other.parse::<jiff::Timestamp>().map(Self::At).map_err(|_| {
                format!("`{other}`: expected latest, earliest or an RFC 3339 time (2026-11-30T10:00:00Z)")
            }),
        }
    }
}

/// How much to read.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Records per partition.
    pub per_partition: usize,
    /// Bytes per partition, at most.
    pub max_bytes: usize,
    /// Time for the whole read.
    pub timeout: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Self { per_partition: 1000, max_bytes: 64 << 20, timeout: Duration::from_secs(30) }
    }
}

/// Why the sample could not be read.
#[derive(Debug, thiserror::Error)]
pub enum KafkaError {
    /// The settings ask for something druidctl's Kafka client cannot do.
    #[error("kafka: {0}")]
    Unsupported(String),
    /// Kafka did not answer, or refused.
    #[error("kafka at {brokers}: {message}")]
    Unreachable {
        /// The bootstrap servers.
        brokers: String,
        /// What failed.
        message: String,
    },
}

/// Reads up to `limits.per_partition` records of every partition of the topic from `start`;
/// none when the topic does not exist yet.
///
/// # Errors
/// [`KafkaError`] when the settings are not supported or Kafka cannot be read.
pub async fn sample(kafka: &KafkaSettings, start: Start, limits: Limits) -> Result<Vec<Record>, KafkaError> {
    let brokers = kafka.bootstrap_servers.clone();
    let unreachable = |message: String| KafkaError::Unreachable { brokers: brokers.clone(), message };
    let read = async {
        let client = client(kafka).await?;
        let topics = client.list_topics().await.map_err(|err| unreachable(err.to_string()))?;
        // A topic that does not exist yet has no records to predict (Druid waits for it).
        let Some(topic) = topics.into_iter().find(|topic| topic.name == kafka.topic) else {
            return Ok(Vec::new());
        };
        let reads = topic.partitions.iter().map(|&partition| {
            let client = &client;
            async move {
                let partition_client = client
                    .partition_client(kafka.topic.clone(), partition, UnknownTopicHandling::Error)
                    .await
                    .map_err(|err| err.to_string())?;
                read_partition(&partition_client, partition, start, limits).await
            }
        });
        let mut records = Vec::new();
        for result in futures_util::future::join_all(reads).await {
            records.extend(result.map_err(unreachable)?);
        }
        Ok(records)
    };
    tokio::time::timeout(limits.timeout, read)
        .await
        .map_err(|_| unreachable(format!("no answer within {} s", limits.timeout.as_secs())))?
}

async fn read_partition(
    client: &rskafka::client::partition::PartitionClient,
    partition: i32,
    start: Start,
    limits: Limits,
) -> Result<Vec<Record>, String> {
    let earliest = client.get_offset(OffsetAt::Earliest).await.map_err(|err| err.to_string())?;
    let end = client.get_offset(OffsetAt::Latest).await.map_err(|err| err.to_string())?;
    let wanted = i64::try_from(limits.per_partition).unwrap_or(i64::MAX);
    let mut offset = match start {
        Start::Latest => (end - wanted).max(earliest),
        Start::Earliest => earliest,
        Start::At(time) => {
            let time = chrono::DateTime::from_timestamp_millis(time.as_millisecond()).unwrap_or_default();
            let found = client.get_offset(OffsetAt::Timestamp(time)).await.map_err(|err| err.to_string())?;
            // Kafka answers -1 when no record is that recent: nothing to read, not everything.
            if found < 0 { end } else { found.max(earliest) }
        }
    };
    let mut records = Vec::new();
    let mut bytes = 0_usize;
    while offset < end && records.len() < limits.per_partition && bytes < limits.max_bytes {
        let max = i32::try_from((limits.max_bytes - bytes).min(8 << 20)).unwrap_or(i32::MAX).max(1);
        let (batch, _high_watermark) =
            client.fetch_records(offset, 1..max, 500).await.map_err(|err| err.to_string())?;
        if batch.is_empty() {
            break;
        }
        for item in batch {
            if item.offset < offset || records.len() >= limits.per_partition {
                continue;
            }
            offset = item.offset + 1;
            let value = item.record.value.unwrap_or_default();
            bytes += value.len();
            records.push(Record { partition, offset: item.offset, value });
        }
    }
    Ok(records)
}

async fn client(kafka: &KafkaSettings) -> Result<rskafka::client::Client, KafkaError> {
    let properties = &kafka.consumer_properties;
    let protocol =
        properties.get("security.protocol").map_or("PLAINTEXT", String::as_str).to_ascii_uppercase();
    let brokers: Vec<String> = kafka
        .bootstrap_servers
        .split(',')
        .map(|broker| broker.trim().to_owned())
        .filter(|b| !b.is_empty())
        .collect();
    let mut builder =
        ClientBuilder::new(brokers).client_id("druidctl-preflight").backoff_config(rskafka::BackoffConfig {
            deadline: Some(Duration::from_secs(10)),
            ..rskafka::BackoffConfig::default()
        });
    let (tls, sasl) = match protocol.as_str() {
        "PLAINTEXT" => (false, false),
        "SSL" => (true, false),
        "SASL_PLAINTEXT" => (false, true),
        "SASL_SSL" => (true, true),
        other => {
            return Err(KafkaError::Unsupported(format!("security.protocol `{other}` is not supported")));
        }
    };
    if tls {
        builder = builder.tls_config(Arc::new(tls_config(properties)?));
    }
    if sasl {
        builder = builder.sasl_config(sasl_config(properties)?);
    }
    builder.build().await.map_err(|err| KafkaError::Unreachable {
        brokers: kafka.bootstrap_servers.clone(),
        message: err.to_string(),
    })
}

fn tls_config(properties: &BTreeMap<String, String>) -> Result<rustls::ClientConfig, KafkaError> {
    let mut roots = rustls::RootCertStore::empty();
    match (
        properties.get("ssl.truststore.location"),
        properties.get("ssl.truststore.type").map(String::as_str),
    ) {
        (Some(path), Some("PEM" | "pem")) => {
            use rustls::pki_types::pem::PemObject as _;
            let certificates = rustls::pki_types::CertificateDer::pem_file_iter(path)
                .map_err(|err| KafkaError::Unsupported(format!("ssl.truststore.location `{path}`: {err}")))?;
            for certificate in certificates {
                let certificate = certificate.map_err(|err| {
                    KafkaError::Unsupported(format!("ssl.truststore.location `{path}`: {err}"))
                })?;
                roots.add(certificate).map_err(|err| {
                    KafkaError::Unsupported(format!("ssl.truststore.location `{path}`: {err}"))
                })?;
            }
        }
        (Some(path), kind) => {
            return Err(KafkaError::Unsupported(format!(
                "ssl.truststore.location `{path}` of type {}: druidctl reads PEM trust stores only (set ssl.truststore.type = PEM)",
                kind.unwrap_or("JKS")
            )));
        }
        (None, _) => roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned()),
    }
    if properties.contains_key("ssl.keystore.location") {
        return Err(KafkaError::Unsupported(
            "client certificates (ssl.keystore.location) are not supported".into(),
        ));
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    Ok(rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|err| KafkaError::Unsupported(err.to_string()))?
        .with_root_certificates(roots)
        .with_no_client_auth())
}

fn sasl_config(properties: &BTreeMap<String, String>) -> Result<SaslConfig, KafkaError> {
    let jaas = properties.get("sasl.jaas.config").ok_or_else(|| {
        KafkaError::Unsupported("SASL needs sasl.jaas.config with username and password".into())
    })?;
    // The password is never echoed: errors name the setting, not its value.
    let field = |name: &str| {
        let start = jaas.find(&format!("{name}=\""))? + name.len() + 2;
        let end = jaas[start..].find('"')? + start;
        Some(jaas[start..end].to_owned())
    };
    let (Some(username), Some(password)) = (field("username"), field("password")) else {
        return Err(KafkaError::Unsupported(
            "sasl.jaas.config must give username=\"...\" and password=\"...\"".into(),
        ));
    };
    let credentials = Credentials::new(username, password);
    match properties.get("sasl.mechanism").map_or("PLAIN", String::as_str) {
        "PLAIN" => Ok(SaslConfig::Plain(credentials)),
        "SCRAM-SHA-256" => Ok(SaslConfig::ScramSha256(credentials)),
        "SCRAM-SHA-512" => Ok(SaslConfig::ScramSha512(credentials)),
        other => Err(KafkaError::Unsupported(format!(
            "sasl.mechanism `{other}` is not supported (PLAIN, SCRAM-SHA-256, SCRAM-SHA-512)"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn properties(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(key, value)| ((*key).to_owned(), (*value).to_owned())).collect()
    }

    #[test]
    fn starts_parse() {
        assert_eq!(Start::parse("latest").unwrap(), Start::Latest);
        assert_eq!(Start::parse("earliest").unwrap(), Start::Earliest);
        assert!(matches!(Start::parse("2026-11-30T10:00:00Z").unwrap(), Start::At(_)));
        assert!(Start::parse("yesterday").unwrap_err().contains("RFC 3339"));
    }

    #[test]
    fn sasl_settings_are_read_and_never_echoed() {
        let jaas = "org.apache.kafka.common.security.scram.ScramLoginModule required username=\"druid\" password=\"s3cret\";";
        let config =
            sasl_config(&properties(&[("sasl.jaas.config", jaas), ("sasl.mechanism", "SCRAM-SHA-512")]))
                .unwrap();
        assert!(matches!(config, SaslConfig::ScramSha512(_)));
        let err = sasl_config(&properties(&[("sasl.jaas.config", jaas), ("sasl.mechanism", "GSSAPI")]))
            .unwrap_err();
        assert!(err.to_string().contains("GSSAPI") && !err.to_string().contains("s3cret"), "{err}");
        let err = sasl_config(&properties(&[("sasl.jaas.config", "username=\"druid\"")])).unwrap_err();
        assert!(err.to_string().contains("password"), "{err}");
    }

    #[test]
    fn trust_stores_must_be_pem() {
        let err =
            tls_config(&properties(&[("ssl.truststore.location", "/etc/kafka/truststore.jks")])).unwrap_err();
        assert!(err.to_string().contains("PEM"), "{err}");
        assert!(tls_config(&properties(&[])).is_ok());
    }
}
