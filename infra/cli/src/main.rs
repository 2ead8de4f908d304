//! `proxysync`: the operator command line.
//!
//! It runs with the operator's own AWS credentials (or, with
//! `AWS_ENDPOINT_URL`, against a local emulator) and talks to the same
//! DynamoDB table and secrets as the functions.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};
use clap::{Args, Parser, Subcommand};
use proxysync_core::explain::{self, ExplainContext, Explanation};
use proxysync_core::model::{Direction, Instance, TrackerKind};
use proxysync_core::secrets::Secrets;
use proxysync_core::store::Store;
use proxysync_core::tracker::InboundRequest;
use proxysync_core::{Config, Pipeline, Settings};

mod table;

#[derive(Parser)]
#[command(
    name = "proxysync",
    version,
    about = "Operate proxysync: instances, connections, explain, parked events"
)]
struct Cli {
    /// The DynamoDB table of the deployment.
    #[arg(
        long,
        global = true,
        env = "PROXYSYNC_TABLE",
        default_value = "proxysync"
    )]
    table: String,

    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Register tracker instances and their proxy users.
    #[command(subcommand)]
    Instance(InstanceCommand),
    /// Load connections between projects.
    #[command(subcommand)]
    Connection(ConnectionCommand),
    /// Show what a webhook would do, without writing anything.
    Explain(ExplainArgs),
    /// Inspect, replay or drop parked events.
    #[command(subcommand)]
    Parked(ParkedCommand),
    /// Create the DynamoDB table (for the local stack; SAM creates it in AWS).
    CreateTable,
    /// Check each instance's credentials, proxy identity, permissions, token expiry and webhook.
    Doctor {
        /// Print one JSON array of instance reports instead of a table.
        #[arg(long)]
        json: bool,
        /// Forget the changes counted as signs that people use this instance's proxy account,
        /// after they got their own accounts; the checks then run as usual.
        #[arg(long, value_name = "INSTANCE")]
        clear_proxy_use: Option<String>,
    },
}

#[derive(Subcommand)]
enum InstanceCommand {
    /// Register an instance: reads the proxy identity from the tracker and stores both.
    Add(InstanceAddArgs),
    /// List registered instances.
    List,
}

#[derive(Args)]
struct InstanceAddArgs {
    /// The instance id, the `{instance}` in the webhook URL.
    #[arg(long)]
    id: String,
    /// The tracker kind, such as github, jira-cloud or servicenow.
    #[arg(long)]
    tracker: String,
    /// The API base URL, such as https://api.github.com or https://acme.atlassian.net.
    #[arg(long)]
    base_url: String,
    /// The Secrets Manager secret id holding the proxy credentials and the webhook secret.
    #[arg(long)]
    secret: String,
    /// A tracker-specific instance option as KEY=VALUE. VALUE is read as JSON when it parses and
    /// as text otherwise, but stays text for options that take text. Unknown keys are rejected.
    /// Repeatable.
    #[arg(long = "option", value_name = "KEY=VALUE")]
    options: Vec<String>,
}

/// Parses `--option KEY=VALUE` arguments into the instance's options map. VALUE stays text for
/// the options of `tracker` that take text, so `api_version=61.0` is not read as a number.
fn parse_options(
    tracker: TrackerKind,
    options: &[String],
) -> Result<serde_json::Map<String, serde_json::Value>> {
    let accepted = proxysync_core::options::accepted(tracker);
    let mut map = serde_json::Map::new();
    for option in options {
        let (key, value) = option
            .split_once('=')
            .filter(|(key, _)| !key.is_empty())
            .ok_or_else(|| {
                anyhow!("invalid --option {option:?}: expected KEY=VALUE, such as table=incident")
            })?;
        let text = accepted
            .iter()
            .any(|known| known.name == key && known.kind.is_text());
        let value = match serde_json::from_str(value) {
            Ok(parsed) if !text => parsed,
            _ => serde_json::Value::String(value.to_owned()),
        };
        map.insert(key.to_owned(), value);
    }
    Ok(map)
}

