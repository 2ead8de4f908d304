//! The seed corpus of the property tests, and the mutations applied to it.
//!
//! Seeds are the sample webhooks in `events/<route>/` (each `NAME.json` or other body file with
//! its `NAME.headers`) and the real payloads in `tests/fixtures/<route>-*`, which are paired with
//! the header sets of `events/<route>/`. A tracker whose route has files there is covered
//! without further code. Mutations keep what a tracker could plausibly send broken: cut
//! bodies, flipped bytes, values of the wrong JSON type, removed keys, deep nesting, and
//! missing or odd headers. Every size is bounded, so each case runs in milliseconds.

use std::path::Path;
use std::sync::mpsc;
use std::time::Duration;

use proptest::prelude::*;
use proptest::test_runner::Config;
use proxysync_core::tracker::InboundRequest;
use serde_json::Value;

use crate::repo_root;

/// Cases per property when `PROPTEST_CASES` is not set: enough to catch shallow bugs in the
/// few seconds CI gives each target. Set `PROPTEST_CASES` for a longer local run.
pub const DEFAULT_CASES: u32 = 256;

/// The stack size of a Tokio worker thread (2 MiB), which is where the functions parse and
/// convert; recursion that overflows it would crash a Lambda invocation.
pub const WORKER_STACK: usize = 2 * 1024 * 1024;

/// The longest body a mutation produces, well under the functions' 2 MiB limit.
pub const MAX_BODY: usize = 256 * 1024;

/// The proptest configuration shared by the fuzz targets.
pub fn config() -> Config {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|value| value.parse().ok())
        .unwrap_or(DEFAULT_CASES);
    Config {
        cases,
        ..Config::default()
    }
}

/// One seed request: a file name, its headers and its body.
#[derive(Clone, Debug)]
pub struct Seed {
    pub name: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Seed {
    /// The seed as the pipeline receives it, header names in lower case.
    pub fn request(&self) -> InboundRequest {
        InboundRequest {
            headers: self
                .headers
                .iter()
                .map(|(name, value)| (name.to_ascii_lowercase(), value.clone()))
                .collect(),
            query: Vec::new(),
            body: self.body.clone(),
        }
    }
}

/// Reads `NAME: value` lines.
fn parse_headers(text: &str) -> Vec<(String, String)> {
    text.lines()
        .filter_map(|line| line.split_once(':'))
        .map(|(name, value)| (name.trim().to_owned(), value.trim().to_owned()))
        .collect()
}

fn sorted_files(dir: &Path) -> Vec<std::path::PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut files: Vec<_> = entries
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .filter(|path| path.is_file())
        .collect();
    files.sort();
    files
}

/// The signed sample webhooks of `route`, from `events/<route>/`.
pub fn event_seeds(route: &str) -> Vec<Seed> {
    let dir = repo_root().join("events").join(route);
    let mut seeds = Vec::new();
    for path in sorted_files(&dir) {
        if path.extension().is_some_and(|ext| ext == "headers") {
            continue;
        }
        let headers_path = path.with_extension("headers");
        let headers = std::fs::read_to_string(&headers_path)
            .map(|text| parse_headers(&text))
            .unwrap_or_default();
        seeds.push(Seed {
            name: path.file_name().unwrap().to_string_lossy().into_owned(),
            headers,
            body: std::fs::read(&path).expect("read a seed body"),
        });
    }
    seeds
}

/// Every seed of `route`: the sample webhooks, and each real payload of `tests/fixtures/`
/// with each header set of the samples.
pub fn seeds(route: &str) -> Vec<Seed> {
    let events = event_seeds(route);
    let mut seeds = events.clone();
    let prefix = format!("{route}-");
    let fixtures = sorted_files(&repo_root().join("tests/fixtures"));
    for path in fixtures {
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if !name.starts_with(&prefix) {
            continue;
        }
        let body = std::fs::read(&path).expect("read a fixture");
        let header_sets: Vec<Vec<(String, String)>> = if events.is_empty() {
            vec![Vec::new()]
        } else {
            events.iter().map(|seed| seed.headers.clone()).collect()
        };
        for headers in header_sets {
            seeds.push(Seed {
                name: name.clone(),
                headers,
                body: body.clone(),
            });
        }
    }
    seeds
}

