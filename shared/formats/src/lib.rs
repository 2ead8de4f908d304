//! Text format conversions for syncing issues between trackers.
//!
//! GitHub stores issue and comment bodies as GitHub-flavoured Markdown, Jira
//! Cloud's REST API v3 uses the Atlassian Document Format (ADF, a JSON tree),
//! and Jira webhooks and Jira Data Center's REST API v2 use Jira wiki markup.
//! This crate converts between them through one format-neutral document
//! tree, so every direction supports the same constructs: paragraphs,
//! headings, bullet and ordered lists, code blocks, quotes, rules, line
//! breaks, links, and strong, emphasis, strikethrough and code marks.
//!
//! Content outside that set degrades to its visible text: task lists become
//! bullet items starting with `[ ]` or `[x]`, table rows become paragraphs
//! with cells separated by ` | `, and ADF mentions, emoji, cards, panels and
//! similar nodes become their text. [`canonical_markdown`] gives one form of
//! a text, so the same content read from two trackers compares equal.
//!
//! None of the functions panic, whatever the input.

mod adf_markdown;
mod html;
mod markdown_adf;
mod markdown_render;
mod model;
mod normalize;
mod wiki;

use serde_json::Value;

/// Converts GitHub-flavoured Markdown to an ADF document of the form
/// `{"type": "doc", "version": 1, "content": [...]}`.
///
/// Soft line breaks become `hardBreak` nodes, because GitHub shows the line
/// breaks of issue and comment text. Empty input gives a document with empty
/// content.
pub fn markdown_to_adf(markdown: &str) -> Value {
    markdown_adf::blocks_to_adf(&markdown_adf::parse_markdown(markdown))
}

/// Converts an ADF document to Markdown.
///
/// Accepts any JSON value: a value that is not a `doc` node, missing fields
/// and unknown nodes are read as far as they go, without panicking. Nodes
/// that Markdown cannot express are written as their visible text.
pub fn adf_to_markdown(doc: &Value) -> String {
    let blocks = normalize::normalize_blocks(adf_markdown::adf_to_blocks(doc));
    markdown_render::render_markdown(&blocks)
}

/// Converts Jira wiki markup, the format of description and comment bodies
/// in Jira Cloud and Data Center webhooks, to Markdown.
pub fn wiki_to_markdown(wiki: &str) -> String {
    let blocks = normalize::normalize_blocks(wiki::parse_wiki(wiki));
    markdown_render::render_markdown(&blocks)
}

/// Converts Markdown to Jira wiki markup, for writes through the Jira Data
/// Center REST API v2.
pub fn markdown_to_wiki(markdown: &str) -> String {
    wiki::render_wiki(&markdown_adf::parse_markdown(markdown))
}

/// Returns the canonical form of Markdown text, used to compare content
/// across trackers: `adf_to_markdown(&markdown_to_adf(markdown))`, trimmed.
pub fn canonical_markdown(markdown: &str) -> String {
    adf_to_markdown(&markdown_to_adf(markdown))
        .trim()
        .to_string()
}

/// Converts Markdown to an HTML fragment, for trackers that store rich text
/// as HTML (Azure DevOps).
///
/// The fragment uses only elements that [`html_to_markdown`] reads back to
/// the same content, so `html_to_markdown(&markdown_to_html(text))` has the
/// canonical form of `text`.
pub fn markdown_to_html(markdown: &str) -> String {
    html::render_html(&markdown_adf::parse_markdown(markdown))
}

/// Converts an HTML fragment to Markdown. Elements outside the supported set
/// are read as their text; scripts and styles are dropped by the parser.
pub fn html_to_markdown(html: &str) -> String {
    markdown_render::render_markdown(&html::parse_html(html))
}