#[derive(Subcommand)]
enum ConnectionCommand {
    /// Store the connections of a YAML configuration file; their instances must be registered.
    Apply {
        /// The YAML file with a `connections:` list.
        file: PathBuf,
    },
    /// List stored connections.
    List,
    /// Delete a stored connection, so its projects stop syncing; its links stay stored. A
    /// connection with parked events is kept until they are replayed or dropped.
    Remove {
        /// The connection id, as `proxysync connection list` shows it.
        id: String,
    },
}

#[derive(Args)]
struct ExplainArgs {
    /// The tracker of the webhook: its route (github, jira, ...) or its kind (jira-cloud, jira-dc, ...).
    #[arg(long)]
    tracker: String,
    /// The instance id of the webhook URL.
    #[arg(long)]
    instance: String,
    /// A file of `Name: value` header lines, as `curl -D` writes them.
    #[arg(long)]
    headers: PathBuf,
    /// The raw request body.
    #[arg(long)]
    body: PathBuf,
    /// A query parameter of the webhook URL as NAME=VALUE, such as the `token` of Salesforce
    /// and Jira Data Center endpoint URLs. Repeat it for more parameters.
    #[arg(long = "query", value_name = "NAME=VALUE")]
    query: Vec<String>,
    /// Read instances and connections from this YAML file instead of DynamoDB.
    #[arg(long)]
    config: Option<PathBuf>,
    /// Read secret values from this JSON file (secret id to secret value) instead of Secrets Manager.
    #[arg(long)]
    secrets: Option<PathBuf>,
    /// Print one JSON object instead of text.
    #[arg(long)]
    json: bool,
}

