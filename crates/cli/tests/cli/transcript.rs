//! Every command once, against a wiremock Druid and a temporary registry, its stdout, stderr
//! and exit code kept as a snapshot (volatile values filtered).

use std::fmt::Write as _;
use std::path::Path;

use crate::{druidctl, edit, git, sample_repo};

fn run(transcript: &mut String, dir: &Path, server: &str, args: &[&str]) -> i32 {
    let output = druidctl(dir)
        .args(args)
        .env("DRUIDCTL_DRUID_URL", server)
        .env("DRUIDCTL_DRUID_PASSWORD", "hunter2")
        .env("DRUIDCTL_DRUID_USER", "admin")
        .env("DRUIDCTL_ACTOR", "ci-test")
        // prod's registry is S3 in the sample: keep every environment on the local one.
        .env("DRUIDCTL_REGISTRY", "file://.registry")
        .output()
        .unwrap();
    let code = output.status.code().unwrap_or(-1);
    let _ = writeln!(transcript, "$ druidctl {}\n[exit {code}]", args.join(" "));
    for (name, stream) in [("stdout", &output.stdout), ("stderr", &output.stderr)] {
        let text = String::from_utf8_lossy(stream);
        assert!(!text.contains("hunter2"), "the password was printed by {args:?}");
        if !text.trim().is_empty() {
            let _ = writeln!(transcript, "--- {name}\n{}", text.trim_end());
        }
    }
    transcript.push('\n');
    code
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_command() {
    let server = crate::druid::druid().await;
    server.fake.set_parse_errors(
        serde_json::from_value(serde_json::json!([
            {"timeOfExceptionMillis": 1_796_293_483_000_i64, "input": "\u{0}\u{0}\u{0}\u{0}\u{1}\n$4f1c-settlement", "errorType": "unparseable",
             "details": ["Fail to decode protobuf message: Protocol message contained an invalid tag (zero)."]}
        ]))
        .unwrap(),
    );
    let repo = sample_repo();
    let dir = repo.path();
    let uri = server.uri();
    // Every day in the window, so the transcript does not depend on the day it runs.
    edit(
        &dir.join("druidctl.toml"),
        r#"days = ["mon", "tue", "wed", "thu", "fri"]"#,
        r#"days = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]"#,
    );
    git(dir, &["commit", "-qam", "deploy any day"]);
    let first = git(dir, &["rev-parse", "--short=7", "HEAD"]);
    let mut transcript = String::new();
    let mut step = |args: &[&str]| run(&mut transcript, dir, &uri, args);

    assert_eq!(step(&["compile"]), 0);
    assert_eq!(step(&["validate", "--env", "dev"]), 0);
    assert_eq!(step(&["schemas", "publish", "--env", "dev"]), 0);
    assert_eq!(step(&["schemas", "list", "--env", "dev"]), 0);
    assert_eq!(step(&["plan", "--env", "dev"]), 0);
    assert_eq!(step(&["deploy", "--env", "dev"]), 0);
    assert_eq!(step(&["status", "--env", "dev"]), 0);
    assert_eq!(step(&["verify", "--env", "dev"]), 0);
    assert_eq!(step(&["logs", "--env", "dev", "--tail", "5"]), 0);
    assert_eq!(step(&["parse-errors", "--env", "dev"]), 0);
    assert_eq!(step(&["monitor", "--env", "dev"]), 0);
    edit(
        &dir.join("config/dimensions.json"),
        r#"{ "name": "country" },"#,
        r#"{ "name": "country" }, { "name": "acquirerRef", "from": "acquirerId" },"#,
    );
    git(dir, &["commit", "-qam", "a new dimension"]);
    assert_eq!(step(&["check", "--against", "develop-latest", "--env", "dev"]), 0);
    assert_eq!(step(&["deploy", "--env", "dev", "-v"]), 0);
    assert_eq!(step(&["rollback", "--env", "dev", "--version", "previous"]), 0);
    assert_eq!(step(&["schemas", "show", "develop-latest", "--env", "dev"]), 0);
    assert_eq!(step(&["schemas", "promote", &first, "--channel", "staging-latest", "--env", "dev"]), 0);
    assert_eq!(step(&["suspend", "--env", "dev"]), 0);
    assert_eq!(step(&["resume", "--env", "dev"]), 0);
    assert_eq!(step(&["reset", "--env", "dev"]), 2);
    assert_eq!(step(&["reset", "--env", "dev", "--yes"]), 0);
    assert_eq!(step(&["history", "--env", "dev"]), 0);
    assert_eq!(step(&["deploy", "--env", "prod", "--ignore-window", "--reason", "transcript"]), 2);
    assert_eq!(step(&["render", "--env", "nope"]), 2);

    let mut settings = insta::Settings::clone_current();
    // Longest first: a 12-digit commit abbreviation starts with the 7-digit one.
    settings.add_filter(r"\b[0-9a-f]{64}\b", "[SHA256]");
    settings.add_filter(r"\b[0-9a-f]{40}\b", "[GIT SHA]");
    settings.add_filter(r"\b[0-9a-f]{12}\b", "[SHA12]");
    settings.add_filter(&regex_escape(&first), "[COMMIT1]");
    settings.add_filter(&regex_escape(&git(dir, &["rev-parse", "--short=7", "HEAD"])), "[COMMIT2]");
    settings.add_filter(&regex_escape(&dir.display().to_string()), "[PROJECT]");
    settings.add_filter(r"127\.0\.0\.1:\d+", "127.0.0.1:[PORT]");
    settings.add_filter(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z", "[TIME]");
    settings.add_filter(r"\(after \d+ attempts, [\d.]+s\)", "(after [N] attempts)");
    // Table columns are as wide as their (filtered) values were.
    settings.add_filter(r" {2,}", "  ");
    settings.add_filter(r" +\n", "\n");
    settings.bind(|| insta::assert_snapshot!("every_command", transcript));
}

fn regex_escape(text: &str) -> String {
    text.chars()
        .map(
            |c| {
                if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
                    c.to_string()
                } else {
                    format!("\\{c}")
                }
            },
        )
        .collect()
}

#[test]
fn a_closed_pipe_exits_0() {
    let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("druidctl"))
        .args(["render", "--env", "dev"])
        .current_dir(crate::repo_root())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    drop(child.stdout.take()); // the reader goes away before druidctl writes
    assert_eq!(child.wait().unwrap().code(), Some(0));
}

#[test]
fn completions_and_help() {
    let output = druidctl(&crate::repo_root()).args(["completions", "bash"]).output().unwrap();
    assert!(output.status.success());
    assert!(String::from_utf8_lossy(&output.stdout).contains("_druidctl()"));
    let help = druidctl(&crate::repo_root()).arg("--help").output().unwrap();
    let help = String::from_utf8_lossy(&help.stdout);
    for line in [
        "0  success",
        "1  a check failed",
        "2  usage, configuration or input error",
        "3  an external system failed",
    ] {
        assert!(help.contains(line), "--help documents exit codes: {line}");
    }
}
