//! ADF to Markdown, one construct per test.

use proxysync_formats::{adf_to_markdown, markdown_to_adf};
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

fn inline_doc(content: Value) -> Value {
    doc(json!([paragraph(content)]))
}

#[test]
fn empty_doc() {
    assert_eq!(adf_to_markdown(&doc(json!([]))), "");
}

#[test]
fn paragraphs_blank_line() {
    let adf = doc(json!([
        paragraph(json!([text("one")])),
        paragraph(json!([text("two")]))
    ]));
    assert_eq!(adf_to_markdown(&adf), "one\n\ntwo");
}

#[test]
fn heading_levels() {
    for level in 1..=6 {
        let adf = doc(
            json!([{"type": "heading", "attrs": {"level": level}, "content": [text("Title")]}]),
        );
        let expected = format!("{} Title", "#".repeat(level));
        assert_eq!(adf_to_markdown(&adf), expected, "level {level}");
    }
}

#[test]
fn heading_level_invalid() {
    let adf = doc(json!([{"type": "heading", "attrs": {"level": 9}, "content": [text("Title")]}]));
    assert_eq!(adf_to_markdown(&adf), "###### Title");
}

#[test]
fn bullet_list_nested() {
    let nested = json!({"type": "bulletList", "content": [item(json!([paragraph(json!([text("inner")]))]))]});
    let adf = doc(json!([{
        "type": "bulletList",
        "content": [
            item(json!([paragraph(json!([text("outer")])), nested])),
            item(json!([paragraph(json!([text("second")]))])),
        ],
    }]));
    assert_eq!(adf_to_markdown(&adf), "- outer\n  - inner\n- second");
}

#[test]
fn ordered_list_order() {
    let adf = doc(json!([{
        "type": "orderedList",
        "attrs": {"order": 7},
        "content": [item(json!([paragraph(json!([text("a")]))])), item(json!([paragraph(json!([text("b")]))]))],
    }]));
    assert_eq!(adf_to_markdown(&adf), "7. a\n8. b");
}

#[test]
fn ordered_list_without_attrs() {
    let adf = doc(
        json!([{"type": "orderedList", "content": [item(json!([paragraph(json!([text("a")]))]))]}]),
    );
    assert_eq!(adf_to_markdown(&adf), "1. a");
}

#[test]
fn ordered_list_nested_start() {
    let nested = json!({
        "type": "orderedList",
        "attrs": {"order": 2},
        "content": [item(json!([paragraph(json!([text("b")]))]))],
    });
    let adf = doc(
        json!([{"type": "bulletList", "content": [item(json!([paragraph(json!([text("a")])), nested]))]}]),
    );
    let markdown = adf_to_markdown(&adf);
    assert_eq!(markdown, "- a\n\n  2. b");
    assert_eq!(markdown_to_adf(&markdown), adf);
}

#[test]
fn lists_adjacent() {
    let list =
        json!({"type": "bulletList", "content": [item(json!([paragraph(json!([text("a")]))]))]});
    let adf = doc(json!([list, list]));
    let markdown = adf_to_markdown(&adf);
    assert_eq!(markdown, "- a\n\n* a");
    assert_eq!(markdown_to_adf(&markdown), adf);
}

#[test]
fn list_item_code_block() {
    let code = json!({"type": "codeBlock", "attrs": {"language": "sh"}, "content": [text("make\n\tlint")]});
    let adf = doc(
        json!([{"type": "bulletList", "content": [item(json!([paragraph(json!([text("run")])), code]))]}]),
    );
    let markdown = adf_to_markdown(&adf);
    assert_eq!(markdown, "- run\n\n  ```sh\n  make\n  \tlint\n  ```");
    assert_eq!(markdown_to_adf(&markdown), adf);
}

#[test]
fn code_block_language() {
    let adf = doc(
        json!([{"type": "codeBlock", "attrs": {"language": "python"}, "content": [text("print(1)")]}]),
    );
    assert_eq!(adf_to_markdown(&adf), "```python\nprint(1)\n```");
}

#[test]
fn code_block_backticks_inside() {
    let adf = doc(json!([{"type": "codeBlock", "content": [text("```\nnested\n```")]}]));
    let markdown = adf_to_markdown(&adf);
    assert_eq!(markdown, "````\n```\nnested\n```\n````");
    assert_eq!(markdown_to_adf(&markdown), adf);
}