/// Every JSON body of `events/*/` and `tests/fixtures/`.
pub fn all_json_bodies() -> Vec<Value> {
    let mut routes: Vec<String> = Vec::new();
    if let Ok(entries) = std::fs::read_dir(repo_root().join("events")) {
        routes.extend(
            entries
                .filter_map(Result::ok)
                .filter(|entry| entry.path().is_dir())
                .map(|entry| entry.file_name().to_string_lossy().into_owned()),
        );
    }
    routes.sort();
    routes.dedup();
    let mut bodies = Vec::new();
    for route in routes {
        for seed in event_seeds(&route) {
            if let Ok(value) = serde_json::from_slice::<Value>(&seed.body) {
                bodies.push(value);
            }
        }
    }
    for path in sorted_files(&repo_root().join("tests/fixtures")) {
        let text = std::fs::read(&path).expect("read a fixture");
        if let Ok(value) = serde_json::from_slice::<Value>(&text) {
            bodies.push(value);
        }
    }
    bodies
}

/// The text fields of the seed bodies (titles, bodies, descriptions, comments), which hold
/// Markdown on GitHub and wiki markup in Jira webhooks.
pub fn text_seeds() -> Vec<String> {
    let mut texts = Vec::new();
    for body in all_json_bodies() {
        collect_strings(&body, &mut texts);
    }
    texts.sort();
    texts.dedup();
    texts
}

fn collect_strings(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            for (key, value) in map {
                let is_text = matches!(
                    key.as_str(),
                    "body" | "title" | "description" | "summary" | "text"
                );
                match value {
                    Value::String(text) if is_text && !text.is_empty() => out.push(text.clone()),
                    _ => collect_strings(value, out),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|item| collect_strings(item, out)),
        _ => {}
    }
}

/// The Atlassian Document Format documents in the seed bodies (`{"type": "doc", ...}`).
pub fn adf_seeds() -> Vec<Value> {
    let mut docs = Vec::new();
    for body in all_json_bodies() {
        collect_docs(&body, &mut docs);
    }
    docs
}

fn collect_docs(value: &Value, out: &mut Vec<Value>) {
    match value {
        Value::Object(map) => {
            if map.get("type").and_then(Value::as_str) == Some("doc") {
                out.push(value.clone());
            }
            map.values().for_each(|value| collect_docs(value, out));
        }
        Value::Array(items) => items.iter().for_each(|item| collect_docs(item, out)),
        _ => {}
    }
}

/// A change to a JSON document at one of its values.
#[derive(Clone, Debug)]
pub enum JsonMutation {
    Null,
    Bool(bool),
    Integer(i64),
    Float(f64),
    Text(String),
    EmptyArray,
    EmptyObject,
    Remove,
    /// Wraps the value in this many arrays or objects, alternating.
    Nest(usize),
}

fn json_mutation() -> impl Strategy<Value = JsonMutation> {
    prop_oneof![
        Just(JsonMutation::Null),
        any::<bool>().prop_map(JsonMutation::Bool),
        prop_oneof![
            Just(i64::MIN),
            Just(i64::MAX),
            Just(-1i64),
            Just(0i64),
            any::<i64>()
        ]
        .prop_map(JsonMutation::Integer),
        prop_oneof![Just(1e308), Just(-0.0), Just(0.5), any::<f64>()].prop_map(JsonMutation::Float),
        prop_oneof![
            ".{0,40}".prop_map(|s: String| s),
            Just(String::new()),
            Just("x".repeat(20_000)),
            Just("\u{0}\u{202e}\u{1f600}\u{fffd}".to_owned()),
        ]
        .prop_map(JsonMutation::Text),
        Just(JsonMutation::EmptyArray),
        Just(JsonMutation::EmptyObject),
        Just(JsonMutation::Remove),
        (1usize..200).prop_map(JsonMutation::Nest),
    ]
}

