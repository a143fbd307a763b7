use secrecy::ExposeSecret;

use super::*;

const FILE: &str = r#"
[schema]
message = "p.M"

[defaults]
time_zone = "Europe/Paris"
registry = "file://.registry"
druid = { url = "http://druid:8888", password = "from-file" }
kafka = { bootstrap_servers = "kafka:9092" }
thresholds = { max_lag_seconds = 600 }

[environments.dev]
datasource = "m_dev"
kafka = { topic = "m-dev" }

[environments.prod]
datasource = "m"
kafka = { topic = "m", bootstrap_servers = "kafka-prod:9092" }
ingestion = { task_count = 4, replicas = 2 }
window = { days = ["tue", "wed"], start = "10:00", end = "16:00" }
druid.overlord_url = "http://overlord:8090"

[environments.qa]
datasource = "m_qa"
kafka = { topic = "m-qa" }
"#;

fn config() -> Config {
    Config::parse(FILE, Path::new("project/druidctl.toml")).unwrap()
}

#[test]
fn environments_merge_over_defaults() {
    let config = config();
    let prod = config.environment("prod", &Overrides::default()).unwrap();
    assert_eq!(prod.channel, "stable");
    assert_eq!(prod.kafka.bootstrap_servers, "kafka-prod:9092");
    assert_eq!(prod.druid.url, "http://druid:8888");
    assert_eq!(prod.druid.overlord_url.as_deref(), Some("http://overlord:8090"));
    assert_eq!((prod.ingestion.task_count, prod.ingestion.replicas), (4, 2));
    assert_eq!(prod.window.days, [Weekday::Tue, Weekday::Wed]);
    assert_eq!((prod.window.start_minute, prod.window.end_minute), (600, 960));
    assert_eq!(prod.thresholds.max_lag_seconds, 600);
    assert!((prod.thresholds.max_unparseable_ratio - 0.01).abs() < f64::EPSILON);
    assert_eq!(prod.registry, RegistryLocation::File(PathBuf::from("project/.registry")));
    let dev = config.environment("dev", &Overrides::default()).unwrap();
    assert_eq!(dev.channel, "develop-latest");
    assert_eq!(dev.window.days.len(), 5);
    assert_eq!(dev.ingestion.max_saved_parse_exceptions, 100);
}

#[test]
fn variables_override_the_environment() {
    let overrides = Overrides::from_vars([
        ("DRUIDCTL_DRUID_URL".to_owned(), "http://other:8888".to_owned()),
        ("DRUIDCTL_DRUID_PASSWORD".to_owned(), "s3cr3t".to_owned()),
        ("DRUIDCTL_REGISTRY".to_owned(), "s3://bucket/team/schemas/".to_owned()),
        ("DRUIDCTL_KAFKA_BOOTSTRAP".to_owned(), "k:1".to_owned()),
        ("DRUIDCTL_DRUID_USER".to_owned(), String::new()),
        ("HOME".to_owned(), "/root".to_owned()),
    ]);
    let prod = config().environment("prod", &overrides).unwrap();
    assert_eq!(prod.druid.url, "http://other:8888");
    assert_eq!(prod.druid.overlord_url, None);
    assert_eq!(prod.druid.user, None);
    assert_eq!(prod.druid.password.as_ref().unwrap().expose_secret(), "s3cr3t");
    assert_eq!(prod.kafka.bootstrap_servers, "k:1");
    assert_eq!(
        prod.registry,
        RegistryLocation::S3 { bucket: "bucket".into(), prefix: "team/schemas".into() }
    );
    let debug = format!("{prod:?} {overrides:?}");
    assert!(!debug.contains("s3cr3t") && !debug.contains("from-file"), "{debug}");
}

#[test]
fn unknown_environment_lists_the_known_ones() {
    let err = config().environment("prd", &Overrides::default()).unwrap_err().to_string();
    assert_eq!(err, "unknown environment `prd` (did you mean `prod`?); known: dev, prod, qa");
    let err = config().environment("dve", &Overrides::default()).unwrap_err().to_string();
    assert!(err.contains("did you mean `dev`?"), "{err}");
    let err = config().environment("nope", &Overrides::default()).unwrap_err().to_string();
    assert!(!err.contains("did you mean"), "{err}");
}

#[test]
fn an_environment_without_a_standard_name_needs_a_channel() {
    let err = config().environment("qa", &Overrides::default()).unwrap_err().to_string();
    assert!(err.contains("environments.qa.channel"), "{err}");
}

#[test]
fn mistakes_name_the_key() {
    let text = FILE.replace("task_count = 4", "task_cuont = 4");
    let err = Config::parse(&text, Path::new("druidctl.toml"))
        .unwrap()
        .environment("prod", &Overrides::default())
        .unwrap_err()
        .to_string();
    assert!(err.contains("environments.prod.ingestion"), "{err}");
    assert!(err.contains("task_cuont"), "{err}");

    let text = FILE.replace("end = \"16:00\"", "end = \"09:00\"");
    let err = Config::parse(&text, Path::new("druidctl.toml"))
        .unwrap()
        .environment("prod", &Overrides::default())
        .unwrap_err()
        .to_string();
    assert!(err.contains("end 09:00 is not after start 10:00"), "{err}");

    let err = Config::parse("[schema]\nmessage = 1\n", Path::new("druidctl.toml")).unwrap_err().to_string();
    assert!(err.starts_with("druidctl.toml: "), "{err}");
    assert!(err.contains("line 2"), "{err}");
}

