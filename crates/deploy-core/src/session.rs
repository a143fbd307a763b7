//! A [`Session`]: everything a workflow acts on for one environment (Druid, the registry,
//! the ledger, the clock, where progress goes, who acts), built from the project file by
//! [`Session::connect`] (what the CLI does) or from parts by [`Session::new`] (tests and
//! embedders with their own Druid or store). Each concern adds its methods in its own
//! module: [`crate::deploy`], [`crate::verify`], [`crate::rollback`], [`crate::plan`],
//! [`crate::drift`], [`crate::controls`], [`crate::ops`], [`crate::monitor`].

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use druid_client::DruidApi;
use schema_registry::registry::ChannelState;
use schema_registry::{Channel, Registry, Version};

use crate::clock::{Clock, SystemClock};
use crate::config::Environment;
use crate::events::{Event, Reporter, Silent, Step};
use crate::ledger::{Action, DeployRecord, Ledger, LockGuard};
use crate::{Error, Result};

/// Asks a running workflow to stop waiting (Ctrl-C, SIGTERM, a service shutting down).
/// Cheap to clone; every clone cancels the same workflows.
#[derive(Debug, Clone, Default)]
pub struct Cancel(Arc<CancelState>);

#[derive(Debug, Default)]
struct CancelState {
    cancelled: std::sync::atomic::AtomicBool,
    notify: tokio::sync::Notify,
}

impl Cancel {
    /// Stops the waits of every session holding this token (they return
    /// [`Error::Interrupted`] after putting Druid back as it was).
    pub fn cancel(&self) {
        self.0.cancelled.store(true, std::sync::atomic::Ordering::SeqCst);
        self.0.notify.notify_waiters();
    }

    /// Whether [`Cancel::cancel`] was called.
    pub fn is_cancelled(&self) -> bool {
        self.0.cancelled.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Resolves once cancelled.
    pub async fn cancelled(&self) {
        loop {
            let notified = self.0.notify.notified();
            if self.is_cancelled() {
                return;
            }
            notified.await;
        }
    }
}

/// One environment, ready to act on.
#[derive(Clone)]
pub struct Session {
    /// The environment.
    pub environment: Environment,
    /// Druid.
    pub druid: Arc<dyn DruidApi>,
    /// The environment's registry.
    pub registry: Registry,
    /// Locks and history, kept in the registry's store.
    pub ledger: Ledger,
    /// Where progress goes.
    pub reporter: Arc<dyn Reporter>,
    /// Where events are sent (no notifier by default).
    pub notifier: Arc<crate::notify::Notifier>,
    /// Time.
    pub clock: Arc<dyn Clock>,
    /// Who acts (recorded).
    pub actor: String,
    /// Between two polls of the supervisor while waiting and observing (1 s).
    pub poll_interval: Duration,
    /// Stops the waits early (see [`Cancel`]).
    pub cancel: Cancel,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("environment", &self.environment.name)
            .field("registry", &self.registry.location())
            .field("actor", &self.actor)
            .finish_non_exhaustive()
    }
}

impl Session {
    /// A session over parts: events dropped, the system clock, [`whoami`] as actor, 1 s polls.
    pub fn new(environment: Environment, druid: Arc<dyn DruidApi>, registry: Registry) -> Self {
        Self {
            environment,
            druid,
            ledger: Ledger::new(registry.clone()),
            registry,
            reporter: Arc::new(Silent),
            notifier: Arc::default(),
            clock: Arc::new(SystemClock),
            actor: whoami(),
            poll_interval: Duration::from_secs(1),
            cancel: Cancel::default(),
        }
    }

    /// The session the environment's settings describe: its Druid client (URLs,
    /// credentials, timeouts), its registry (local directory or S3, the AWS chain) and its
    /// notifier (`notify = [...]`, the URLs read from the variables they name, and
    /// `DRUIDCTL_NOTIFY_WEBHOOK` through [`crate::config::Overrides`]): an embedder gets what
    /// the CLI gets. A notifier whose variable is not set is left out;
    /// [`crate::notify::Notifier::missing`] names them.
    pub async fn connect(environment: Environment) -> Result<Self> {
        let druid = crate::connect::druid_client(&environment)?;
        let registry = crate::publish::open_registry_for(&environment).await;
        let notifier = crate::notify::Notifier::new(
            &environment,
            &|name| std::env::var(name).ok(),
            environment.notify_webhook.clone(),
        );
        Ok(Self::new(environment, Arc::new(druid), registry).with_notifier(Arc::new(notifier)))
    }

    /// Sends progress to `reporter`.
    #[must_use]
    pub fn with_reporter(mut self, reporter: Arc<dyn Reporter>) -> Self {
        self.reporter = reporter;
        self
    }

