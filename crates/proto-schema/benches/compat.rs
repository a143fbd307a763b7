//! The breaking-change check on a large schema: 20 files, 200 messages x 50 fields, a
//! variant with 10 breaking edits. Measures compiling both sides and comparing them, as
//! `druidctl check` does, and the comparison alone.

use std::hint::black_box;
use std::path::Path;

use criterion::{Criterion, criterion_group, criterion_main};
use proto_schema::CompiledSchema;
use proto_schema::compat::{self, Mode};

fn write(root: &Path, files: &std::collections::BTreeMap<String, String>) {
    for (name, text) in files {
        let path = root.join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }
}

fn bench(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let (old, new) = proto_schema::synthetic::large_schema(20, 200, 50, 10);
    write(&dir.path().join("old"), &old);
    write(&dir.path().join("new"), &new);
    let (old_root, new_root) = (dir.path().join("old"), dir.path().join("new"));
    let old = CompiledSchema::compile_dir(&old_root).unwrap();
    let new = CompiledSchema::compile_dir(&new_root).unwrap();
    let report = compat::check(&old, &new, Mode::WireJson);
    assert_eq!(report.findings.len(), 17, "the variant's edits: {:#?}", report.findings);

    let mut group = c.benchmark_group("compat 200 messages x 50 fields");
    group.sample_size(20);
    group.bench_function("compile both (lean, as druidctl check) + check (wire-json)", |b| {
        b.iter(|| {
            let old = CompiledSchema::compile_dir_lean(black_box(&old_root)).unwrap();
            let new = CompiledSchema::compile_dir_lean(black_box(&new_root)).unwrap();
            compat::check(&old, &new, Mode::WireJson)
        });
    });
    group.bench_function("check only (file)", |b| {
        b.iter(|| compat::check(black_box(&old), black_box(&new), Mode::File));
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