#[derive(Subcommand)]
enum ParkedCommand {
    /// List parked events, oldest first.
    List,
    /// Show one parked event and its last error.
    Show { id: String },
    /// Retry the parked events whose next attempt is due. After a failure, the later events of
    /// the same issue wait, so each issue's changes keep their order.
    Replay {
        /// Also retry the events whose next attempt is not due yet.
        #[arg(long)]
        all: bool,
    },
    /// Delete a parked event without applying it.
    Drop { id: String },
}

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("PROXYSYNC_LOG")
                .unwrap_or_else(|_| "warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    match run(cli).await {
        Ok(code) => code,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> Result<ExitCode> {
    match cli.command {
        Command::Explain(args) => return explain_command(&cli.table, args).await,
        Command::CreateTable => {
            let aws = aws().await;
            table::create(&aws_sdk_dynamodb::Client::new(&aws), &cli.table).await?;
            println!("table {} is ready", cli.table);
        }
        Command::Instance(InstanceCommand::Add(args)) => instance_add(&cli.table, args).await?,
        Command::Instance(InstanceCommand::List) => {
            let config = store(&cli.table).await.load_config().await?;
            if config.instances.is_empty() {
                println!(
                    "no instances in table {}: register one with `proxysync instance add --id ID \
                     --tracker TRACKER --base-url URL --secret SECRET_ID`",
                    cli.table
                );
            }
            for instance in &config.instances {
                let proxy = instance
                    .proxy
                    .as_ref()
                    .map_or("-".to_owned(), |p| format!("{} ({})", p.name, p.id));
                println!(
                    "{}\t{}\t{}\tproxy {proxy}",
                    instance.id, instance.tracker, instance.base_url
                );
            }
        }
        Command::Connection(ConnectionCommand::Apply { file }) => {
            connection_apply(&cli.table, &file).await?
        }
        Command::Connection(ConnectionCommand::Remove { id }) => {
            let store = store(&cli.table).await;
            let parked = store
                .list_parked()
                .await?
                .into_iter()
                .filter(|parked| parked.connection == id)
                .count();
            if parked > 0 {
                bail!(
                    "connection {id} has {parked} parked event(s), which a replay drops once the \
                     connection is gone: replay them with `proxysync parked replay --all` or drop \
                     them with `proxysync parked drop ID` first"
                );
            }
            if !store.delete_connection(&id).await? {
                bail!("unknown connection {id:?}: `proxysync connection list` shows the ids");
            }
            println!("connection {id} removed");
        }
        Command::Connection(ConnectionCommand::List) => {
            let config = store(&cli.table).await.load_config().await?;
            for c in &config.connections {
                println!(
                    "{}\t{}:{}\t{}\t{}:{}",
                    c.id,
                    c.a.instance,
                    c.a.project,
                    arrow(c.direction),
                    c.b.instance,
                    c.b.project
                );
            }
        }
        Command::Parked(command) => parked_command(&cli.table, command).await?,
        Command::Doctor {
            json,
            clear_proxy_use,
        } => return doctor_command(&cli.table, json, clear_proxy_use.as_deref()).await,
    }
    Ok(ExitCode::SUCCESS)
}

async fn aws() -> aws_config::SdkConfig {
    aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await
}

async fn store(table: &str) -> Store {
    Store::new(aws_sdk_dynamodb::Client::new(&aws().await), table)
}

async fn pipeline(table: &str) -> Result<Pipeline> {
    let aws = aws().await;
    let settings = Settings::from_lookup(|name| match name {
        "PROXYSYNC_TABLE" => Some(table.to_owned()),
        other => std::env::var(other).ok(),
    })?;
    let store = Store::new(aws_sdk_dynamodb::Client::new(&aws), table);
    let secrets = Secrets::aws(
        aws_sdk_secretsmanager::Client::new(&aws),
        Duration::from_secs(60),
    );
    Ok(Pipeline::new(
        settings,
        store,
        secrets,
        proxysync_core::lambda::http_client()?,
    ))
}

async fn instance_add(table: &str, args: InstanceAddArgs) -> Result<()> {
    let tracker = TrackerKind::parse(&args.tracker).ok_or_else(|| {
        let names: Vec<&str> = TrackerKind::ALL.iter().map(|k| k.as_str()).collect();
        anyhow!(
            "unknown tracker {:?}: use one of {}",
            args.tracker,
            names.join(", ")
        )
    })?;
    let mut instance = Instance {
        id: args.id,
        tracker,
        base_url: args.base_url,
        secret: args.secret,
        proxy: None,
        options: parse_options(tracker, &args.options)?,
    };
    check_tracker_options(&mut instance)?;
    Config {
        instances: vec![instance.clone()],
        connections: Vec::new(),
    }
    .validate()?;

    let pipeline = pipeline(table).await?;
    let stored = pipeline.config(true).await?;
    if let Some(existing) = stored.instance(&instance.id)
        && existing.tracker != instance.tracker
    {
        bail!(
            "instance {} is already registered as a {} instance, and its webhooks and connections \
             expect that tracker: choose another id for the {} instance",
            instance.id,
            existing.tracker,
            instance.tracker
        );
    }
    refresh_before_whoami(&pipeline, &instance).await?;
    let proxy = pipeline
        .whoami(&instance)
        .await
        .map_err(|e| anyhow!("could not read the proxy identity of {}: {e}", instance.id))?;
    println!(
        "instance {}: proxy user {} (id {})",
        instance.id, proxy.name, proxy.id
    );
    instance.proxy = Some(proxy);
    pipeline.store().put_instance(&instance).await?;
    Ok(())
}

/// Checks the options that Salesforce and HP ALM/QC instances need, and fills in the Salesforce
/// session timeout (the token's lifetime) when it is not given.
fn check_tracker_options(instance: &mut Instance) -> Result<()> {
    use proxysync_core::trackers::{hp_alm, salesforce};
    let checked = match instance.tracker {
        TrackerKind::Salesforce => {
            instance
                .options
                .entry("session_timeout_secs")
                .or_insert(serde_json::json!(salesforce::DEFAULT_SESSION_TIMEOUT_SECS));
            salesforce::check_options(&instance.options)
        }
        TrackerKind::HpAlm => hp_alm::check_options(&instance.options),
        _ => Ok(()),
    };
    checked.map_err(|message| anyhow!("instance {}: {message}", instance.id))
}

/// Fetches an access token for an OAuth instance whose secret holds none that lasts, so
/// that "who am I" can sign in with it.
async fn refresh_before_whoami(pipeline: &Pipeline, instance: &Instance) -> Result<()> {
    use proxysync_core::oauth::{RefreshSettings, TokenRefresher, provider};
    if provider(instance.tracker).is_none() {
        return Ok(());
    }
    let credentials = pipeline.secrets().get(instance, true).await?;
    let oauth = credentials.client_id.is_some() || credentials.refresh_token.is_some();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_secs() as i64);
    let lasts = credentials.access_token.is_some()
        && credentials
            .access_token_expires_at
            .is_some_and(|at| at > now + 900);
    if !oauth || lasts {
        return Ok(());
    }
    let http = proxysync_core::lambda::http_client()?;
    let settings = RefreshSettings::default();
    let refresher = TokenRefresher::new(pipeline.store(), pipeline.secrets(), &http, settings);
    let outcome = refresher
        .refresh_now(instance)
        .await
        .map_err(|e| anyhow!("could not fetch an access token for {}: {e}", instance.id))?;
    println!("instance {}: access token {}", instance.id, outcome.code());
    Ok(())
}

