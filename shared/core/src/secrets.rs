//! Proxy credentials from Secrets Manager, cached across warm invocations.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_sdk_secretsmanager::Client;
use aws_sdk_secretsmanager::error::DisplayErrorContext;
use serde_json::Value;
use tokio::time::Instant;

use crate::error::StoreError;
use crate::model::{Instance, TrackerKind};
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

    /// Returns the credentials in `instance`'s secret, from the cache unless `reload` is set.
    ///
    /// # Errors
    /// The secret cannot be read, or its value is not the JSON object that the instance's
    /// tracker expects. The message then shows an example of that object.
    pub async fn get(
        &self,
        instance: &Instance,
        reload: bool,
    ) -> Result<Arc<Credentials>, StoreError> {
        let secret_id = instance.secret.as_str();
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
                message: format!("{e}. {}", expected_shape(instance.tracker)),
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
                message: crate::error::aws_error_message(&e),
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

/// Describes the secret value that instances of `tracker` need, with the tracker's example,
/// for errors on a secret of the wrong shape.
pub fn expected_shape(tracker: TrackerKind) -> String {
    match crate::trackers::module(tracker) {
        Some(module) => format!(
            "A {tracker} secret is a JSON object such as {}",
            module.secret_example()
        ),
        None => format!("This build has no {tracker} support, so it reads no {tracker} secret"),
    }
}

/// One version of a secret: its id in Secrets Manager and its JSON value.
#[derive(Clone)]
pub struct SecretVersion {
    pub version_id: String,
    pub value: Value,
}

impl std::fmt::Debug for SecretVersion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SecretVersion")
            .field("version_id", &self.version_id)
            .finish_non_exhaustive()
    }
}

/// The result of [`Secrets::write_version`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SecretWrite {
    /// The new version is now `AWSCURRENT`.
    Written { version_id: String },
    /// Someone else wrote a version after the one read, so ours was not made current.
    Superseded,
}

impl Secrets {
    /// Reads the current version of `secret_id`, bypassing the cache.
    ///
    /// # Errors
    /// The secret cannot be read or is not JSON.
    pub async fn read_version(&self, secret_id: &str) -> Result<SecretVersion, StoreError> {
        let client = match &self.backend {
            Backend::Static(_) => {
                let value = self.read(secret_id).await?;
                return Ok(SecretVersion {
                    version_id: "static".to_owned(),
                    value,
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
                message: crate::error::aws_error_message(&e),
            })?;
        let text = output
            .secret_string()
            .ok_or_else(|| StoreError::InvalidSecret {
                secret_id: secret_id.to_owned(),
                message: "the secret has no string value: store it as JSON text".to_owned(),
            })?;
        let value = serde_json::from_str(text).map_err(|e| StoreError::InvalidSecret {
            secret_id: secret_id.to_owned(),
            message: format!("the value is not JSON: {e}"),
        })?;
        Ok(SecretVersion {
            version_id: output.version_id().unwrap_or_default().to_owned(),
            value,
        })
    }

    /// Stores `value` as a new version of `secret_id` and makes it current, but only while
    /// `replaces` is still the current version, so a value an operator wrote meanwhile wins.
    ///
    /// The cache then holds the new value.
    ///
    /// # Errors
    /// Secrets Manager refused a call, or this is a read-only secrets file.
    pub async fn write_version(
        &self,
        secret_id: &str,
        value: &Value,
        replaces: &str,
    ) -> Result<SecretWrite, StoreError> {
        let failed = |message: String| StoreError::Secret {
            secret_id: secret_id.to_owned(),
            message,
        };
        let Backend::Aws(client) = &self.backend else {
            return Err(failed(
                "a secrets file is read-only: write the new value into the file".to_owned(),
            ));
        };
        // The version is written as AWSPENDING first, then AWSCURRENT moves to it only from
        // `replaces`: Secrets Manager refuses the move when AWSCURRENT sits on another version.
        let version_id = uuid::Uuid::new_v4().to_string();
        client
            .put_secret_value()
            .secret_id(secret_id)
            .client_request_token(&version_id)
            .secret_string(value.to_string())
            .version_stages("AWSPENDING")
            .send()
            .await
            .map_err(|e| failed(DisplayErrorContext(&e).to_string()))?;
        let moved = client
            .update_secret_version_stage()
            .secret_id(secret_id)
            .version_stage("AWSCURRENT")
            .move_to_version_id(&version_id)
            .remove_from_version_id(replaces)
            .send()
            .await;
        if let Err(error) = moved {
            let current = self.read_version(secret_id).await?;
            if current.version_id != replaces {
                return Ok(SecretWrite::Superseded);
            }
            return Err(failed(DisplayErrorContext(&error).to_string()));
        }

        if let Ok(credentials) = serde_json::from_value::<Credentials>(value.clone()) {
            self.cache
                .lock()
                .expect("secret cache lock poisoned")
                .insert(
                    secret_id.to_owned(),
                    (Instant::now(), Arc::new(credentials)),
                );
        }
        Ok(SecretWrite::Written { version_id })
    }

    /// Returns the cached credentials of `secret_id` without reading, whatever their age.
    pub fn cached(&self, secret_id: &str) -> Option<Arc<Credentials>> {
        let cache = self.cache.lock().expect("secret cache lock poisoned");
        cache
            .get(secret_id)
            .map(|(_, credentials)| credentials.clone())
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn instance(tracker: TrackerKind) -> Instance {
        Instance {
            id: "acme".to_owned(),
            tracker,
            base_url: "https://tracker.example".to_owned(),
            secret: "proxysync/acme".to_owned(),
            proxy: None,
            options: serde_json::Map::new(),
        }
    }

    #[tokio::test]
    async fn wrong_type_shows_example() {
        let values = HashMap::from([(
            "proxysync/acme".to_owned(),
            json!({"token": 5, "webhook_secret": "w"}),
        )]);
        let secrets = Secrets::fixed(values);
        let error = secrets
            .get(&instance(TrackerKind::Github), false)
            .await
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("secret proxysync/acme is invalid"),
            "{error}"
        );
        assert!(error.contains("invalid type: integer `5`"), "{error}");
        assert!(
            error.contains("A github secret is a JSON object such as {\"token\""),
            "{error}"
        );
    }

    /// Each tracker's example, with its placeholders kept, has the fields that the tracker's
    /// `auth` needs. Salesforce signs in with an access token that the refresher fetches, so its
    /// example contains the OAuth fields that the refresher reads instead.
    #[test]
    fn examples_satisfy_auth() {
        for tracker in TrackerKind::ALL {
            let module = crate::trackers::module(tracker).unwrap();
            let example = module.secret_example();
            let end = example
                .find('}')
                .expect("the example starts with a JSON object");
            let value: Value = serde_json::from_str(&example[..=end])
                .unwrap_or_else(|e| panic!("{tracker}: {e}: {example}"));
            let credentials: Credentials = serde_json::from_value(value.clone()).unwrap();
            if tracker == TrackerKind::Salesforce {
                for field in ["client_id", "client_secret", "refresh_token"] {
                    assert!(value.get(field).is_some(), "{tracker}: {field}");
                }
                continue;
            }
            assert!(module.auth(&credentials).is_ok(), "{tracker}: {example}");
        }
    }

    #[test]
    fn expected_shape_names_tracker() {
        let shape = expected_shape(TrackerKind::JiraCloud);
        assert!(shape.starts_with("A jira-cloud secret is"), "{shape}");
        assert!(shape.contains("\"email\""), "{shape}");
        assert!(shape.contains("\"api_token\""), "{shape}");
    }
}