/// Returns the JSON pointer of every value in `value`, the root first.
fn pointers(value: &Value) -> Vec<String> {
    fn walk(value: &Value, at: String, out: &mut Vec<String>) {
        out.push(at.clone());
        match value {
            Value::Object(map) => {
                for (key, child) in map {
                    let key = key.replace('~', "~0").replace('/', "~1");
                    walk(child, format!("{at}/{key}"), out);
                }
            }
            Value::Array(items) => {
                for (index, child) in items.iter().enumerate() {
                    walk(child, format!("{at}/{index}"), out);
                }
            }
            _ => {}
        }
    }
    let mut out = Vec::new();
    walk(value, String::new(), &mut out);
    out
}

/// Applies `mutation` at the `pick`-th value of `body` (modulo the number of values) and
/// returns the new body text. Nesting is written as text, so a depth that JSON parsers
/// reject (serde_json stops at 128) reaches the parser as it would from the network.
pub fn mutate_json(body: &Value, pick: usize, mutation: &JsonMutation) -> Vec<u8> {
    let mut doc = body.clone();
    let all = pointers(&doc);
    let pointer = all[pick % all.len()].clone();
    let replacement = match mutation {
        JsonMutation::Null => Value::Null,
        JsonMutation::Bool(value) => Value::Bool(*value),
        JsonMutation::Integer(value) => Value::from(*value),
        JsonMutation::Float(value) => {
            serde_json::Number::from_f64(*value).map_or(Value::Null, Value::Number)
        }
        JsonMutation::Text(text) => Value::String(text.clone()),
        JsonMutation::EmptyArray => Value::Array(Vec::new()),
        JsonMutation::EmptyObject => Value::Object(serde_json::Map::new()),
        JsonMutation::Remove => {
            remove_at(&mut doc, &pointer);
            return serde_json::to_vec(&doc).expect("serialize a mutated body");
        }
        JsonMutation::Nest(depth) => {
            let marker = "\u{1}nest\u{1}";
            if let Some(target) = doc.pointer_mut(&pointer) {
                let inner = std::mem::replace(target, Value::String(marker.to_owned()));
                let text = serde_json::to_string(&doc).expect("serialize a mutated body");
                let inner = serde_json::to_string(&inner).expect("serialize a value");
                let (open, close) = nesting(*depth);
                let quoted = serde_json::to_string(marker).unwrap();
                return text
                    .replacen(&quoted, &format!("{open}{inner}{close}"), 1)
                    .into_bytes();
            }
            return serde_json::to_vec(&doc).expect("serialize a body");
        }
    };
    if let Some(target) = doc.pointer_mut(&pointer) {
        *target = replacement;
    }
    serde_json::to_vec(&doc).expect("serialize a mutated body")
}

fn nesting(depth: usize) -> (String, String) {
    let mut open = String::new();
    let mut close = String::new();
    for level in 0..depth {
        if level % 2 == 0 {
            open.push('[');
            close.insert(0, ']');
        } else {
            open.push_str("{\"content\":");
            close.insert(0, '}');
        }
    }
    (open, close)
}

fn remove_at(doc: &mut Value, pointer: &str) {
    let Some((parent, last)) = pointer.rsplit_once('/') else {
        *doc = Value::Null;
        return;
    };
    let key = last.replace("~1", "/").replace("~0", "~");
    match doc.pointer_mut(parent) {
        Some(Value::Object(map)) => {
            map.remove(&key);
        }
        Some(Value::Array(items)) => {
            if let Ok(index) = key.parse::<usize>()
                && index < items.len()
            {
                items.remove(index);
            }
        }
        _ => {}
    }
}

