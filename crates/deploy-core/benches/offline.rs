//! The edit-compile-check loop on the sample project: compile, validate, render.
//!
//! `make bench` runs it; criterion prints the time per iteration of each step and of the
//! whole loop.

use std::hint::black_box;
use std::path::Path;

use criterion::{Criterion, criterion_group, criterion_main};
use deploy_core::Project;
use deploy_core::config::Overrides;
use proto_schema::CompiledSchema;

fn offline(c: &mut Criterion) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let project = Project::open(&root.join("druidctl.toml")).expect("sample project");
    let environment = project.environment("prod", &Overrides::default()).expect("prod");
    let checked = project.check().expect("sample compiles");

    c.bench_function("compile sample", |b| {
        b.iter(|| CompiledSchema::compile_dir(black_box(&project.proto_root())).unwrap());
    });
    c.bench_function("validate sample", |b| {
        b.iter(|| druid_mapping::validate(black_box(&checked.message), black_box(&checked.dimensions)));
    });
    c.bench_function("render sample", |b| {
        b.iter(|| black_box(&checked).render(&environment, Some("abc123f")).unwrap());
    });
    c.bench_function("compile + validate + render (sample)", |b| {
        b.iter(|| {
            let checked = project.check().unwrap();
            serde_json::to_vec(&checked.render(&environment, None).unwrap()).unwrap()
        });
    });
}

criterion_group!(benches, offline);
criterion_main!(benches);
