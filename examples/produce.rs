//! Writes N records of the project's message type to a Kafka topic, built from the compiled
//! descriptor (a schema change needs no code change), optionally with a share of
//! undecodable records: garbage, or Confluent-prefixed messages.
//!
//! `produce --brokers 127.0.0.1:9092 --topic T --count 1000 [--garbage 0.05] [--confluent 0.0] [--config druidctl.toml] [--seed 1]`
//!
//! Uses rskafka, a pure-Rust client: nothing to install. Creates the topic (one partition)
//! when it does not exist, and prints the partition's offsets after writing.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::path::PathBuf;
use std::process::ExitCode;

use druidctl_examples::kafka::Topic;
use druidctl_examples::records::{Generator, Shape};

struct Args {
    brokers: String,
    topic: String,
    count: u64,
    garbage: f64,
    confluent: f64,
    config: PathBuf,
    seed: u64,
}

fn parse() -> Result<Args, String> {
    let mut args = Args {
        brokers: "127.0.0.1:9092".into(),
        topic: String::new(),
        count: 1000,
        garbage: 0.0,
        confluent: 0.0,
        config: PathBuf::from("druidctl.toml"),
        seed: 1,
    };
    let mut words = std::env::args().skip(1);
    while let Some(flag) = words.next() {
        let value = words.next().ok_or_else(|| format!("{flag} needs a value"))?;
        let number = |value: &str| value.parse::<f64>().map_err(|err| format!("{flag}: {err}"));
        match flag.as_str() {
            "--brokers" => args.brokers = value,
            "--topic" => args.topic = value,
            "--count" => args.count = value.parse().map_err(|err| format!("--count: {err}"))?,
            "--garbage" => args.garbage = number(&value)?,
            "--confluent" => args.confluent = number(&value)?,
            "--config" => args.config = PathBuf::from(value),
            "--seed" => args.seed = value.parse().map_err(|err| format!("--seed: {err}"))?,
            other => return Err(format!("unknown flag {other}")),
        }
    }
    if args.topic.is_empty() {
        return Err("--topic is required".into());
    }
    if !(0.0..=1.0).contains(&args.garbage)
        || !(0.0..=1.0).contains(&args.confluent)
        || args.garbage + args.confluent > 1.0
    {
        return Err("--garbage and --confluent are shares between 0 and 1".into());
    }
    Ok(args)
}

async fn run(args: Args) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let project = deploy_core::Project::open(&args.config)?;
    let schema = project.compile()?;
    let message = schema.message(&project.config().schema.message)?;
    let mut generator = Generator::new(message, args.seed, jiff::Timestamp::now().as_second());

    let topic = Topic::open(&args.brokers, &args.topic).await?;
    if topic.created {
        println!("created topic {} (1 partition)", args.topic);
    }
    let mut counts = [0_u64; 3];
    let records: Vec<Vec<u8>> = (0..args.count)
        .map(|index| {
            let shape = Generator::shape(index, args.garbage, args.confluent);
            counts[shape as usize] += 1;
            generator.record(shape)
        })
        .collect();
    let offsets = topic.write(records).await?;
    println!(
        "wrote {} records to {} (offsets {}..{}): {} valid, {} garbage, {} Confluent-prefixed",
        args.count,
        args.topic,
        offsets.start,
        offsets.end,
        counts[Shape::Valid as usize],
        counts[Shape::Garbage as usize],
        counts[Shape::ConfluentPrefixed as usize]
    );
    Ok(())
}

fn main() -> ExitCode {
    let args = match parse() {
        Ok(args) => args,
        Err(message) => {
            eprintln!("error: {message}");
            return ExitCode::from(2);
        }
    };
    let runtime =
        tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
    match runtime.block_on(run(args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err}");
            ExitCode::FAILURE
        }
    }
}
