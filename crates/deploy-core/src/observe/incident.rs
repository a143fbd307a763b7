//! `incident`: a post-mortem draft for a time window, from what druidctl and Druid recorded:
//! druidctl's history (deploys, overrides, rollbacks, suspensions), Druid's supervisor history
//! (spec changes, with those druidctl did not make shown as such), failed tasks with their
//! errors, the parse errors the running tasks saved; then a summary (versions involved, time to
//! detect, time to recover, records affected) and the post-mortem's headings with the facts
//! filled in and the analysis left to write.

use std::collections::BTreeSet;
use std::fmt::Write as _;

use druid_client::tasks::{TaskFilter, TaskState, TaskStatus};
use jiff::Timestamp;
use serde::Serialize;

use crate::Result;
use crate::ledger::{Action, Outcome};
use crate::session::Session;

/// One line of the timeline.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Entry {
    /// When (RFC 3339).
    pub at: String,
    /// Where it comes from: `druidctl`, `druidctl-monitor` (alerts `monitor --watch` saw),
    /// `druidctl-notify` (undelivered notifications), `druid-supervisor`, `druid-task`,
    /// `druid-parse-error`.
    pub source: &'static str,
    /// What happened.
    pub what: String,
    /// Whether it is a sign of trouble (a failure, a rollback, parse errors).
    pub problem: bool,
}

/// What `incident` found.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Incident {
    /// Environment.
    pub environment: String,
    /// Datasource.
    pub datasource: String,
    /// The window, RFC 3339.
    pub from: String,
    /// The window's end.
    pub to: String,
    /// Every event, oldest first.
    pub timeline: Vec<Entry>,
    /// Registry versions named by druidctl's records in the window.
    pub versions: Vec<String>,
    /// First sign of trouble.
    pub detected_at: Option<String>,
    /// From the first action of the window to the first sign of trouble, in minutes.
    pub time_to_detect_minutes: Option<f64>,
    /// From the first sign of trouble to the first successful deploy, rollback or restore
    /// after it, in minutes.
    pub time_to_recover_minutes: Option<f64>,
    /// Parse errors Druid saved in the window (the running tasks keep the latest ones).
    pub parse_errors: usize,
    /// Failed tasks in the window.
    pub failed_tasks: usize,
    /// Records known to be affected: the unparseable (and processed-with-error) records counted
    /// by the running tasks and by the window's finished tasks whose reports Druid still has (a
    /// lower bound).
    pub records_affected_at_least: u64,
}

/// RFC 3339 with milliseconds, as Druid writes its times.
fn ms(at: Timestamp) -> String {
    format!("{:.3}", at.round(jiff::Unit::Millisecond).unwrap_or(at))
}

fn parse_time(text: &str) -> Option<Timestamp> {
    text.parse::<Timestamp>().ok().or_else(|| {
        // Druid writes `2026-11-30T03:12:09.520Z`; task times sometimes lack the zone.
        text.parse::<jiff::civil::DateTime>()
            .ok()
            .and_then(|civil| jiff::tz::TimeZone::UTC.to_timestamp(civil).ok())
    })
}

