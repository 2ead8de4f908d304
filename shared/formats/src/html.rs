//! Document tree to HTML, and HTML (parsed with scraper's html5ever) to document tree.
//!
//! The HTML written here uses only the elements that the reader maps back to
//! the same tree, so Markdown converted to HTML and back has the same
//! canonical form. The reader also accepts the HTML that rich-text editors
//! such as Azure DevOps' write: `div` and `span` wrappers, `b`, `i`, `s` and
//! `u`, tables, and whitespace between elements.

use scraper::{ElementRef, Html, Node};

use crate::model::{Block, Inline, MAX_DEPTH, Marks};
use crate::normalize::{MAX_LIST_START, normalize_blocks};

/// Writes a normalized document tree as an HTML fragment.
pub(crate) fn render_html(blocks: &[Block]) -> String {
    let mut out = String::new();
    for block in blocks {
        render_block(block, &mut out);
    }
    out
}

fn render_block(block: &Block, out: &mut String) {
    match block {
        Block::Paragraph(inlines) => {
            out.push_str("<p>");
            render_inlines(inlines, out);
            out.push_str("</p>");
        }
        Block::Heading(level, inlines) => {
            out.push_str(&format!("<h{level}>"));
            render_inlines(inlines, out);
            out.push_str(&format!("</h{level}>"));
        }
        Block::Code { language, text } => {
            match language {
                Some(language) => out.push_str(&format!(
                    "<pre><code class=\"language-{}\">",
                    escape(language)
                )),
                None => out.push_str("<pre><code>"),
            }
            out.push_str(&escape(text));
            out.push_str("</code></pre>");
        }
        Block::Quote(children) => {
            out.push_str("<blockquote>");
            for child in children {
                render_block(child, out);
            }
            out.push_str("</blockquote>");
        }
        Block::BulletList(items) => {
            out.push_str("<ul>");
            render_items(items, out);
            out.push_str("</ul>");
        }
        Block::OrderedList(start, items) => {
            if *start == 1 {
                out.push_str("<ol>");
            } else {
                out.push_str(&format!("<ol start=\"{start}\">"));
            }
            render_items(items, out);
            out.push_str("</ol>");
        }
        Block::Rule => out.push_str("<hr>"),
    }
}

fn render_items(items: &[Vec<Block>], out: &mut String) {
    for item in items {
        out.push_str("<li>");
        for block in item {
            render_block(block, out);
        }
        out.push_str("</li>");
    }
}

fn render_inlines(inlines: &[Inline], out: &mut String) {
    for inline in inlines {
        match inline {
            Inline::Break => out.push_str("<br>"),
            Inline::Text(text, marks) => render_text(text, marks, out),
        }
    }
}

fn render_text(text: &str, marks: &Marks, out: &mut String) {
    let mut open = String::new();
    let mut close = Vec::new();
    if let Some(link) = &marks.link {
        open.push_str(&format!("<a href=\"{}\">", escape(link)));
        close.push("</a>");
    }
    for (on, tag) in [
        (marks.strong, "strong"),
        (marks.em, "em"),
        (marks.strike, "del"),
        (marks.code, "code"),
    ] {
        if on {
            open.push_str(&format!("<{tag}>"));
            close.push(match tag {
                "strong" => "</strong>",
                "em" => "</em>",
                "del" => "</del>",
                _ => "</code>",
            });
        }
    }
    out.push_str(&open);
    out.push_str(&escape(text));
    for tag in close.iter().rev() {
        out.push_str(tag);
    }
}

/// Escapes text for element content and double-quoted attribute values.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            _ => out.push(c),
        }
    }
    out
}

/// Parses an HTML fragment into a normalized document tree.
pub(crate) fn parse_html(html: &str) -> Vec<Block> {
    let fragment = Html::parse_fragment(html);
    let blocks = read_blocks(fragment.root_element(), 0);
    normalize_blocks(blocks)
}

/// Collects the blocks of an element whose children mix inline and block content: runs of
/// inline content become paragraphs.
fn read_blocks(element: ElementRef<'_>, depth: usize) -> Vec<Block> {
    let mut blocks = Vec::new();
    let mut inlines = Vec::new();
    for child in element.children() {
        match child.value() {
            Node::Text(text) => inlines.push(Inline::plain(collapse(text))),
            Node::Element(_) => {
                let Some(child) = ElementRef::wrap(child) else {
                    continue;
                };
                let name = child.value().name();
                if is_block(name) {
                    flush(&mut inlines, &mut blocks);
                    read_block(child, name, depth + 1, &mut blocks);
                } else {
                    read_inline(child, &Marks::default(), depth + 1, &mut inlines);
                }
            }
            _ => {}
        }
    }
    flush(&mut inlines, &mut blocks);
    blocks
}

fn flush(inlines: &mut Vec<Inline>, blocks: &mut Vec<Block>) {
    let visible = inlines.iter().any(|inline| match inline {
        Inline::Text(text, _) => !text.trim().is_empty(),
        Inline::Break => true,
    });
    if visible {
        blocks.push(Block::Paragraph(std::mem::take(inlines)));
    }
    inlines.clear();
}

fn is_block(name: &str) -> bool {
    matches!(
        name,
        "p" | "div"
            | "section"
            | "article"
            | "header"
            | "footer"
            | "h1"
            | "h2"
            | "h3"
            | "h4"
            | "h5"
            | "h6"
            | "ul"
            | "ol"
            | "li"
            | "pre"
            | "blockquote"
            | "hr"
            | "table"
            | "thead"
            | "tbody"
            | "tr"
    )
}

