//! What a workflow reports as it goes: [`Event`]s sent to a [`Reporter`] that the CLI renders
//! as progress, text or JSON lines, and an embedder as it likes.

use std::sync::Mutex;

use serde::Serialize;

/// A verification verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    /// Within the threshold.
    Pass,
    /// Outside it, but the check is warn-only (an idle topic).
    Warn,
    /// Outside it.
    Fail,
}

/// One named check with its measured value and threshold.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CheckResult {
    /// `supervisor_state`, `running_tasks`, `ingestion_rate`, `unparseable_ratio`,
    /// `task_failures`, `sql_probe`.
    pub name: &'static str,
    /// What was measured, for people (`200.00 rows/s (5m)`).
    pub value: String,
    /// What was measured, for machines, in `unit`.
    pub measure: f64,
    /// The unit of `measure`: `boolean` (1 or 0), `tasks`, `rows_per_second`, `ratio`, `rows`.
    pub unit: &'static str,
    /// What it is compared with.
    pub threshold: String,
    /// The outcome.
    pub verdict: Verdict,
}

/// A step of a workflow, for progress displays.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
#[allow(missing_docs)]
pub enum Step {
    Locked,
    Compiled,
    Preflight,
    Published,
    Rendered,
    Submitted,
    Waiting,
    Observing,
    Verified,
    Promoted,
    RollingBack,
    RolledBack,
    Recorded,
    Unchanged,
    Migration,
}

impl Step {
    /// The step in words (`rolling back`), for progress lines.
    pub fn label(self) -> &'static str {
        match self {
            Self::Locked => "locked",
            Self::Compiled => "compiled",
            Self::Preflight => "preflight",
            Self::Published => "published",
            Self::Rendered => "rendered",
            Self::Submitted => "submitted",
            Self::Waiting => "waiting",
            Self::Observing => "observing",
            Self::Verified => "verified",
            Self::Promoted => "promoted",
            Self::RollingBack => "rolling back",
            Self::RolledBack => "rolled back",
            Self::Recorded => "recorded",
            Self::Unchanged => "unchanged",
            Self::Migration => "migration",
        }
    }
}

/// What a workflow reports as it goes.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event {
    /// A step finished (or, for `waiting`, is under way).
    Step {
        /// Which.
        step: Step,
        /// What it did.
        detail: String,
    },
    /// One verification check.
    Check {
        /// Its result.
        check: CheckResult,
    },
    /// Something worth a look that does not stop the workflow.
    Warning {
        /// What.
        message: String,
    },
}

/// Receives [`Event`]s; the CLI renders them as progress, text or JSON lines.
pub trait Reporter: Send + Sync {
    /// One event.
    fn report(&self, event: Event);
}

/// Sends every event to another reporter with `[name] ` before its text: one pipeline's
/// progress among others running at the same time.
pub struct Prefixed {
    /// Where events go.
    pub inner: std::sync::Arc<dyn Reporter>,
    /// What is put before each text.
    pub name: String,
}

impl Reporter for Prefixed {
    fn report(&self, event: Event) {
        let event = match event {
            Event::Step { step, detail } => Event::Step { step, detail: format!("[{}] {detail}", self.name) },
            Event::Warning { message } => Event::Warning { message: format!("[{}] {message}", self.name) },
            Event::Check { mut check } => {
                check.value = format!("[{}] {}", self.name, check.value);
                Event::Check { check }
            }
        };
        self.inner.report(event);
    }
}

/// Drops every event.
#[derive(Debug, Default)]
pub struct Silent;

impl Reporter for Silent {
    fn report(&self, _: Event) {}
}

/// Keeps every event (tests, JSON summaries).
#[derive(Debug, Default)]
pub struct Recorder(Mutex<Vec<Event>>);

impl Recorder {
    /// The events so far.
    pub fn events(&self) -> Vec<Event> {
        self.0.lock().expect("recorder lock").clone()
    }
}

impl Reporter for Recorder {
    fn report(&self, event: Event) {
        self.0.lock().expect("recorder lock").push(event);
    }
}
