//! Jira wiki markup to and from the document tree.
//!
//! Supports the constructs of Jira's wiki notation that the document tree
//! holds: `h1.` to `h6.` headings, `*strong*`, `_emphasis_`, `-strike-`,
//! `{{monospace}}`, `{code}` and `{noformat}` blocks, `[text|url]` links,
//! `*`, `-` and `#` lists, `bq.` and `{quote}` quotes, `----` rules and `\\`
//! line breaks. Markers without a valid partner are kept as literal text.

mod inline;
mod parse;
mod render;

pub(crate) use parse::parse_wiki;
pub(crate) use render::render_wiki;
