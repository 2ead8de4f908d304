//! Inline content to Markdown: delimiters for marks, code spans, links and
//! escaping of text.

use crate::model::{Inline, Marks};

/// Choice of delimiters for strong and em marks.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) struct EmphasisStyle {
    pub(crate) strong: &'static str,
    pub(crate) em: EmDelimiter,
}

impl EmphasisStyle {
    /// The preferred delimiters.
    pub(crate) const DEFAULT: EmphasisStyle = EmphasisStyle {
        strong: "**",
        em: EmDelimiter::Auto,
    };

    /// Returns every style, the preferred one first.
    pub(crate) fn all() -> impl Iterator<Item = EmphasisStyle> {
        ["**", "__"].into_iter().flat_map(|strong| {
            [
                EmDelimiter::Auto,
                EmDelimiter::Star,
                EmDelimiter::Underscore,
            ]
            .into_iter()
            .map(move |em| EmphasisStyle { strong, em })
        })
    }
}

/// Choice of delimiter for em marks.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum EmDelimiter {
    /// `*` next to letters or digits, where `_` would not work, else `_`.
    Auto,
    Star,
    Underscore,
}

/// Mark that spans several text nodes and is written with delimiters.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Span {
    Link(String),
    Strong,
    Strike,
    Em,
}

struct OpenSpan {
    span: Span,
    closing: String,
}

/// Renders paragraph or heading content. Breaks start new lines. Text is
/// escaped for the start of a line, and `heading` also escapes every `#` so
/// none can be read as a closing sequence. With `item_start`, a leading
/// `[ ]`, `[x]` or `[X]` is left unescaped so it stays a task list marker.
pub(crate) fn render_inlines(
    inlines: &[Inline],
    style: EmphasisStyle,
    heading: bool,
    item_start: bool,
) -> String {
    let mut out = String::new();
    if inlines.is_empty() {
        return out;
    }
    for (index, line) in inlines.split(|inline| *inline == Inline::Break).enumerate() {
        if index > 0 {
            out.push('\n');
        }
        if line.is_empty() {
            // A second break in a row: a blank line would end the paragraph.
            out.push('\\');
            continue;
        }
        let texts: Vec<(&str, &Marks)> = line
            .iter()
            .filter_map(|inline| match inline {
                Inline::Text(text, marks) => Some((text.as_str(), marks)),
                Inline::Break => None,
            })
            .collect();
        let task_marker = item_start && index == 0;
        out.push_str(&render_line(&texts, style, heading, task_marker));
    }
    out
}

fn spans_of(marks: &Marks) -> Vec<Span> {
    let mut spans = Vec::new();
    if let Some(href) = &marks.link {
        spans.push(Span::Link(href.clone()));
    }
    if marks.strong {
        spans.push(Span::Strong);
    }
    if marks.strike {
        spans.push(Span::Strike);
    }
    if marks.em {
        spans.push(Span::Em);
    }
    spans
}

/// Number of nodes from `start` on that carry `span`.
fn run_length(texts: &[(&str, &Marks)], start: usize, span: &Span) -> usize {
    texts[start..]
        .iter()
        .take_while(|(_, marks)| spans_of(marks).contains(span))
        .count()
}

fn render_line(
    texts: &[(&str, &Marks)],
    style: EmphasisStyle,
    heading: bool,
    task_marker: bool,
) -> String {
    let mut out = String::new();
    let mut stack: Vec<OpenSpan> = Vec::new();
    for (index, (text, marks)) in texts.iter().enumerate() {
        let wanted = spans_of(marks);
        close_unwanted(&mut out, &mut stack, &wanted);
        if is_autolink(texts, index) {
            out.push_str(&format!("<{text}>"));
            continue;
        }
        open_wanted(&mut out, &mut stack, wanted, texts, index, style);
        if marks.code {
            out.push_str(&code_span(text));
        } else {
            let position = TextPosition {
                line_start: out.is_empty(),
                heading,
                task_marker: task_marker && index == 0 && out.is_empty(),
            };
            out.push_str(&escape_text(text, position));
        }
    }
    while let Some(open) = stack.pop() {
        out.push_str(&open.closing);
    }
    out
}