impl Session {
    /// The incident draft for `[from, to]`.
    ///
    /// # Errors
    /// Registry or Druid failures while reading what they recorded.
    pub async fn incident(&self, from: Timestamp, to: Timestamp) -> Result<Incident> {
        let within = |at: Option<Timestamp>| at.is_some_and(|at| at >= from && at <= to);
        let id = self.environment.supervisor_id().to_owned();
        let mut timeline = Vec::new();
        let mut versions = BTreeSet::new();
        let mut recoveries = Vec::new();
        let mut starts = Vec::new();

        let records = self.history().await?;
        let mut druidctl_times = Vec::new();
        for record in &records {
            let at = parse_time(&record.at);
            if let Some(at) = at {
                druidctl_times.push(at);
            }
            if !within(at) {
                continue;
            }
            let at = at.unwrap_or(from);
            versions.extend(record.from.iter().chain(record.to.iter()).cloned());
            let problem =
                matches!(
                    record.outcome,
                    Outcome::Failed
                        | Outcome::RolledBack
                        | Outcome::RollbackFailed
                        | Outcome::Rejected
                        | Outcome::Abandoned
                ) || matches!(record.action, Action::Suspend | Action::Rollback | Action::AutomaticRollback);
            if matches!(record.action, Action::Deploy) {
                starts.push(at);
            }
            if record.outcome == Outcome::Succeeded
                && matches!(
                    record.action,
                    Action::Deploy | Action::Rollback | Action::AutomaticRollback | Action::Resume
                )
            {
                recoveries.push(at);
            }
            let versions = match (&record.from, &record.to) {
                (Some(from), Some(to)) => format!(" {from} -> {to}"),
                (None, Some(to)) => format!(" {to}"),
                _ => String::new(),
            };
            let overrides: Vec<String> =
                record.overrides.iter().map(|(name, reason)| format!("override {name}: {reason}")).collect();
            let mut what = format!("{} {}{versions}", record.action, record.outcome);
            if let Some(by) = &record.by {
                let _ = write!(what, " by {by}");
            }
            if !overrides.is_empty() {
                let _ = write!(what, " ({})", overrides.join("; "));
            }
            if let Some(detail) = &record.detail {
                let _ = write!(what, ": {detail}");
            }
            timeline.push((at, Entry { at: ms(at), source: "druidctl", what, problem }));
        }

        // What monitor --watch saw and the notifications that did not get through.
        for observation in self.ledger.observations(&self.environment.name).await.unwrap_or_default() {
            let at = parse_time(&observation.at);
            if !within(at) {
                continue;
            }
            let at = at.unwrap_or(from);
            let (source, problem) = match observation.kind.as_str() {
                "alert-fired" => ("druidctl-monitor", true),
                "alert-resolved" => ("druidctl-monitor", false),
                _ => ("druidctl-notify", true),
            };
            if observation.kind == "alert-resolved" {
                recoveries.push(at);
            }
            let what = format!("{}: {}", observation.kind, observation.detail);
            timeline.push((at, Entry { at: ms(at), source, what, problem }));
        }

        // Druid's own record of spec changes; one without a druidctl record within two minutes
        // was made elsewhere (the console, curl).
        let history = self.druid.supervisor_history(&id).await.unwrap_or_default();
        for entry in &history {
            let at = entry.version.as_deref().and_then(parse_time);
            if !within(at) {
                continue;
            }
            let at = at.unwrap_or(from);
            let by_druidctl = druidctl_times
                .iter()
                .any(|time| time.duration_since(at).abs() <= jiff::SignedDuration::from_mins(2));
            let what = if by_druidctl {
                "supervisor spec submitted (matches a druidctl action)".to_owned()
            } else {
                "supervisor spec changed outside druidctl (Druid console or API)".to_owned()
            };
            timeline
                .push((at, Entry { at: ms(at), source: "druid-supervisor", what, problem: !by_druidctl }));
        }

        let filter = TaskFilter {
            state: Some(TaskState::Complete),
            datasource: Some(id.clone()),
            ..TaskFilter::default()
        };
        let tasks = self.druid.tasks(&filter).await.unwrap_or_default();
        let mut failed_tasks = 0;
        for task in tasks
            .iter()
            .filter(|task| task.status_code.as_ref().or(task.status.as_ref()) == Some(&TaskStatus::Failed))
        {
            let at = task.created_time.as_deref().and_then(parse_time);
            if !within(at) {
                continue;
            }
            failed_tasks += 1;
            let error =
                task.error_msg.as_deref().unwrap_or("no error message").lines().next().unwrap_or_default();
            let what = format!("task {} failed: {}", task.id, error.chars().take(300).collect::<String>());
            timeline.push((
                at.unwrap_or(from),
                Entry { at: ms(at.unwrap_or(from)), source: "druid-task", what, problem: true },
            ));
        }

        // Parse errors: those the running tasks saved, and those in the reports of the
        // window's completed tasks (a rolled-back version's task is finished by then).
        let mut saved = self.druid.parse_errors(&id).await.unwrap_or_default();
        let mut finished_unparseable = 0.0;
        let finished: Vec<&druid_client::tasks::Task> = tasks
            .iter()
            .filter(|task| within(task.created_time.as_deref().and_then(parse_time)))
            .take(20)
            .collect();
        for task in finished {
            let Ok(Some(reports)) = self.druid.task_reports(&task.id).await else { continue };
            let Some(payload) = reports.ingestion_stats_and_errors.and_then(|report| report.payload) else {
                continue;
            };
            if let Some(events) =
                payload.unparseable_events.as_ref().and_then(|events| events.get("buildSegments"))
            {
                saved.extend(
                    serde_json::from_value::<Vec<druid_client::supervisors::ParseError>>(events.clone())
                        .unwrap_or_default(),
                );
            }
            finished_unparseable += payload
                .row_stats
                .as_ref()
                .and_then(|stats| stats.pointer("/buildSegments/unparseable"))
                .and_then(serde_json::Value::as_f64)
                .unwrap_or_default();
        }
        // The supervisor's list and a finished task's report can hold the same errors.
        let mut seen = BTreeSet::new();
        saved.retain(|error| {
            seen.insert((error.time_of_exception_millis, error.input.clone(), error.details.clone()))
        });
        let mut parse_errors = 0;
        for error in &saved {
            let at =
                error.time_of_exception_millis.and_then(|millis| Timestamp::from_millisecond(millis).ok());
            if !within(at) {
                continue;
            }
            parse_errors += 1;
            // The first three samples in full, the rest counted.
            if parse_errors <= 3 {
                let details = error.details.first().cloned().unwrap_or_default();
                let input = crate::ops::summarise(error.input.as_deref());
                let input = if input.is_empty() { String::new() } else { format!(" (input {input})") };
                let what = format!("parse error: {}{input}", details.chars().take(200).collect::<String>());
                let at = at.unwrap_or(from);
                timeline.push((at, Entry { at: ms(at), source: "druid-parse-error", what, problem: true }));
            }
        }
        let running_unparseable: f64 = self
            .druid
            .supervisor_stats(&id)
            .await
            .map(|stats| {
                stats
                    .values()
                    .flat_map(|tasks| tasks.values())
                    .filter_map(|task| task.totals.as_ref().and_then(|totals| totals.build_segments))
                    .map(|row| row.unparseable + row.processed_with_error)
                    .sum()
            })
            .unwrap_or_default();

        timeline.sort_by_key(|(at, _)| *at);
        let detected = timeline.iter().find(|(_, entry)| entry.problem).map(|(at, _)| *at);
        let minutes = |a: Timestamp, b: Timestamp| {
            #[allow(clippy::cast_precision_loss)]
            let minutes = b.duration_since(a).as_secs() as f64 / 60.0;
            (minutes * 10.0).round() / 10.0
        };
        let time_to_detect_minutes = detected.and_then(|detected| {
            starts.iter().filter(|start| **start <= detected).min().map(|start| minutes(*start, detected))
        });
        let time_to_recover_minutes = detected.and_then(|detected| {
            recoveries
                .iter()
                .filter(|time| **time >= detected)
                .min()
                .map(|recovered| minutes(detected, *recovered))
        });
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        let records_affected_at_least = (running_unparseable + finished_unparseable).max(0.0) as u64;
        Ok(Incident {
            environment: self.environment.name.clone(),
            datasource: id,
            from: ms(from),
            to: ms(to),
            timeline: timeline.into_iter().map(|(_, entry)| entry).collect(),
            versions: versions.into_iter().collect(),
            detected_at: detected.map(ms),
            time_to_detect_minutes,
            time_to_recover_minutes,
            parse_errors,
            failed_tasks,
            records_affected_at_least,
        })
    }
}

