//! Telling the team: every recorded action (deploy succeeded, rolled back, failed,
//! interrupted; rollback; suspend, resume, reset; overrides used), deploy starts and monitor
//! alerts go to the environment's notifiers, a Slack incoming webhook or a generic JSON webhook
//! (`druidctl.event.v1`, docs/notifications.md).
//!
//! Delivery runs beside the workflow: each event is sent on its own task with a timeout and
//! retries (backon), and never changes the outcome of what it reports; a delivery that fails in
//! the end is a warning. URLs are secrets: they come from variables named in the project file
//! (`url_env`), are held as [`SecretString`], and no message, error or `Debug` output contains
//! them.

use std::sync::Mutex;
use std::time::Duration;

use backon::{ExponentialBuilder, Retryable as _};
use secrecy::{ExposeSecret as _, SecretString};
use serde::Serialize;
use serde_json::{Value, json};

use crate::config::Environment;

pub use crate::config::{EventKind, NotifierKind, NotifierSettings};

/// One event, as the webhook receives it (`schema` = `druidctl.event.v1`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Event {
    /// The document's schema and version.
    pub schema: &'static str,
    /// What happened.
    pub event: EventKind,
    /// Environment.
    pub environment: String,
    /// Datasource (and supervisor id).
    pub datasource: String,
    /// The version before, when one applies.
    pub from: Option<String>,
    /// The version after (or the one concerned).
    pub to: Option<String>,
    /// Who acted.
    pub actor: String,
    /// When (RFC 3339).
    pub at: String,
    /// Overrides used, with their reasons.
    #[serde(skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub overrides: std::collections::BTreeMap<String, String>,
    /// What failed or what was found (failing checks, an alert's value and threshold).
    pub detail: Option<String>,
    /// What to do next.
    pub next: Option<String>,
}

/// The schema name of [`Event`] documents.
pub const EVENT_SCHEMA: &str = "druidctl.event.v1";

impl Event {
    /// An event about `environment`.
    pub fn new(kind: EventKind, environment: &Environment, actor: &str) -> Self {
        Self {
            schema: EVENT_SCHEMA,
            event: kind,
            environment: environment.name.clone(),
            datasource: environment.datasource.clone(),
            from: None,
            to: None,
            actor: actor.to_owned(),
            at: jiff::Timestamp::now().to_string(),
            overrides: std::collections::BTreeMap::new(),
            detail: None,
            next: None,
        }
    }

    /// Slack's incoming-webhook payload: a fallback text and blocks. Every text that comes
    /// from outside (the actor, reasons, the detail, names) is escaped for `mrkdwn`: `&`, `<`
    /// and `>` become entities, so `<!channel>` pings no one and `<https://...|label>` is no
    /// disguised link.
    pub fn slack(&self) -> Value {
        let title = format!("druidctl: {} on {}", self.event.headline(), self.environment);
        let versions = match (&self.from, &self.to) {
            (Some(from), Some(to)) if from != to => format!("{from} -> {to}"),
            (_, Some(version)) | (Some(version), None) => version.clone(),
            (None, None) => "-".to_owned(),
        };
        let versions = slack_escape(&versions);
        let mut fields = vec![
            json!({"type": "mrkdwn", "text": format!("*Environment*\n{}", slack_escape(&self.environment))}),
            json!({"type": "mrkdwn", "text": format!("*Datasource*\n{}", slack_escape(&self.datasource))}),
            json!({"type": "mrkdwn", "text": format!("*Version*\n{versions}")}),
            json!({"type": "mrkdwn", "text": format!("*By*\n{}", slack_escape(&self.actor))}),
        ];
        for (name, reason) in &self.overrides {
            fields.push(json!({"type": "mrkdwn", "text": format!("*Override: {}*\n{}", slack_escape(name), slack_escape(reason))}));
        }
        let mut blocks = vec![
            json!({"type": "header", "text": {"type": "plain_text", "text": title}}),
            json!({"type": "section", "fields": fields}),
        ];
        if let Some(detail) = &self.detail {
            blocks.push(json!({"type": "section", "text": {"type": "mrkdwn", "text": slack_escape(detail)}}));
        }
        if let Some(next) = &self.next {
            blocks.push(
                json!({"type": "context", "elements": [{"type": "mrkdwn", "text": format!("Next: {}", slack_escape(next))}]}),
            );
        }
        json!({
            "text": format!("{} {}: {} ({versions})", self.event.emoji(), slack_escape(&title), slack_escape(&self.datasource)),
            "blocks": blocks
        })
    }
}

/// The notifiers' HTTP client. Events go only where configured: a redirect (to another host
/// or not) is not followed, it is a failed delivery.
fn http_client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap_or_else(|_| reqwest::Client::new())
}

