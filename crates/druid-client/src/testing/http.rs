//! The fake Druid over HTTP (wiremock): every `DruidApi` call answered as the real
//! endpoints answer it, so the CLI and the HTTP client are tested against the same state.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde_json::{Value, json};

use super::{Call, FakeDruid, http_error, missing};
use crate::api::DruidApi;
use crate::spec::SupervisorSpec;
use crate::sql::SqlQuery;
use crate::tasks::{TaskFilter, TaskState};
use crate::{Error, Result};

impl FakeDruid {
    /// Suspend (`Some(true)`), resume (`Some(false)`) or reset (`None`): a real Druid answers
    /// 400 when the supervisor is already in the asked state.
    pub(super) fn control(&self, call: Call, id: &str, suspend: Option<bool>) -> Result<()> {
        let action = match call {
            Call::Suspend => "suspend",
            Call::Resume => "resume",
            _ => "reset",
        };
        let path = format!("/druid/indexer/v1/supervisor/{id}/{action}");
        let mut state = self.enter(call, "POST", &path)?;
        let supervisor = Self::live(&mut state, id)?;
        match suspend {
            Some(wanted) if supervisor.suspended == wanted => Err(http_error(
                "POST",
                &path,
                400,
                &format!(
                    r#"{{"error":"[{id}] is already {}"}}"#,
                    if wanted { "suspended" } else { "running" }
                ),
            )),
            Some(wanted) => {
                supervisor.suspended = wanted;
                supervisor.polls = 0;
                Ok(())
            }
            None => {
                supervisor.polls = 0;
                Ok(())
            }
        }
    }
}

/// The fake behind HTTP: each request routed to the [`DruidApi`] method Druid's endpoint
/// stands for, answered in Druid's shapes.
pub(super) struct Http(pub(super) Arc<FakeDruid>);

fn answer(result: Result<Value>) -> wiremock::ResponseTemplate {
    match result {
        Ok(body) => wiremock::ResponseTemplate::new(200).set_body_json(body),
        Err(Error::Http { status, body, .. }) => {
            let template = wiremock::ResponseTemplate::new(status);
            if serde_json::from_str::<Value>(&body).is_ok() {
                template.set_body_raw(body, "application/json")
            } else {
                template.set_body_raw(body, "text/plain")
            }
        }
        Err(other) => wiremock::ResponseTemplate::new(500).set_body_string(other.to_string()),
    }
}

fn to_json<T: serde::Serialize>(result: Result<T>) -> Result<Value> {
    result.map(|value| serde_json::to_value(value).expect("models serialise"))
}

impl wiremock::Respond for Http {
    fn respond(&self, request: &wiremock::Request) -> wiremock::ResponseTemplate {
        let druid = self.0.clone();
        let method = request.method.as_str().to_owned();
        let path = request.url.path().to_owned();
        let query: BTreeMap<String, String> = request.url.query_pairs().into_owned().collect();
        let body = request.body.clone();
        // wiremock calls `respond` synchronously: run the async fake on a thread of its own.
        let handle = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread().build().expect("a runtime");
            runtime.block_on(route(&druid, &method, &path, &query, &body))
        });
        handle.join().unwrap_or_else(|_| {
            wiremock::ResponseTemplate::new(500).set_body_string("the fake Druid panicked")
        })
    }
}

