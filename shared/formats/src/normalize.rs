//! Normal form of the document tree.
//!
//! Every converter normalizes the tree before writing it out, so equal
//! content yields equal output. The rules keep the tree within what both ADF
//! and CommonMark can express. ADF forbids empty text nodes and limits which
//! blocks a list item or quote may hold. CommonMark drops whitespace at line
//! edges and cannot open emphasis next to a space.

use crate::model::{Block, Inline, Marks};

/// Largest start number of an ordered list that CommonMark accepts (nine digits).
pub(crate) const MAX_LIST_START: u64 = 999_999_999;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Context {
    Top,
    Quote,
    ListItem,
}

/// Rewrites blocks into normal form. Applying it twice changes nothing.
pub(crate) fn normalize_blocks(blocks: Vec<Block>) -> Vec<Block> {
    normalize_in(blocks, Context::Top)
}

fn normalize_in(blocks: Vec<Block>, context: Context) -> Vec<Block> {
    let mut out = Vec::new();
    for block in blocks {
        push_normalized(block, context, &mut out);
    }
    out
}

fn push_normalized(block: Block, context: Context, out: &mut Vec<Block>) {
    match block {
        Block::Paragraph(inlines) => {
            let inlines = normalize_inlines(inlines);
            if !inlines.is_empty() {
                out.push(Block::Paragraph(inlines));
            }
        }
        // ADF allows headings only at the top level of a document.
        Block::Heading(level, inlines) if context == Context::Top => {
            out.push(Block::Heading(
                level.clamp(1, 6),
                normalize_heading(inlines),
            ));
        }
        Block::Heading(_, inlines) => push_normalized(Block::Paragraph(inlines), context, out),
        Block::Code { language, text } => out.push(Block::Code {
            language: normalize_language(language),
            text: clean_text(&text),
        }),
        // ADF quotes cannot nest and list items cannot hold quotes, so inner
        // quotes are replaced by their content.
        Block::Quote(children) if context == Context::Top => {
            let children = normalize_in(children, Context::Quote);
            if !children.is_empty() {
                out.push(Block::Quote(children));
            }
        }
        Block::Quote(children) => {
            for child in children {
                push_normalized(child, context, out);
            }
        }
        Block::BulletList(items) => {
            let items = normalize_items(items);
            if !items.is_empty() {
                out.push(Block::BulletList(items));
            }
        }
        Block::OrderedList(start, items) => {
            let items = normalize_items(items);
            if !items.is_empty() {
                out.push(Block::OrderedList(start.min(MAX_LIST_START), items));
            }
        }
        // ADF allows rules only at the top level, and a rule has no text to lose.
        Block::Rule if context == Context::Top => out.push(Block::Rule),
        Block::Rule => {}
    }
}

/// Normalizes list items. ADF requires a list item to start with a paragraph
/// or code block, so an empty paragraph is inserted where needed.
fn normalize_items(items: Vec<Vec<Block>>) -> Vec<Vec<Block>> {
    items
        .into_iter()
        .map(|item| {
            let mut blocks = normalize_in(item, Context::ListItem);
            let starts_well = matches!(
                blocks.first(),
                Some(Block::Paragraph(_) | Block::Code { .. })
            );
            if !starts_well {
                blocks.insert(0, Block::Paragraph(Vec::new()));
            }
            blocks
        })
        .collect()
}

fn normalize_language(language: Option<String>) -> Option<String> {
    let language = clean_text(&language?);
    language.split_whitespace().next().map(str::to_string)
}

/// Converts line endings to `\n` and NUL to U+FFFD, as CommonMark parsing does.
pub(crate) fn clean_text(text: &str) -> String {
    text.replace("\r\n", "\n")
        .replace('\r', "\n")
        .replace('\0', "\u{FFFD}")
}

/// Normalizes heading content: line breaks become spaces.
fn normalize_heading(inlines: Vec<Inline>) -> Vec<Inline> {
    let spaced = normalize_inlines(inlines)
        .into_iter()
        .map(|inline| match inline {
            Inline::Break => Inline::plain(" "),
            text => text,
        })
        .collect();
    merge_texts(spaced)
}

