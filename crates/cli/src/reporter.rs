//! Progress from deploy-core's [`Reporter`] events: a spinner on a terminal, plain lines on
//! stderr otherwise, JSON lines on stdout with `--output json`. Only the CLI knows indicatif.

use std::io::IsTerminal as _;
use std::time::Duration;

use deploy_core::events::{Event, Reporter};

use crate::output::Output;

/// Progress: a spinner with the current step and the elapsed time on a terminal, plain lines
/// on stderr otherwise, JSON lines on stdout with `--output json`.
pub struct Progress {
    out: Output,
    json_lines: bool,
    spinner: Option<indicatif::ProgressBar>,
}

impl Progress {
    /// Progress for `out`; `json_lines` writes each event as a JSON line on stdout.
    pub fn new(out: Output, json_lines: bool) -> Self {
        let spinner = (!json_lines && out.shows_notes() && std::io::stderr().is_terminal()).then(|| {
            let spinner = indicatif::ProgressBar::new_spinner();
            spinner.set_style(
                indicatif::ProgressStyle::with_template("{spinner} {msg} [{elapsed}]")
                    .unwrap_or_else(|_| indicatif::ProgressStyle::default_spinner()),
            );
            spinner.enable_steady_tick(Duration::from_millis(120));
            spinner
        });
        Self { out, json_lines, spinner }
    }

    /// Removes the spinner before the command prints its result.
    pub fn finish(&self) {
        if let Some(spinner) = &self.spinner {
            spinner.finish_and_clear();
        }
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        self.finish();
    }
}

impl Reporter for Progress {
    fn report(&self, event: Event) {
        if self.json_lines {
            if let Ok(line) = serde_json::to_string(&event) {
                let _ = self.out.line(line);
            }
            return;
        }
        match (&self.spinner, event) {
            (
                Some(spinner),
                Event::Step {
                    step: deploy_core::events::Step::Waiting | deploy_core::events::Step::Observing,
                    detail,
                },
            ) => {
                spinner.set_message(detail);
            }
            (Some(spinner), Event::Step { step, detail }) => {
                spinner.println(format!("  {:<12} {detail}", step.label()));
                spinner.set_message(detail);
            }
            (None, Event::Step { step, detail }) => {
                self.out.note(format_args!("  {:<12} {detail}", step.label()));
            }
            (Some(spinner), Event::Warning { message }) => spinner.println(format!("warning: {message}")),
            (None, Event::Warning { message }) => self.out.error_line(format_args!("warning: {message}")),
            (_, Event::Check { .. }) => {}
        }
    }
}