/// Returns whether the node is a link whose text is its own URL, written as
/// an autolink `<url>`. The URL must have a scheme and only characters that
/// CommonMark reads the same way inside and outside an autolink.
fn is_autolink(texts: &[(&str, &Marks)], index: usize) -> bool {
    let (text, marks) = texts[index];
    let href = marks.link.as_deref();
    let same_link = |other: Option<&(&str, &Marks)>| {
        other.is_some_and(|(_, marks)| marks.link.as_deref() == href)
    };
    let Some((scheme, _)) = text.split_once(':') else {
        return false;
    };
    let scheme_valid = (2..=32).contains(&scheme.len())
        && scheme.starts_with(|c: char| c.is_ascii_alphabetic())
        && scheme
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '.' | '-'));
    let chars_valid = text
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "-._~:/?#@!$'()+,;=%".contains(c));
    href == Some(text)
        && *marks == marks.link_only()
        && scheme_valid
        && chars_valid
        && !same_link(
            index
                .checked_sub(1)
                .and_then(|previous| texts.get(previous)),
        )
        && !same_link(texts.get(index + 1))
}

/// Closes open spans from the innermost one until all that remain are wanted.
fn close_unwanted(out: &mut String, stack: &mut Vec<OpenSpan>, wanted: &[Span]) {
    let keep = stack
        .iter()
        .take_while(|open| wanted.contains(&open.span))
        .count();
    while stack.len() > keep {
        if let Some(open) = stack.pop() {
            out.push_str(&open.closing);
        }
    }
}

/// Opens the wanted spans that are not open yet, for the node at `index`.
fn open_wanted(
    out: &mut String,
    stack: &mut Vec<OpenSpan>,
    wanted: Vec<Span>,
    texts: &[(&str, &Marks)],
    index: usize,
    style: EmphasisStyle,
) {
    let mut opening: Vec<Span> = wanted
        .into_iter()
        .filter(|span| !stack.iter().any(|open| open.span == *span))
        .collect();
    // The span that lasts longest opens first, so it can stay open while
    // shorter ones close. The sort is stable, which keeps the order of
    // spans_of for ties.
    opening.sort_by_key(|span| std::cmp::Reverse(run_length(texts, index, span)));
    for span in opening {
        let run = run_length(texts, index, &span);
        let next = texts
            .get(index + run)
            .and_then(|(text, _)| text.chars().next());
        stack.push(open_span(out, span, style, next));
    }
}

/// Writes the opening delimiter of `span` and returns how to close it.
/// `next` is the first character after the span.
fn open_span(out: &mut String, span: Span, style: EmphasisStyle, next: Option<char>) -> OpenSpan {
    let (opening, closing) = match &span {
        Span::Link(href) => {
            escape_bang_before_link(out);
            ("[".to_string(), format!("]({})", escape_href(href)))
        }
        Span::Strong => (style.strong.to_string(), style.strong.to_string()),
        Span::Strike => ("~~".to_string(), "~~".to_string()),
        Span::Em => {
            let delimiter = em_delimiter(style, out.chars().last(), next);
            (delimiter.to_string(), delimiter.to_string())
        }
    };
    out.push_str(&opening);
    OpenSpan { span, closing }
}

fn em_delimiter(style: EmphasisStyle, previous: Option<char>, next: Option<char>) -> char {
    match style.em {
        EmDelimiter::Star => '*',
        EmDelimiter::Underscore => '_',
        // `_` cannot open or close emphasis inside a word.
        EmDelimiter::Auto if previous.is_some_and(char::is_alphanumeric) => '*',
        EmDelimiter::Auto if next.is_some_and(char::is_alphanumeric) => '*',
        EmDelimiter::Auto => '_',
    }
}

/// Escapes a `!` right before a link, which would turn the link into an image.
fn escape_bang_before_link(out: &mut String) {
    if !out.ends_with('!') {
        return;
    }
    let backslashes = out[..out.len() - 1]
        .chars()
        .rev()
        .take_while(|c| *c == '\\')
        .count();
    if backslashes % 2 == 0 {
        out.insert(out.len() - 1, '\\');
    }
}