#[test]
fn code_block_empty() {
    let adf = doc(json!([{"type": "codeBlock", "attrs": {"language": "js"}}]));
    assert_eq!(adf_to_markdown(&adf), "```js\n```");
}

#[test]
fn inline_code_mark() {
    let adf = inline_doc(json!([
        text("call "),
        marked("f()", json!([{"type": "code"}]))
    ]));
    assert_eq!(adf_to_markdown(&adf), "call `f()`");
}

#[test]
fn inline_code_backticks() {
    let adf = inline_doc(json!([marked("a`b", json!([{"type": "code"}]))]));
    let markdown = adf_to_markdown(&adf);
    assert_eq!(markdown, "``a`b``");
    assert_eq!(markdown_to_adf(&markdown), adf);
}

#[test]
fn link_mark() {
    let adf = inline_doc(json!([marked(
        "docs",
        json!([{"type": "link", "attrs": {"href": "https://example.com/d"}}])
    )]));
    assert_eq!(adf_to_markdown(&adf), "[docs](https://example.com/d)");
}

#[test]
fn link_mark_parentheses() {
    let href = "https://example.com/a_(b)";
    let adf = inline_doc(json!([marked(
        "wiki",
        json!([{"type": "link", "attrs": {"href": href}}])
    )]));
    let markdown = adf_to_markdown(&adf);
    assert_eq!(markdown, "[wiki](https://example.com/a_\\(b\\))");
    assert_eq!(markdown_to_adf(&markdown), adf);
}

#[test]
fn link_mark_url_text() {
    let href = "https://example.com/x";
    let adf = inline_doc(json!([marked(
        href,
        json!([{"type": "link", "attrs": {"href": href}}])
    )]));
    assert_eq!(adf_to_markdown(&adf), "<https://example.com/x>");
}

#[test]
fn link_after_bang() {
    let link = json!([{"type": "link", "attrs": {"href": "https://example.com"}}]);
    let adf = inline_doc(json!([text("wow!"), marked("link", link)]));
    let markdown = adf_to_markdown(&adf);
    assert_eq!(markdown, "wow\\![link](https://example.com)");
    assert_eq!(markdown_to_adf(&markdown), adf);
}

#[test]
fn emphasis_marks() {
    let adf = inline_doc(json!([
        marked("em", json!([{"type": "em"}])),
        text(" "),
        marked("strong", json!([{"type": "strong"}])),
        text(" "),
        marked("gone", json!([{"type": "strike"}])),
    ]));
    assert_eq!(adf_to_markdown(&adf), "_em_ **strong** ~~gone~~");
}

#[test]
fn emphasis_inside_word() {
    let adf = inline_doc(json!([
        text("un"),
        marked("believ", json!([{"type": "em"}])),
        text("able")
    ]));
    let markdown = adf_to_markdown(&adf);
    assert_eq!(markdown, "un*believ*able");
    assert_eq!(markdown_to_adf(&markdown), adf);
}

#[test]
fn emphasis_trailing_space() {
    let adf = inline_doc(json!([
        marked("bold ", json!([{"type": "strong"}])),
        text("text")
    ]));
    assert_eq!(adf_to_markdown(&adf), "**bold** text");
}

#[test]
fn marks_combined() {
    let adf = inline_doc(json!([marked(
        "all",
        json!([{"type": "strong"}, {"type": "em"}, {"type": "link", "attrs": {"href": "https://example.com"}}])
    )]));
    let markdown = adf_to_markdown(&adf);
    assert_eq!(markdown, "[**_all_**](https://example.com)");
    assert_eq!(markdown_to_adf(&markdown), adf);
}

#[test]
fn code_mark_keeps_link_only() {
    let adf = inline_doc(json!([marked(
        "x",
        json!([{"type": "strong"}, {"type": "code"}, {"type": "link", "attrs": {"href": "https://example.com"}}])
    )]));
    assert_eq!(adf_to_markdown(&adf), "[`x`](https://example.com)");
}

#[test]
fn blockquote_paragraphs() {
    let adf = doc(json!([{
        "type": "blockquote",
        "content": [paragraph(json!([text("first")])), paragraph(json!([text("second")]))],
    }]));
    assert_eq!(adf_to_markdown(&adf), "> first\n>\n> second");
}

#[test]
fn hard_break_newline() {
    let adf = inline_doc(json!([text("one"), {"type": "hardBreak"}, text("two")]));
    assert_eq!(adf_to_markdown(&adf), "one\ntwo");
}

