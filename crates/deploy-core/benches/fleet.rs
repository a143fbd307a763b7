//! A fleet of 500 pipelines against a local fake Druid served over HTTP (loopback) and
//! registries on local disk: `status --all` (reconcile plus each supervisor and history),
//! `reconcile` (one `/supervisor?full`, each channel version rendered) and `plan --all`
//! (each pipeline planned, 16 at a time). Figures, not assertions (`make bench`).

use std::fmt::Write as _;
use std::hint::black_box;
use std::path::Path;
use std::sync::Arc;

use criterion::{Criterion, criterion_group, criterion_main};
use deploy_core::config::{Overrides, RegistryLocation};
use deploy_core::publish::{PublishOptions, publish_to};
use deploy_core::reconcile::Options;
use deploy_core::{Project, Session};
use druid_client::DruidApi as _;
use druid_client::testing::FakeDruid;
use schema_registry::{Channel, LocalStore, Registry, Version};

const PIPELINES: usize = 500;
const CONCURRENCY: usize = 16;

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), to.join(entry.file_name())).unwrap();
    }
}

fn bench(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let fake = Arc::new(FakeDruid::new());
    let server = runtime.block_on(fake.serve());
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let sample = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    copy_dir(&sample.join("schemas/proto"), &root.join("schemas/proto"));
    copy_dir(&sample.join("config"), &root.join("config"));
    let mut text = format!(
        "[schema]\nmessage = \"settlement.v1.SettlementTransaction\"\n[defaults]\nregistry = \"file://registry\"\n\
         [defaults.druid]\nurl = \"{}\"\n[defaults.kafka]\nbootstrap_servers = \"kafka:9092\"\n\
         [defaults.preflight]\nenabled = false\n[environments.dev]\ndatasource = \"unused\"\nkafka.topic = \"unused\"\n",
        server.uri()
    );
    for index in 0..PIPELINES {
        let _ = write!(
            text,
            "[pipelines.p{index:03}.environments.dev]\ndatasource = \"ds_{index:03}\"\nkafka.topic = \"topic-{index:03}\"\n"
        );
    }
    std::fs::write(root.join("druidctl.toml"), text).unwrap();
    let project = Project::open(&root.join("druidctl.toml")).unwrap();
    let checked = project.pipeline("p000").unwrap().check().unwrap();
    // Every pipeline published as v1, live in Druid, its channel at v1.
    let sessions: Vec<(Option<String>, Session)> = runtime.block_on(async {
        let mut sessions = Vec::new();
        for name in project.pipeline_names() {
            let environment =
                project.pipeline(&name).unwrap().environment("dev", &Overrides::default()).unwrap();
            let RegistryLocation::File(path) = &environment.registry else { unreachable!("a file registry") };
            let registry = Registry::new(Arc::new(LocalStore::new(path)));
            let options = PublishOptions { version: Some("v1".into()), ..PublishOptions::default() };
            publish_to(&registry, &checked, &environment, root, &options).await.unwrap();
            let version = Version::parse("v1").unwrap();
            registry
                .promote(&Channel::parse(&environment.channel).unwrap(), &version, None, None)
                .await
                .unwrap();
            let client = deploy_core::connect::druid_client(&environment).unwrap();
            let session = Session::new(environment, Arc::new(client), registry);
            fake.submit_spec(&session.render_version(&version).await.unwrap()).await.unwrap();
            sessions.push((Some(name), session));
        }
        sessions
    });
    let druid = sessions[0].1.druid.clone();
    let mut group = c.benchmark_group(format!("fleet of {PIPELINES} pipelines"));
    group.sample_size(10);
    group.bench_function("reconcile (one /supervisor?full, every channel version rendered)", |b| {
        b.iter(|| {
            runtime.block_on(async {
                let options = Options { apply: false, concurrency: CONCURRENCY };
                black_box(
                    deploy_core::reconcile::reconcile(druid.as_ref(), &sessions, options).await.unwrap(),
                )
            })
        });
    });
    group.bench_function("status --all (reconcile + each supervisor's status, stats and history)", |b| {
        b.iter(|| {
            runtime.block_on(async {
                black_box(
                    deploy_core::service::snapshot(druid.as_ref(), &sessions, CONCURRENCY).await.unwrap(),
                )
            })
        });
    });
    let projects: Vec<Project> =
        project.pipeline_names().iter().map(|name| project.pipeline(name).unwrap()).collect();
    group.bench_function("plan --all (each proto root compiled once, 500 plans 16 at a time)", |b| {
        b.iter(|| {
            runtime.block_on(async {
                let members: Vec<deploy_core::fleet::Member> = deploy_core::fleet::check_all(&projects)
                    .into_iter()
                    .zip(&sessions)
                    .map(|(checked, (pipeline, session))| deploy_core::fleet::Member {
                        pipeline: pipeline.clone(),
                        session: session.clone(),
                        checked,
                        project_dir: root.to_owned(),
                    })
                    .collect();
                black_box(
                    deploy_core::fleet::plan(
                        &members,
                        &deploy_core::deploy::DeployOptions::default(),
                        CONCURRENCY,
                    )
                    .await,
                )
            })
        });
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