/// Normalizes paragraph content.
pub(crate) fn normalize_inlines(inlines: Vec<Inline>) -> Vec<Inline> {
    let nodes = split_lines(inlines);
    let nodes = unmark_edge_whitespace(nodes);
    let nodes = trim_line_starts(nodes);
    let nodes = trim_line_ends(nodes);
    let nodes = strip_edge_breaks(nodes);
    merge_texts(nodes)
}

/// Cleans each text node, turns newlines in plain text into breaks, drops
/// empty text, and keeps only the link mark beside `code` because ADF allows
/// no other combination.
fn split_lines(inlines: Vec<Inline>) -> Vec<Inline> {
    let mut out = Vec::new();
    for inline in inlines {
        let (text, marks) = match inline {
            Inline::Break => {
                out.push(Inline::Break);
                continue;
            }
            Inline::Text(text, marks) => (clean_text(&text), clean_marks(marks)),
        };
        if marks.code {
            // CommonMark turns line endings inside a code span into spaces.
            push_text(&mut out, text.replace('\n', " "), marks);
            continue;
        }
        for (index, line) in text.split('\n').enumerate() {
            if index > 0 {
                out.push(Inline::Break);
            }
            push_text(&mut out, line.to_string(), marks.clone());
        }
    }
    out
}

fn push_text(out: &mut Vec<Inline>, text: String, marks: Marks) {
    if !text.is_empty() {
        out.push(Inline::Text(text, marks));
    }
}

fn clean_marks(marks: Marks) -> Marks {
    let link = marks
        .link
        .as_deref()
        .filter(|href| !href.is_empty())
        .map(normalize_href);
    if marks.code {
        Marks {
            code: true,
            link,
            ..Marks::default()
        }
    } else {
        Marks { link, ..marks }
    }
}

/// Percent-encodes spaces and control characters, which a Markdown link
/// destination cannot hold unescaped.
fn normalize_href(href: &str) -> String {
    let mut out = String::with_capacity(href.len());
    for c in clean_text(href).chars() {
        if c == ' ' || c.is_ascii_control() {
            out.push_str(&format!("%{:02X}", c as u32));
        } else {
            out.push(c);
        }
    }
    out
}

#[derive(Clone, Copy)]
enum Emphasis {
    Strong,
    Em,
    Strike,
}

fn has_emphasis(inline: &Inline, kind: Emphasis) -> bool {
    match inline {
        Inline::Text(_, marks) => emphasis_flag(marks, kind),
        Inline::Break => false,
    }
}

fn emphasis_flag(marks: &Marks, kind: Emphasis) -> bool {
    match kind {
        Emphasis::Strong => marks.strong,
        Emphasis::Em => marks.em,
        Emphasis::Strike => marks.strike,
    }
}

fn without_emphasis(marks: &Marks, kind: Emphasis) -> Marks {
    let mut marks = marks.clone();
    match kind {
        Emphasis::Strong => marks.strong = false,
        Emphasis::Em => marks.em = false,
        Emphasis::Strike => marks.strike = false,
    }
    marks
}

/// Moves whitespace at the edges of each strong, em and strike run out of
/// the mark. CommonMark cannot open emphasis before a space or close it after
/// one, so such a mark could not be written back.
fn unmark_edge_whitespace(nodes: Vec<Inline>) -> Vec<Inline> {
    let mut nodes = nodes;
    for kind in [Emphasis::Strong, Emphasis::Em, Emphasis::Strike] {
        nodes = unmark_runs(nodes, kind);
    }
    nodes
}

fn unmark_runs(nodes: Vec<Inline>, kind: Emphasis) -> Vec<Inline> {
    let mut out = Vec::new();
    let mut run = Vec::new();
    for node in nodes {
        if has_emphasis(&node, kind) {
            run.push(node);
            continue;
        }
        flush_run(&mut run, kind, &mut out);
        out.push(node);
    }
    flush_run(&mut run, kind, &mut out);
    out
}

fn flush_run(run: &mut Vec<Inline>, kind: Emphasis, out: &mut Vec<Inline>) {
    let mut texts: Vec<(String, Marks)> = run
        .drain(..)
        .filter_map(|node| match node {
            Inline::Text(text, marks) => Some((text, marks)),
            Inline::Break => None,
        })
        .collect();
    let leading = take_leading_whitespace(&mut texts, kind);
    let mut trailing = take_trailing_whitespace(&mut texts, kind);
    trailing.reverse();
    let pieces = leading.into_iter().chain(texts).chain(trailing);
    out.extend(pieces.map(|(text, marks)| Inline::Text(text, marks)));
}

