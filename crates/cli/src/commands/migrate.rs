//! `druidctl migrate status|cutover|abort|sql --env E`: the migration a deploy to a new
//! datasource started (docs/migrations.md).

use std::sync::Arc;
use std::time::Duration;

use deploy_core::migrate::{CutoverOptions, Migration, Placement, SideStatus};
use deploy_core::policy;
use deploy_core::session::Cancel;

use super::{Context, block_on, block_on_interruptible, confirm};
use crate::output::{CliError, Output, Status};
use crate::reporter::Progress;

/// `migrate` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Where the migration is: both supervisors as Druid reports them, and its history.
    Status,
    /// Hand off the old supervisor's task groups, wait, terminate it; the migration is done.
    Cutover {
        /// How long to wait for the handoff, in seconds (Druid's own wait is 15 minutes).
        #[arg(long, value_name = "SECONDS", default_value_t = 900)]
        timeout: u64,
        /// Do not ask for confirmation (needed where the environment asks, off a terminal).
        #[arg(long, short = 'y')]
        yes: bool,
    },
    /// Terminate the new supervisor and make the old datasource current again.
    Abort {
        /// Do not ask for confirmation (needed where the environment asks, off a terminal).
        #[arg(long, short = 'y')]
        yes: bool,
    },
    /// Print a Druid SQL `UNION ALL` reading the old and the new datasource in the new columns.
    Sql,
}

pub fn run(context: &Context, command: &Command, out: &Output) -> Result<Status, CliError> {
    let (_, session) = context.connect(out)?;
    match command {
        Command::Status => {
            let status = block_on(async { Ok(session.migration_status().await?) })?;
            if out.is_json() {
                out.json(&status)?;
                return Ok(Status::Success);
            }
            let Some(state) = &status.state else {
                out.line(format_args!(
                    "{}: nothing recorded yet (the next deploy records where it ingests)",
                    status.environment
                ))?;
                return Ok(Status::Success);
            };
            out.line(format_args!("{}: ingests into {}", status.environment, placement(&state.live)))?;
            match &state.migration {
                None => out.line("no migration")?,
                Some(migration) => print_migration(out, migration)?,
            }
            for side in &status.sides {
                print_side(out, side)?;
            }
            Ok(Status::Success)
        }
        Command::Cutover { timeout, yes } => {
            if policy::needs_confirmation(&session.environment) && !yes {
                let migration = open(&session)?;
                confirm(
                    &format!(
                        "Cut {} over: hand off and terminate {} ({} stays)",
                        session.environment.name,
                        placement(&migration.old),
                        placement(&migration.new)
                    ),
                    *yes,
                )?;
            }
            let progress = Arc::new(Progress::new(out.clone(), out.is_json()));
            let cancel = Cancel::default();
            let session = session.with_reporter(progress.clone()).with_cancel(cancel.clone());
            let options = CutoverOptions { timeout: Duration::from_secs(*timeout) };
            let cutover = block_on_interruptible(&cancel, async {
                let result = session.cutover(options).await;
                session.flush_notifications().await;
                Ok(result?)
            })?;
            progress.finish();
            if out.is_json() {
                out.json(&cutover)?;
            } else {
                for task in &cutover.handed_off {
                    out.line(format_args!(
                        "  {} {}",
                        task.task,
                        task.status.as_deref().unwrap_or("(no longer listed)")
                    ))?;
                }
                out.line(format_args!(
                    "cut over: {} terminated, {} is current; the old rows stay queryable (`druidctl migrate sql --env {}`)",
                    cutover.migration.old.supervisor,
                    placement(&cutover.migration.new),
                    session.environment.name
                ))?;
            }
            Ok(Status::Success)
        }
        Command::Abort { yes } => {
            if policy::needs_confirmation(&session.environment) && !yes {
                let migration = open(&session)?;
                confirm(
                    &format!(
                        "Abort the migration of {}: terminate {} and make {} current again",
                        session.environment.name,
                        migration.new.supervisor,
                        placement(&migration.old)
                    ),
                    *yes,
                )?;
            }
            let progress = Arc::new(Progress::new(out.clone(), out.is_json()));
            let session = session.with_reporter(progress.clone());
            let migration = block_on(async {
                let result = session.abort_migration().await;
                session.flush_notifications().await;
                Ok(result?)
            })?;
            progress.finish();
            if out.is_json() {
                out.json(&migration)?;
            } else {
                out.line(format_args!(
                    "aborted: {} terminated, {} is current again",
                    migration.new.supervisor,
                    placement(&migration.old)
                ))?;
            }
            Ok(Status::Success)
        }
        Command::Sql => {
            let view = block_on(async { Ok(session.migration_sql().await?) })?;
            if out.is_json() {
                out.json(&view)?;
            } else {
                for column in &view.columns {
                    let from = match (&column.old_column, column.matched_by) {
                        (Some(old), Some(how)) => format!("{old} ({how}, {})", column.old_expression),
                        _ => "no old column: NULL".to_owned(),
                    };
                    out.note(format_args!("-- {} {} <- {from}", column.column, column.kind));
                }
                for dropped in &view.dropped {
                    out.note(format_args!("-- {dropped}: old column, not in the new datasource (left out)"));
                }
                out.line(&view.sql)?;
            }
            Ok(Status::Success)
        }
    }
}

fn open(session: &deploy_core::Session) -> Result<Migration, CliError> {
    let state = block_on(async { Ok(session.environment_state().await?) })?;
    state.and_then(|state| state.open_migration().cloned()).ok_or_else(|| {
        deploy_core::Error::NoMigration { environment: session.environment.name.clone() }.into()
    })
}

fn placement(placement: &Placement) -> String {
    let version = placement.version.as_deref().unwrap_or("no version");
    if placement.supervisor == placement.datasource {
        format!("{} ({version}, topic {})", placement.datasource, placement.topic)
    } else {
        format!(
            "supervisor {} on {} ({version}, topic {})",
            placement.supervisor, placement.datasource, placement.topic
        )
    }
}

fn print_migration(out: &Output, migration: &Migration) -> Result<(), CliError> {
    out.line(format_args!(
        "migration {}: {} -> {}",
        migration.state,
        placement(&migration.old),
        placement(&migration.new)
    ))?;
    out.line(format_args!("  started by {} at {}", migration.started_by, migration.started_at))?;
    if let (Some(by), Some(at)) = (&migration.finished_by, &migration.finished_at) {
        out.line(format_args!("  ended by {by} at {at}"))?;
    }
    if let Some(detail) = &migration.detail {
        out.line(format_args!("  {detail}"))?;
    }
    Ok(())
}

fn print_side(out: &Output, side: &SideStatus) -> Result<(), CliError> {
    match (&side.ingestion, &side.error) {
        (Some(ingestion), _) => out.line(format_args!(
            "  {} side {}: {} ({} task(s), {:.0} rows processed, {:.2} % unparseable)",
            side.side,
            side.placement.supervisor,
            ingestion.state.as_deref().unwrap_or("unknown"),
            ingestion.active_tasks,
            ingestion.processed,
            ingestion.unparseable_ratio * 100.0
        ))?,
        (None, error) => out.line(format_args!(
            "  {} side {}: {}",
            side.side,
            side.placement.supervisor,
            error.as_deref().unwrap_or("no report")
        ))?,
    }
    Ok(())
}
