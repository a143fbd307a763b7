//! Everything the binary writes: results to stdout, notes and errors to stderr.
//!
//! The only module allowed to print. A closed stdout (`druidctl render | head`) is not an
//! error: the command stops and exits 0.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::fmt::Display;
use std::io::{self, Write};
use std::process::ExitCode;

use anstyle::{AnsiColor, Style};
use serde::Serialize;

use deploy_core::verdict::Decision;
use deploy_core::verify::{CheckResult, Verdict, Verification};

use crate::Format;

/// How a command that ran to the end went.
/// Ordered from best to worst (a fleet's status is its worst pipeline's).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Status {
    /// Exit 0.
    Success,
    /// Exit 4: `plan --exit-code` found changes to deploy.
    Changes,
    /// Exit 1: the command ran and a check it performs failed.
    CheckFailed,
}

/// Exit code of usage, configuration and input errors.
pub const EXIT_INPUT: u8 = 2;
/// Exit code of failures of Druid, S3 or the network.
pub const EXIT_EXTERNAL: u8 = 3;
/// Exit code when the user answers no at a confirmation prompt.
pub const EXIT_DECLINED: u8 = 5;

/// A command that could not run to the end.
#[derive(Debug)]
pub struct CliError {
    error: Box<dyn std::error::Error + Send + Sync>,
    code: u8,
    hint: Option<String>,
    broken_pipe: bool,
}

impl CliError {
    /// The exit code.
    pub fn code(&self) -> u8 {
        self.code
    }

    /// An error with its exit code and an optional hint of what to do next.
    pub fn new(
        error: impl Into<Box<dyn std::error::Error + Send + Sync>>,
        code: u8,
        hint: Option<String>,
    ) -> Self {
        Self { error: error.into(), code, hint, broken_pipe: false }
    }

    /// `{"error": {"kind", "message", "causes", "hint", "exit_code"}}`, what `--output json`
    /// prints on stdout when a command fails.
    fn document(&self) -> serde_json::Value {
        let kind = match self.code {
            1 => "check_failed",
            EXIT_INPUT => "input",
            EXIT_EXTERNAL => "external",
            EXIT_DECLINED => "declined",
            130 | 143 => "interrupted",
            _ => "other",
        };
        let mut causes = Vec::new();
        let mut source = self.error.source();
        while let Some(cause) = source {
            causes.push(cause.to_string());
            source = cause.source();
        }
        serde_json::json!({ "error": {
            "kind": kind,
            "message": self.error.to_string(),
            "causes": causes,
            "hint": self.hint,
            "exit_code": self.code,
        }})
    }

    /// The same error with `hint` as what to do next.
    #[must_use]
    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    /// A local I/O failure with what was being done (`writing target/x.binpb`).
    pub fn io(action: impl Display, source: io::Error) -> Self {
        Self::new(ContextError { context: action.to_string(), source }, EXIT_INPUT, None)
    }
}

impl From<io::Error> for CliError {
    /// Writing to stdout failed; a closed pipe means the reader has seen enough.
    fn from(error: io::Error) -> Self {
        let broken_pipe = error.kind() == io::ErrorKind::BrokenPipe;
        let mut cli = Self::io("writing to stdout", error);
        cli.broken_pipe = broken_pipe;
        cli
    }
}

impl From<deploy_core::Error> for CliError {
    fn from(error: deploy_core::Error) -> Self {
        use deploy_core::{Category, Error};
        let code = match error.category() {
            Category::CheckFailed => 1,
            Category::External => EXIT_EXTERNAL,
            Category::Interrupted => {
                match crate::commands::SIGNAL_RECEIVED.load(std::sync::atomic::Ordering::SeqCst) {
                    0 => crate::commands::EXIT_SIGINT,
                    code => code,
                }
            }
            _ => EXIT_INPUT,
        };
        // Hints that name a flag are the CLI's; the rest come with the library's error.
        let hint = match &error {
            Error::ConfigNotFound { .. } => {
                Some("run druidctl in the project directory, or pass --config PATH".to_owned())
            }
            Error::UnknownEnvironment { .. } => Some("pass --env with one of the environments listed".into()),
            Error::Breaking { .. } => Some(
                "the way out is a new datasource: change `datasource` for the environment in the project file in the same commit, and deploy starts a migration (docs/migrations.md); or, rarely, pass --allow-breaking --reason TEXT to deploy in place (recorded)".into(),
            ),
            Error::WindowClosed { .. } => {
                Some("pass --ignore-window --reason TEXT in an emergency (the reason is recorded)".into())
            }
            other => other.hint(),
        };
        Self::new(error, code, hint)
    }
}