/// Text for Slack's `mrkdwn`: the three characters Slack asks to escape.
pub fn slack_escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

/// One configured destination.
struct Target {
    kind: NotifierKind,
    /// The variable the URL came from (what messages name instead of the URL).
    name: String,
    url: SecretString,
    events: Option<Vec<EventKind>>,
    timeout: Duration,
}

impl std::fmt::Debug for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Target")
            .field("kind", &self.kind)
            .field("url", &format!("${}", self.name))
            .field("events", &self.events)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

/// The environment's notifiers, and the deliveries in flight.
#[derive(Debug, Default)]
pub struct Notifier {
    targets: Vec<Target>,
    client: Option<reqwest::Client>,
    pending: Mutex<Vec<tokio::task::JoinHandle<Option<String>>>>,
    /// Reminder interval of monitor alerts (the shortest configured).
    pub remind: Option<Duration>,
    missing: Vec<String>,
}

impl Notifier {
    /// The notifiers of `environment`, with their URLs read through `lookup` (the process
    /// environment in the CLI); `extra_webhook` (`DRUIDCTL_NOTIFY_WEBHOOK`) adds a generic
    /// webhook for every event. A notifier whose variable is not set is left out and named in
    /// [`Notifier::missing`], so the caller can warn: notifications never stop a workflow.
    pub fn new(
        environment: &Environment,
        lookup: &dyn Fn(&str) -> Option<String>,
        extra_webhook: Option<SecretString>,
    ) -> Self {
        let mut targets = Vec::new();
        let mut missing = Vec::new();
        for settings in &environment.notify {
            let Some(url) = lookup(&settings.url_env).filter(|url| !url.trim().is_empty()) else {
                missing.push(settings.url_env.clone());
                continue;
            };
            targets.push(Target {
                kind: settings.kind,
                name: settings.url_env.clone(),
                url: SecretString::from(url),
                events: settings.events.clone(),
                timeout: Duration::from_secs(settings.timeout_secs.clamp(1, 60)),
            });
        }
        if let Some(url) = extra_webhook {
            targets.push(Target {
                kind: NotifierKind::Webhook,
                name: "DRUIDCTL_NOTIFY_WEBHOOK".into(),
                url,
                events: None,
                timeout: Duration::from_secs(crate::config::notify_default_timeout()),
            });
        }
        let remind = environment
            .notify
            .iter()
            .filter_map(|settings| settings.remind_minutes)
            .min()
            .map(|minutes| Duration::from_secs(minutes.saturating_mul(60)));
        let client = (!targets.is_empty()).then(http_client);
        Self { targets, client, pending: Mutex::new(Vec::new()), remind, missing }
    }

    /// The `url_env` variables that were not set (those notifiers are left out).
    pub fn missing(&self) -> &[String] {
        &self.missing
    }

    /// Whether any notifier is configured.
    pub fn is_empty(&self) -> bool {
        self.targets.is_empty()
    }

    /// How many notifiers are configured.
    pub fn len(&self) -> usize {
        self.targets.len()
    }

    /// Sends `event` to every notifier that takes it, on background tasks.
    pub fn send(&self, event: &Event) {
        let Some(client) = &self.client else { return };
        for target in &self.targets {
            if target
                .events
                .as_ref()
                .is_some_and(|events| !events.contains(&event.event) && event.event != EventKind::Test)
            {
                continue;
            }
            let body = match target.kind {
                NotifierKind::Slack => event.slack(),
                NotifierKind::Webhook => serde_json::to_value(event).unwrap_or_default(),
            };
            let client = client.clone();
            let url = target.url.clone();
            let name = target.name.clone();
            let timeout = target.timeout;
            let kind = event.event;
            let handle = tokio::spawn(async move {
                deliver(&client, &url, &body, timeout).await.err().map(|why| {
                    format!("the {} notification to ${name} was not delivered: {why}", kind.as_str())
                })
            });
            self.pending.lock().unwrap_or_else(std::sync::PoisonError::into_inner).push(handle);
        }
    }

    /// Waits for the deliveries in flight (each bounded by its timeout and retries) and
    /// returns why those that failed did.
    pub async fn flush(&self) -> Vec<String> {
        let handles: Vec<_> =
            std::mem::take(&mut *self.pending.lock().unwrap_or_else(std::sync::PoisonError::into_inner));
        let mut failures = Vec::new();
        for handle in handles {
            if let Ok(Some(failure)) = handle.await {
                failures.push(failure);
            }
        }
        failures
    }
}

