//! Document tree to wiki markup.
//!
//! Wiki markup cannot express everything the tree holds. Ordered lists
//! always start at 1, and a list item holds one line: further paragraphs and
//! code blocks of an item are joined to that line with `\\` line breaks.

use super::inline::BACKSLASH_ENTITY;
use crate::model::{Block, Inline, Marks, flatten_blocks};

/// Renders a normalized document tree as wiki markup.
pub(crate) fn render_wiki(blocks: &[Block]) -> String {
    blocks
        .iter()
        .map(render_block)
        .collect::<Vec<_>>()
        .join("\n\n")
}

fn render_block(block: &Block) -> String {
    match block {
        Block::Paragraph(inlines) => render_inlines(inlines, false),
        Block::Heading(level, inlines) => {
            let text = render_inlines(inlines, false);
            if text.is_empty() {
                format!("h{level}.")
            } else {
                format!("h{level}. {text}")
            }
        }
        Block::Code { language, text } => render_code_block(language.as_deref(), text),
        Block::Quote(children) => format!("{{quote}}\n{}\n{{quote}}", render_wiki(children)),
        Block::BulletList(items) => render_items(items, false, "").join("\n"),
        Block::OrderedList(_, items) => render_items(items, true, "").join("\n"),
        Block::Rule => "----".to_string(),
    }
}

/// Writes a code block as `{code:language}` or, without a language,
/// `{noformat}`, switching to the other macro when the text contains the
/// closing tag.
fn render_code_block(language: Option<&str>, text: &str) -> String {
    // Parameters are separated by `|` and `=` marks a named parameter.
    let language = language.filter(|language| !language.contains(['}', '|', '=', ':']));
    let code_tag = match language {
        Some(language) if !text.contains("{code}") => format!("{{code:{language}}}"),
        _ if text.contains("{noformat}") => "{code}".to_string(),
        _ => "{noformat}".to_string(),
    };
    // NOTE: text that contains both `{code}` and `{noformat}` ends the
    // block early in Jira, because neither macro has an escape.
    let closing = if code_tag.starts_with("{code") {
        "{code}"
    } else {
        "{noformat}"
    };
    if text.is_empty() {
        format!("{code_tag}\n{closing}")
    } else {
        format!("{code_tag}\n{text}\n{closing}")
    }
}

/// Renders list items, one line each, with nested lists after the line.
fn render_items(items: &[Vec<Block>], ordered: bool, prefix: &str) -> Vec<String> {
    let marker = format!("{prefix}{}", if ordered { '#' } else { '*' });
    let mut lines = Vec::new();
    for item in items {
        let mut inlines: Vec<Inline> = Vec::new();
        let mut nested = Vec::new();
        for block in item {
            match block {
                Block::BulletList(items) => nested.extend(render_items(items, false, &marker)),
                Block::OrderedList(_, items) => nested.extend(render_items(items, true, &marker)),
                other => {
                    if !inlines.is_empty() {
                        inlines.push(Inline::Break);
                    }
                    let mut flat = Vec::new();
                    flatten_blocks(std::slice::from_ref(other), &mut flat);
                    inlines.extend(flat);
                }
            }
        }
        let text = render_inlines(&inlines, true);
        lines.push(if text.is_empty() {
            marker.clone()
        } else {
            format!("{marker} {text}")
        });
        lines.extend(nested);
    }
    lines
}

/// Renders inline content. Breaks become newlines, except in list items and
/// for second and later breaks in a row, which use `\\` because a blank
/// line would end the paragraph.
fn render_inlines(inlines: &[Inline], in_list_item: bool) -> String {
    let mut out = String::new();
    let mut line: Vec<(&str, &Marks)> = Vec::new();
    let mut index = 0;
    while index < inlines.len() {
        match &inlines[index] {
            Inline::Text(text, marks) => line.push((text, marks)),
            Inline::Break => {
                out.push_str(&render_line(&line));
                line.clear();
                let breaks = inlines[index..]
                    .iter()
                    .take_while(|inline| **inline == Inline::Break)
                    .count();
                if in_list_item {
                    out.push_str(&"\\\\".repeat(breaks));
                } else {
                    out.push_str(&"\\\\".repeat(breaks - 1));
                    out.push('\n');
                }
                index += breaks;
                continue;
            }
        }
        index += 1;
    }
    out.push_str(&render_line(&line));
    out
}

/// Mark written with delimiters around several text nodes.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Span {
    Link(String),
    Strong,
    Strike,
    Em,
}

fn spans_of(marks: &Marks) -> Vec<Span> {
    let mut spans = Vec::new();
    if let Some(href) = &marks.link {
        spans.push(Span::Link(href.clone()));
    }
    for (set, span) in [
        (marks.strong, Span::Strong),
        (marks.strike, Span::Strike),
        (marks.em, Span::Em),
    ] {
        if set {
            spans.push(span);
        }
    }
    spans
}

fn run_length(texts: &[(&str, &Marks)], start: usize, span: &Span) -> usize {
    texts[start..]
        .iter()
        .take_while(|(_, marks)| spans_of(marks).contains(span))
        .count()
}

