//! Markdown to ADF, one construct per test.

use proxysync_formats::markdown_to_adf;
use serde_json::{Value, json};

fn doc(content: Value) -> Value {
    json!({"type": "doc", "version": 1, "content": content})
}

fn text(value: &str) -> Value {
    json!({"type": "text", "text": value})
}

fn marked(value: &str, marks: Value) -> Value {
    json!({"type": "text", "text": value, "marks": marks})
}

fn paragraph(content: Value) -> Value {
    json!({"type": "paragraph", "content": content})
}

fn item(content: Value) -> Value {
    json!({"type": "listItem", "content": content})
}

#[test]
fn empty_input() {
    assert_eq!(markdown_to_adf(""), doc(json!([])));
}

#[test]
fn whitespace_input() {
    assert_eq!(markdown_to_adf(" \n\t\n"), doc(json!([])));
}

#[test]
fn paragraphs_separate() {
    let expected = doc(json!([
        paragraph(json!([text("one")])),
        paragraph(json!([text("two")]))
    ]));
    assert_eq!(markdown_to_adf("one\n\ntwo"), expected);
}

#[test]
fn heading_levels() {
    for level in 1..=6 {
        let markdown = format!("{} Title", "#".repeat(level));
        let expected = doc(
            json!([{"type": "heading", "attrs": {"level": level}, "content": [text("Title")]}]),
        );
        assert_eq!(markdown_to_adf(&markdown), expected, "level {level}");
    }
}

#[test]
fn heading_setext() {
    let expected =
        doc(json!([{"type": "heading", "attrs": {"level": 2}, "content": [text("Title")]}]));
    assert_eq!(markdown_to_adf("Title\n-----"), expected);
}

#[test]
fn bullet_list_nested() {
    let nested = json!({"type": "bulletList", "content": [item(json!([paragraph(json!([text("inner")]))]))]});
    let expected = doc(json!([{
        "type": "bulletList",
        "content": [
            item(json!([paragraph(json!([text("outer")])), nested])),
            item(json!([paragraph(json!([text("second")]))])),
        ],
    }]));
    assert_eq!(markdown_to_adf("- outer\n  - inner\n- second"), expected);
}

#[test]
fn ordered_list_start() {
    let expected = doc(json!([{
        "type": "orderedList",
        "attrs": {"order": 3},
        "content": [
            item(json!([paragraph(json!([text("three")]))])),
            item(json!([paragraph(json!([text("four")]))])),
        ],
    }]));
    assert_eq!(markdown_to_adf("3. three\n4. four"), expected);
}

#[test]
fn ordered_list_default_start() {
    let adf = markdown_to_adf("1. one");
    assert_eq!(adf["content"][0]["attrs"]["order"], json!(1));
}

#[test]
fn ordered_list_in_bullet() {
    let adf = markdown_to_adf("- a\n  1. b");
    let nested = &adf["content"][0]["content"][0]["content"][1];
    assert_eq!(nested["type"], json!("orderedList"));
    assert_eq!(
        nested["content"][0]["content"][0],
        paragraph(json!([text("b")]))
    );
}

#[test]
fn list_item_empty() {
    let expected =
        doc(json!([{"type": "bulletList", "content": [item(json!([paragraph(json!([]))]))]}]));
    assert_eq!(markdown_to_adf("-"), expected);
}

#[test]
fn list_item_starting_with_list() {
    let adf = markdown_to_adf("- - inner");
    let first_item = &adf["content"][0]["content"][0];
    assert_eq!(first_item["content"][0], paragraph(json!([])));
    assert_eq!(first_item["content"][1]["type"], json!("bulletList"));
}

#[test]
fn code_block_language() {
    let expected = doc(json!([{
        "type": "codeBlock",
        "attrs": {"language": "rust"},
        "content": [text("fn main() {}\nlet x = 1;")],
    }]));
    assert_eq!(
        markdown_to_adf("```rust\nfn main() {}\nlet x = 1;\n```"),
        expected
    );
}

#[test]
fn code_block_info_words() {
    let adf = markdown_to_adf("```rust ignore\nx\n```");
    assert_eq!(adf["content"][0]["attrs"]["language"], json!("rust"));
}

#[test]
fn code_block_plain() {
    let expected = doc(json!([{"type": "codeBlock", "content": [text("plain")]}]));
    assert_eq!(markdown_to_adf("```\nplain\n```"), expected);
}

#[test]
fn code_block_indented() {
    let expected = doc(json!([{"type": "codeBlock", "content": [text("indented")]}]));
    assert_eq!(markdown_to_adf("    indented"), expected);
}