    /// Sends events to `notifier` (docs/notifications.md).
    #[must_use]
    pub fn with_notifier(mut self, notifier: Arc<crate::notify::Notifier>) -> Self {
        self.notifier = notifier;
        self
    }

    /// Sends an event of `kind` about this environment.
    pub fn notify(
        &self,
        kind: crate::notify::EventKind,
        from: Option<String>,
        to: Option<String>,
        overrides: BTreeMap<String, String>,
        detail: Option<String>,
    ) {
        if self.notifier.is_empty() {
            return;
        }
        let mut event = crate::notify::Event::new(kind, &self.environment, &self.actor);
        event.from = from;
        event.to = to;
        event.overrides = overrides;
        event.detail = detail;
        event.next = crate::notify::next_step(kind, &self.environment.name);
        self.notifier.send(&event);
    }

    /// Waits for the notifications in flight; each failed delivery is a warning, kept as an
    /// observation for `incident`.
    pub async fn flush_notifications(&self) {
        for failure in self.notifier.flush().await {
            self.warn(failure.clone());
            self.keep_observation("notification-failed", failure).await;
        }
    }

    /// Keeps an observation (best effort: a store failure is a warning).
    pub(crate) async fn keep_observation(&self, kind: &str, detail: String) {
        let observation = crate::ledger::Observation {
            environment: self.environment.name.clone(),
            kind: kind.to_owned(),
            at: String::new(),
            detail,
        };
        if let Err(err) = self.ledger.observe(&observation).await {
            self.warn(format!("could not keep the {kind} observation: {err}"));
        }
    }

    /// Uses `clock` for the window, waits and polls.
    #[must_use]
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Records `actor` as who acts.
    #[must_use]
    pub fn with_actor(mut self, actor: impl Into<String>) -> Self {
        self.actor = actor.into();
        self
    }

    /// Stops waiting when `cancel` is cancelled.
    #[must_use]
    pub fn with_cancel(mut self, cancel: Cancel) -> Self {
        self.cancel = cancel;
        self
    }

    /// Waits `duration` on the clock, or returns [`Error::Interrupted`] once cancelled.
    pub(crate) async fn pause(&self, duration: Duration) -> Result<()> {
        if self.cancel.is_cancelled() {
            return Err(Error::Interrupted);
        }
        tokio::select! {
            biased;
            () = self.cancel.cancelled() => Err(Error::Interrupted),
            () = self.clock.sleep(duration) => Ok(()),
        }
    }

    /// Polls the supervisor every `interval` while waiting.
    #[must_use]
    pub fn with_poll_interval(mut self, interval: Duration) -> Self {
        self.poll_interval = interval;
        self
    }

    pub(crate) fn step(&self, step: Step, detail: impl Into<String>) {
        self.reporter.report(Event::Step { step, detail: detail.into() });
    }

    pub(crate) fn warn(&self, message: impl Into<String>) {
        self.reporter.report(Event::Warning { message: message.into() });
    }

    pub(crate) fn channel(&self) -> Result<Channel> {
        Ok(Channel::parse(&self.environment.channel)?)
    }

    /// Takes the environment's lock and keeps it: a heartbeat renews the lease every third
    /// of its length until [`Session::unlock`].
    pub(crate) async fn lock(&self) -> Result<HeldLock> {
        let ttl = lease_ttl(&self.environment);
        let guard = self.ledger.acquire(&self.environment.name, &self.actor, ttl).await?;
        self.step(Step::Locked, format!("{} locked by {}", self.environment.name, self.actor));
        let token = guard.lease.token.clone();
        let current = Arc::new(std::sync::Mutex::new(guard));
        let (stop, mut stopped) = tokio::sync::oneshot::channel::<()>();
        let ledger = self.ledger.clone();
        let held = current.clone();
        // Real time, not the session's clock: a lease is about wall-clock expiry.
        let heartbeat = tokio::spawn(async move {
            loop {
                tokio::select! {
                    _ = &mut stopped => break,
                    () = tokio::time::sleep(ttl / 3) => {
                        let guard = held.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clone();
                        match ledger.renew(&guard, ttl).await {
                            Ok(renewed) => *held.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = renewed,
                            // Lost: the fence stops this deploy's next channel move.
                            Err(_) => break,
                        }
                    }
                }
            }
        });
        Ok(HeldLock { token, current, stop: Some(stop), heartbeat })
    }

    pub(crate) async fn unlock(&self, mut held: HeldLock) {
        if let Some(stop) = held.stop.take() {
            let _ = stop.send(());
        }
        let _ = (&mut held.heartbeat).await;
        let guard = held.current.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clone();
        if let Err(err) = self.ledger.release(guard).await {
            self.warn(format!("could not release the deploy lock: {err}; it expires on its own"));
        }
    }

