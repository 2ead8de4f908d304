//! Property tests of every inbound parser: `Source::verify` and `Source::parse` of each
//! tracker module this build registers, on mutations of the seed corpus (see
//! `proxysync_tests::corpus`). Neither may panic or hang, whatever the request.
//!
//! A newly registered tracker is covered once its samples are in `events/<route>/`. Add its
//! kind to `SIGNS_BODY` when its signature covers the body.

use std::collections::HashMap;
use std::sync::LazyLock;
use std::time::Duration;

use proptest::prelude::*;
use proxysync_core::config::Config;
use proxysync_core::model::TrackerKind;
use proxysync_core::tracker::{InboundRequest, Source};
use proxysync_core::trackers;
use proxysync_tests::corpus::{self, Seed};
use proxysync_tests::repo_root;
use secrecy::SecretString;
use serde_json::Value;

/// Trackers whose webhook signature is an HMAC of the body, so a changed body must fail
/// verification.
const SIGNS_BODY: &[TrackerKind] = &[TrackerKind::Github, TrackerKind::JiraCloud];

/// The longest one parse or verification may take, in a debug build on a busy machine.
const CASE_LIMIT: Duration = Duration::from_secs(5);

fn source(kind: TrackerKind) -> &'static dyn Source {
    trackers::module(kind).expect("kind is registered").source()
}

fn registered() -> Vec<TrackerKind> {
    TrackerKind::ALL
        .into_iter()
        .filter(|kind| trackers::module(*kind).is_some())
        .collect()
}

/// Every seed of every registered tracker.
static CORPUS: LazyLock<Vec<(TrackerKind, Seed)>> = LazyLock::new(|| {
    registered()
        .into_iter()
        .flat_map(|kind| {
            corpus::seeds(kind.route())
                .into_iter()
                .map(move |seed| (kind, seed))
        })
        .collect()
});

/// The webhook secret of each tracker's demo instance, which signed the samples in `events/`.
static SECRETS: LazyLock<HashMap<TrackerKind, String>> = LazyLock::new(|| {
    let root = repo_root().join("infra/local");
    let yaml = std::fs::read_to_string(root.join("proxysync.yaml")).expect("read proxysync.yaml");
    let config = Config::from_yaml(&yaml).expect("parse proxysync.yaml");
    let secrets: Value = serde_json::from_str(
        &std::fs::read_to_string(root.join("secrets.json")).expect("read secrets.json"),
    )
    .expect("parse secrets.json");
    config
        .instances
        .iter()
        .filter_map(|instance| {
            let secret = secrets[&instance.secret]["webhook_secret"].as_str()?;
            Some((instance.tracker, secret.to_owned()))
        })
        .collect()
});

fn parse_and_verify(kind: TrackerKind, request: InboundRequest, secret: &str) {
    let secret = SecretString::from(secret.to_owned());
    corpus::within(CASE_LIMIT, "parse and verify", move || {
        let source = source(kind);
        let _ = source.verify(&request, &secret);
        if let Ok(parsed) = source.parse("fuzz-instance", &request) {
            for event in &parsed.events {
                assert_eq!(
                    event.instance, "fuzz-instance",
                    "{kind}: event of the wrong instance"
                );
            }
        }
    });
}

#[test]
fn every_source_has_seeds() {
    for kind in registered() {
        let seeds = corpus::seeds(kind.route());
        assert!(
            !seeds.is_empty(),
            "tracker {kind} has no seeds: add sample webhooks under events/{0}/ \
             or payloads named tests/fixtures/{0}-*.json",
            kind.route()
        );
    }
}

#[test]
fn signed_seeds_verify_and_parse() {
    for kind in registered() {
        let Some(secret) = SECRETS.get(&kind) else {
            continue;
        };
        let secret = SecretString::from(secret.clone());
        for seed in corpus::event_seeds(kind.route()) {
            let request = seed.request();
            let source = source(kind);
            let verified = source.verify(&request, &secret);
            assert!(verified.is_ok(), "{kind} {}: {verified:?}", seed.name);
            let parsed = source.parse("acme", &request);
            assert!(parsed.is_ok(), "{kind} {}: {parsed:?}", seed.name);
        }
    }
}

proptest! {
    #![proptest_config(corpus::config())]

    #[test]
    fn mutated_requests_never_panic(
        (index, mutation) in corpus::mutated(CORPUS.len()),
        secret in "[a-z0-9-]{0,40}",
    ) {
        let (kind, seed) = &CORPUS[index];
        parse_and_verify(*kind, corpus::apply(seed, &mutation), &secret);
    }

    #[test]
    fn changed_body_fails_verification((index, mutation) in corpus::mutated(CORPUS.len())) {
        let (kind, seed) = &CORPUS[index];
        let Some(secret) = SECRETS.get(kind) else {
            return Ok(());
        };
        let request = corpus::apply(seed, &mutation);
        let signed = seed.request();
        let headers_same = request.headers == signed.headers;
        prop_assume!(SIGNS_BODY.contains(kind) && headers_same && request.body != signed.body);
        let secret = SecretString::from(secret.clone());
        let verified = source(*kind).verify(&request, &secret);
        prop_assert!(verified.is_err(), "{} {}: a changed body verified", kind, seed.name);
    }

    #[test]
    fn arbitrary_bytes_never_panic(
        kind_index in 0usize..8,
        body in prop::collection::vec(any::<u8>(), 0..4096),
        headers in prop::collection::vec(("[a-zA-Z-]{1,30}", ".{0,100}"), 0..6),
    ) {
        let kinds = registered();
        let kind = kinds[kind_index % kinds.len()];
        let request = InboundRequest {
            headers: headers
                .into_iter()
                .map(|(name, value)| (name.to_ascii_lowercase(), value))
                .collect(),
            query: Vec::new(),
            body,
        };
        parse_and_verify(kind, request, "secret");
    }
}
