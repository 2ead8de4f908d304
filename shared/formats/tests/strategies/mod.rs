//! Proptest strategies shared by the property tests.

use proptest::prelude::*;
use serde_json::{Value, json};

/// Generates a word of lowercase letters.
pub fn word() -> impl Strategy<Value = String> {
    "[a-z]{1,8}"
}

/// Generates words separated by single spaces.
pub fn words() -> impl Strategy<Value = String> {
    prop::collection::vec(word(), 1..4).prop_map(|words| words.join(" "))
}

/// Generates one inline construct written as Markdown.
pub fn inline_piece() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => words(),
        1 => words().prop_map(|text| format!("**{text}**")),
        1 => words().prop_map(|text| format!("_{text}_")),
        1 => words().prop_map(|text| format!("~~{text}~~")),
        1 => words().prop_map(|text| format!("**_{text}_**")),
        1 => "[a-z ()*_#\\[\\]]{1,8}".prop_map(|text| format!("`{text}`")),
        1 => (words(), word()).prop_map(|(text, path)| format!("[{text}](https://example.com/{path})")),
        1 => prop::sample::select(vec!["\\*", "\\_", "\\#", "\\[", "\\]", "\\`", "\\~", "\\<", "&amp;", "!"])
            .prop_map(str::to_string),
    ]
}

/// Generates a line of inline constructs separated by spaces.
pub fn inline_line() -> impl Strategy<Value = String> {
    prop::collection::vec(inline_piece(), 1..5).prop_map(|pieces| pieces.join(" "))
}

/// Generates inline constructs joined without spaces or with punctuation, so marks
/// meet letters and punctuation on both sides.
pub fn dense_inline() -> impl Strategy<Value = String> {
    let joiner = prop::sample::select(vec!["", "", " ", "\"", "(", ")", ".", "-", "'"]);
    prop::collection::vec((inline_piece(), joiner), 1..6).prop_map(|pieces| {
        pieces
            .into_iter()
            .map(|(piece, joiner)| format!("{piece}{joiner}"))
            .collect()
    })
}

fn paragraph() -> impl Strategy<Value = String> {
    prop::collection::vec(inline_line(), 1..3).prop_map(|lines| lines.join("\n"))
}

fn heading() -> impl Strategy<Value = String> {
    (1..=6usize, inline_line()).prop_map(|(level, text)| format!("{} {text}", "#".repeat(level)))
}

fn code_block() -> impl Strategy<Value = String> {
    let language = prop::option::of("[a-z]{1,6}");
    let line = "[ a-z(){};*_#`]{0,12}";
    (language, prop::collection::vec(line, 0..4)).prop_map(|(language, lines)| {
        let body: String = lines.iter().map(|line| format!("{line}\n")).collect();
        format!("```{}\n{body}```", language.unwrap_or_default())
    })
}

/// Generates a list of single-paragraph items, optionally with one nested list.
/// With `any_start`, nested ordered lists start at any number, else at 1.
fn list(ordered_start: Option<u64>, depth: u32, any_start: bool) -> BoxedStrategy<String> {
    let item = inline_line().boxed();
    let nested = match (depth, any_start) {
        (0, _) => Just(None).boxed(),
        (_, true) => prop::option::weighted(0.3, list_any(depth - 1)).boxed(),
        (_, false) => prop::option::weighted(0.3, list_starting_at_one(depth - 1)).boxed(),
    };
    prop::collection::vec((item, nested), 1..4)
        .prop_map(move |items| {
            let mut out = Vec::new();
            for (index, (text, nested)) in items.into_iter().enumerate() {
                let marker = match ordered_start {
                    Some(start) => format!("{}.", start + index as u64),
                    None => "-".to_string(),
                };
                out.push(format!("{marker} {text}"));
                if let Some(nested) = nested {
                    let indent = " ".repeat(marker.len() + 1);
                    out.extend(nested.lines().map(|line| format!("{indent}{line}")));
                }
            }
            out.join("\n")
        })
        .boxed()
}