/// Up to three attempts (after about 0.5 s and 1 s) on connection errors, timeouts and 5xx
/// answers, all within `timeout`: a dead receiver costs at most that. A 4xx is final. The URL
/// appears in no error.
async fn deliver(
    client: &reqwest::Client,
    url: &SecretString,
    body: &Value,
    timeout: Duration,
) -> Result<(), String> {
    tokio::time::timeout(timeout, attempts(client, url, body, timeout))
        .await
        .unwrap_or_else(|_| Err(format!("no answer within {} s", timeout.as_secs())))
}

async fn attempts(
    client: &reqwest::Client,
    url: &SecretString,
    body: &Value,
    timeout: Duration,
) -> Result<(), String> {
    let backoff = ExponentialBuilder::default()
        .with_min_delay(Duration::from_millis(500))
        .with_max_delay(Duration::from_secs(2))
        .with_max_times(2);
    (|| async {
        let response = client
            .post(url.expose_secret())
            .timeout(timeout)
            .json(body)
            .send()
            .await
            .map_err(|err| Retry::Yes(describe(err)))?;
        let status = response.status();
        if status.is_success() {
            Ok(())
        } else if status.is_server_error() || status.as_u16() == 429 {
            Err(Retry::Yes(format!("HTTP {status}")))
        } else if status.is_redirection() {
            Err(Retry::No(format!(
                "HTTP {status}: a redirect, not followed (events go only where configured)"
            )))
        } else {
            Err(Retry::No(format!("HTTP {status}")))
        }
    })
    .retry(backoff)
    .sleep(tokio::time::sleep)
    .when(|failure: &Retry| matches!(failure, Retry::Yes(_)))
    .await
    .map_err(|failure| match failure {
        Retry::Yes(why) | Retry::No(why) => why,
    })
}

enum Retry {
    Yes(String),
    No(String),
}

/// reqwest's error without its URL.
fn describe(err: reqwest::Error) -> String {
    if err.is_timeout() {
        "timed out".into()
    } else if err.is_connect() {
        "connection failed".into()
    } else {
        err.without_url().to_string()
    }
}

/// What to do next after `kind` on `environment`.
pub fn next_step(kind: EventKind, environment: &str) -> Option<String> {
    Some(match kind {
        EventKind::DeployRolledBack => format!(
            "the previous version is live again; `druidctl parse-errors --env {environment}` and `druidctl logs --env {environment}` show why the new one failed"
        ),
        EventKind::DeployUnverified => format!(
            "the new version is live and the channel moved; once records flow, `druidctl verify --env {environment}` settles it"
        ),
        EventKind::DeployFailed => format!(
            "`druidctl status --env {environment}` shows what runs; the failing spec may be live: `druidctl rollback --env {environment}`"
        ),
        EventKind::DeployInterrupted => {
            format!("`druidctl recover --env {environment}` says what runs and finishes or undoes it")
        }
        EventKind::AlertFired => {
            format!("`druidctl status --env {environment}`; the runbook's action is in the detail")
        }
        EventKind::Suspend => format!("nothing is ingested until `druidctl resume --env {environment}`"),
        EventKind::MigrationStarted => format!(
            "move producers to the new topic, then `druidctl migrate cutover --env {environment}`; `druidctl migrate sql --env {environment}` reads across both"
        ),
        EventKind::DriftDetected => format!(
            "`druidctl reconcile --env {environment}` shows the diff; `--apply` puts the channel's version back"
        ),
        EventKind::MigrationAborted => {
            "revert the datasource change in the project file, or the next deploy starts the migration again"
                .to_owned()
        }
        _ => return None,
    })
}

