//! `.gitlab-ci.yml` implements the team's flow: build once, validate and check merge requests,
//! deploy develop and staging automatically, main by hand.

use yaml_rust2::{Yaml, YamlLoader};

use crate::repo_root;

fn pipeline() -> Yaml {
    let text = std::fs::read_to_string(repo_root().join(".gitlab-ci.yml")).unwrap();
    YamlLoader::load_from_str(&text).unwrap().remove(0)
}

fn job<'a>(pipeline: &'a Yaml, name: &str) -> &'a Yaml {
    let job = &pipeline[name];
    assert!(!job.is_badvalue(), "no job {name}");
    job
}

/// A job's value for `key`, looking through `extends`.
fn field<'a>(pipeline: &'a Yaml, job_name: &str, key: &str) -> &'a Yaml {
    let job = job(pipeline, job_name);
    if !job[key].is_badvalue() {
        return &job[key];
    }
    match job["extends"].as_str() {
        Some(parent) => field(pipeline, parent, key),
        None => &job[key],
    }
}

fn strings(yaml: &Yaml) -> Vec<String> {
    yaml.as_vec()
        .map(|items| items.iter().filter_map(|item| item.as_str().map(str::to_owned)).collect())
        .unwrap_or_default()
}

fn rules(pipeline: &Yaml, job_name: &str) -> Vec<(String, Option<String>)> {
    field(pipeline, job_name, "rules")
        .as_vec()
        .expect("rules")
        .iter()
        .map(|rule| {
            (rule["if"].as_str().unwrap_or_default().to_owned(), rule["when"].as_str().map(str::to_owned))
        })
        .collect()
}

#[test]
fn druidctl_is_built_once_and_passed_on() {
    let pipeline = pipeline();
    assert_eq!(strings(&pipeline["stages"]), ["build", "validate", "deploy"]);
    assert_eq!(strings(&job(&pipeline, "build")["artifacts"]["paths"]), ["bin/druidctl"]);
    for name in ["validate", "check:stable", "deploy:dev", "deploy:staging", "deploy:prod"] {
        assert!(strings(field(&pipeline, name, "needs")).contains(&"build".to_owned()), "{name} needs build");
        let script = strings(field(&pipeline, name, "script")).join("\n");
        assert!(script.contains("bin/druidctl "), "{name} runs the built druidctl");
        assert!(!script.contains("cargo "), "{name} does not build again");
    }
}

#[test]
fn merge_requests_are_validated_and_checked_against_stable() {
    let pipeline = pipeline();
    for name in ["validate", "check:stable"] {
        assert!(
            rules(&pipeline, name).iter().any(|(condition, _)| condition.contains("merge_request_event")),
            "{name}"
        );
    }
    let check = strings(field(&pipeline, "check:stable", "script")).join("\n");
    assert!(check.contains("druidctl check --against stable --env prod"), "{check}");
}

#[test]
fn branches_deploy_their_environment_and_prod_is_manual() {
    let pipeline = pipeline();
    for (name, branch, environment, manual) in [
        ("deploy:dev", "develop", "dev", false),
        ("deploy:staging", "staging", "staging", false),
        ("deploy:prod", "main", "prod", true),
    ] {
        let rules = rules(&pipeline, name);
        assert_eq!(rules.len(), 1, "{name}");
        assert_eq!(rules[0].0, format!("$CI_COMMIT_BRANCH == \"{branch}\""), "{name}");
        assert_eq!(rules[0].1.as_deref() == Some("manual"), manual, "{name}");
        assert_eq!(field(&pipeline, name, "variables")["DRUIDCTL_ENV"].as_str(), Some(environment));
        assert_eq!(field(&pipeline, name, "environment")["name"].as_str(), Some(environment));
        // One deploy per environment at a time, on top of druidctl's own lock.
        assert_eq!(field(&pipeline, name, "resource_group").as_str(), Some(environment));
    }
    let deploy = strings(field(&pipeline, "deploy:prod", "script")).join("\n");
    assert!(deploy.contains("--yes"), "a CI job is not a terminal: deploy needs --yes");
}

#[test]
fn credentials_are_variables_not_values() {
    let text = std::fs::read_to_string(repo_root().join(".gitlab-ci.yml")).unwrap();
    let pipeline = pipeline();
    let variables = &pipeline["variables"];
    for secret in ["DRUIDCTL_DRUID_PASSWORD", "DRUIDCTL_DRUID_TOKEN", "AWS_SECRET_ACCESS_KEY"] {
        assert!(variables[secret].is_badvalue(), "{secret} must come from CI/CD variables");
        assert!(text.contains(secret), "{secret} is documented in the header");
    }
}

#[test]
fn make_targets_are_one_druidctl_call_each() {
    for (target, expected) in [
        ("deploy-dev", "deploy --env dev"),
        ("deploy-staging", "deploy --env staging"),
        ("deploy-prod", "deploy --env prod"),
        ("status", "status --env prod"),
        ("logs", "logs --env prod"),
        ("rollback", "rollback --env prod --schema-version abc123f"),
        ("suspend", "suspend --env prod"),
        ("resume", "resume --env prod"),
        ("list-schemas", "schemas list --env prod"),
        ("test-template", "render --env prod"),
        ("compile", "compile"),
        ("validate", "validate"),
    ] {
        // Run from `make test` too: the outer make's variables would make this one chatty.
        let output = std::process::Command::new("make")
            .args(["-n", "--no-print-directory", target, "ENV=prod", "VERSION=abc123f"])
            .env_remove("MAKEFLAGS")
            .env_remove("MFLAGS")
            .env_remove("MAKELEVEL")
            .current_dir(repo_root())
            .output()
            .expect("make is installed");
        let text = String::from_utf8_lossy(&output.stdout);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 1, "make -n {target}: {text}");
        assert!(
            lines[0].contains("druidctl") && lines[0].ends_with(expected),
            "make -n {target}: {}",
            lines[0]
        );
    }
}

#[test]
fn prod_can_be_planned_then_the_plan_applied_by_hand() {
    let pipeline = pipeline();
    let plan = strings(field(&pipeline, "plan:prod", "script")).join("\n");
    assert!(plan.contains("bin/druidctl plan --env prod --out plan-prod.json"), "{plan}");
    assert_eq!(strings(&job(&pipeline, "plan:prod")["artifacts"]["paths"]), ["plan-prod.json"]);
    let conditions: Vec<String> =
        rules(&pipeline, "plan:prod").into_iter().map(|(condition, _)| condition).collect();
    assert!(conditions.iter().any(|condition| condition.contains("merge_request_event")), "{conditions:?}");
    let apply = strings(field(&pipeline, "apply:prod", "script")).join("\n");
    assert!(apply.contains("bin/druidctl apply plan-prod.json --yes"), "{apply}");
    assert!(strings(field(&pipeline, "apply:prod", "needs")).contains(&"plan:prod".to_owned()));
    assert_eq!(
        rules(&pipeline, "apply:prod"),
        [("$CI_COMMIT_BRANCH == \"main\"".to_owned(), Some("manual".to_owned()))]
    );
}