fn list_any(depth: u32) -> BoxedStrategy<String> {
    let ordered = (1..20u64).prop_flat_map(move |start| list(Some(start), depth, true));
    prop_oneof![list(None, depth, true), ordered].boxed()
}

fn list_starting_at_one(depth: u32) -> BoxedStrategy<String> {
    prop_oneof![list(None, depth, false), list(Some(1), depth, false)].boxed()
}

fn quote() -> impl Strategy<Value = String> {
    prop::collection::vec(paragraph(), 1..3).prop_map(|paragraphs| {
        let body = paragraphs.join("\n\n");
        body.lines()
            .map(|line| {
                if line.is_empty() {
                    ">".to_string()
                } else {
                    format!("> {line}")
                }
            })
            .collect::<Vec<_>>()
            .join("\n")
    })
}

/// Generates a Markdown document made of the supported constructs.
pub fn markdown_document() -> impl Strategy<Value = String> {
    let block = prop_oneof![
        4 => paragraph().boxed(),
        1 => heading().boxed(),
        1 => code_block().boxed(),
        2 => list_any(2),
        1 => quote().boxed(),
        1 => Just("---".to_string()).boxed(),
    ];
    prop::collection::vec(block, 0..6).prop_map(|blocks| blocks.join("\n\n"))
}

/// Like [`markdown_document`], but every ordered list starts at 1, because
/// wiki markup has no start numbers.
pub fn wiki_safe_document() -> impl Strategy<Value = String> {
    let block = prop_oneof![
        4 => paragraph().boxed(),
        1 => heading().boxed(),
        1 => code_block().boxed(),
        2 => list_starting_at_one(2),
        1 => quote().boxed(),
        1 => Just("---".to_string()).boxed(),
    ];
    prop::collection::vec(block, 0..6).prop_map(|blocks| blocks.join("\n\n"))
}

/// Generates short text heavy in characters that Markdown and wiki markup treat
/// specially.
pub fn markup_noise() -> impl Strategy<Value = String> {
    "([ab \\n\\t*_`#>\\\\+=.1)(~!<&;:\\[\\]|{}hq^?-]|&#11;|&nbsp;|&#32;|&#10;|&#0;|\u{a0}|\u{b}|\r){0,40}"
}

/// Generates arbitrary JSON, biased towards ADF-like objects.
pub fn adf_like_json() -> impl Strategy<Value = Value> {
    let node_types = vec![
        "doc",
        "paragraph",
        "text",
        "heading",
        "bulletList",
        "orderedList",
        "listItem",
        "codeBlock",
        "blockquote",
        "rule",
        "hardBreak",
        "mention",
        "emoji",
        "inlineCard",
        "status",
        "date",
        "panel",
        "table",
        "tableRow",
        "tableCell",
        "taskList",
        "taskItem",
        "expand",
        "media",
        "mediaSingle",
        "unknown",
    ];
    let mark_types = vec!["strong", "em", "strike", "code", "link", "underline"];
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        ".{0,12}".prop_map(Value::String),
        markup_noise().prop_map(Value::String),
    ];
    let marks = prop::collection::vec(
        (prop::sample::select(mark_types), ".{0,10}")
            .prop_map(|(kind, href)| json!({"type": kind, "attrs": {"href": href}})),
        0..3,
    );
    leaf.prop_recursive(6, 64, 6, move |inner| {
        let node = (
            prop::sample::select(node_types.clone()),
            prop::collection::vec(inner.clone(), 0..4),
            markup_noise(),
            marks.clone(),
            inner.clone(),
        )
            .prop_map(|(kind, content, text, marks, attr)| {
                json!({
                    "type": kind,
                    "content": content,
                    "text": text,
                    "marks": marks,
                    "attrs": {"level": attr, "order": attr, "text": text, "language": attr, "url": text},
                })
            });
        prop_oneof![
            3 => node,
            1 => prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            1 => prop::collection::hash_map("[a-z]{1,5}", inner, 0..3)
                .prop_map(|map| Value::Object(map.into_iter().collect())),
        ]
    })
}