/// A change to a whole request.
#[derive(Clone, Debug)]
pub enum RequestMutation {
    Unchanged,
    /// Keeps this share (in thousandths) of the body.
    Truncate(u16),
    /// Sets the bytes at these positions (modulo the body length).
    Bytes(Vec<(usize, u8)>),
    Json(usize, JsonMutation),
    DropHeader(usize),
    HeaderValue(usize, String),
    /// Appends raw bytes (trailing garbage, a second document).
    Append(Vec<u8>),
}

fn request_mutation() -> impl Strategy<Value = RequestMutation> {
    prop_oneof![
        1 => Just(RequestMutation::Unchanged),
        3 => (0u16..1000).prop_map(RequestMutation::Truncate),
        2 => prop::collection::vec((any::<usize>(), any::<u8>()), 1..8)
            .prop_map(RequestMutation::Bytes),
        6 => (any::<usize>(), json_mutation()).prop_map(|(at, m)| RequestMutation::Json(at, m)),
        1 => any::<usize>().prop_map(RequestMutation::DropHeader),
        2 => (any::<usize>(), prop_oneof![
                Just(String::new()),
                Just("issues".to_owned()),
                Just("issue_comment".to_owned()),
                Just("ping".to_owned()),
                Just("sha256=".to_owned()),
                "sha256=[0-9a-f]{0,70}",
                ".{0,80}",
            ])
            .prop_map(|(at, value)| RequestMutation::HeaderValue(at, value)),
        1 => prop::collection::vec(any::<u8>(), 0..64).prop_map(RequestMutation::Append),
    ]
}

/// Applies `mutation` to `seed` and returns the request.
pub fn apply(seed: &Seed, mutation: &RequestMutation) -> InboundRequest {
    let mut request = seed.request();
    match mutation {
        RequestMutation::Unchanged => {}
        RequestMutation::Truncate(share) => {
            let keep = request.body.len() * usize::from(*share) / 1000;
            request.body.truncate(keep);
        }
        RequestMutation::Bytes(changes) => {
            if !request.body.is_empty() {
                let len = request.body.len();
                for (at, byte) in changes {
                    request.body[at % len] = *byte;
                }
            }
        }
        RequestMutation::Json(at, change) => {
            if let Ok(value) = serde_json::from_slice::<Value>(&request.body) {
                request.body = mutate_json(&value, *at, change);
            }
        }
        RequestMutation::DropHeader(at) => {
            if !request.headers.is_empty() {
                let len = request.headers.len();
                request.headers.remove(at % len);
            }
        }
        RequestMutation::HeaderValue(at, value) => {
            if !request.headers.is_empty() {
                let len = request.headers.len();
                request.headers[at % len].1 = value.clone();
            }
        }
        RequestMutation::Append(bytes) => request.body.extend_from_slice(bytes),
    }
    request.body.truncate(MAX_BODY);
    request
}

/// A seed index and a mutation, applied with [`apply`].
pub fn mutated(seed_count: usize) -> impl Strategy<Value = (usize, RequestMutation)> {
    assert!(seed_count > 0, "no seeds to mutate");
    (0..seed_count, request_mutation())
}

/// Markup that tends to open or close constructs in Markdown, wiki markup and HTML.
const MARKUP: &[&str] = &[
    "*",
    "_",
    "`",
    "```",
    "~~",
    "#",
    "> ",
    "- ",
    "1. ",
    "[",
    "]",
    "(",
    ")",
    "|",
    "{",
    "}",
    "{code}",
    "{noformat}",
    "{quote}",
    "h1. ",
    "bq. ",
    "----",
    "\\\\",
    "<b>",
    "</b>",
    "<",
    ">",
    "&amp;",
    "\n",
    "\n\n",
    "    ",
    "\t",
    "![x](y)",
    "[a|http://x]",
    "{{",
    "}}",
    "\\",
];