/// Text for a cell of the draft's Markdown (GitLab renders HTML in Markdown): `<` and `&` as
/// entities (no tag or entity can open; a lone `>`, as in `v1 -> v2`, stays readable), table
/// pipes escaped, one line.
pub fn markdown_escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('|', "\\|").replace(['\n', '\r'], " ")
}

impl Incident {
    /// The post-mortem draft in Markdown (renders in GitLab): the facts filled in, the
    /// analysis left to write.
    pub fn markdown(&self) -> String {
        let minutes = |value: Option<f64>| value.map_or_else(|| "unknown".to_owned(), |m| format!("{m} min"));
        let mut out = format!(
            "# Incident: {} ({}), {} to {}\n\n",
            markdown_escape(&self.environment),
            markdown_escape(&self.datasource),
            self.from,
            self.to
        );
        out.push_str("## Summary\n\n");
        let _ = write!(
            out,
            "- Versions involved: {}\n- First sign of trouble: {}\n- Time to detect: {}\n- Time to recover: {}\n- Failed tasks: {}\n- Parse errors saved by Druid: {}\n- Records affected: at least {}\n\n",
            if self.versions.is_empty() {
                "none recorded".to_owned()
            } else {
                markdown_escape(&self.versions.join(", "))
            },
            self.detected_at.as_deref().unwrap_or("none found"),
            minutes(self.time_to_detect_minutes),
            minutes(self.time_to_recover_minutes),
            self.failed_tasks,
            self.parse_errors,
            self.records_affected_at_least,
        );
        out.push_str(
            "## Impact\n\n_Who or what was affected (dashboards, consumers), and for how long._\n\n",
        );
        out.push_str("## Timeline (UTC)\n\n| at | source | what |\n|---|---|---|\n");
        for entry in &self.timeline {
            let what = markdown_escape(&entry.what);
            let what = if entry.problem { format!("**{what}**") } else { what };
            let _ = writeln!(out, "| {} | {} | {what} |", entry.at, markdown_escape(entry.source));
        }
        if self.timeline.is_empty() {
            out.push_str("| | | nothing recorded in this window |\n");
        }
        out.push_str("\n## Detection\n\n_How the problem was noticed (alert, verification, a person)._\n\n");
        out.push_str("## Root cause\n\n_To write._\n\n## What went well, what did not\n\n_To write._\n\n");
        out.push_str("## Action items\n\n- [ ] _owner: action_\n");
        out
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn hostile_text_stays_text_in_the_draft() {
        let cell = super::markdown_escape("<img src=x onerror=alert(1)> | injected\nrow");
        assert_eq!(cell, "&lt;img src=x onerror=alert(1)> \\| injected row");
    }
}
