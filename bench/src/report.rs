//! Renders the results, the machine and the command as `BENCHMARKS.md`.

use std::fmt::Write as _;
use std::path::Path;
use std::process::Command;

use crate::Args;
use crate::measure::{ColdStart, Results, Stats};

const COLD_START_TARGET_MS: f64 = 25.0;
const OWN_TIME_TARGET_MS: f64 = 0.5;
const RATIO_TARGET: f64 = 1.10;
const RSS_TARGET_KIB: u64 = 32 * 1024;
const ZIP_TARGET_BYTES: u64 = 4_000_000;

fn verdict(met: bool) -> &'static str {
    if met { "met" } else { "missed" }
}

fn output(program: &str, args: &[&str], dir: &Path) -> String {
    Command::new(program)
        .args(args)
        .current_dir(dir)
        .output()
        .ok()
        .filter(|out| out.status.success())
        .map(|out| String::from_utf8_lossy(&out.stdout).trim().to_owned())
        .unwrap_or_else(|| "unknown".to_owned())
}

fn machine() -> (String, String, String) {
    let cpus = std::thread::available_parallelism().map_or(0, |n| n.get());
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find_map(|line| line.strip_prefix("model name"))
        .map(|rest| rest.trim_start_matches([' ', '\t', ':']).to_owned())
        .unwrap_or_else(|| "unknown".to_owned());
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let memory = meminfo
        .lines()
        .find_map(|line| line.strip_prefix("MemTotal:"))
        .and_then(|value| {
            value
                .trim()
                .trim_end_matches("kB")
                .trim()
                .parse::<u64>()
                .ok()
        })
        .map(|kib| format!("{:.1} GiB", kib as f64 / 1024.0 / 1024.0))
        .unwrap_or_else(|| "unknown".to_owned());
    (cpus.to_string(), model, memory)
}

fn row(stats: &Stats) -> String {
    format!(
        "{:.1} | {:.1} | {:.1} | {:.1}",
        stats.min, stats.median, stats.p90, stats.max
    )
}

fn cold_row(cold: &ColdStart) -> String {
    format!(
        "| {} | {} | {:.1} | {:.1} |\n",
        cold.name,
        row(&cold.total),
        cold.init.median,
        cold.first_invocation.median
    )
}

