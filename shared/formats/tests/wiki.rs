//! Jira wiki markup to and from Markdown, one construct per test.

use proxysync_formats::{canonical_markdown, markdown_to_wiki, wiki_to_markdown};

#[test]
fn wiki_headings() {
    for level in 1..=6 {
        let wiki = format!("h{level}. Title");
        let expected = format!("{} Title", "#".repeat(level));
        assert_eq!(wiki_to_markdown(&wiki), expected, "level {level}");
    }
}

#[test]
fn wiki_heading_needs_space() {
    assert_eq!(wiki_to_markdown("h1.Title"), "h1.Title");
}

#[test]
fn wiki_phrase_marks() {
    assert_eq!(
        wiki_to_markdown("*bold* _em_ -gone-"),
        "**bold** _em_ ~~gone~~"
    );
}

#[test]
fn wiki_nested_marks() {
    assert_eq!(wiki_to_markdown("*bold _both_*"), "**bold _both_**");
}

#[test]
fn wiki_brace_marks_in_word() {
    assert_eq!(wiki_to_markdown("un{*}bold{*}ed"), "un**bold**ed");
}

#[test]
fn wiki_monospace() {
    assert_eq!(
        wiki_to_markdown("run {{cargo *test*}}"),
        "run `cargo *test*`"
    );
}

#[test]
fn wiki_code_language() {
    let wiki = "{code:java}\nint x = 1; // *not bold*\n{code}";
    assert_eq!(
        wiki_to_markdown(wiki),
        "```java\nint x = 1; // *not bold*\n```"
    );
}

#[test]
fn wiki_code_named_parameters() {
    let wiki = "{code:title=Main.kt|language=kotlin}\nfun main() {}\n{code}";
    assert_eq!(wiki_to_markdown(wiki), "```kotlin\nfun main() {}\n```");
}

#[test]
fn wiki_code_plain() {
    assert_eq!(wiki_to_markdown("{code}\nx\n{code}"), "```\nx\n```");
}

#[test]
fn wiki_code_one_line() {
    assert_eq!(wiki_to_markdown("{code}x = 1{code}"), "```\nx = 1\n```");
}

#[test]
fn wiki_noformat() {
    assert_eq!(
        wiki_to_markdown("{noformat}\nraw {{x}} *y*\n{noformat}"),
        "```\nraw {{x}} *y*\n```"
    );
}

#[test]
fn wiki_code_unclosed() {
    assert_eq!(wiki_to_markdown("{code}\nx"), "{code}\nx");
}

#[test]
fn wiki_link_with_text() {
    assert_eq!(
        wiki_to_markdown("see [the docs|https://example.com/d]"),
        "see [the docs](https://example.com/d)"
    );
}

#[test]
fn wiki_link_bare() {
    assert_eq!(
        wiki_to_markdown("[https://example.com/d]"),
        "<https://example.com/d>"
    );
}

#[test]
fn wiki_link_formatted_text() {
    assert_eq!(
        wiki_to_markdown("[*bold*|https://example.com]"),
        "[**bold**](https://example.com)"
    );
}

#[test]
fn wiki_brackets_literal() {
    assert_eq!(wiki_to_markdown("[PROJ-12] done"), "\\[PROJ-12\\] done");
}

#[test]
fn wiki_mention_text() {
    let markdown = wiki_to_markdown("thanks [~accountid:557058:0f0e-11]");
    assert_eq!(markdown, "thanks \\[\\~accountid:557058:0f0e-11\\]");
}

#[test]
fn wiki_bullets_nested() {
    assert_eq!(
        wiki_to_markdown("* one\n** nested\n* two"),
        "- one\n  - nested\n- two"
    );
}

#[test]
fn wiki_dash_bullets() {
    assert_eq!(wiki_to_markdown("- one\n- two"), "- one\n- two");
}

#[test]
fn wiki_numbered_nested() {
    assert_eq!(
        wiki_to_markdown("# first\n## sub\n# second"),
        "1. first\n   1. sub\n2. second"
    );
}

#[test]
fn wiki_mixed_list() {
    assert_eq!(
        wiki_to_markdown("# step\n#* detail"),
        "1. step\n   - detail"
    );
}

#[test]
fn wiki_list_then_paragraph() {
    assert_eq!(wiki_to_markdown("* item\nafter"), "- item\n\nafter");
}