/// A change to a text.
#[derive(Clone, Debug)]
pub enum TextMutation {
    Unchanged,
    /// Keeps this share (in thousandths) of the characters.
    Truncate(u16),
    /// Inserts markup tokens at character positions (modulo the length).
    Insert(Vec<(usize, usize)>),
    /// Puts a construct this many levels deep in front: quotes, lists, brackets, emphasis.
    Nest(usize, usize),
    /// Repeats the text this many times.
    Repeat(usize),
    Replace(String),
}

/// A text mutation with every size bounded, nesting at most `max_depth` levels deep.
pub fn text_mutation(max_depth: usize) -> impl Strategy<Value = TextMutation> {
    prop_oneof![
        1 => Just(TextMutation::Unchanged),
        2 => (0u16..1000).prop_map(TextMutation::Truncate),
        4 => prop::collection::vec((any::<usize>(), 0..MARKUP.len()), 1..24)
            .prop_map(TextMutation::Insert),
        2 => (0usize..NEST_KINDS.len(), 1usize..=max_depth.max(1))
            .prop_map(|(kind, depth)| TextMutation::Nest(kind, depth)),
        1 => (2usize..8).prop_map(TextMutation::Repeat),
        2 => "(.|\n){0,200}".prop_map(TextMutation::Replace),
    ]
}

/// The prefixes and suffixes that `TextMutation::Nest` repeats.
const NEST_KINDS: &[(&str, &str)] = &[
    ("> ", ""),
    ("- ", ""),
    ("1. ", ""),
    ("  - ", ""),
    ("[", "](x)"),
    ("*", "*"),
    ("_", "_"),
    ("{quote}", "{quote}"),
    ("bq. ", ""),
    ("* ", ""),
    ("# ", ""),
    ("<blockquote>", "</blockquote>"),
];

/// Applies `mutation` to `text`.
pub fn apply_text(text: &str, mutation: &TextMutation) -> String {
    let chars: Vec<char> = text.chars().collect();
    match mutation {
        TextMutation::Unchanged => text.to_owned(),
        TextMutation::Truncate(share) => {
            let keep = chars.len() * usize::from(*share) / 1000;
            chars[..keep].iter().collect()
        }
        TextMutation::Insert(inserts) => {
            let mut out = chars;
            for (at, token) in inserts {
                let at = if out.is_empty() { 0 } else { at % out.len() };
                let token: Vec<char> = MARKUP[*token].chars().collect();
                out.splice(at..at, token);
            }
            out.into_iter().collect()
        }
        TextMutation::Nest(kind, depth) => {
            let (open, close) = NEST_KINDS[*kind];
            format!("{}{text}{}", open.repeat(*depth), close.repeat(*depth))
        }
        TextMutation::Repeat(times) => text.repeat(*times).chars().take(MAX_BODY).collect(),
        TextMutation::Replace(text) => text.clone(),
    }
}

/// Runs `work` on a thread with a Tokio worker's stack and fails when it takes longer than
/// `limit`, so a hang shows as a failure instead of a stuck test. A panic in `work` is
/// raised again here, so proptest sees it and shrinks the input.
pub fn within<T, F>(limit: Duration, what: &str, work: F) -> T
where
    T: Send + 'static,
    F: FnOnce() -> T + Send + 'static,
{
    let (sender, receiver) = mpsc::channel();
    let thread = std::thread::Builder::new()
        .name(format!("fuzz {what}"))
        .stack_size(WORKER_STACK)
        .spawn(move || {
            let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(work));
            let _ = sender.send(result);
        })
        .expect("spawn a fuzz thread");
    match receiver.recv_timeout(limit) {
        Ok(Ok(value)) => {
            let _ = thread.join();
            value
        }
        Ok(Err(panic)) => std::panic::resume_unwind(panic),
        Err(_) => panic!("{what} did not finish within {limit:?}"),
    }
}