fn read_block(element: ElementRef<'_>, name: &str, depth: usize, out: &mut Vec<Block>) {
    if depth > MAX_DEPTH {
        out.push(Block::Paragraph(vec![Inline::plain(text_of(element))]));
        return;
    }
    match name {
        "h1" | "h2" | "h3" | "h4" | "h5" | "h6" => {
            let level = name[1..].parse().unwrap_or(1);
            let mut inlines = Vec::new();
            read_inline(element, &Marks::default(), depth, &mut inlines);
            out.push(Block::Heading(level, inlines));
        }
        "ul" => out.push(Block::BulletList(read_items(element, depth))),
        "ol" => {
            let start = element
                .value()
                .attr("start")
                .and_then(|start| start.trim().parse::<u64>().ok())
                .unwrap_or(1)
                .min(MAX_LIST_START);
            out.push(Block::OrderedList(start, read_items(element, depth)));
        }
        "pre" => {
            let language = element
                .children()
                .filter_map(ElementRef::wrap)
                .find(|child| child.value().name() == "code")
                .and_then(|code| code.value().attr("class"))
                .and_then(|class| {
                    class
                        .split_whitespace()
                        .find_map(|name| name.strip_prefix("language-"))
                })
                .map(str::to_owned);
            let text = text_of(element);
            let text = text.strip_suffix('\n').unwrap_or(&text).to_owned();
            out.push(Block::Code { language, text });
        }
        "blockquote" => out.push(Block::Quote(read_blocks(element, depth))),
        "hr" => out.push(Block::Rule),
        "table" | "thead" | "tbody" => {
            for child in element.children().filter_map(ElementRef::wrap) {
                let name = child.value().name();
                if is_block(name) {
                    read_block(child, name, depth + 1, out);
                }
            }
        }
        "tr" => {
            let cells: Vec<String> = element
                .children()
                .filter_map(ElementRef::wrap)
                .map(|cell| collapse(&text_of(cell)).trim().to_owned())
                .collect();
            out.push(Block::Paragraph(vec![Inline::plain(cells.join(" | "))]));
        }
        // p, div, li outside a list and the other wrappers keep their mixed content.
        _ => out.extend(read_blocks(element, depth)),
    }
}

fn read_items(list: ElementRef<'_>, depth: usize) -> Vec<Vec<Block>> {
    list.children()
        .filter_map(ElementRef::wrap)
        .filter(|child| child.value().name() == "li")
        .map(|item| read_blocks(item, depth + 1))
        .collect()
}

fn read_inline(element: ElementRef<'_>, marks: &Marks, depth: usize, out: &mut Vec<Inline>) {
    let name = element.value().name();
    if matches!(name, "script" | "style" | "template") {
        return;
    }
    if name == "br" {
        out.push(Inline::Break);
        return;
    }
    if name == "img" {
        if let Some(alt) = element.value().attr("alt") {
            out.push(Inline::Text(alt.to_owned(), marks.clone()));
        }
        return;
    }
    if depth > MAX_DEPTH {
        out.push(Inline::Text(collapse(&text_of(element)), marks.clone()));
        return;
    }
    let mut marks = marks.clone();
    match name {
        "strong" | "b" => marks.strong = true,
        "em" | "i" => marks.em = true,
        "del" | "s" | "strike" => marks.strike = true,
        "code" | "tt" | "kbd" => marks.code = true,
        "a" => marks.link = element.value().attr("href").map(str::to_owned),
        _ => {}
    }
    for child in element.children() {
        match child.value() {
            Node::Text(text) => out.push(Inline::Text(collapse(text), marks.clone())),
            Node::Element(_) => {
                if let Some(child) = ElementRef::wrap(child) {
                    read_inline(child, &marks, depth + 1, out);
                }
            }
            _ => {}
        }
    }
}

/// Returns the text content of an element, as written.
fn text_of(element: ElementRef<'_>) -> String {
    let mut text = String::new();
    for node in element.descendants() {
        match node.value() {
            Node::Text(part) => text.push_str(part),
            Node::Element(inner) if inner.name() == "br" => text.push('\n'),
            _ => {}
        }
    }
    text
}

/// Collapses runs of HTML whitespace into one space, as a browser shows them.
fn collapse(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut space = false;
    for c in text.chars() {
        if matches!(c, ' ' | '\t' | '\n' | '\r' | '\u{c}') {
            space = true;
        } else {
            if space {
                out.push(' ');
            }
            space = false;
            out.push(c);
        }
    }
    if space {
        out.push(' ');
    }
    out
}

/// Returns the visible text of blocks, for tests.
#[cfg(test)]
fn visible(blocks: &[Block]) -> String {
    blocks
        .iter()
        .map(|block| match block {
            Block::Paragraph(inlines) | Block::Heading(_, inlines) => {
                crate::model::plain_text(inlines)
            }
            _ => String::new(),
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn editor_html_reads_as_paragraphs() {
        let blocks = parse_html("<div>First <b>bold</b></div>\n<div>Second&nbsp;line</div>");
        assert_eq!(visible(&blocks), "First bold\nSecond\u{a0}line");
    }

    #[test]
    fn table_rows_become_paragraphs() {
        let blocks = parse_html("<table><tr><td>a</td><td>b</td></tr></table>");
        assert_eq!(visible(&blocks), "a | b");
    }

    #[test]
    fn escape_covers_markup() {
        assert_eq!(
            escape("<a href=\"x\">&"),
            "&lt;a href=&quot;x&quot;&gt;&amp;"
        );
    }
}
