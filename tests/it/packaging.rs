//! `deploy/`: the container build and the Kubernetes manifest of `druidctl serve` agree with
//! the binary (its flags and routes), take secrets by reference only, and carry a project
//! file druidctl accepts.

use std::path::Path;

use deploy_core::config::{Config, Overrides};
use yaml_rust2::{Yaml, YamlLoader};

use crate::repo_root;

fn manifest() -> Vec<Yaml> {
    let text = std::fs::read_to_string(repo_root().join("deploy/kubernetes.yaml")).unwrap();
    YamlLoader::load_from_str(&text).unwrap()
}

fn of_kind<'a>(documents: &'a [Yaml], kind: &str) -> &'a Yaml {
    documents
        .iter()
        .find(|document| document["kind"].as_str() == Some(kind))
        .unwrap_or_else(|| panic!("no {kind}"))
}

#[test]
fn the_manifest_runs_serve_with_secrets_by_reference() {
    let documents = manifest();
    assert!(
        documents.iter().all(|document| document["kind"].as_str() != Some("Secret")),
        "secrets are referenced, not defined"
    );
    let deployment = of_kind(&documents, "Deployment");
    let container = &deployment["spec"]["template"]["spec"]["containers"][0];
    let args: Vec<&str> = container["args"].as_vec().unwrap().iter().filter_map(Yaml::as_str).collect();
    assert_eq!(args[..3], ["serve", "--env", "prod"]);
    assert!(args.contains(&"0.0.0.0:8080"));
    assert_eq!(container["envFrom"][0]["secretRef"]["name"].as_str(), Some("druidctl-secrets"));
    for probe in ["readinessProbe", "livenessProbe"] {
        assert_eq!(container[probe]["httpGet"]["path"].as_str(), Some("/healthz"), "{probe}");
    }
    assert_eq!(container["ports"][0]["containerPort"].as_i64(), Some(8080));
    let service = of_kind(&documents, "Service");
    assert_eq!(service["spec"]["ports"][0]["targetPort"].as_str(), Some("http"));
    assert_eq!(service["metadata"]["annotations"]["prometheus.io/path"].as_str(), Some("/metrics"));
    // The project file it mounts is one druidctl reads, with the environment serve is given.
    let project = of_kind(&documents, "ConfigMap")["data"]["druidctl.toml"].as_str().unwrap();
    let config = Config::parse(project, Path::new("/project/druidctl.toml")).unwrap();
    let prod = config.environment("prod", &Overrides::default()).unwrap();
    assert!(prod.registry.to_string().starts_with("s3://"), "a cluster service reads an S3 registry");
}

#[test]
fn the_container_build_makes_the_locked_binary_and_serves() {
    let text = std::fs::read_to_string(repo_root().join("deploy/Dockerfile")).unwrap();
    assert!(text.contains("cargo build --locked --release -p druidctl"), "{text}");
    assert!(text.contains("USER 10001"), "not root");
    assert!(text.contains(r#"ENTRYPOINT ["druidctl", "--config", "/project/druidctl.toml"]"#));
    assert!(text.contains(r#"CMD ["serve", "--env", "prod", "--listen", "0.0.0.0:8080""#));
    let toolchain = text.lines().find(|line| line.starts_with("FROM rust:")).unwrap();
    let version = toolchain.trim_start_matches("FROM rust:").split('-').next().unwrap();
    let workspace = std::fs::read_to_string(repo_root().join("Cargo.toml")).unwrap();
    let minimum = workspace.lines().find(|line| line.starts_with("rust-version")).unwrap();
    let minimum = minimum.split('"').nth(1).unwrap();
    let parse = |text: &str| text.split('.').map(|part| part.parse::<u32>().unwrap_or(0)).collect::<Vec<_>>();
    assert!(
        parse(version) >= parse(minimum),
        "the image's Rust {version} is older than rust-version {minimum}"
    );
}