#[test]
fn hard_break_double() {
    let adf =
        inline_doc(json!([text("one"), {"type": "hardBreak"}, {"type": "hardBreak"}, text("two")]));
    let markdown = adf_to_markdown(&adf);
    assert_eq!(markdown, "one\n\\\ntwo");
    assert_eq!(markdown_to_adf(&markdown), adf);
}

#[test]
fn rule_dashes() {
    let adf = doc(
        json!([paragraph(json!([text("a")])), {"type": "rule"}, paragraph(json!([text("b")]))]),
    );
    assert_eq!(adf_to_markdown(&adf), "a\n\n---\n\nb");
}

#[test]
fn escapes_inline_syntax() {
    let adf = inline_doc(json!([text("*a* _b_ [c] `d` ~e~ <f> &amp; \\*")]));
    let markdown = adf_to_markdown(&adf);
    assert_eq!(
        markdown,
        "\\*a\\* \\_b\\_ \\[c\\] \\`d\\` \\~e\\~ \\<f> \\&amp; \\\\\\*"
    );
    assert_eq!(markdown_to_adf(&markdown), adf);
}

#[test]
fn escapes_line_starts() {
    let lines = [
        "# not heading",
        "> not quote",
        "- not item",
        "+ not item",
        "1. not item",
        "2) not item",
        "===",
    ];
    for line in lines {
        let adf = inline_doc(json!([text("intro"), {"type": "hardBreak"}, text(line)]));
        let markdown = adf_to_markdown(&adf);
        assert_eq!(markdown_to_adf(&markdown), adf, "{line}: {markdown}");
    }
}

#[test]
fn plain_text_unescaped() {
    let adf = inline_doc(json!([text("snake_case #42 C:\\dir 3.5 a-b")]));
    assert_eq!(adf_to_markdown(&adf), "snake_case #42 C:\\dir 3.5 a-b");
}

#[test]
fn heading_trailing_hash() {
    let adf = doc(json!([{"type": "heading", "attrs": {"level": 2}, "content": [text("C #")]}]));
    let markdown = adf_to_markdown(&adf);
    assert_eq!(markdown, "## C \\#");
    assert_eq!(markdown_to_adf(&markdown), adf);
}

#[test]
fn mention_text() {
    let adf = inline_doc(json!([
        text("ask "),
        {"type": "mention", "attrs": {"id": "557058:0f0e", "text": "@Ana Lima"}},
    ]));
    assert_eq!(adf_to_markdown(&adf), "ask @Ana Lima");
}

#[test]
fn mention_without_text() {
    let adf = inline_doc(json!([{"type": "mention", "attrs": {"id": "557058:0f0e"}}]));
    assert_eq!(adf_to_markdown(&adf), "@557058:0f0e");
}

#[test]
fn emoji_text() {
    let adf =
        inline_doc(json!([{"type": "emoji", "attrs": {"shortName": ":smile:", "text": "😄"}}]));
    assert_eq!(adf_to_markdown(&adf), "😄");
}

#[test]
fn emoji_short_name() {
    let adf = inline_doc(json!([{"type": "emoji", "attrs": {"shortName": ":party:"}}]));
    assert_eq!(adf_to_markdown(&adf), ":party:");
}

#[test]
fn inline_card_link() {
    let adf =
        inline_doc(json!([{"type": "inlineCard", "attrs": {"url": "https://example.com/PROJ-1"}}]));
    assert_eq!(adf_to_markdown(&adf), "<https://example.com/PROJ-1>");
}

#[test]
fn status_text() {
    let adf =
        inline_doc(json!([{"type": "status", "attrs": {"text": "IN REVIEW", "color": "blue"}}]));
    assert_eq!(adf_to_markdown(&adf), "IN REVIEW");
}

#[test]
fn date_iso() {
    let adf = inline_doc(json!([{"type": "date", "attrs": {"timestamp": "1718409600000"}}]));
    assert_eq!(adf_to_markdown(&adf), "2024-06-15");
}

#[test]
fn panel_children() {
    let adf = doc(json!([{
        "type": "panel",
        "attrs": {"panelType": "info"},
        "content": [paragraph(json!([text("note this")]))],
    }]));
    assert_eq!(adf_to_markdown(&adf), "note this");
}

#[test]
fn expand_title_and_children() {
    let adf = doc(json!([{
        "type": "expand",
        "attrs": {"title": "Logs"},
        "content": [paragraph(json!([text("line")]))],
    }]));
    assert_eq!(adf_to_markdown(&adf), "**Logs**\n\nline");
}