fn escape_href(href: &str) -> String {
    let chars: Vec<char> = href.chars().collect();
    let mut out = String::with_capacity(href.len());
    for (index, &c) in chars.iter().enumerate() {
        let escape = match c {
            '\\' | '(' | ')' | '<' | '>' | '`' | '[' | ']' => true,
            '&' => starts_entity(&chars[index + 1..]),
            _ => false,
        };
        if escape {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// Writes a code span with a fence longer than any backtick run inside it.
fn code_span(text: &str) -> String {
    let fence = "`".repeat(longest_run(text, '`') + 1);
    // CommonMark strips one space from each end when both ends have one.
    let all_spaces = text.chars().all(|c| c == ' ');
    let pad = text.starts_with('`')
        || text.ends_with('`')
        || (text.starts_with(' ') && text.ends_with(' ') && !all_spaces);
    if pad {
        format!("{fence} {text} {fence}")
    } else {
        format!("{fence}{text}{fence}")
    }
}

/// Length of the longest run of `c` in `text`.
pub(crate) fn longest_run(text: &str, c: char) -> usize {
    let mut longest = 0;
    let mut current = 0;
    for next in text.chars() {
        current = if next == c { current + 1 } else { 0 };
        longest = longest.max(current);
    }
    longest
}

/// Returns whether `rest` (the text after a `&`) would complete an entity
/// or numeric character reference such as `&amp;` or `&#35;`.
pub(crate) fn starts_entity(rest: &[char]) -> bool {
    let rest = rest.strip_prefix(&['#']).unwrap_or(rest);
    let name_length = rest
        .iter()
        .take_while(|c| c.is_ascii_alphanumeric())
        .count();
    name_length > 0 && rest.get(name_length) == Some(&';')
}

#[derive(Clone, Copy)]
struct TextPosition {
    /// The text starts a line, where block syntax is recognised.
    line_start: bool,
    heading: bool,
    /// The text starts a list item, where a task marker stays unescaped.
    task_marker: bool,
}

fn escape_text(text: &str, position: TextPosition) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len() + 8);
    let mut start = 0;
    if position.task_marker && is_task_marker(&chars) {
        out.extend(&chars[..4]);
        start = 4;
    }
    let block_escape = if position.line_start && start == 0 {
        line_start_escape(&chars)
    } else {
        None
    };
    for index in start..chars.len() {
        if block_escape == Some(index) || needs_escape(&chars, index, position.heading) {
            out.push('\\');
        }
        out.push(chars[index]);
    }
    out
}

fn is_task_marker(chars: &[char]) -> bool {
    matches!(chars, ['[', ' ' | 'x' | 'X', ']', ' ', ..])
}

/// Escapes characters that start inline syntax anywhere in a line.
fn needs_escape(chars: &[char], index: usize, heading: bool) -> bool {
    let previous = index.checked_sub(1).map(|index| chars[index]);
    let next = chars.get(index + 1).copied();
    match chars[index] {
        '\\' => next.is_none_or(|next| next.is_ascii_punctuation()),
        '`' | '*' | '[' | ']' | '~' => true,
        // `_` between two letters or digits cannot delimit emphasis.
        '_' => {
            !(previous.is_some_and(char::is_alphanumeric)
                && next.is_some_and(char::is_alphanumeric))
        }
        '<' => {
            next.is_none_or(|next| next.is_ascii_alphabetic() || matches!(next, '/' | '!' | '?'))
        }
        '&' => starts_entity(&chars[index + 1..]),
        '#' => heading,
        _ => false,
    }
}

/// Returns the index of the character to escape so that a line starting
/// with `chars` is not read as a heading, quote, list item, thematic break
/// or setext underline.
fn line_start_escape(chars: &[char]) -> Option<usize> {
    let first = *chars.first()?;
    let second = chars.get(1).copied();
    // CommonMark wants a space or tab after a marker, but pulldown-cmark
    // also accepts some other whitespace, so any whitespace counts here.
    let space_or_end = second.is_none_or(char::is_whitespace);
    let only = |c: char| chars.iter().all(|x| *x == c || x.is_whitespace());
    match first {
        '>' => Some(0),
        '#' => {
            let hashes = chars.iter().take_while(|c| **c == '#').count();
            let after = chars.get(hashes).copied();
            (hashes <= 6 && after.is_none_or(char::is_whitespace)).then_some(0)
        }
        '-' | '+' if space_or_end || only(first) => Some(0),
        '=' if only('=') => Some(0),
        '0'..='9' => ordered_marker_escape(chars),
        _ => None,
    }
}

/// Returns the index of the `.` or `)` in a line that starts like an
/// ordered list item (`1. ` or `1)`).
fn ordered_marker_escape(chars: &[char]) -> Option<usize> {
    let digits = chars.iter().take_while(|c| c.is_ascii_digit()).count();
    let delimiter = chars.get(digits).copied();
    let after = chars.get(digits + 1).copied();
    let is_marker = digits <= 9
        && matches!(delimiter, Some('.' | ')'))
        && after.is_none_or(char::is_whitespace);
    is_marker.then_some(digits)
}
