//! proxysync-bench: measures the webhook functions on the local stack and writes the figures,
//! with the machine and the command, into `BENCHMARKS.md`.
//!
//! It builds the functions with cargo-lambda (release profile: opt-level "z", LTO, one
//! codegen unit) and the tracker sandbox, and starts moto's server and the sandbox on
//! 127.0.0.1. Each function binary then runs under a Lambda Runtime API emulator served on
//! loopback, with API Gateway v2 events that carry webhooks the sandbox signed. It measures cold start, warm
//! time per event against the unavoidable calls, AWS calls per event, peak memory, and
//! package size, and compares the cold start with the same job as a Python handler
//! (`bench/python/`, boto3 and requests). Nothing leaves the machine.
//!
//! Run from the repository root, with a target directory of its own so that the release
//! build does not block the debug builds in `target/`:
//!
//! ```sh
//! CARGO_TARGET_DIR=target-bench cargo run --release -p proxysync-bench
//! ```

mod local;
mod measure;
mod report;
mod runtime;

use std::path::PathBuf;
use std::process::Command;

use anyhow::{Context, bail};
use clap::Parser;

use crate::local::Local;
use crate::measure::Bench;

/// Benchmarks of the proxysync webhook functions on the local stack.
#[derive(Debug, Parser)]
#[command(name = "proxysync-bench")]
pub struct Args {
    /// Warm events sent to each function, for the memory figure and the warm times.
    #[arg(long, default_value_t = 1000)]
    pub events: usize,

    /// Cold starts of each function and of the Python handler.
    #[arg(long, default_value_t = 10)]
    pub cold_runs: usize,

    /// Warm events sent through the counting proxies, for the call counts and the own time.
    #[arg(long, default_value_t = 200)]
    pub timed_events: usize,

    /// Linked issue pairs that the events edit in turn. Each receives events / issues edits,
    /// which must stay under the pipeline's per-issue write cap (20 a minute by default).
    #[arg(long, default_value_t = 100)]
    pub issues: usize,

    /// Use the binaries and zips already in the target directory instead of building.
    #[arg(long)]
    pub skip_build: bool,

    /// The report to write, relative to the repository root.
    #[arg(long, default_value = "BENCHMARKS.md")]
    pub out: PathBuf,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .canonicalize()?;
    let target = local::target_dir(&root);
    if !args.skip_build {
        build(&root)?;
    }
    let sandbox_binary = target.join("release/tracker-sandbox");
    if !sandbox_binary.exists() {
        bail!(
            "{} is missing: run without --skip-build",
            sandbox_binary.display()
        );
    }

    eprintln!("bench: starting moto_server and tracker-sandbox on 127.0.0.1");
    let local = Local::start(&root, &sandbox_binary).await?;
    let mut bench = Bench::new(&root, &target, &local, &args);
    let results = bench.run().await?;
    let text = report::render(&args, &root, &results)?;
    let out = root.join(&args.out);
    std::fs::write(&out, text).with_context(|| format!("could not write {}", out.display()))?;
    eprintln!("bench: wrote {}", out.display());
    Ok(())
}

/// Builds the function zips with cargo-lambda and the sandbox binary, in release mode.
fn build(root: &std::path::Path) -> anyhow::Result<()> {
    let venv_bin = root.join(".venv/bin");
    let path = std::env::var_os("PATH").unwrap_or_default();
    let mut paths = vec![venv_bin.clone()];
    paths.extend(std::env::split_paths(&path));
    let path = std::env::join_paths(paths)?;

    let mut functions: Vec<String> = std::fs::read_dir(root.join("functions"))?
        .filter_map(Result::ok)
        .filter(|entry| entry.path().join("Cargo.toml").is_file())
        .map(|entry| entry.file_name().to_string_lossy().into_owned())
        .collect();
    functions.sort();
    let mut lambda_args: Vec<String> = ["lambda", "build", "--release", "--x86-64"]
        .into_iter()
        .chain(["--output-format", "zip"])
        .map(str::to_owned)
        .collect();
    for function in &functions {
        lambda_args.extend(["-p".to_owned(), function.clone()]);
    }
    eprintln!("bench: cargo-lambda {}", lambda_args.join(" "));
    let status = Command::new(venv_bin.join("cargo-lambda"))
        .args(&lambda_args)
        .current_dir(root)
        .env("PATH", &path)
        .status()
        .context("could not run .venv/bin/cargo-lambda: run `bash infra/local/setup.sh`")?;
    if !status.success() {
        bail!("cargo-lambda build failed with {status}");
    }

    eprintln!("bench: cargo build --release -p tracker-sandbox");
    let status = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned()))
        .args(["build", "--release", "-p", "tracker-sandbox"])
        .current_dir(root)
        .status()?;
    if !status.success() {
        bail!("building tracker-sandbox failed with {status}");
    }
    Ok(())
}