#[test]
fn table_rows() {
    let cell =
        |value: &str| json!({"type": "tableCell", "content": [paragraph(json!([text(value)]))]});
    let header = json!({"type": "tableHeader", "content": [paragraph(json!([text("Key")]))]});
    let adf = doc(json!([{
        "type": "table",
        "content": [
            {"type": "tableRow", "content": [header, cell("Value")]},
            {"type": "tableRow", "content": [cell("a"), cell("b")]},
        ],
    }]));
    assert_eq!(adf_to_markdown(&adf), "Key | Value\n\na | b");
}

#[test]
fn task_list_markers() {
    let adf = doc(json!([{
        "type": "taskList",
        "attrs": {"localId": "l1"},
        "content": [
            {"type": "taskItem", "attrs": {"localId": "t1", "state": "TODO"}, "content": [text("open")]},
            {"type": "taskItem", "attrs": {"localId": "t2", "state": "DONE"}, "content": [text("done")]},
        ],
    }]));
    assert_eq!(adf_to_markdown(&adf), "- [ ] open\n- [x] done");
}

#[test]
fn media_alt_text() {
    let adf = doc(json!([{
        "type": "mediaSingle",
        "content": [{"type": "media", "attrs": {"type": "file", "id": "abc", "alt": "diagram.png"}}],
    }]));
    assert_eq!(adf_to_markdown(&adf), "diagram.png");
}

#[test]
fn media_external_url() {
    let adf = doc(json!([{
        "type": "mediaSingle",
        "content": [{"type": "media", "attrs": {"type": "external", "url": "https://example.com/i.png"}}],
    }]));
    assert_eq!(adf_to_markdown(&adf), "<https://example.com/i.png>");
}

#[test]
fn unknown_inline_text() {
    let adf = inline_doc(json!([{"type": "futureInline", "attrs": {"text": "kept"}}]));
    assert_eq!(adf_to_markdown(&adf), "kept");
}

#[test]
fn unknown_block_children() {
    let adf = doc(json!([{"type": "futureBlock", "content": [paragraph(json!([text("kept")]))]}]));
    assert_eq!(adf_to_markdown(&adf), "kept");
}

#[test]
fn unknown_mark_ignored() {
    let adf = inline_doc(json!([marked(
        "under",
        json!([{"type": "underline"}, {"type": "textColor", "attrs": {"color": "#f00"}}])
    )]));
    assert_eq!(adf_to_markdown(&adf), "under");
}

#[test]
fn non_doc_values() {
    assert_eq!(adf_to_markdown(&Value::Null), "");
    assert_eq!(adf_to_markdown(&json!(42)), "");
    assert_eq!(adf_to_markdown(&json!("plain *text*")), "plain \\*text\\*");
    assert_eq!(
        adf_to_markdown(&json!([paragraph(json!([text("bare")]))])),
        "bare"
    );
    assert_eq!(adf_to_markdown(&paragraph(json!([text("node")]))), "node");
}

#[test]
fn missing_fields() {
    assert_eq!(adf_to_markdown(&json!({"type": "doc"})), "");
    assert_eq!(adf_to_markdown(&json!({"content": [{"type": "text"}]})), "");
    assert_eq!(
        adf_to_markdown(&json!({"type": "doc", "content": "oops"})),
        ""
    );
    assert_eq!(
        adf_to_markdown(&inline_doc(json!([{"type": "text", "text": 5}]))),
        ""
    );
}

#[test]
fn text_without_type() {
    let adf = doc(json!([{"content": [{"text": "loose"}]}]));
    assert_eq!(adf_to_markdown(&adf), "loose");
}

#[test]
fn deep_nesting_text() {
    // serde_json drops values recursively, so a much deeper test value
    // would overflow the test thread's stack by itself.
    let mut node = text("bottom");
    for _ in 0..500 {
        node = json!({"type": "blockquote", "content": [node]});
    }
    let markdown = adf_to_markdown(&doc(json!([node])));
    assert_eq!(markdown, "> bottom");
}

#[test]
fn deep_lists_text() {
    let mut node = json!({"type": "bulletList", "content": [item(json!([paragraph(json!([text("bottom")]))]))]});
    for _ in 0..300 {
        node = json!({"type": "bulletList", "content": [item(json!([paragraph(json!([text("x")])), node]))]});
    }
    let markdown = adf_to_markdown(&doc(json!([node])));
    assert!(markdown.contains("bottom"));
    assert_eq!(markdown.matches('x').count(), 300);
}