/// Renders the whole report.
pub fn render(args: &Args, root: &Path, results: &Results) -> anyhow::Result<String> {
    let (cpus, model, memory) = machine();
    let commit = output("git", &["rev-parse", "--short=12", "HEAD"], root);
    let dirty = !output("git", &["status", "--porcelain"], root).is_empty();
    let rustc = output("rustc", &["--version"], root);
    let python = root.join(".venv/bin/python");
    let versions = output(
        &python.to_string_lossy(),
        &[
            "-c",
            "import sys, moto, boto3, requests; print(f'Python {sys.version.split()[0]}, \
             moto {moto.__version__}, boto3 {boto3.__version__}, requests {requests.__version__}')",
        ],
        root,
    );
    let target_dir = std::env::var("CARGO_TARGET_DIR").unwrap_or_else(|_| "target".to_owned());
    let arguments: Vec<String> = std::env::args().skip(1).collect();
    let command = format!(
        "CARGO_TARGET_DIR={target_dir} cargo run --release -p proxysync-bench -- {}",
        arguments.join(" ")
    );

    let mut text = String::new();
    writeln!(text, "# Benchmarks\n")?;
    writeln!(
        text,
        "Figures of the webhook functions on the local stack, written by `proxysync-bench` \
         (`bench/`). Every server runs on 127.0.0.1 on this machine: moto's server for \
         DynamoDB and Secrets Manager, the tracker sandbox for GitHub and Jira, and a Lambda \
         Runtime API emulator. They measure this code on this machine, not AWS: real \
         DynamoDB and tracker calls are slower, and real Lambda cold starts add the sandbox \
         set-up that AWS bills as init.\n"
    )?;
    writeln!(text, "## Run\n")?;
    writeln!(text, "- Command: `{}`", command.trim_end())?;
    writeln!(
        text,
        "- Started {} UTC at commit {commit}{}; took {:.0} s.",
        results.started,
        if dirty {
            " with uncommitted changes"
        } else {
            ""
        },
        results.seconds
    )?;
    writeln!(
        text,
        "- Machine: {cpus} CPUs (`nproc`), {model}, {memory} of memory."
    )?;
    writeln!(text, "- Tools: {rustc}; {versions}.")?;
    writeln!(
        text,
        "- Build: `cargo-lambda lambda build --release --x86-64 --output-format zip`, \
         release profile with opt-level \"z\", LTO, one codegen unit, strip.\n"
    )?;

    writeln!(text, "## Summary\n")?;
    writeln!(text, "| measure | figure | target | |")?;
    writeln!(text, "| --- | --- | --- | --- |")?;
    for cold in &results.cold {
        writeln!(
            text,
            "| cold start, {} (median) | {:.1} ms | under {COLD_START_TARGET_MS} ms | {} |",
            cold.name,
            cold.total.median,
            verdict(cold.total.median < COLD_START_TARGET_MS)
        )?;
    }
    let rust_cold = results.cold.first().map_or(0.0, |c| c.total.median);
    let python_cold = results.python_cold.total.median;
    writeln!(
        text,
        "| cold start, Python handler over github-webhook (median) | {:.1}x | | |",
        python_cold / rust_cold.max(f64::EPSILON)
    )?;
    let timed = &results.timed;
    writeln!(
        text,
        "| own time per warm event, github-webhook (median) | {:.2} ms | under {OWN_TIME_TARGET_MS} ms | {} |",
        timed.own_time.median,
        verdict(timed.own_time.median < OWN_TIME_TARGET_MS)
    )?;
    let github_warm = results.warm.first().map_or(0.0, |w| w.per_event.median);
    let base = &results.baseline;
    let three = base.claim_put.median + base.link_get.median + base.target_put.median;
    let four = three + base.commit_transaction.median;
    writeln!(
        text,
        "| warm event over its 3 unavoidable calls, github-webhook (medians) | {:.2} | under {RATIO_TARGET} | {} |",
        github_warm / three,
        verdict(github_warm / three < RATIO_TARGET)
    )?;
    writeln!(
        text,
        "| warm event over the 4 calls of a synced edit (medians) | {:.2} | | |",
        github_warm / four
    )?;
    writeln!(
        text,
        "| Secrets Manager calls per warm synced edit (most) | {} | 0 | {} |",
        timed.max_secrets,
        verdict(timed.max_secrets == 0)
    )?;
    writeln!(
        text,
        "| DynamoDB calls per warm synced edit (most) | {} | at most 3 | {} |",
        timed.max_dynamodb,
        verdict(timed.max_dynamodb <= 3)
    )?;
    writeln!(
        text,
        "| AWS writes per proxy-authored event | {} in {} events | 0 | {} |",
        timed.proxy_writes,
        timed.proxy_events,
        verdict(timed.proxy_writes == 0)
    )?;
    for warm in &results.warm {
        writeln!(
            text,
            "| peak RSS over {} events, {} | {:.1} MiB | under 32 MiB | {} |",
            warm.events,
            warm.name,
            warm.peak_rss_kib as f64 / 1024.0,
            verdict(warm.peak_rss_kib < RSS_TARGET_KIB)
        )?;
    }
    for (name, bytes) in &results.packages {
        writeln!(
            text,
            "| zip, {name} | {:.2} MB | under 4 MB | {} |",
            *bytes as f64 / 1e6,
            verdict(*bytes < ZIP_TARGET_BYTES)
        )?;
    }

    writeln!(text, "\n## Cold start\n")?;
    writeln!(
        text,
        "From process start to the answer of the first invocation, which the emulator holds \
         before the process starts: a signed GitHub `issues` `edited` webhook (for \
         jira-webhook, a Jira `jira:issue_updated` one) in an API Gateway v2 event, for an \
         issue already linked, so the function reads the configuration and both secrets, \
         claims the delivery, reads the link, updates the other tracker and stores the \
         result. Init is process start to the first `next` poll (runtime, AWS SDK and HTTP \
         client set-up); the first invocation is `next` to the answer, with empty caches. \
         {} runs each, in ms.\n",
        args.cold_runs
    )?;
    writeln!(
        text,
        "| process | min | median | p90 | max | init (median) | first invocation (median) |"
    )?;
    writeln!(text, "| --- | --- | --- | --- | --- | --- | --- |")?;
    for cold in &results.cold {
        text.push_str(&cold_row(cold));
    }
    text.push_str(&cold_row(&results.python_cold));
    writeln!(
        text,
        "\nThe Python handler (`bench/python/`) does the github-webhook job with boto3 and \
         requests, with the same records and calls, under a minimal runtime client like the \
         managed Python runtime's. Its Markdown conversion handles paragraphs and line breaks \
         only, so it does slightly less work per event.\n"
    )?;

    writeln!(text, "## Warm events\n")?;
    writeln!(
        text,
        "Each function ran {} events after one warm-up event, each a rename of one of {} \
         linked issues in turn by a person, synced to the other tracker. Times are from \
         `next` to the answer, in ms.\n",
        args.events, args.issues
    )?;
    writeln!(
        text,
        "| function | payload | min | median | p90 | max | peak RSS (VmHWM) |"
    )?;
    writeln!(text, "| --- | --- | --- | --- | --- | --- | --- |")?;
    for warm in &results.warm {
        writeln!(
            text,
            "| {} | {:.1} KB | {} | {:.1} MiB |",
            warm.name,
            warm.payload_bytes as f64 / 1000.0,
            row(&warm.per_event),
            warm.peak_rss_kib as f64 / 1024.0
        )?;
    }
    writeln!(
        text,
        "\nThe unavoidable calls of a synced edit, sent by the bench itself to the same \
         servers in the same run ({} of each, ms): the conditional `PutItem` of the \
         idempotency claim, a consistent `GetItem` of one item (the link read), the Jira \
         `PUT` of the same summary and description, and the `TransactWriteItems` that stores \
         two links and finishes the claim.\n",
        args.timed_events
    )?;
    writeln!(text, "| call | min | median | p90 | max |")?;
    writeln!(text, "| --- | --- | --- | --- | --- |")?;
    for (name, stats) in [
        ("PutItem (claim)", &base.claim_put),
        ("GetItem (link)", &base.link_get),
        ("PUT Jira issue", &base.target_put),
        ("TransactWriteItems (commit)", &base.commit_transaction),
    ] {
        writeln!(text, "| {name} | {} |", row(stats))?;
    }
    writeln!(
        text,
        "\nThe issue's ratio divides the github-webhook median by the sum of the first three \
         medians ({three:.2} ms); with the commit, the four calls sum to {four:.2} ms.\n"
    )?;

    writeln!(text, "## Calls per event\n")?;
    writeln!(
        text,
        "github-webhook ran {} more warm events with its DynamoDB, Secrets Manager and \
         tracker calls sent through counting proxies on loopback (`AwsProxy` in \
         `tests/src/aws_proxy.rs`). The own time is the event time less the time the proxies \
         spent on its calls, upstream included; the extra hop makes these event times longer \
         than the direct ones above.\n",
        timed.events
    )?;
    writeln!(text, "| per event | min | median | p90 | max |")?;
    writeln!(text, "| --- | --- | --- | --- | --- |")?;
    writeln!(text, "| whole event (ms) | {} |", row(&timed.per_event))?;
    writeln!(text, "| in calls (ms) | {} |", row(&timed.calls_time))?;
    writeln!(text, "| own time (ms) | {} |", row(&timed.own_time))?;
    writeln!(
        text,
        "\nMost calls of one synced edit: {} DynamoDB ({}), {} Secrets Manager, {} tracker. \
         {} proxy-authored edits answered `{}` with {} AWS calls and {} writes in all.\n",
        timed.max_dynamodb,
        timed.dynamodb_operations.join(", "),
        timed.max_secrets,
        timed.max_tracker,
        timed.proxy_events,
        timed.proxy_outcome,
        timed.proxy_calls,
        timed.proxy_writes
    )?;

    writeln!(text, "## Packages\n")?;
    writeln!(text, "| function | bootstrap.zip |")?;
    writeln!(text, "| --- | --- |")?;
    for (name, bytes) in &results.packages {
        writeln!(
            text,
            "| {name} | {bytes} bytes ({:.2} MB) |",
            *bytes as f64 / 1e6
        )?;
    }
    Ok(text)
}
