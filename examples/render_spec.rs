//! Embeds deploy-core to render the supervisor spec of an environment, as another Rust
//! service would: `cargo run -p druidctl-examples --bin render-spec -- prod [path/to/druidctl.toml]`.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::path::PathBuf;
use std::process::ExitCode;

use deploy_core::Project;
use deploy_core::config::Overrides;

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let environment = args.next().unwrap_or_else(|| "dev".to_owned());
    let config = args.next().map_or_else(|| PathBuf::from("druidctl.toml"), PathBuf::from);
    match render(&config, &environment) {
        Ok(spec) => {
            println!("{spec}");
            ExitCode::SUCCESS
        }
        Err(err) => {
            eprintln!("error: {err}");
            ExitCode::FAILURE
        }
    }
}

fn render(config: &std::path::Path, environment: &str) -> Result<String, Box<dyn std::error::Error>> {
    let project = Project::open(config)?;
    let environment = project.environment(environment, &Overrides::from_vars(std::env::vars()))?;
    let checked = project.check()?;
    let spec = checked.render(&environment, None)?;
    eprintln!(
        "{}: {} dimensions, descriptor sha256 {}",
        environment.datasource,
        checked.dimensions.dimensions.len(),
        checked.schema.sha256()
    );
    Ok(serde_json::to_string_pretty(&spec)?)
}
