//! Command-line entry point: runs the tracker sandbox until Ctrl-C.

use std::io::IsTerminal;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use tracing_subscriber::EnvFilter;

use tracker_sandbox::{Sandbox, SandboxConfig, Tracker};

/// Fake GitHub and Jira Cloud REST APIs with recorded webhooks and fault injection.
#[derive(Debug, Parser)]
#[command(name = "tracker-sandbox", version)]
struct Args {
    /// Address and port to listen on. The sandbox has no real security, so keep it on loopback.
    #[arg(long, default_value = "127.0.0.1:8910")]
    listen: SocketAddr,

    /// JSON file with a SandboxConfig (users, repositories, projects, webhook secrets).
    /// Without it the sandbox uses the built-in demo configuration.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,

    /// URL to POST every recorded GitHub webhook to, as GitHub would.
    #[arg(long, value_name = "URL")]
    forward_github: Option<String>,

    /// URL to POST every recorded Jira webhook to, as Jira would.
    #[arg(long, value_name = "URL")]
    forward_jira: Option<String>,
}

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .init();

    let args = Args::parse();
    let config = match load_config(args.config.as_ref()) {
        Ok(config) => config,
        Err(message) => {
            tracing::error!("{message}");
            return ExitCode::from(2);
        }
    };
    if !args.listen.ip().is_loopback() {
        tracing::warn!(listen = %args.listen, "listening on a non-loopback address: anyone who can reach it can read and change the sandbox");
    }

    let sandbox = match Sandbox::spawn(config, args.listen).await {
        Ok(sandbox) => sandbox,
        Err(error) => {
            tracing::error!(listen = %args.listen, %error, "failed to start the sandbox");
            return ExitCode::FAILURE;
        }
    };
    for (tracker, url) in [
        (Tracker::Github, args.forward_github),
        (Tracker::Jira, args.forward_jira),
    ] {
        if let Some(url) = url {
            tracing::info!(%tracker, %url, "forwarding webhooks");
            sandbox.forward_webhooks(tracker, Some(url));
        }
    }
    let config = sandbox.config();
    tracing::info!(
        address = %sandbox.local_addr(),
        github = %sandbox.github_url(),
        jira = %sandbox.jira_url(),
        github_repos = ?config.github.repos,
        jira_projects = ?config.jira.projects,
        "tracker sandbox listening"
    );

    wait_for_stop_signal().await;
    tracing::info!("stopping the tracker sandbox");
    sandbox.shutdown().await;
    ExitCode::SUCCESS
}

/// Waits for Ctrl-C (SIGINT) or, on Unix, SIGTERM. Returns at once when a signal handler
/// cannot be installed, so the sandbox stops rather than running on unstoppable.
async fn wait_for_stop_signal() {
    let interrupt = async {
        if let Err(error) = tokio::signal::ctrl_c().await {
            tracing::error!(%error, "failed to listen for Ctrl-C");
        }
    };
    #[cfg(unix)]
    let terminate = async {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut terminate) => {
                terminate.recv().await;
            }
            Err(error) => tracing::error!(%error, "failed to listen for SIGTERM"),
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = interrupt => {}
        () = terminate => {}
    }
}

/// Reads a `SandboxConfig` from `path`, or returns the demo configuration when there is none.
fn load_config(path: Option<&PathBuf>) -> Result<SandboxConfig, String> {
    let Some(path) = path else {
        return Ok(SandboxConfig::demo());
    };
    let text = std::fs::read_to_string(path)
        .map_err(|error| format!("failed to read config file {}: {error}", path.display()))?;
    serde_json::from_str(&text)
        .map_err(|error| format!("invalid config file {}: {error}", path.display()))
}