/// The event a recorded action sends, if any: a no-op and the automatic rollback (the deploy's
/// own record says "rolled back") send nothing.
pub fn kind_of(action: crate::ledger::Action, outcome: crate::ledger::Outcome) -> Option<EventKind> {
    use crate::ledger::{Action, Outcome};
    Some(match (action, outcome) {
        (_, Outcome::NoOp) | (Action::AutomaticRollback | Action::Unlock | Action::Verify, _) => return None,
        (Action::Deploy, Outcome::Succeeded) => EventKind::DeploySucceeded,
        (Action::Deploy, Outcome::Unverified) => EventKind::DeployUnverified,
        (Action::Deploy, Outcome::RolledBack) => EventKind::DeployRolledBack,
        (Action::Deploy, Outcome::Interrupted) => EventKind::DeployInterrupted,
        (Action::Cutover, Outcome::Succeeded) => EventKind::MigrationCutover,
        (Action::Deploy | Action::Cutover, _) => EventKind::DeployFailed,
        (Action::Rollback | Action::Reconcile, _) => EventKind::Rollback,
        (Action::Suspend, _) => EventKind::Suspend,
        (Action::Resume, _) => EventKind::Resume,
        (Action::Reset, _) => EventKind::Reset,
        (Action::MigrationAbort, _) => EventKind::MigrationAborted,
    })
}

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use wiremock::matchers::method;
    use wiremock::{Mock, MockServer, ResponseTemplate};

    use super::*;

    fn url(server: &MockServer) -> SecretString {
        SecretString::from(format!("{}/services/T0/B0/very-secret", server.uri()))
    }

    #[tokio::test]
    async fn server_errors_are_retried_then_delivered() {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .respond_with(ResponseTemplate::new(503))
            .up_to_n_times(2)
            .mount(&server)
            .await;
        Mock::given(method("POST")).respond_with(ResponseTemplate::new(200)).mount(&server).await;
        let client = reqwest::Client::new();
        deliver(&client, &url(&server), &json!({"text": "x"}), Duration::from_secs(10)).await.unwrap();
        assert_eq!(server.received_requests().await.unwrap().len(), 3);
    }

    #[tokio::test]
    async fn a_redirect_is_not_followed_and_the_event_goes_nowhere_else() {
        let elsewhere = MockServer::start().await;
        Mock::given(method("POST")).respond_with(ResponseTemplate::new(200)).mount(&elsewhere).await;
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .respond_with(
                ResponseTemplate::new(307).insert_header("location", format!("{}/steal", elsewhere.uri())),
            )
            .mount(&server)
            .await;
        let err =
            deliver(&http_client(), &url(&server), &json!({}), Duration::from_secs(10)).await.unwrap_err();
        assert!(err.contains("307") && err.contains("not followed"), "{err}");
        assert!(elsewhere.received_requests().await.unwrap().is_empty(), "nothing reached the other host");
    }

    #[test]
    fn slack_text_from_outside_pings_no_one_and_hides_no_link() {
        let file = "[schema]\nmessage = \"p.M\"\n[environments.dev]\ndatasource = \"m_dev\"\nkafka = { topic = \"m-dev\", bootstrap_servers = \"k:9092\" }\ndruid = { url = \"http://druid:8888\" }\nregistry = \"file://.registry\"\n";
        let config = crate::config::Config::parse(file, std::path::Path::new("druidctl.toml")).unwrap();
        let environment = config.environment("dev", &crate::config::Overrides::default()).unwrap();
        let mut event = Event::new(
            EventKind::DeployRolledBack,
            &environment,
            "<!channel> <https://evil.example|Druid console>",
        );
        event.detail = Some("reason: <!here> & <@U123>".into());
        event.overrides.insert("window".into(), "<https://evil.example|click>".into());
        let text = event.slack().to_string();
        for hostile in ["<!channel>", "<!here>", "<https://evil", "<@U123>"] {
            assert!(!text.contains(hostile), "{hostile} in {text}");
        }
        assert!(text.contains("&lt;!channel&gt;") && text.contains("&amp;"), "{text}");
    }

    #[tokio::test]
    async fn a_client_error_is_final_and_names_no_url() {
        let server = MockServer::start().await;
        Mock::given(method("POST")).respond_with(ResponseTemplate::new(404)).mount(&server).await;
        let client = reqwest::Client::new();
        let err = deliver(&client, &url(&server), &json!({}), Duration::from_secs(10)).await.unwrap_err();
        assert_eq!(server.received_requests().await.unwrap().len(), 1);
        assert!(err.contains("404") && !err.contains("very-secret"), "{err}");
    }

    #[tokio::test]
    async fn a_dead_receiver_costs_the_timeout_at_most() {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .respond_with(ResponseTemplate::new(200).set_delay(Duration::from_secs(30)))
            .mount(&server)
            .await;
        let client = reqwest::Client::new();
        let started = Instant::now();
        let err = deliver(&client, &url(&server), &json!({}), Duration::from_secs(1)).await.unwrap_err();
        // Bounded by the 1 s budget (retries included), far from the receiver's 30 s.
        assert!(started.elapsed() < Duration::from_secs(10), "{:?}", started.elapsed());
        assert!(!err.contains("very-secret"), "{err}");
    }

    #[test]
    fn events_map_from_recorded_actions() {
        use crate::ledger::{Action, Outcome};
        assert_eq!(kind_of(Action::Deploy, Outcome::RolledBack), Some(EventKind::DeployRolledBack));
        assert_eq!(kind_of(Action::Deploy, Outcome::RollbackFailed), Some(EventKind::DeployFailed));
        assert_eq!(kind_of(Action::Deploy, Outcome::NoOp), None);
        assert_eq!(kind_of(Action::AutomaticRollback, Outcome::Succeeded), None);
        assert_eq!(kind_of(Action::Suspend, Outcome::Succeeded), Some(EventKind::Suspend));
    }
}
