//! Benchmark of one token refresher run over many OAuth instances.
//!
//! Starts moto's server and the tracker sandbox on 127.0.0.1, registers `--instances`
//! ServiceNow instances (default 1000) whose access tokens are all due, sets the token
//! endpoint's latency (default 50 ms), runs the refresher once and prints the wall time,
//! the token calls, the outcomes and the process's peak resident memory.
//!
//! `cargo run --release -p proxysync-tests --bin refresher-bench -- --instances 1000`

use std::time::{Duration, Instant};

use proxysync_core::config::Config;
use proxysync_core::model::{Instance, ProxyIdentity, TrackerKind};
use proxysync_core::oauth::{RefreshSettings, TokenRefresher};
use proxysync_core::secrets::Secrets;
use proxysync_core::store::Store;
use proxysync_tests::tracker_sandbox::{Sandbox, SandboxConfig};
use proxysync_tests::{aws_config, create_table, moto_endpoint};
use serde_json::json;

fn flag(args: &[String], name: &str, default: u64) -> u64 {
    args.iter()
        .position(|arg| arg == name)
        .and_then(|index| args.get(index + 1))
        .map(|value| {
            value
                .parse()
                .unwrap_or_else(|_| panic!("invalid {name} {value:?}: expected a whole number"))
        })
        .unwrap_or(default)
}

/// Peak resident set size of this process in KiB, from /proc (Linux only).
fn peak_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|line| line.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let count = flag(&args, "--instances", 1000);
    let latency = flag(&args, "--latency-ms", 50);
    let concurrency = flag(&args, "--concurrency", 16);

    let endpoint = moto_endpoint().await;
    let aws = aws_config(&endpoint).await;
    let dynamo = aws_sdk_dynamodb::Client::new(&aws);
    let secrets_client = aws_sdk_secretsmanager::Client::new(&aws);
    let run = uuid::Uuid::new_v4().simple().to_string();
    let table = format!("bench-{run}");
    create_table(&dynamo, &table).await;
    let sandbox_config = SandboxConfig::demo();
    let sandbox = Sandbox::spawn(sandbox_config.clone(), "127.0.0.1:0".parse().unwrap())
        .await
        .expect("start the sandbox");
    let control = sandbox.servicenow();
    let client = &sandbox_config.servicenow.oauth_clients[0];
    let bot = &sandbox_config.servicenow.users[0];

    let set_up = Instant::now();
    let expires_at = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        + 60;
    let mut config = Config::default();
    for index in 0..count {
        let (access, refresh) = control.issue_tokens(&bot.user_name, &client.client_id);
        let secret_id = format!("bench/{run}/{index}");
        let value = json!({
            "client_id": client.client_id,
            "client_secret": client.client_secret,
            "refresh_token": refresh,
            "access_token": access,
            "access_token_expires_at": expires_at,
            "webhook_secret": "bench",
        });
        secrets_client
            .create_secret()
            .name(&secret_id)
            .secret_string(value.to_string())
            .send()
            .await
            .expect("create secret");
        config.instances.push(Instance {
            id: format!("snow-{index}"),
            tracker: TrackerKind::Servicenow,
            base_url: sandbox.servicenow_url(),
            secret: secret_id,
            proxy: Some(ProxyIdentity {
                id: bot.sys_id.clone(),
                name: bot.user_name.clone(),
            }),
            options: Default::default(),
        });
    }
    eprintln!(
        "set up {count} instances in {:.1} s",
        set_up.elapsed().as_secs_f64()
    );
    control.set_token_latency_ms(latency);

    let store = Store::new(dynamo, table);
    let secrets = Secrets::aws(secrets_client, Duration::ZERO);
    let http = proxysync_core::lambda::http_client().expect("http client");
    let settings = RefreshSettings {
        concurrency: usize::try_from(concurrency).unwrap_or(16),
        ..RefreshSettings::default()
    };
    let refresher = TokenRefresher::new(&store, &secrets, &http, settings);
    let started = Instant::now();
    let report = refresher.run(&config).await.expect("refresher run");
    let wall = started.elapsed();
    let token_calls = sandbox
        .requests()
        .iter()
        .filter(|request| request.path.contains("/oauth_token.do"))
        .count();

    println!("instances:            {count}");
    println!("token latency:        {latency} ms");
    println!("concurrency:          {concurrency}");
    println!("wall time:            {:.2} s", wall.as_secs_f64());
    println!("token calls:          {token_calls}");
    println!("refreshed:            {}", report.refreshed());
    println!("failed:               {}", report.failed());
    println!("skipped:              {}", report.skipped());
    match peak_rss_kib() {
        Some(kib) => println!(
            "peak memory:          {:.1} MiB (whole process, sandbox included)",
            kib as f64 / 1024.0
        ),
        None => println!("peak memory:          unknown (no /proc/self/status)"),
    }
}
