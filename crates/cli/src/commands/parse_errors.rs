//! `druidctl parse-errors`: the parse errors the running tasks saved, input summarised.

use deploy_core::ops::summarise;

use super::{Context, block_on};
use crate::output::{CliError, Output, Status, table};

pub fn run(context: &Context, out: &Output) -> Result<Status, CliError> {
    let (_, session) = context.connect(out)?;
    let id = session.environment.supervisor_id();
    let errors = block_on(async { Ok(session.parse_errors().await?) })?;
    if out.is_json() {
        out.json(&errors)?;
        return Ok(Status::Success);
    }
    let mut rows = table(&["AT", "TYPE", "DETAILS", "INPUT"]);
    for error in &errors {
        let at = error
            .time_of_exception_millis
            .and_then(|millis| jiff::Timestamp::from_millisecond(millis).ok())
            .map(|at| format!("{at:.3}"))
            .unwrap_or_default();
        rows.add_row(vec![
            at,
            error.error_type.clone().unwrap_or_default(),
            error.details.join("; "),
            summarise(error.input.as_deref()),
        ]);
    }
    out.line(rows)?;
    out.note(format_args!(
        "{} saved parse error(s) on {id} (tuningConfig.maxSavedParseExceptions per task)",
        errors.len()
    ));
    Ok(Status::Success)
}