fn render_line(texts: &[(&str, &Marks)]) -> String {
    let mut out = String::new();
    let mut stack: Vec<(Span, String)> = Vec::new();
    for (index, (text, marks)) in texts.iter().enumerate() {
        let wanted = spans_of(marks);
        let keep = stack
            .iter()
            .take_while(|(span, _)| wanted.contains(span))
            .count();
        while stack.len() > keep {
            if let Some((_, closing)) = stack.pop() {
                out.push_str(&closing);
            }
        }
        if is_bare_link(texts, index) {
            out.push_str(&format!("[{}]", escape_href(text)));
            continue;
        }
        let mut opening: Vec<Span> = wanted
            .into_iter()
            .filter(|span| !stack.iter().any(|(open, _)| open == span))
            .collect();
        opening.sort_by_key(|span| std::cmp::Reverse(run_length(texts, index, span)));
        for span in opening {
            let run = run_length(texts, index, &span);
            let next = texts
                .get(index + run)
                .and_then(|(text, _)| text.chars().next());
            let closing = open_span(&mut out, &span, next);
            stack.push((span, closing));
        }
        if marks.code {
            // NOTE: wiki markup has no escape inside `{{...}}`, so code that
            // contains `}}` or ends with `}` ends early when parsed.
            out.push_str(&format!("{{{{{text}}}}}"));
        } else {
            out.push_str(&escape_text(text, out.is_empty()));
        }
    }
    while let Some((_, closing)) = stack.pop() {
        out.push_str(&closing);
    }
    out
}

/// Returns whether the node is a link whose text is its URL and nothing
/// else, written as `[url]`.
fn is_bare_link(texts: &[(&str, &Marks)], index: usize) -> bool {
    let (text, marks) = texts[index];
    let href = marks.link.as_deref();
    let same_link = |other: Option<&(&str, &Marks)>| {
        other.is_some_and(|(_, marks)| marks.link.as_deref() == href)
    };
    href == Some(text)
        && *marks == marks.link_only()
        && super::inline::is_url(text)
        && !same_link(
            index
                .checked_sub(1)
                .and_then(|previous| texts.get(previous)),
        )
        && !same_link(texts.get(index + 1))
}

/// Writes the opening delimiter of `span` and returns its closing one.
/// Markers next to a letter or digit use the brace form, such as `{*}`.
fn open_span(out: &mut String, span: &Span, next: Option<char>) -> String {
    let marker = match span {
        Span::Link(href) => {
            out.push('[');
            return format!("|{}]", escape_href(href));
        }
        Span::Strong => '*',
        Span::Em => '_',
        Span::Strike => '-',
    };
    let in_word = out.chars().last().is_some_and(char::is_alphanumeric)
        || next.is_some_and(char::is_alphanumeric);
    let delimiter = if in_word {
        format!("{{{marker}}}")
    } else {
        marker.to_string()
    };
    out.push_str(&delimiter);
    delimiter
}

/// Percent-encodes the characters that end a link's URL part.
fn escape_href(href: &str) -> String {
    href.replace('|', "%7C").replace(']', "%5D")
}

fn escape_text(text: &str, line_start: bool) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len() + 8);
    let block_escape = if line_start {
        line_start_escape(&chars)
    } else {
        None
    };
    let mut index = 0;
    while index < chars.len() {
        if let Some(length) = mention_length(&chars[index..]) {
            out.extend(&chars[index..index + length]);
            index += length;
            continue;
        }
        let c = chars[index];
        if c == '\\' && backslash_needs_entity(&chars, index) {
            out.push_str(BACKSLASH_ENTITY);
        } else {
            if block_escape == Some(index) || needs_escape(&chars, index) {
                out.push('\\');
            }
            out.push(c);
        }
        index += 1;
    }
    out
}

/// Length of a `[~user]` mention at the start of `chars`, which stays
/// unescaped so Jira still links the user.
fn mention_length(chars: &[char]) -> Option<usize> {
    if !chars.starts_with(&['[', '~']) {
        return None;
    }
    let name_length = chars[2..]
        .iter()
        .take_while(|c| **c != ']' && **c != '[' && !c.is_whitespace())
        .count();
    let closes = chars.get(2 + name_length) == Some(&']');
    (name_length > 0 && closes).then_some(name_length + 3)
}

/// Returns whether a backslash must be written as an entity: before
/// punctuation, or at the end of a text node where markup may follow, a
/// plain backslash would escape the next character.
fn backslash_needs_entity(chars: &[char], index: usize) -> bool {
    chars
        .get(index + 1)
        .is_none_or(|next| next.is_ascii_punctuation())
}

fn needs_escape(chars: &[char], index: usize) -> bool {
    let previous = index.checked_sub(1).map(|index| chars[index]);
    let next = chars.get(index + 1).copied();
    match chars[index] {
        '*' | '_' | '-' | '+' | '^' | '~' => may_delimit(previous, next),
        '{' | '[' | ']' | '|' => true,
        '!' => next.is_some_and(|next| !next.is_whitespace()),
        '?' => previous == Some('?') || next == Some('?'),
        '&' => chars[index..].starts_with(&['&', '#', '9', '2', ';']),
        _ => false,
    }
}

/// Returns whether a phrase marker with these neighbours could open or close
/// formatting. A missing neighbour (the edge of a text node) may be anything.
fn may_delimit(previous: Option<char>, next: Option<char>) -> bool {
    let (Some(previous), Some(next)) = (previous, next) else {
        return true;
    };
    let opens = !previous.is_alphanumeric() && !next.is_whitespace();
    let closes = !previous.is_whitespace() && !next.is_alphanumeric();
    opens || closes
}

/// Returns the index of the character to escape so that a line starting
/// with `chars` is not read as a heading, quote or list item.
fn line_start_escape(chars: &[char]) -> Option<usize> {
    match chars {
        ['h', '1'..='6', '.', ..] | ['b', 'q', '.', ..] => Some(2),
        ['#', ..] => Some(0),
        _ => None,
    }
}