#[test]
fn registry_locations() {
    let base = Path::new("/p");
    assert_eq!(
        RegistryLocation::parse("s3://b", base).unwrap(),
        RegistryLocation::S3 { bucket: "b".into(), prefix: String::new() }
    );
    assert_eq!(RegistryLocation::parse("file:///abs", base).unwrap(), RegistryLocation::File("/abs".into()));
    assert!(RegistryLocation::parse("gs://b", base).is_err());
    assert!(RegistryLocation::parse("s3:///x", base).is_err());
}

fn error_of(extra_defaults: &str, extra_dev: &str) -> String {
    let text = FILE.replace("[environments.dev]\n", &format!("{extra_dev}[environments.dev]\n"));
    let text = text.replace("[defaults]\n", &format!("[defaults]\n{extra_defaults}"));
    let config = Config::parse(&text, Path::new("druidctl.toml")).unwrap();
    config.environment("dev", &Overrides::default()).unwrap_err().to_string()
}

#[test]
fn errors_name_the_key_where_it_is_written_with_a_suggestion() {
    // A typo in [defaults]: reported there, not under the environment that merged it.
    let err = error_of("", "[defaults.ingestion]\ntask_cout = 2\n");
    assert!(err.contains("druidctl.toml: defaults.ingestion.task_cout: unknown field `task_cout`"), "{err}");
    assert!(err.contains("did you mean `task_count`?"), "{err}");
    // A value of the environment's own table.
    let text = FILE.replace(
        "datasource = \"m_dev\"",
        "datasource = \"m_dev\"\nwindow = { days = [\"mon\"], strat = \"10:00\" }",
    );
    let err = Config::parse(&text, Path::new("druidctl.toml"))
        .unwrap()
        .environment("dev", &Overrides::default())
        .unwrap_err()
        .to_string();
    assert!(err.contains("environments.dev.window.strat"), "{err}");
    assert!(err.contains("did you mean `start`?"), "{err}");
    // Not an ISO 8601 duration, written in [defaults].
    let err = error_of("ingestion = { task_duration = \"30m\" }\n", "");
    assert!(
        err.contains("defaults.ingestion.task_duration") && err.contains("not an ISO 8601 duration"),
        "{err}"
    );
}

#[test]
fn origins_say_where_each_value_came_from() {
    let overrides = Overrides::from_vars([("DRUIDCTL_KAFKA_BOOTSTRAP".to_owned(), "k:1".to_owned())]);
    let prod = config().environment("prod", &overrides).unwrap();
    assert_eq!(prod.origins["druid.url"], Origin::File { key: "defaults.druid.url".into() });
    assert_eq!(
        prod.origins["ingestion.task_count"],
        Origin::File { key: "environments.prod.ingestion.task_count".into() }
    );
    assert_eq!(
        prod.origins["kafka.bootstrap_servers"],
        Origin::Variable { name: "DRUIDCTL_KAFKA_BOOTSTRAP" }
    );
    assert!(!prod.origins.contains_key("thresholds.observe_secs"), "a default has no origin");
}

#[test]
fn a_bad_url_in_a_variable_names_the_variable_and_hides_the_password() {
    let overrides = Overrides::from_vars([(
        "DRUIDCTL_DRUID_URL".to_owned(),
        "http://admin:s3cret@dru id:8888".to_owned(),
    )]);
    let dev = config().environment("dev", &overrides).unwrap();
    let err = crate::connect::druid_client(&dev).unwrap_err();
    let text = err.to_string();
    assert!(text.starts_with("$DRUIDCTL_DRUID_URL: "), "{text}");
    assert!(!text.contains("s3cret") && !text.contains("druidctl.toml"), "{text}");
}

#[test]
fn the_view_says_where_each_value_came_from_and_hides_secrets() {
    let overrides = Overrides::from_vars([
        ("DRUIDCTL_DRUID_PASSWORD".to_owned(), "s3cr3t".to_owned()),
        ("DRUIDCTL_KAFKA_BOOTSTRAP".to_owned(), "k:1".to_owned()),
    ]);
    let view = config().view("prod", &overrides).unwrap();
    let find = |key: &str| view.iter().find(|setting| setting.key == key).unwrap().clone();
    assert_eq!(find("druid.url").origin, Some(Origin::File { key: "defaults.druid.url".into() }));
    assert_eq!(find("ingestion.task_count").value, serde_json::json!(4));
    assert_eq!(find("kafka.bootstrap_servers").value, serde_json::json!("k:1"));
    assert_eq!(
        find("kafka.bootstrap_servers").origin,
        Some(Origin::Variable { name: "DRUIDCTL_KAFKA_BOOTSTRAP" })
    );
    assert_eq!(find("druid.password").value, serde_json::json!("***"));
    assert_eq!(find("channel").value, serde_json::json!("stable"));
    assert_eq!(find("channel").origin, None, "implied by the name");
    assert!(!format!("{view:?}").contains("s3cr3t") && !format!("{view:?}").contains("from-file"));
}

#[test]
fn out_of_range_values_are_refused_before_they_panic_or_overflow() {
    for (extra, key) in [
        (
            "thresholds = { task_window_hours = 4294967295 }\n",
            "task_window_hours = 4294967295 is out of range",
        ),
        ("thresholds = { ready_timeout_secs = 0 }\n", "ready_timeout_secs = 0 is out of range"),
        ("druid = { connect_timeout_secs = 0 }\n", "druid.connect_timeout_secs"),
    ] {
        let text =
            FILE.replace("[environments.qa]\n", &format!("[environments.qa]\nchannel = \"c\"\n{extra}"));
        let config = Config::parse(&text, Path::new("druidctl.toml")).unwrap();
        let err = config.environment("qa", &Overrides::default()).unwrap_err().to_string();
        assert!(err.contains(key), "{err}");
    }
}