#[test]
fn code_block_empty() {
    let expected = doc(json!([{"type": "codeBlock", "content": []}]));
    assert_eq!(markdown_to_adf("```\n```"), expected);
}

#[test]
fn inline_code() {
    let expected = doc(json!([paragraph(json!([
        text("run "),
        marked("cargo test", json!([{"type": "code"}])),
    ]))]));
    assert_eq!(markdown_to_adf("run `cargo test`"), expected);
}

#[test]
fn inline_code_drops_strong() {
    let expected = doc(json!([paragraph(json!([marked(
        "x",
        json!([{"type": "code"}])
    )]))]));
    assert_eq!(markdown_to_adf("**`x`**"), expected);
}

#[test]
fn link_inline() {
    let link = json!([{"type": "link", "attrs": {"href": "https://example.com/a"}}]);
    let expected = doc(json!([paragraph(json!([
        text("see "),
        marked("docs", link)
    ]))]));
    assert_eq!(
        markdown_to_adf("see [docs](https://example.com/a)"),
        expected
    );
}

#[test]
fn link_autolink() {
    let link = json!([{"type": "link", "attrs": {"href": "https://example.com"}}]);
    let expected = doc(json!([paragraph(json!([marked(
        "https://example.com",
        link
    )]))]));
    assert_eq!(markdown_to_adf("<https://example.com>"), expected);
}

#[test]
fn link_email() {
    let adf = markdown_to_adf("<dev@example.com>");
    let href = &adf["content"][0]["content"][0]["marks"][0]["attrs"]["href"];
    assert_eq!(href, &json!("mailto:dev@example.com"));
}

#[test]
fn link_reference() {
    let link = json!([{"type": "link", "attrs": {"href": "https://example.com/r"}}]);
    let expected = doc(json!([paragraph(json!([marked("ref", link)]))]));
    assert_eq!(
        markdown_to_adf("[ref][1]\n\n[1]: https://example.com/r"),
        expected
    );
}

#[test]
fn link_around_code() {
    let marks =
        json!([{"type": "code"}, {"type": "link", "attrs": {"href": "https://example.com"}}]);
    let expected = doc(json!([paragraph(json!([marked("x", marks)]))]));
    assert_eq!(markdown_to_adf("[`x`](https://example.com)"), expected);
}

#[test]
fn image_as_link() {
    let link = json!([{"type": "link", "attrs": {"href": "https://example.com/i.png"}}]);
    let expected = doc(json!([paragraph(json!([marked("screenshot", link)]))]));
    assert_eq!(
        markdown_to_adf("![screenshot](https://example.com/i.png)"),
        expected
    );
}

#[test]
fn image_without_alt() {
    let link = json!([{"type": "link", "attrs": {"href": "https://example.com/i.png"}}]);
    let expected = doc(json!([paragraph(json!([marked(
        "https://example.com/i.png",
        link
    )]))]));
    assert_eq!(markdown_to_adf("![](https://example.com/i.png)"), expected);
}

#[test]
fn emphasis_marks() {
    let expected = doc(json!([paragraph(json!([
        marked("em", json!([{"type": "em"}])),
        text(" "),
        marked("strong", json!([{"type": "strong"}])),
        text(" "),
        marked("gone", json!([{"type": "strike"}])),
    ]))]));
    assert_eq!(markdown_to_adf("_em_ **strong** ~~gone~~"), expected);
}

#[test]
fn emphasis_nested() {
    let expected = doc(json!([paragraph(json!([
        marked("a ", json!([{"type": "strong"}])),
        marked("b", json!([{"type": "strong"}, {"type": "em"}])),
    ]))]));
    assert_eq!(markdown_to_adf("**a _b_**"), expected);
}

#[test]
fn emphasis_intraword() {
    let expected = doc(json!([paragraph(json!([
        text("un"),
        marked("believ", json!([{"type": "em"}])),
        text("able")
    ]))]));
    assert_eq!(markdown_to_adf("un*believ*able"), expected);
}

#[test]
fn emphasis_underscore_in_word() {
    let expected = doc(json!([paragraph(json!([text("snake_case_name")]))]));
    assert_eq!(markdown_to_adf("snake_case_name"), expected);
}

#[test]
fn blockquote_paragraphs() {
    let expected = doc(json!([{
        "type": "blockquote",
        "content": [paragraph(json!([text("first")])), paragraph(json!([text("second")]))],
    }]));
    assert_eq!(markdown_to_adf("> first\n>\n> second"), expected);
}

