//! Document tree to Markdown.
//!
//! The output is meant to parse back into the same normalized tree, which
//! makes [`crate::canonical_markdown`] stable. Each paragraph and heading is
//! parsed again after rendering. If the text does not come back unchanged
//! (emphasis next to punctuation can defeat CommonMark's delimiter rules),
//! other strong and em delimiters are tried, then the text is written without
//! strong, em and strike marks, and finally without any marks.

mod inline;

use crate::markdown_adf::parse_markdown;
use crate::model::{Block, Inline, Marks};
use crate::normalize::normalize_inlines;
use inline::{EmphasisStyle, render_inlines};

/// Renders a normalized document tree as Markdown without a final newline.
pub(crate) fn render_markdown(blocks: &[Block]) -> String {
    render_blocks(blocks, false)
}

/// Renders sibling blocks. Inside a list item a list may follow a paragraph
/// directly, which keeps the list tight.
fn render_blocks(blocks: &[Block], in_item: bool) -> String {
    let mut out = String::new();
    let mut previous: Option<&Block> = None;
    let mut alternate_marker = false;
    for (index, block) in blocks.iter().enumerate() {
        if let Some(previous) = previous {
            out.push_str(separator(previous, block, in_item));
        }
        // Adjacent lists of the same kind need different markers, or
        // Markdown would join them into one list.
        alternate_marker = same_list_kind(previous, block) && !alternate_marker;
        let item_start = in_item && index == 0;
        out.push_str(&render_block(block, item_start, alternate_marker));
        previous = Some(block);
    }
    out
}

fn same_list_kind(previous: Option<&Block>, block: &Block) -> bool {
    matches!(
        (previous, block),
        (Some(Block::BulletList(_)), Block::BulletList(_))
            | (Some(Block::OrderedList(..)), Block::OrderedList(..))
    )
}

fn separator(previous: &Block, next: &Block, in_item: bool) -> &'static str {
    let empty_paragraph = matches!(previous, Block::Paragraph(inlines) if inlines.is_empty());
    let tight_list =
        in_item && matches!(previous, Block::Paragraph(_)) && can_interrupt_paragraph(next);
    if empty_paragraph || tight_list {
        "\n"
    } else {
        "\n\n"
    }
}

/// Returns whether CommonMark lets `block` start right after a paragraph
/// line: only a list whose first item is not empty, and for an ordered list
/// only one that starts at 1.
fn can_interrupt_paragraph(block: &Block) -> bool {
    let items = match block {
        Block::BulletList(items) => items,
        Block::OrderedList(1, items) => items,
        _ => return false,
    };
    let first_block = items.first().and_then(|item| item.first());
    match first_block {
        Some(Block::Paragraph(inlines)) => !inlines.is_empty(),
        Some(Block::Code { .. }) => true,
        _ => false,
    }
}

fn render_block(block: &Block, item_start: bool, alternate_marker: bool) -> String {
    match block {
        Block::Paragraph(inlines) => render_paragraph(inlines, item_start),
        Block::Heading(level, inlines) => render_heading(*level, inlines),
        Block::Code { language, text } => render_code_block(language.as_deref(), text),
        Block::Quote(children) => prefix_lines(&render_blocks(children, false), "> ", ">"),
        Block::BulletList(items) => {
            let marker = if alternate_marker { "*" } else { "-" };
            render_items(items, |_| marker.to_string())
        }
        Block::OrderedList(start, items) => {
            let delimiter = if alternate_marker { ')' } else { '.' };
            render_items(items, |index| {
                format!("{}{delimiter}", item_number(*start, index))
            })
        }
        Block::Rule => "---".to_string(),
    }
}

/// Numbers items from `start`, falling back to `start` where the number
/// would exceed the nine digits CommonMark allows.
fn item_number(start: u64, index: usize) -> u64 {
    let number = start.saturating_add(index as u64);
    if number > crate::normalize::MAX_LIST_START {
        start
    } else {
        number
    }
}