/// The tracker kinds this build supports, for messages.
fn supported_trackers() -> String {
    let names: Vec<&str> = TrackerKind::ALL
        .iter()
        .filter(|kind| proxysync_core::trackers::module(**kind).is_some())
        .map(|kind| kind.as_str())
        .collect();
    names.join(", ")
}

/// Lists the webhook routes this build serves, for messages. HP ALM/QC has none, because the
/// poller reads it.
fn supported_routes() -> String {
    let mut routes: Vec<&str> = Vec::new();
    for kind in TrackerKind::ALL {
        let webhook = kind != TrackerKind::HpAlm;
        if webhook
            && proxysync_core::trackers::module(kind).is_some()
            && !routes.contains(&kind.route())
        {
            routes.push(kind.route());
        }
    }
    routes.join(", ")
}

/// Resolves `--tracker` given as a route (`jira`) or a kind (`jira-cloud`) to the webhook route.
fn explain_route(tracker: &str) -> Result<&'static str> {
    let kind = TrackerKind::parse(tracker)
        .or_else(|| {
            TrackerKind::ALL
                .into_iter()
                .find(|kind| kind.route() == tracker)
        })
        .filter(|kind| proxysync_core::trackers::module(*kind).is_some())
        .ok_or_else(|| {
            anyhow!(
                "unknown tracker {tracker:?}: use a webhook route ({}) or a tracker kind ({})",
                supported_routes(),
                supported_trackers()
            )
        })?;
    Ok(kind.route())
}

fn arrow(direction: Direction) -> &'static str {
    match direction {
        Direction::AToB => "->",
        Direction::BToA => "<-",
        Direction::Both => "<->",
    }
}

async fn connection_apply(table: &str, file: &Path) -> Result<()> {
    let text = std::fs::read_to_string(file)
        .with_context(|| format!("could not read {}", file.display()))?;
    let from_file = Config::parse_yaml(&text)
        .with_context(|| format!("invalid configuration in {}", file.display()))?;
    let store = store(table).await;
    let stored = store.load_config().await?;

    // Connections are checked against the registered instances, which carry the proxy identities.
    for connection in &from_file.connections {
        for endpoint in [&connection.a, &connection.b] {
            if stored.instance(&endpoint.instance).is_none() {
                bail!(
                    "connection {:?} names instance {:?}, which is not registered in table {table}: \
                     run `proxysync instance add --id {} ...` first",
                    connection.id,
                    endpoint.instance,
                    endpoint.instance
                );
            }
        }
    }
    let merged = Config {
        instances: stored.instances.clone(),
        connections: from_file.connections.clone(),
    };
    merged.validate()?;
    for connection in &from_file.connections {
        store.put_connection(connection).await?;
        println!(
            "connection {}: {} {} {} {} {}",
            connection.id,
            connection.a.instance,
            connection.a.project,
            arrow(connection.direction),
            connection.b.instance,
            connection.b.project
        );
    }
    let count = from_file.connections.len();
    println!(
        "{count} {} applied; stored connections missing from the file are kept",
        if count == 1 {
            "connection"
        } else {
            "connections"
        }
    );
    Ok(())
}

