//! One scheduled run: every OAuth instance refreshed when due, metrics on stdout.

use std::time::Duration;

use aws_lambda_events::eventbridge::EventBridgeEvent;
use lambda_runtime::LambdaEvent;
use proxysync_core::error::ConfigError;
use proxysync_core::oauth::{RefreshSettings, TokenRefresher};
use proxysync_core::secrets::Secrets;
use proxysync_core::store::Store;
use serde_json::{Value, json};

/// The clients and settings of a warm container.
pub struct State {
    store: Store,
    secrets: Secrets,
    http: reqwest::Client,
    settings: RefreshSettings,
    namespace: String,
}

impl State {
    /// Builds the AWS clients from the environment, once per container.
    ///
    /// # Errors
    /// A missing or invalid setting, named in the message.
    pub async fn from_env() -> Result<State, ConfigError> {
        let lookup = |name: &str| std::env::var(name).ok();
        let table = lookup("PROXYSYNC_TABLE")
            .filter(|table| !table.is_empty())
            .ok_or_else(|| {
                ConfigError(
                    "missing environment variable PROXYSYNC_TABLE: set it to the DynamoDB table name"
                        .to_owned(),
                )
            })?;
        let settings = RefreshSettings::from_lookup(lookup)?;
        let aws = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
        Ok(State {
            store: Store::new(aws_sdk_dynamodb::Client::new(&aws), table),
            // Each run reads every secret afresh, so nothing is cached across runs.
            secrets: Secrets::aws(aws_sdk_secretsmanager::Client::new(&aws), Duration::ZERO),
            http: proxysync_core::lambda::http_client()?,
            settings,
            namespace: std::env::var("PROXYSYNC_METRICS_NAMESPACE")
                .unwrap_or_else(|_| "proxysync".to_owned()),
        })
    }
}

/// Refreshes the due tokens and prints the run's metrics as one EMF line.
///
/// # Errors
/// The instances or the operator marks could not be read from DynamoDB.
pub async fn handle(
    state: &State,
    _event: LambdaEvent<EventBridgeEvent<Value>>,
) -> Result<Value, lambda_runtime::Error> {
    let config = state.store.load_config().await?;
    let refresher = TokenRefresher::new(
        &state.store,
        &state.secrets,
        &state.http,
        state.settings.clone(),
    );
    let report = refresher.run(&config).await?;
    println!("{}", report.emf(&state.namespace));
    Ok(json!({
        "refreshed": report.refreshed(),
        "failed": report.failed(),
        "skipped": report.skipped(),
        "needs_operator": report.needs_operator(),
        "min_access_seconds_left": report.min_access_seconds_left(),
    }))
}