/// "failed X" with the I/O error as its cause.
#[derive(Debug, thiserror::Error)]
#[error("failed {context}")]
struct ContextError {
    context: String,
    source: io::Error,
}

/// What every command writes through.
#[derive(Debug, Clone)]
pub struct Output {
    format: Format,
    quiet: bool,
    verbose: u8,
}

const ERROR: Style = AnsiColor::Red.on_default().bold();
const WARNING: Style = AnsiColor::Yellow.on_default().bold();
const INFO: Style = AnsiColor::Cyan.on_default().bold();
const DIM: Style = Style::new().dimmed();
const PASS: Style = AnsiColor::Green.on_default();

// Writers take `&self` although some need no state today: every command prints through
// one handle, so the format or a capture can change in one place.
#[allow(clippy::unused_self)]
impl Output {
    /// Output settings from the global flags; with `Auto`, `NO_COLOR` and non-terminals
    /// disable colour.
    pub fn new(format: Format, quiet: bool, verbose: u8, color: anstream::ColorChoice) -> Self {
        color.write_global();
        Self { format, quiet, verbose }
    }

    /// Whether the user asked for JSON.
    pub fn is_json(&self) -> bool {
        self.format == Format::Json
    }

    /// Whether informational lines are shown.
    pub fn shows_notes(&self) -> bool {
        !self.quiet
    }

    /// Whether extra detail was asked for (`-v`).
    pub fn is_verbose(&self) -> bool {
        self.verbose > 0
    }

    /// One line of the command's result on stdout.
    pub fn line(&self, text: impl Display) -> io::Result<()> {
        writeln!(anstream::stdout().lock(), "{text}")
    }

    /// Raw bytes on stdout (a descriptor set piped elsewhere).
    pub fn bytes(&self, bytes: &[u8]) -> io::Result<()> {
        let mut stdout = io::stdout().lock();
        stdout.write_all(bytes)?;
        stdout.flush()
    }

    /// The command's result as one pretty JSON document on stdout.
    pub fn json<T: Serialize>(&self, value: &T) -> io::Result<()> {
        let mut stdout = anstream::stdout().lock();
        serde_json::to_writer_pretty(&mut stdout, value).map_err(io::Error::from)?;
        writeln!(stdout)
    }

    /// A progress or summary line on stderr, hidden by `-q`.
    pub fn note(&self, text: impl Display) {
        if !self.quiet {
            let _ = writeln!(anstream::stderr().lock(), "{DIM}{text}{DIM:#}");
        }
    }

    /// A line on stderr that `-q` does not hide.
    pub fn error_line(&self, text: impl Display) {
        let _ = writeln!(anstream::stderr().lock(), "{text}");
    }

    /// A styled severity label (`error`, `warning`, `info`).
    pub fn label(severity: deploy_core::Severity) -> String {
        let style = match severity {
            deploy_core::Severity::Error => ERROR,
            deploy_core::Severity::Warning => WARNING,
            deploy_core::Severity::Info => INFO,
        };
        format!("{style}{severity}{style:#}")
    }

    /// Ends the command: prints the error chain if any and picks the exit code.
    pub fn finish(&self, result: Result<Status, CliError>) -> ExitCode {
        match result {
            Ok(Status::Success) => ExitCode::SUCCESS,
            Ok(Status::CheckFailed) => ExitCode::from(1),
            Ok(Status::Changes) => ExitCode::from(4),
            Err(error) if error.broken_pipe => ExitCode::SUCCESS,
            Err(error) => {
                self.print_error(&error);
                if self.is_json() {
                    // Scripts reading stdout get a document too, not nothing.
                    let _ = self.json(&error.document());
                }
                ExitCode::from(error.code)
            }
        }
    }