#[test]
fn wiki_bq() {
    assert_eq!(wiki_to_markdown("bq. quoted *text*"), "> quoted **text**");
}

#[test]
fn wiki_quote_block() {
    assert_eq!(
        wiki_to_markdown("{quote}\nfirst\n\nsecond\n{quote}"),
        "> first\n>\n> second"
    );
}

#[test]
fn wiki_quote_inline() {
    assert_eq!(wiki_to_markdown("{quote}short{quote}"), "> short");
}

#[test]
fn wiki_panel_content() {
    assert_eq!(
        wiki_to_markdown("{panel:title=Note}\ninside\n{panel}"),
        "inside"
    );
}

#[test]
fn wiki_rule() {
    assert_eq!(
        wiki_to_markdown("above\n\n----\n\nbelow"),
        "above\n\n---\n\nbelow"
    );
}

#[test]
fn wiki_line_break() {
    assert_eq!(wiki_to_markdown("one\\\\two"), "one\ntwo");
}

#[test]
fn wiki_newline_break() {
    assert_eq!(wiki_to_markdown("one\ntwo"), "one\ntwo");
}

#[test]
fn wiki_paragraphs() {
    assert_eq!(wiki_to_markdown("one\n\ntwo"), "one\n\ntwo");
}

#[test]
fn wiki_crlf() {
    assert_eq!(wiki_to_markdown("one\r\n\r\ntwo"), "one\n\ntwo");
}

#[test]
fn wiki_unbalanced_literal() {
    assert_eq!(wiki_to_markdown("*not bold"), "\\*not bold");
    assert_eq!(wiki_to_markdown("2*3*4"), "2\\*3\\*4");
    assert_eq!(wiki_to_markdown("a_b_c"), "a_b_c");
    assert_eq!(wiki_to_markdown("well-known a - b"), "well-known a - b");
    assert_eq!(wiki_to_markdown("{{open"), "{{open");
    assert_eq!(wiki_to_markdown("[open"), "\\[open");
}

#[test]
fn wiki_dashes_literal() {
    assert_eq!(wiki_to_markdown("a -- b --- c"), "a -- b --- c");
}

#[test]
fn wiki_escapes() {
    assert_eq!(
        wiki_to_markdown("\\*literal\\* \\{code\\}"),
        "\\*literal\\* {code}"
    );
}

#[test]
fn wiki_table_rows() {
    let wiki = "||Key||Value||\n|a|[link|https://example.com]|";
    assert_eq!(
        wiki_to_markdown(wiki),
        "Key | Value\n\na | [link](https://example.com)"
    );
}

#[test]
fn wiki_color_stripped() {
    assert_eq!(
        wiki_to_markdown("{color:#ff0000}red{color} text"),
        "red text"
    );
}

#[test]
fn wiki_other_phrases_literal() {
    assert_eq!(
        wiki_to_markdown("+ins+ ^sup^ ??cite??"),
        "+ins+ ^sup^ ??cite??"
    );
}

#[test]
fn wiki_deep_list_bounded() {
    let wiki = format!("{} deep", "*".repeat(10_000));
    assert!(wiki_to_markdown(&wiki).contains("deep"));
}

#[test]
fn wiki_long_line_bounded() {
    let wiki = "*a _b -c [d {{e ".repeat(20_000);
    assert!(wiki_to_markdown(&wiki).contains("e"));
}

#[test]
fn markdown_headings() {
    for level in 1..=6 {
        let markdown = format!("{} Title", "#".repeat(level));
        let expected = format!("h{level}. Title");
        assert_eq!(markdown_to_wiki(&markdown), expected, "level {level}");
    }
}

#[test]
fn markdown_marks() {
    assert_eq!(
        markdown_to_wiki("**bold** _em_ ~~gone~~ `code`"),
        "*bold* _em_ -gone- {{code}}"
    );
}

#[test]
fn markdown_marks_in_word() {
    assert_eq!(markdown_to_wiki("un**bold**ed"), "un{*}bold{*}ed");
}

#[test]
fn markdown_link() {
    assert_eq!(
        markdown_to_wiki("[docs](https://example.com/d)"),
        "[docs|https://example.com/d]"
    );
}