#[test]
fn blockquote_nested_flattens() {
    let expected =
        doc(json!([{"type": "blockquote", "content": [paragraph(json!([text("deep")]))]}]));
    assert_eq!(markdown_to_adf("> > deep"), expected);
}

#[test]
fn blockquote_heading_degrades() {
    let expected =
        doc(json!([{"type": "blockquote", "content": [paragraph(json!([text("title")]))]}]));
    assert_eq!(markdown_to_adf("> # title"), expected);
}

#[test]
fn hard_break_spaces() {
    let expected = doc(json!([paragraph(
        json!([text("one"), {"type": "hardBreak"}, text("two")])
    )]));
    assert_eq!(markdown_to_adf("one  \ntwo"), expected);
}

#[test]
fn hard_break_backslash() {
    let expected = doc(json!([paragraph(
        json!([text("one"), {"type": "hardBreak"}, text("two")])
    )]));
    assert_eq!(markdown_to_adf("one\\\ntwo"), expected);
}

#[test]
fn soft_break_kept() {
    let expected = doc(json!([paragraph(
        json!([text("one"), {"type": "hardBreak"}, text("two")])
    )]));
    assert_eq!(markdown_to_adf("one\ntwo"), expected);
}

#[test]
fn html_br_breaks() {
    let expected = doc(json!([paragraph(
        json!([text("one"), {"type": "hardBreak"}, text("two")])
    )]));
    assert_eq!(markdown_to_adf("one<br>two"), expected);
}

#[test]
fn rule_between_paragraphs() {
    let expected = doc(json!([
        paragraph(json!([text("above")])),
        {"type": "rule"},
        paragraph(json!([text("below")])),
    ]));
    assert_eq!(markdown_to_adf("above\n\n---\n\nbelow"), expected);
}

#[test]
fn task_list_text() {
    let expected = doc(json!([{
        "type": "bulletList",
        "content": [
            item(json!([paragraph(json!([text("[ ] open")]))])),
            item(json!([paragraph(json!([text("[x] done")]))])),
        ],
    }]));
    assert_eq!(markdown_to_adf("- [ ] open\n- [x] done"), expected);
}

#[test]
fn table_text() {
    let expected = doc(json!([paragraph(json!([
        text("| a | b |"),
        {"type": "hardBreak"},
        text("| - | - |"),
        {"type": "hardBreak"},
        text("| 1 | 2 |"),
    ]))]));
    assert_eq!(markdown_to_adf("| a | b |\n| - | - |\n| 1 | 2 |"), expected);
}

#[test]
fn html_comment_dropped() {
    let expected = doc(json!([paragraph(json!([text("visible")]))]));
    assert_eq!(
        markdown_to_adf("<!-- template hint -->\n\nvisible"),
        expected
    );
}

#[test]
fn html_block_text() {
    let expected = doc(json!([paragraph(json!([
        text("<details>"),
        {"type": "hardBreak"},
        text("</details>"),
    ]))]));
    assert_eq!(markdown_to_adf("<details>\n</details>"), expected);
}

#[test]
fn escapes_literal() {
    let expected = doc(json!([paragraph(json!([text("*not em* # [x] `y`")]))]));
    assert_eq!(markdown_to_adf("\\*not em\\* # \\[x\\] \\`y\\`"), expected);
}

#[test]
fn entity_decoded() {
    let expected = doc(json!([paragraph(json!([text("a & b © c")]))]));
    assert_eq!(markdown_to_adf("a &amp; b &copy; c"), expected);
}

#[test]
fn crlf_line_endings() {
    assert_eq!(markdown_to_adf("one\r\ntwo"), markdown_to_adf("one\ntwo"));
}

#[test]
fn text_never_empty() {
    let adf = markdown_to_adf("** **\n\n`` ` ``\n\n- \n\n>");
    let serialized = serde_json::to_string(&adf).unwrap_or_default();
    assert!(!serialized.contains(r#""text":"""#), "{serialized}");
}

#[test]
fn deep_quotes_bounded() {
    let markdown = format!("{}deep", "> ".repeat(5_000));
    let adf = markdown_to_adf(&markdown);
    let serialized = serde_json::to_string(&adf).unwrap_or_default();
    assert!(serialized.contains("deep"));
}

#[test]
fn deep_lists_bounded() {
    let markdown: String = (0..500)
        .map(|depth| format!("{}- level\n", "  ".repeat(depth)))
        .collect();
    let adf = markdown_to_adf(&markdown);
    let serialized = serde_json::to_string(&adf).unwrap_or_default();
    assert_eq!(serialized.matches("level").count(), 500);
}