    /// Refuses with [`Error::LockLost`] unless this deploy (`token`) still holds the lock.
    pub(crate) async fn fence(&self, token: &str) -> Result<()> {
        if self.ledger.holds(&self.environment.name, token).await? {
            Ok(())
        } else {
            Err(Error::LockLost { environment: self.environment.name.clone() })
        }
    }

    pub(crate) async fn move_channel(
        &self,
        channel: &Channel,
        base: Option<&ChannelState>,
        version: &Version,
        reason: Option<&str>,
    ) -> Result<()> {
        let pointer = self.registry.promote_from(channel, base, version, Some(&self.actor), reason).await?;
        self.step(Step::Promoted, format!("{channel} -> {} (move {})", pointer.version, pointer.sequence));
        Ok(())
    }

    /// Appends `record` to the history, as this session's environment and actor; a verdict's
    /// summary is added to the detail, so notifications and the incident draft say how it was
    /// reached. A failure to record is a warning, never the action's outcome.
    pub(crate) async fn record(&self, mut record: DeployRecord) {
        record.environment.clone_from(&self.environment.name);
        record.by = Some(self.actor.clone());
        if let Some(verdict) = &record.verdict {
            record.detail = Some(match record.detail.take() {
                Some(detail) => format!("{detail}; verdict {}", verdict.summary()),
                None => format!("verdict {}", verdict.summary()),
            });
        }
        if let Some(kind) = crate::notify::kind_of(record.action, record.outcome) {
            self.notify(
                kind,
                record.from.clone(),
                record.to.clone(),
                record.overrides.clone(),
                record.detail.clone(),
            );
        }
        if !record.overrides.is_empty() && record.action == Action::Deploy {
            let reasons: Vec<String> =
                record.overrides.iter().map(|(name, reason)| format!("{name}: {reason}")).collect();
            self.notify(
                crate::notify::EventKind::OverrideUsed,
                record.from.clone(),
                record.to.clone(),
                record.overrides.clone(),
                Some(reasons.join("; ")),
            );
        }
        let (action, outcome) = (record.action, record.outcome);
        match self.ledger.record(&record).await {
            Ok(_) => self.step(Step::Recorded, format!("{action} {outcome} recorded")),
            Err(err) => self.warn(format!("could not record the {action} in the history: {err}")),
        }
    }

    /// The history of this environment, oldest first.
    pub async fn history(&self) -> Result<Vec<DeployRecord>> {
        self.ledger.history(&self.environment.name).await
    }
}

/// A lock held by this process, renewed by a heartbeat until released.
pub(crate) struct HeldLock {
    /// The lease's token (the journal and the fence name the deploy by it).
    pub(crate) token: String,
    current: Arc<std::sync::Mutex<LockGuard>>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    heartbeat: tokio::task::JoinHandle<()>,
}

/// How long a deploy lock lasts: the wait plus slack for the rest of the workflow.
fn lease_ttl(environment: &Environment) -> Duration {
    let thresholds = &environment.thresholds;
    // A deploy waits for readiness and observes twice (its own spec, then a restore).
    let waits = thresholds.ready_timeout_secs.saturating_add(thresholds.observe_secs).saturating_mul(2);
    Duration::from_secs(waits.saturating_add(600))
}

impl Session {
    /// Maps a Druid failure while doing `action`: a 404 means this environment's supervisor
    /// does not exist (yet), which says more than "Druid failed".
    pub(crate) fn druid_failed(
        &self,
        action: &'static str,
    ) -> impl FnOnce(druid_client::Error) -> Error + use<> {
        let datasource = self.environment.supervisor_id().to_owned();
        let environment = self.environment.name.clone();
        move |source| {
            if source.is_not_found() {
                Error::NoSupervisor { datasource, environment, action }
            } else {
                Error::Druid { action, source: Box::new(source) }
            }
        }
    }
}

/// Who is acting, for registry records: `DRUIDCTL_ACTOR`, the GitLab user in CI, the login
/// name, else git's `user.email` (containers often have no login name), else `unknown`.
pub fn whoami() -> String {
    ["DRUIDCTL_ACTOR", "GITLAB_USER_LOGIN", "USER", "LOGNAME", "USERNAME"]
        .iter()
        .find_map(|key| std::env::var(key).ok().filter(|value| !value.is_empty()))
        .or_else(git_email)
        .unwrap_or_else(|| "unknown".to_owned())
}

fn git_email() -> Option<String> {
    let output = std::process::Command::new("git").args(["config", "user.email"]).output().ok()?;
    let email = String::from_utf8(output.stdout).ok()?.trim().to_owned();
    (output.status.success() && !email.is_empty()).then_some(email)
}