async fn route(
    druid: &FakeDruid,
    method: &str,
    path: &str,
    query: &BTreeMap<String, String>,
    body: &[u8],
) -> wiremock::ResponseTemplate {
    const SUPERVISOR: &str = "/druid/indexer/v1/supervisor";
    let segments: Vec<&str> = path.trim_start_matches(SUPERVISOR).trim_matches('/').split('/').collect();
    let empty = || wiremock::ResponseTemplate::new(200);
    match (method, path) {
        ("GET", "/status") => {
            answer(druid.version().await.map(|version| json!({"version": version, "modules": []})))
        }
        ("GET", "/status/health") => answer(Ok(json!(true))),
        ("POST", SUPERVISOR) => match serde_json::from_slice::<SupervisorSpec>(body) {
            Ok(spec) => answer(druid.submit_spec(&spec).await.map(|id| json!({"id": id}))),
            Err(err) => {
                answer(Err(http_error("POST", path, 400, &json!({"error": err.to_string()}).to_string())))
            }
        },
        ("GET", SUPERVISOR) if query.contains_key("full") => answer(to_json(druid.supervisors_full().await)),
        ("GET", SUPERVISOR) => answer(druid.supervisor_ids().await.map(|ids| json!(ids))),
        ("GET", "/druid/indexer/v1/tasks") => {
            let filter = TaskFilter {
                state: match query.get("state").map(String::as_str) {
                    Some("complete") => Some(TaskState::Complete),
                    Some("running") => Some(TaskState::Running),
                    _ => None,
                },
                datasource: query.get("datasource").cloned(),
                ..TaskFilter::default()
            };
            answer(to_json(druid.tasks(&filter).await))
        }
        ("POST", "/druid/v2/sql") => {
            let query = SqlQuery::new(String::from_utf8_lossy(body).into_owned());
            answer(to_json(druid.sql(&query).await))
        }
        (_, path) if path.starts_with("/druid/indexer/v1/task/") && path.ends_with("/log") => {
            let task = path.trim_start_matches("/druid/indexer/v1/task/").trim_end_matches("/log");
            let offset = query.get("offset").and_then(|offset| offset.parse().ok());
            match druid.task_log(task, offset).await {
                Ok(Some(log)) => wiremock::ResponseTemplate::new(200).set_body_raw(log, "text/plain"),
                Ok(None) => {
                    wiremock::ResponseTemplate::new(404).set_body_raw("No log was found", "text/plain")
                }
                Err(err) => answer(Err(err)),
            }
        }
        (_, path) if path.starts_with(SUPERVISOR) => match (method, segments.as_slice()) {
            ("GET", [id]) => match druid.get_spec(id).await {
                Ok(Some(spec)) => answer(to_json(Ok(spec))),
                Ok(None) => answer(Err(missing(id))),
                Err(err) => answer(Err(err)),
            },
            ("GET", [id, "status"]) => answer(to_json(druid.supervisor_status(id).await)),
            ("GET", [id, "health"]) => match druid.supervisor_health(id).await {
                Ok(true) => answer(Ok(json!({"healthy": true}))),
                Ok(false) => wiremock::ResponseTemplate::new(503).set_body_json(json!({"healthy": false})),
                Err(err) => answer(Err(err)),
            },
            ("GET", [id, "stats"]) => answer(to_json(druid.supervisor_stats(id).await)),
            ("GET", [id, "parseErrors"]) => answer(to_json(druid.parse_errors(id).await)),
            ("GET", [id, "history"]) => answer(to_json(druid.supervisor_history(id).await)),
            ("POST", [id, "suspend" | "resume"]) => {
                let result =
                    if segments[1] == "suspend" { druid.suspend(id).await } else { druid.resume(id).await };
                let spec = druid.get_spec(id).await.ok().flatten();
                answer(result.map(|()| serde_json::to_value(spec).expect("specs serialise")))
            }
            ("POST", [id, "reset"]) => answer(druid.reset(id).await.map(|()| json!({"id": id}))),
            ("POST", [id, "terminate" | "shutdown"]) => {
                answer(druid.terminate(id).await.map(|()| json!({"id": id})))
            }
            ("POST", [id, "taskGroups", "handoff"]) => match druid.handoff(id, &[]).await {
                // An empty 200 (../shared/druid-notes.md).
                Ok(()) => wiremock::ResponseTemplate::new(200),
                Err(err) => answer(Err(err)),
            },
            _ => wiremock::ResponseTemplate::new(500).set_body_string("unexpected request"),
        },
        _ => {
            let _ = empty;
            wiremock::ResponseTemplate::new(500).set_body_string("unexpected request")
        }
    }
}