fn render_items(items: &[Vec<Block>], marker: impl Fn(usize) -> String) -> String {
    let mut lines = Vec::new();
    for (index, item) in items.iter().enumerate() {
        let marker = marker(index);
        let indent = " ".repeat(marker.len() + 1);
        let body = render_blocks(item, true);
        for (line_index, line) in body.split('\n').enumerate() {
            lines.push(match (line_index, line.is_empty()) {
                (0, true) => marker.clone(),
                (0, false) => format!("{marker} {line}"),
                (_, true) => String::new(),
                (_, false) => format!("{indent}{line}"),
            });
        }
    }
    lines.join("\n")
}

fn prefix_lines(text: &str, prefix: &str, empty_prefix: &str) -> String {
    text.split('\n')
        .map(|line| {
            if line.is_empty() {
                empty_prefix.to_string()
            } else {
                format!("{prefix}{line}")
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn render_paragraph(inlines: &[Inline], item_start: bool) -> String {
    render_checked(inlines, |inlines, style| {
        let text = render_inlines(inlines, style, false, item_start);
        let expected = vec![Block::Paragraph(inlines.to_vec())];
        (parse_markdown(&text) == expected).then_some(text)
    })
}

fn render_heading(level: u8, inlines: &[Inline]) -> String {
    let hashes = "#".repeat(usize::from(level));
    render_checked(inlines, |inlines, style| {
        let text = render_inlines(inlines, style, true, false);
        let text = if text.is_empty() {
            hashes.clone()
        } else {
            format!("{hashes} {text}")
        };
        let expected = vec![Block::Heading(level, inlines.to_vec())];
        (parse_markdown(&text) == expected).then_some(text)
    })
}

/// Renders inline content with the first strategy whose output parses back
/// to the same content, as described in the module documentation.
fn render_checked(
    inlines: &[Inline],
    render: impl Fn(&[Inline], EmphasisStyle) -> Option<String>,
) -> String {
    if inlines.is_empty() {
        return render(inlines, EmphasisStyle::DEFAULT).unwrap_or_default();
    }
    for style in EmphasisStyle::all() {
        if let Some(text) = render(inlines, style) {
            return text;
        }
    }
    let links_only = strip_marks(inlines, Marks::link_only);
    if let Some(text) = render(&links_only, EmphasisStyle::DEFAULT) {
        return text;
    }
    let plain = strip_marks(inlines, |_| Marks::default());
    match render(&plain, EmphasisStyle::DEFAULT) {
        Some(text) => text,
        // NOTE: plain text parses back unless escaping misses a case. The
        // unchecked text is still the best output available then.
        None => render_inlines(&plain, EmphasisStyle::DEFAULT, false, false),
    }
}

fn strip_marks(inlines: &[Inline], keep: impl Fn(&Marks) -> Marks) -> Vec<Inline> {
    let stripped = inlines
        .iter()
        .map(|inline| match inline {
            Inline::Text(text, marks) => Inline::Text(text.clone(), keep(marks)),
            Inline::Break => Inline::Break,
        })
        .collect();
    normalize_inlines(stripped)
}

fn render_code_block(language: Option<&str>, text: &str) -> String {
    // A backtick fence cannot carry backticks in its info string.
    let fence_char = if language.is_some_and(|language| language.contains('`')) {
        '~'
    } else {
        '`'
    };
    let longest_run = inline::longest_run(text, fence_char);
    let fence = fence_char.to_string().repeat((longest_run + 1).max(3));
    let info = language
        .map(|language| escape_info(language, fence_char))
        .unwrap_or_default();
    if text.is_empty() {
        format!("{fence}{info}\n{fence}")
    } else {
        format!("{fence}{info}\n{text}\n{fence}")
    }
}

/// Escapes an info string: CommonMark applies backslash escapes and entity
/// references to it, and a leading fence character would lengthen the fence.
fn escape_info(language: &str, fence_char: char) -> String {
    let mut out = String::new();
    let chars: Vec<char> = language.chars().collect();
    for (index, &c) in chars.iter().enumerate() {
        let next = chars.get(index + 1).copied();
        let escape = match c {
            '\\' => next.is_none_or(|next| next.is_ascii_punctuation()),
            '&' => inline::starts_entity(&chars[index + 1..]),
            _ => index == 0 && c == fence_char,
        };
        if escape {
            out.push('\\');
        }
        out.push(c);
    }
    out
}
