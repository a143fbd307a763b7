//! Writing records to a Kafka topic with rskafka (pure Rust: nothing to install), shared by
//! the `produce` program and the end-to-end tests.

use rskafka::client::ClientBuilder;
use rskafka::client::partition::{Compression, OffsetAt, PartitionClient, UnknownTopicHandling};
use rskafka::record::Record;

/// One partition of a topic, created (with one partition) when it does not exist.
pub struct Topic {
    partition: PartitionClient,
    /// Whether this call created the topic.
    pub created: bool,
}

impl Topic {
    /// Connects to `brokers` (`host:port`) and opens partition 0 of `topic`.
    ///
    /// # Errors
    /// When Kafka cannot be reached or the topic cannot be created.
    pub async fn open(brokers: &str, topic: &str) -> Result<Self, rskafka::client::error::Error> {
        let client = ClientBuilder::new(vec![brokers.to_owned()]).build().await?;
        let topics = client.list_topics().await?;
        let created = !topics.iter().any(|known| known.name == topic);
        if created {
            client.controller_client()?.create_topic(topic, 1, 1, 10_000).await?;
        }
        let partition = client.partition_client(topic, 0, UnknownTopicHandling::Retry).await?;
        Ok(Self { partition, created })
    }

    /// The next offset to be written.
    ///
    /// # Errors
    /// When Kafka does not answer.
    pub async fn end(&self) -> Result<i64, rskafka::client::error::Error> {
        self.partition.get_offset(OffsetAt::Latest).await
    }

    /// Writes `values` in batches of 500 and returns the offsets written (`before..after`).
    /// Fails when Kafka then holds a different number of new records.
    ///
    /// # Errors
    /// When Kafka refuses a batch or the count does not match.
    pub async fn write(
        &self,
        values: impl IntoIterator<Item = Vec<u8>>,
    ) -> Result<std::ops::Range<i64>, Box<dyn std::error::Error + Send + Sync>> {
        let before = self.end().await?;
        let mut written = 0_i64;
        let mut batch = Vec::with_capacity(500);
        let mut values = values.into_iter().peekable();
        while let Some(value) = values.next() {
            batch.push(Record {
                key: None,
                value: Some(value),
                headers: std::collections::BTreeMap::default(),
                timestamp: chrono::Utc::now(),
            });
            written += 1;
            if batch.len() == 500 || values.peek().is_none() {
                self.partition.produce(std::mem::take(&mut batch), Compression::NoCompression).await?;
            }
        }
        let after = self.end().await?;
        if after - before != written {
            return Err(format!("Kafka holds {} new records, not {written}", after - before).into());
        }
        Ok(before..after)
    }
}