fn take_leading_whitespace(
    texts: &mut Vec<(String, Marks)>,
    kind: Emphasis,
) -> Vec<(String, Marks)> {
    let mut taken = Vec::new();
    while let Some((text, marks)) = texts.first_mut() {
        let rest = text.trim_start();
        if rest.len() == text.len() {
            break;
        }
        let split = text.len() - rest.len();
        taken.push((text[..split].to_string(), without_emphasis(marks, kind)));
        if rest.is_empty() {
            texts.remove(0);
        } else {
            *text = text[split..].to_string();
            break;
        }
    }
    taken
}

/// Returns the whitespace taken from the end of the run, last piece first.
fn take_trailing_whitespace(
    texts: &mut Vec<(String, Marks)>,
    kind: Emphasis,
) -> Vec<(String, Marks)> {
    let mut taken = Vec::new();
    while let Some((text, marks)) = texts.last_mut() {
        let rest_len = text.trim_end().len();
        if rest_len == text.len() {
            break;
        }
        taken.push((text[rest_len..].to_string(), without_emphasis(marks, kind)));
        if rest_len == 0 {
            texts.pop();
        } else {
            text.truncate(rest_len);
            break;
        }
    }
    taken
}

/// Whitespace removed at line edges. CommonMark removes only spaces and
/// tabs, but removing all Unicode whitespace keeps the rendered Markdown
/// free of edge whitespace, so trimming it changes nothing.
fn is_line_space(c: char) -> bool {
    c.is_whitespace()
}

/// Removes whitespace after each line start, as CommonMark does with
/// paragraph lines. Code spans keep their spaces.
fn trim_line_starts(nodes: Vec<Inline>) -> Vec<Inline> {
    let mut out = Vec::with_capacity(nodes.len());
    let mut at_line_start = true;
    for node in nodes {
        match node {
            Inline::Break => {
                at_line_start = true;
                out.push(Inline::Break);
            }
            Inline::Text(text, marks) if at_line_start && !marks.code => {
                let rest = text.trim_start_matches(is_line_space);
                if !rest.is_empty() {
                    at_line_start = false;
                    out.push(Inline::Text(rest.to_string(), marks));
                }
            }
            text => {
                at_line_start = false;
                out.push(text);
            }
        }
    }
    out
}

/// Removes whitespace before each line end.
fn trim_line_ends(nodes: Vec<Inline>) -> Vec<Inline> {
    let mut reversed = Vec::with_capacity(nodes.len());
    let mut at_line_end = true;
    for node in nodes.into_iter().rev() {
        match node {
            Inline::Break => {
                at_line_end = true;
                reversed.push(Inline::Break);
            }
            Inline::Text(text, marks) if at_line_end && !marks.code => {
                let rest = text.trim_end_matches(is_line_space);
                if !rest.is_empty() {
                    at_line_end = false;
                    reversed.push(Inline::Text(rest.to_string(), marks));
                }
            }
            text => {
                at_line_end = false;
                reversed.push(text);
            }
        }
    }
    reversed.reverse();
    reversed
}

/// Drops breaks at the start and end of a paragraph, which Markdown cannot express.
fn strip_edge_breaks(mut nodes: Vec<Inline>) -> Vec<Inline> {
    while nodes.last() == Some(&Inline::Break) {
        nodes.pop();
    }
    let leading = nodes
        .iter()
        .take_while(|node| **node == Inline::Break)
        .count();
    nodes.split_off(leading)
}

/// Joins neighbouring text nodes that carry the same marks.
pub(crate) fn merge_texts(nodes: Vec<Inline>) -> Vec<Inline> {
    let mut out: Vec<Inline> = Vec::with_capacity(nodes.len());
    for node in nodes {
        if let (Some(Inline::Text(last, last_marks)), Inline::Text(text, marks)) =
            (out.last_mut(), &node)
            && last_marks == marks
        {
            last.push_str(text);
            continue;
        }
        out.push(node);
    }
    out
}