async fn explain_command(table: &str, args: ExplainArgs) -> Result<ExitCode> {
    let headers = std::fs::read_to_string(&args.headers)
        .with_context(|| format!("could not read headers file {}", args.headers.display()))?;
    let body = std::fs::read(&args.body)
        .with_context(|| format!("could not read body file {}", args.body.display()))?;
    let mut query = Vec::new();
    for parameter in &args.query {
        let Some((name, value)) = parameter.split_once('=') else {
            bail!(
                "invalid --query {parameter:?}: expected NAME=VALUE, such as token=<webhook_secret>"
            );
        };
        query.push((name.to_owned(), value.to_owned()));
    }
    let request = InboundRequest {
        headers: explain::parse_headers(&headers),
        query,
        body,
    };

    let aws = match (&args.config, &args.secrets) {
        (Some(_), Some(_)) => None,
        _ => Some(aws().await),
    };
    let config = match &args.config {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("could not read {}", path.display()))?;
            Config::from_yaml(&text)
                .with_context(|| format!("invalid configuration in {}", path.display()))?
        }
        None => {
            Store::new(
                aws_sdk_dynamodb::Client::new(aws.as_ref().expect("loaded")),
                table,
            )
            .load_config()
            .await?
        }
    };
    let secrets = match &args.secrets {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("could not read {}", path.display()))?;
            let values: HashMap<String, serde_json::Value> = serde_json::from_str(&text)
                .with_context(|| {
                    format!(
                        "{} must be a JSON object of secret id to secret value",
                        path.display()
                    )
                })?;
            Secrets::fixed(values)
        }
        None => Secrets::aws(
            aws_sdk_secretsmanager::Client::new(aws.as_ref().expect("loaded")),
            Duration::from_secs(60),
        ),
    };
    let store = match (&args.config, &aws) {
        (None, Some(aws)) => Some(Store::new(aws_sdk_dynamodb::Client::new(aws), table)),
        _ => None,
    };

    let cx = ExplainContext {
        config: &config,
        secrets: &secrets,
        store: store.as_ref(),
        http: proxysync_core::lambda::http_client()?,
    };
    let route = explain_route(&args.tracker)?;
    let explanation = explain::explain(&cx, route, &args.instance, &request)
        .await
        .map_err(|e| anyhow!(e))?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&explanation)?);
    } else {
        print_explanation(&explanation);
    }
    // The function would answer 401, so the dry run fails too.
    if explanation.signature == explain::SignatureCheck::Invalid {
        return Ok(ExitCode::FAILURE);
    }
    Ok(ExitCode::SUCCESS)
}

fn print_explanation(explanation: &Explanation) {
    let signature = serde_json::to_value(&explanation.signature).unwrap_or_default();
    print!("signature: {}", signature.as_str().unwrap_or_default());
    match &explanation.signature_detail {
        Some(detail) => println!(" ({detail})"),
        None => println!(),
    }
    println!("event: {}", explanation.event);
    for warning in &explanation.warnings {
        println!("warning: {warning}");
    }
    if let Some(ignored) = &explanation.ignored {
        println!("ignored: {ignored}");
    }
    for event in &explanation.events {
        println!();
        println!("{} on {}", event.kind, event.issue);
        println!(
            "  author: {}{}",
            event.author,
            if event.authored_by_proxy {
                " [proxy user]"
            } else {
                ""
            }
        );
        println!("  decision: {} ({})", event.decision, event.reason);
        for request in &event.requests {
            println!("  {} {}", request.method, request.path);
            if let Some(body) = &request.body {
                println!("    {body}");
            }
        }
    }
}

