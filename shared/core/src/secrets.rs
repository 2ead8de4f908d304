//! Proxy credentials from Secrets Manager, cached across warm invocations.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_sdk_secretsmanager::Client;
use aws_sdk_secretsmanager::error::DisplayErrorContext;
use serde_json::Value;
use tokio::time::Instant;

use crate::error::StoreError;
use crate::tracker::Credentials;

enum Backend {
    Aws(Client),
    /// Secret values given up front, as `explain --secrets FILE` reads them.
    Static(HashMap<String, Value>),
}

/// A read-through cache of instance secrets.
pub struct Secrets {
    backend: Backend,
    ttl: Duration,
    cache: Mutex<HashMap<String, (Instant, Arc<Credentials>)>>,
}

impl Secrets {
    /// Reads secrets from Secrets Manager and keeps each for `ttl`.
    pub fn aws(client: Client, ttl: Duration) -> Secrets {
        Secrets {
            backend: Backend::Aws(client),
            ttl,
            cache: Mutex::new(HashMap::new()),
        }
    }

    /// Serves secrets from a map of secret id to secret value.
    pub fn fixed(values: HashMap<String, Value>) -> Secrets {
        Secrets {
            backend: Backend::Static(values),
            ttl: Duration::MAX,
            cache: Mutex::new(HashMap::new()),
        }
    }

    /// Returns the credentials in `secret_id`, from the cache unless `reload` is set.
    ///
    /// # Errors
    /// The secret cannot be read, or its value is not the expected JSON object.
    pub async fn get(&self, secret_id: &str, reload: bool) -> Result<Arc<Credentials>, StoreError> {
        if !reload {
            let cache = self.cache.lock().expect("secret cache lock poisoned");
            if let Some((read_at, credentials)) = cache.get(secret_id)
                && read_at.elapsed() < self.ttl
            {
                return Ok(credentials.clone());
            }
        }

        let value = self.read(secret_id).await?;
        let credentials: Credentials =
            serde_json::from_value(value).map_err(|e| StoreError::InvalidSecret {
                secret_id: secret_id.to_owned(),
                message: format!(
                    "expected a JSON object with token, email and webhook_secret fields: {e}"
                ),
            })?;
        let credentials = Arc::new(credentials);
        self.cache
            .lock()
            .expect("secret cache lock poisoned")
            .insert(secret_id.to_owned(), (Instant::now(), credentials.clone()));
        Ok(credentials)
    }

    /// Returns true when a secret store is at hand; a `--config` dry run may have none.
    pub fn has(&self, secret_id: &str) -> bool {
        match &self.backend {
            Backend::Aws(_) => true,
            Backend::Static(values) => values.contains_key(secret_id),
        }
    }

    async fn read(&self, secret_id: &str) -> Result<Value, StoreError> {
        let client = match &self.backend {
            Backend::Static(values) => {
                return values
                    .get(secret_id)
                    .cloned()
                    .ok_or_else(|| StoreError::Secret {
                        secret_id: secret_id.to_owned(),
                        message: "not in the secrets file".to_owned(),
                    });
            }
            Backend::Aws(client) => client,
        };
        let output = client
            .get_secret_value()
            .secret_id(secret_id)
            .version_stage("AWSCURRENT")
            .send()
            .await
            .map_err(|e| StoreError::Secret {
                secret_id: secret_id.to_owned(),
                message: DisplayErrorContext(&e).to_string(),
            })?;
        let text = output
            .secret_string()
            .ok_or_else(|| StoreError::InvalidSecret {
                secret_id: secret_id.to_owned(),
                message: "the secret has no string value: store it as JSON text".to_owned(),
            })?;
        serde_json::from_str(text).map_err(|e| StoreError::InvalidSecret {
            secret_id: secret_id.to_owned(),
            message: format!("the value is not JSON: {e}"),
        })
    }
}
