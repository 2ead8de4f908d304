//! Markdown to HTML and back keeps the canonical Markdown, and editor HTML reads as Markdown.

use proxysync_formats::{canonical_markdown, html_to_markdown, markdown_to_html};

const SAMPLES: [&str; 9] = [
    "Plain text.",
    "It **crashes** when I _save_, see [the log](https://example.com/log?a=1&b=2).",
    "# Steps\n\n1. open\n2. save\n\n- one\n- two\n  - nested",
    "```rust\nfn main() { println!(\"<hi>\"); }\n```",
    "> quoted\n> text\n\n---\n\nafter the rule",
    "Line one\nline two with `code` and ~~gone~~.",
    "3. starts at three\n4. four",
    "Escapes: 1 < 2 & 3 > 2, \"quotes\" and *stars\\*",
    "",
];

#[test]
fn round_trip_keeps_canonical_markdown() {
    for sample in SAMPLES {
        let html = markdown_to_html(sample);
        let back = html_to_markdown(&html);
        assert_eq!(
            canonical_markdown(&back),
            canonical_markdown(sample),
            "sample {sample:?} went through {html:?}"
        );
    }
}

#[test]
fn second_round_trip_changes_nothing() {
    for sample in SAMPLES {
        let once = html_to_markdown(&markdown_to_html(sample));
        let twice = html_to_markdown(&markdown_to_html(&once));
        assert_eq!(once, twice, "sample {sample:?}");
    }
}

#[test]
fn editor_markup_reads_as_markdown() {
    let html = "<div>Steps:</div><div><ol><li>Open <b>Settings</b></li><li>Press <i>Save</i></li></ol></div><div><br></div><div><a href=\"https://example.com\">docs</a></div>";
    assert_eq!(
        html_to_markdown(html),
        "Steps:\n\n1. Open **Settings**\n2. Press _Save_\n\n[docs](https://example.com)"
    );
}

#[test]
fn scripts_are_dropped() {
    let html = "<p>Hello<script>alert(1)</script></p><style>p{}</style>";
    assert_eq!(html_to_markdown(html), "Hello");
}

#[test]
fn code_block_keeps_language_and_text() {
    let html = markdown_to_html("```sh\necho <x> && exit\n```");
    assert_eq!(
        html,
        "<pre><code class=\"language-sh\">echo &lt;x&gt; &amp;&amp; exit</code></pre>"
    );
    assert_eq!(html_to_markdown(&html), "```sh\necho <x> && exit\n```");
}