    /// Prints `error` with its causes and hint on stderr.
    pub fn print_error(&self, error: &CliError) {
        {
            {
                let mut stderr = anstream::stderr().lock();
                let _ = writeln!(stderr, "{ERROR}error:{ERROR:#} {}", error.error);
                let mut source = error.error.source();
                while let Some(cause) = source {
                    let _ = writeln!(stderr, "  caused by: {cause}");
                    // Druid's whole answer (a Java stack trace, say) only at -vv: the line
                    // above has its first line. Secrets in it are masked all the same.
                    if self.verbose > 1
                        && let Some(druid_client::Error::Http { body, .. }) =
                            cause.downcast_ref::<druid_client::Error>()
                        && body.contains('\n')
                    {
                        let body = druid_client::redact::url_text(body);
                        let _ = writeln!(stderr, "  Druid answered:\n{}", body.trim_end());
                    }
                    source = cause.source();
                }
                if let Some(hint) = &error.hint {
                    let _ = writeln!(stderr, "  {INFO}hint:{INFO:#} {hint}");
                }
            }
        }
    }
}

/// Where a verdict's findings go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sink {
    /// Standard output: the command's result.
    Line,
    /// Standard error, before the error they explain.
    Error,
    /// Standard error as notes (hidden with `--quiet`).
    Note,
}

/// How findings read: located `path:line:col: RULE message` against the old and new roots,
/// or as the finding says itself; a prefix (`compat: `); Druid's informational findings
/// shown or not.
#[derive(Debug, Clone, Copy, Default)]
pub struct FindingStyle<'a> {
    /// The old and the new import roots, to locate findings in files.
    pub located: Option<(&'a std::path::Path, &'a std::path::Path)>,
    /// Before each line.
    pub prefix: &'a str,
    /// Druid's informational findings too.
    pub info: bool,
}

/// A compatibility verdict's findings, one a line: the policy's (buf's rules), then Druid's.
/// What `check`, `plan`, `deploy` and `schemas publish` print.
pub fn print_findings(
    out: &Output,
    verdict: &druid_mapping::compat::Verdict,
    sink: Sink,
    style: FindingStyle<'_>,
) -> Result<(), CliError> {
    let root = |in_old: bool| style.located.map(|(old, new)| if in_old { old } else { new });
    let mut lines = Vec::new();
    for finding in &verdict.policy.findings {
        lines.push(match root(finding.in_old) {
            Some(root) => format!(
                "{}:{}:{}: {} {}",
                root.join(&finding.file).display(),
                finding.line,
                finding.column,
                finding.rule,
                finding.message
            ),
            None => finding.to_string(),
        });
    }
    for finding in verdict.druid.iter().flat_map(|druid| &druid.findings) {
        if finding.severity == deploy_core::Severity::Info && !style.info {
            continue;
        }
        lines.push(match root(finding.in_old) {
            Some(root) => format!(
                "{}:{}:{}: {} {}",
                root.join(&finding.file).display(),
                finding.line,
                finding.col,
                finding.rule,
                finding.message
            ),
            None => finding.to_string(),
        });
    }
    for line in lines {
        let line = format!("{}{line}", style.prefix);
        match sink {
            Sink::Line => out.line(line)?,
            Sink::Error => out.error_line(line),
            Sink::Note => out.note(line),
        }
    }
    Ok(())
}

/// The checks of a verification as a table on stdout.
pub fn print_checks(out: &Output, verification: &Verification) -> Result<(), CliError> {
    let mut rows = table(&["CHECK", "VALUE", "THRESHOLD", "VERDICT"]);
    for CheckResult { name, value, threshold, verdict, .. } in &verification.checks {
        let verdict = match verdict {
            Verdict::Pass => format!("{PASS}pass{PASS:#}"),
            Verdict::Warn => format!("{WARNING}warn{WARNING:#}"),
            Verdict::Fail => format!("{ERROR}FAIL{ERROR:#}"),
        };
        rows.add_row(vec![(*name).to_owned(), value.clone(), threshold.clone(), verdict]);
    }
    out.line(rows)?;
    let verdict = &verification.verdict;
    let decision = match verdict.decision {
        Decision::Pass => format!("{PASS}pass{PASS:#}"),
        Decision::Unverified => format!("{WARNING}UNVERIFIED{WARNING:#}"),
        Decision::Fail => format!("{ERROR}FAIL{ERROR:#}"),
    };
    let summary = verdict.summary();
    out.line(format_args!(
        "verdict: {decision}{}",
        summary.strip_prefix(verdict.decision.to_string().as_str()).unwrap_or(&summary)
    ))?;
    Ok(())
}

/// A plain table: no borders, so it reads well in a terminal and greps well in a log.
pub fn table(header: &[&str]) -> comfy_table::Table {
    let mut table = comfy_table::Table::new();
    table.load_preset(comfy_table::presets::NOTHING).set_header(header.iter().copied());
    table
}
