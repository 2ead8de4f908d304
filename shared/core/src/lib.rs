//! The shared library of proxysync: the webhook pipeline, the tracker
//! modules, and the DynamoDB and Secrets Manager stores.
//!
//! A webhook function is a thin binary that calls [`lambda::serve`] with its
//! route; everything else lives here so that the CLI's `explain` and the
//! tests run exactly the code the functions run.

pub mod catch_up;
pub mod config;
pub mod doctor;
pub mod error;
pub mod explain;
pub mod http;
pub mod lambda;
pub mod metrics;
pub mod model;
pub mod oauth;
pub mod options;
pub mod parked;
pub mod pipeline;
pub mod secrets;
pub mod store;
pub mod sync;
pub mod time_util;
pub mod tracker;
pub mod trackers;

pub use config::{Config, Settings};
pub use pipeline::{Pipeline, WebhookResponse};
