//! `preflight`: decode a sample of the environment's topic with the candidate schema and with
//! the live one, predict what Druid would store ([`druid_mapping::preflight`]), and ask Druid's
//! own sampler for its answer on the earliest records when the cluster is reachable. `plan`
//! shows it; `deploy` runs it before the submit as a gate (thresholds in `[preflight]`,
//! `--skip-preflight --reason` to override, recorded).

use std::time::Duration;

use druid_mapping::predict::Predictor;
use druid_mapping::preflight::{self, Report, SamplerAgreement, Thresholds, Verdict};
use schema_registry::Version;
use serde::Serialize;

use crate::kafka::{self, Limits, Start};
use crate::session::Session;
use crate::{Checked, Result};

/// How to run a preflight.
#[derive(Debug, Clone, Copy)]
pub struct Options {
    /// Records per partition (default: the environment's `preflight.sample`).
    pub sample: Option<usize>,
    /// Where the sample starts.
    pub start: Start,
    /// Whether to ask Druid's sampler too.
    pub druid_sampler: bool,
}

impl Default for Options {
    fn default() -> Self {
        Self { sample: None, start: Start::Latest, druid_sampler: true }
    }
}

/// What preflight found: the report, where the live schema came from, Druid's answer.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Preflight {
    /// The prediction and the verdict.
    #[serde(flatten)]
    pub report: Report,
    /// The registry version the supervisor runs now, when one matches.
    pub live_version: Option<String>,
    /// Druid's sampler on the earliest records, next to the prediction; `None` when there was
    /// no answer (see `notes`).
    pub druid_sampler: Option<SamplerAgreement>,
    /// Things to know that do not change the verdict (a disagreement with Druid's sampler, a
    /// live schema that could not be read).
    pub notes: Vec<String>,
}

impl Preflight {
    /// Whether the verdict is pass.
    pub fn passed(&self) -> bool {
        self.report.verdict == Verdict::Pass
    }
}

/// The registry version live, as preflight's caller knows it.
#[derive(Debug, Clone)]
pub(crate) enum LiveVersion {
    /// Not known: preflight reads the drift.
    LookUp,
    /// Known (`None`: no registry version runs).
    Known(Option<String>),
}

impl Session {
    /// Reads a sample of the topic and predicts what the candidate (`checked`) and the live
    /// schema would make of it.
    ///
    /// # Errors
    /// [`crate::Error::Kafka`] when the topic cannot be read; a registry failure while reading
    /// the live version.
    pub async fn preflight(&self, checked: &Checked, options: Options) -> Result<Preflight> {
        self.preflight_knowing(checked, options, LiveVersion::LookUp).await
    }

    /// [`Session::preflight`] when the caller may know already which registry version is live
    /// (what [`crate::drift`] found), as a plan does.
    pub(crate) async fn preflight_knowing(
        &self,
        checked: &Checked,
        options: Options,
        known: LiveVersion,
    ) -> Result<Preflight> {
        let settings = &self.environment.preflight;
        let per_partition = options.sample.unwrap_or(settings.sample);
        self.step(
            crate::events::Step::Preflight,
            format!(
                "reading up to {per_partition} records per partition of `{}`",
                self.environment.kafka.topic
            ),
        );
        let limits = Limits {
            per_partition,
            max_bytes: usize::try_from(settings.max_bytes).unwrap_or(usize::MAX),
            timeout: Duration::from_secs(settings.timeout_secs),
        };
        let records = kafka::sample(&self.environment.kafka, options.start, limits).await?;
        let candidate = Predictor::new(&checked.message, &checked.dimensions);
        let mut notes = Vec::new();
        if records.is_empty() {
            notes.push(format!(
                "`{}` has no records (or does not exist yet): nothing to predict",
                self.environment.kafka.topic
            ));
        }
        let (live_version, live) = match self.live_predictor(known).await {
            Ok(found) => found,
            Err(err) => {
                notes.push(format!("the live schema could not be read ({err}): no comparison with it"));
                (None, None)
            }
        };
        let thresholds = Thresholds {
            max_unparseable_ratio: settings.max_unparseable_ratio,
            max_null_increase: settings.max_null_increase,
        };
        let report = preflight::analyse(&records, &candidate, live.as_ref(), thresholds);
        let druid_sampler = if options.druid_sampler {
            match self.druid_sampler(checked, &candidate, per_partition).await {
                Ok(agreement) => {
                    if agreement.agreeing < agreement.records {
                        notes.push(format!(
                            "Druid's sampler disagrees with the prediction on {} of {} records: the prediction or the cluster's protobuf extension differs ({})",
                            agreement.records - agreement.agreeing,
                            agreement.records,
                            agreement.disagreements.first().cloned().unwrap_or_default()
                        ));
                    }
                    Some(agreement)
                }
                Err(err) => {
                    notes.push(format!("Druid's sampler did not answer: {err}"));
                    None
                }
            }
        } else {
            None
        };
        Ok(Preflight { report, live_version, druid_sampler, notes })
    }

    /// The predictor of what the supervisor runs now: the registry version whose descriptor
    /// is live (its schema and mapping).
    async fn live_predictor(&self, known: LiveVersion) -> Result<(Option<String>, Option<Predictor>)> {
        let live_version = match known {
            LiveVersion::Known(version) => version,
            LiveVersion::LookUp => self.drift().await?.live_version,
        };
        let Some(version) = live_version else { return Ok((None, None)) };
        let baseline = crate::publish::baseline(&self.registry, &Version::parse(&version)?).await?;
        let message = baseline.schema.message(&baseline.message_type)?;
        Ok((Some(version), Some(Predictor::new(&message, &baseline.dimensions))))
    }

    /// Druid's sampler on the earliest records of the topic, with the candidate spec, compared
    /// with the prediction on the same records. The sampler API starts at the earliest or the
    /// latest offset only, and the latest means records yet to come: the earliest it is.
    async fn druid_sampler(
        &self,
        checked: &Checked,
        candidate: &Predictor,
        per_partition: usize,
    ) -> std::result::Result<SamplerAgreement, String> {
        let spec = checked.render(&self.environment, None).map_err(|err| err.to_string())?;
        let request = druid_client::sampler::SamplerRequest::kafka(&spec).from_earliest().rows(per_partition);
        let rows = request.row_limit();
        let response = self.druid.sample(&request.to_json()).await.map_err(|err| err.to_string())?;
        let limits = Limits {
            per_partition: rows,
            max_bytes: usize::try_from(self.environment.preflight.max_bytes).unwrap_or(usize::MAX),
            timeout: Duration::from_secs(self.environment.preflight.timeout_secs),
        };
        let window = kafka::sample(&self.environment.kafka, Start::Earliest, limits)
            .await
            .map_err(|err| err.to_string())?;
        Ok(preflight::compare_sampler(&window, candidate, &response))
    }
}