/// Describes the delivery of a parked event from its claim key `delivery#{instance}#{id}`.
fn delivery_of(delivery_key: &str) -> String {
    match delivery_key.splitn(3, '#').nth(2) {
        Some(id) if !id.is_empty() => id.to_owned(),
        // Only the event that completes a delivery's claim stores the key. The earlier events of
        // a delivery with several events (or several connections) have none.
        _ => "none recorded (an earlier event of a delivery with several events or \
              connections)"
            .to_owned(),
    }
}

async fn parked_command(table: &str, command: ParkedCommand) -> Result<()> {
    match command {
        ParkedCommand::List => {
            let parked = store(table).await.list_parked().await?;
            if parked.is_empty() {
                println!("no parked events");
            }
            for p in parked {
                println!(
                    "{}\t{}\t{}\tattempts {}\t{}",
                    p.id, p.event.kind, p.event.issue.key, p.attempts, p.error
                );
            }
        }
        ParkedCommand::Show { id } => {
            let parked = store(table).await.list_parked().await?;
            let found = parked.into_iter().find(|p| p.id == id).ok_or_else(|| {
                anyhow!("no parked event {id:?}: list them with `proxysync parked list`")
            })?;
            let config = store(table).await.load_config().await?;
            println!(
                "{} on {} ({}), connection {}",
                found.event.kind, found.event.issue.key, found.event.instance, found.connection
            );
            println!("delivery: {}", delivery_of(&found.delivery_key));
            println!("attempts: {}", found.attempts);
            println!("last error: {}", found.error);
            println!(
                "what it means: {}",
                proxysync_core::parked::explain(&found, &config)
            );
            println!();
            println!("{}", serde_json::to_string_pretty(&found)?);
        }
        ParkedCommand::Replay { all } => {
            let report = pipeline(table)
                .await?
                .replay_parked(all, Duration::from_secs(30))
                .await?;
            println!(
                "replayed {}, skipped {}, failed {}, waiting {}",
                report.replayed, report.skipped, report.failed, report.waiting
            );
            if report.failed > 0 {
                bail!(
                    "{} parked events failed again: see `proxysync parked list`",
                    report.failed
                );
            }
        }
        ParkedCommand::Drop { id } => {
            let store = store(table).await;
            if !store.list_parked().await?.iter().any(|p| p.id == id) {
                bail!("no parked event {id:?}: list them with `proxysync parked list`");
            }
            store.delete_parked(&id).await?;
            println!("dropped {id}");
        }
    }
    Ok(())
}

async fn doctor_command(
    table: &str,
    json: bool,
    clear_proxy_use: Option<&str>,
) -> Result<ExitCode> {
    let pipeline = pipeline(table).await?;
    if let Some(instance) = clear_proxy_use {
        let config = pipeline.config(true).await?;
        if config.instance(instance).is_none() {
            bail!("unknown instance {instance:?}: `proxysync instance list` shows the ids");
        }
        pipeline.store().clear_proxy_use(instance).await?;
        eprintln!("forgot the proxy changes counted for {instance}");
    }
    let reports = proxysync_core::doctor::run(&pipeline).await?;
    if json {
        println!("{}", serde_json::to_string_pretty(&reports)?);
    } else if reports.is_empty() {
        println!("no instances: register one with `proxysync instance add`");
    } else {
        print!("{}", proxysync_core::doctor::render_table(&reports));
    }
    let missing = reports.iter().filter(|report| !report.ok()).count();
    if missing > 0 {
        eprintln!("{missing} instance(s) miss something they need: see the MISSING rows");
    }
    let warned = reports
        .iter()
        .filter(|report| !report.warnings.is_empty())
        .count();
    if warned > 0 {
        eprintln!("{warned} instance(s) have warnings: see the WARNING rows");
    }
    if missing > 0 {
        return Ok(ExitCode::FAILURE);
    }
    Ok(ExitCode::SUCCESS)
}