#[test]
fn markdown_link_bare() {
    assert_eq!(
        markdown_to_wiki("<https://example.com/d>"),
        "[https://example.com/d]"
    );
}

#[test]
fn markdown_link_pipe_in_url() {
    assert_eq!(
        markdown_to_wiki("[q](https://example.com/?a=1|2)"),
        "[q|https://example.com/?a=1%7C2]"
    );
}

#[test]
fn markdown_bullets_nested() {
    assert_eq!(
        markdown_to_wiki("- one\n  - nested\n- two"),
        "* one\n** nested\n* two"
    );
}

#[test]
fn markdown_numbered_nested() {
    assert_eq!(
        markdown_to_wiki("1. first\n   - detail\n2. second"),
        "# first\n#* detail\n# second"
    );
}

#[test]
fn markdown_list_item_paragraphs() {
    assert_eq!(markdown_to_wiki("- one\n\n  more"), "* one\\\\more");
}

#[test]
fn markdown_code_language() {
    assert_eq!(
        markdown_to_wiki("```rust\nfn main() {}\n```"),
        "{code:rust}\nfn main() {}\n{code}"
    );
}

#[test]
fn markdown_code_plain() {
    assert_eq!(
        markdown_to_wiki("```\nplain\n```"),
        "{noformat}\nplain\n{noformat}"
    );
}

#[test]
fn markdown_code_containing_noformat() {
    assert_eq!(
        markdown_to_wiki("```\n{noformat}\n```"),
        "{code}\n{noformat}\n{code}"
    );
}

#[test]
fn markdown_quote() {
    assert_eq!(
        markdown_to_wiki("> first\n>\n> second"),
        "{quote}\nfirst\n\nsecond\n{quote}"
    );
}

#[test]
fn markdown_rule() {
    assert_eq!(markdown_to_wiki("a\n\n---\n\nb"), "a\n\n----\n\nb");
}

#[test]
fn markdown_breaks() {
    assert_eq!(markdown_to_wiki("one\ntwo"), "one\ntwo");
}

#[test]
fn markdown_double_break() {
    assert_eq!(markdown_to_wiki("one\n\\\ntwo"), "one\\\\\ntwo");
}

#[test]
fn markdown_escapes() {
    assert_eq!(
        markdown_to_wiki("\\*a\\* \\_b\\_ \\[c\\] {d}"),
        "\\*a\\* \\_b\\_ \\[c\\] \\{d}"
    );
}

#[test]
fn markdown_plain_punctuation() {
    assert_eq!(
        markdown_to_wiki("well-known a - b, really?"),
        "well-known a - b, really?"
    );
}

#[test]
fn markdown_line_starts() {
    assert_eq!(
        markdown_to_wiki("\\# one\n\\- two\nh1. three"),
        "\\# one\n\\- two\nh1\\. three"
    );
}

#[test]
fn markdown_mention_kept() {
    assert_eq!(
        markdown_to_wiki("ping [~accountid:557058:0f0e]"),
        "ping [~accountid:557058:0f0e]"
    );
}

#[test]
fn markdown_backslash() {
    let wiki = markdown_to_wiki("C:\\dir and end\\\\");
    assert_eq!(wiki, "C:\\dir and end&#92;");
    assert_eq!(wiki_to_markdown(&wiki), "C:\\dir and end\\\\");
}

#[test]
fn round_trip_document() {
    let markdown = "# Bug\n\nSteps with **bold**, _em_, `code` and [a link](https://example.com).\n\n\
                    1. open\n2. click\n   - then wait\n\n> quoted\n\n```sh\nmake test\n```\n\n---\n\nend";
    let wiki = markdown_to_wiki(markdown);
    assert_eq!(
        canonical_markdown(&wiki_to_markdown(&wiki)),
        canonical_markdown(markdown)
    );
}

#[test]
fn wiki_unclosed_macros_bounded() {
    let wiki = "{code:java}\ntext\n".repeat(20_000);
    let markdown = wiki_to_markdown(&wiki);
    assert_eq!(markdown.matches("text").count(), 20_000);
}

#[test]
fn wiki_macros_one_line() {
    let wiki = "{quote}a{quote}".repeat(20_000);
    let markdown = wiki_to_markdown(&wiki);
    assert_eq!(markdown.matches('a').count(), 20_000);
}
