//! The `druidctl` binary run as a user runs it: arguments in, stdout, stderr and exit code out.

mod check;
mod druid;
mod offline;
mod plan_files;
mod schemas;
mod secrets;
mod transcript;

use std::path::{Path, PathBuf};

use assert_cmd::Command;

/// The repository root, which holds the sample project.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").canonicalize().unwrap()
}

/// `druidctl` with no inherited DRUIDCTL_* variables or colour, run in `dir`.
pub fn druidctl(dir: &Path) -> Command {
    let mut command = Command::cargo_bin("druidctl").unwrap();
    command.current_dir(dir).env("NO_COLOR", "1");
    for (key, _) in std::env::vars() {
        if key.starts_with("DRUIDCTL_") {
            command.env_remove(key);
        }
    }
    command
}

/// A copy of the sample project in a temporary directory, to edit freely. The mock Druid
/// answers at once with enough records to decide, so the verdict is given on one look.
pub fn sample_copy() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(repo_root().join("druidctl.toml"), dir.path().join("druidctl.toml")).unwrap();
    for part in ["schemas", "config"] {
        druidctl_tests::copy_dir(&repo_root().join(part), &dir.path().join(part));
    }
    edit(
        &dir.path().join("druidctl.toml"),
        "[defaults.thresholds]\n",
        "[defaults.thresholds]\nobserve_secs = 0\nmin_observe_secs = 0\nhealthy_polls = 1\n",
    );
    // No Kafka behind the mock Druid: preflight reads a real topic in the e2e suite.
    edit(
        &dir.path().join("druidctl.toml"),
        "[defaults.thresholds]\n",
        "[defaults.preflight]\nenabled = false\n\n[defaults.thresholds]\n",
    );
    dir
}

/// Replaces `from` by `to` in `path`, failing when `from` is not there.
pub fn edit(path: &Path, from: &str, to: &str) {
    let text = std::fs::read_to_string(path).unwrap();
    assert!(text.contains(from), "{} has no {from:?}", path.display());
    std::fs::write(path, text.replacen(from, to, 1)).unwrap();
}

/// Runs git in `dir` with a fixed identity.
pub fn git(dir: &Path, args: &[&str]) -> String {
    let output = std::process::Command::new("git")
        .current_dir(dir)
        .args(["-c", "user.name=Test", "-c", "user.email=test@example.com", "-c", "commit.gpgsign=false"])
        .args(args)
        .output()
        .unwrap();
    assert!(output.status.success(), "git {args:?}: {}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8_lossy(&output.stdout).trim().to_owned()
}

/// A sample copy committed to a fresh git repository (with the registry ignored).
pub fn sample_repo() -> tempfile::TempDir {
    let dir = sample_copy();
    std::fs::write(dir.path().join(".gitignore"), "/.registry\n/target\n").unwrap();
    git(dir.path(), &["init", "-q"]);
    git(dir.path(), &["add", "-A"]);
    git(dir.path(), &["commit", "-qm", "sample"]);
    dir
}
