//! Inline wiki markup: phrase formatting, monospace, links and escapes.
//!
//! A phrase marker (`*`, `_` or `-`) opens when it does not follow a letter
//! or digit and the next character is not whitespace. It closes at the next
//! unescaped marker that follows a non-space and is not followed by a
//! letter or digit. Doubled markers such as `--` are text. The brace forms `{*}`, `{_}` and `{-}` ignore word
//! boundaries, so they work inside words. Markers without a partner are text.

use crate::model::{Inline, MAX_DEPTH, Marks};

/// The escape the renderer writes for a backslash that precedes
/// punctuation, where a plain backslash would escape that punctuation.
pub(crate) const BACKSLASH_ENTITY: &str = "&#92;";
const BACKSLASH_ENTITY_CHARS: [char; 5] = ['&', '#', '9', '2', ';'];

const PHRASE_MARKERS: [char; 3] = ['*', '_', '-'];

/// Parses one line of wiki markup.
pub(crate) fn parse_inline(text: &str) -> Vec<Inline> {
    let chars: Vec<char> = text.chars().collect();
    let parser = InlineParser::new(&chars);
    parser.parse(0, chars.len(), &Marks::default(), 0)
}

struct InlineParser<'a> {
    chars: &'a [char],
    /// Whether each character is escaped by an unescaped backslash before it.
    escaped: Vec<bool>,
    /// Positions where each phrase marker may close, in order.
    closers: [Vec<usize>; 3],
    /// Positions of unescaped `]`.
    brackets: Vec<usize>,
    /// Positions of `}}`.
    monospace_ends: Vec<usize>,
    /// Positions of each brace-form marker `{*}`, `{_}` and `{-}`.
    brace_markers: [Vec<usize>; 3],
}

/// Returns the first position in `sorted` that is at least `from` and
/// below `end`.
fn first_from(sorted: &[usize], from: usize, end: usize) -> Option<usize> {
    let index = sorted.partition_point(|position| *position < from);
    sorted
        .get(index)
        .copied()
        .filter(|position| *position < end)
}

fn add_mark(marks: &Marks, marker: char) -> Marks {
    let mut marks = marks.clone();
    match marker {
        '*' => marks.strong = true,
        '_' => marks.em = true,
        _ => marks.strike = true,
    }
    marks
}

/// Returns whether `text` looks like an absolute URL, which `[url]` needs
/// to be a link.
pub(crate) fn is_url(text: &str) -> bool {
    let lower = text.to_ascii_lowercase();
    lower.contains("://") || lower.starts_with("mailto:")
}

impl<'a> InlineParser<'a> {
    fn new(chars: &'a [char]) -> InlineParser<'a> {
        let escaped = escape_flags(chars);
        let mut closers: [Vec<usize>; 3] = Default::default();
        let mut brace_markers: [Vec<usize>; 3] = Default::default();
        let mut brackets = Vec::new();
        let mut monospace_ends = Vec::new();
        for (position, &c) in chars.iter().enumerate() {
            // Monospace text is raw, so a backslash before `}}` escapes nothing.
            if c == '}' && chars.get(position + 1) == Some(&'}') {
                monospace_ends.push(position);
            }
            if escaped[position] {
                continue;
            }
            if let Some(kind) = PHRASE_MARKERS.iter().position(|marker| *marker == c) {
                let previous = position.checked_sub(1).map(|index| chars[index]);
                let next = chars.get(position + 1);
                // A doubled marker, as in `--`, is text unless escaped.
                let doubled = previous == Some(c) && !escaped[position - 1];
                let closes = previous.is_some_and(|previous| !previous.is_whitespace())
                    && !doubled
                    && !next.is_some_and(|next| next.is_alphanumeric());
                if closes {
                    closers[kind].push(position);
                }
            }
            match (c, chars.get(position + 1), chars.get(position + 2)) {
                (']', _, _) => brackets.push(position),
                ('{', Some(marker), Some('}')) => {
                    if let Some(kind) = PHRASE_MARKERS.iter().position(|known| known == marker) {
                        brace_markers[kind].push(position);
                    }
                }
                _ => {}
            }
        }
        InlineParser {
            chars,
            escaped,
            closers,
            brackets,
            monospace_ends,
            brace_markers,
        }
    }

    /// Parses `chars[start..end]` with `marks` applied to all its text.
    fn parse(&self, start: usize, end: usize, marks: &Marks, depth: usize) -> Vec<Inline> {
        let mut out = Vec::new();
        let mut text = String::new();
        let mut position = start;
        while position < end {
            let c = self.chars[position];
            if c == '\\' && !self.escaped[position] && position + 1 < end {
                let next = self.chars[position + 1];
                if next == '\\' {
                    flush_text(&mut out, &mut text, marks);
                    out.push(Inline::Break);
                    position += 2;
                    continue;
                }
                if next.is_ascii_punctuation() {
                    text.push(next);
                    position += 2;
                    continue;
                }
            }
            if depth < MAX_DEPTH
                && !self.escaped[position]
                && let Some((inlines, next)) = self.parse_span(position, end, marks, depth)
            {
                flush_text(&mut out, &mut text, marks);
                out.extend(inlines);
                position = next;
                continue;
            }
            if self.chars[position..end].starts_with(&BACKSLASH_ENTITY_CHARS) {
                text.push('\\');
                position += BACKSLASH_ENTITY_CHARS.len();
                continue;
            }
            text.push(c);
            position += 1;
        }
        flush_text(&mut out, &mut text, marks);
        out
    }

    /// Parses the span that opens at `position`, if any, and returns its
    /// content and the position after it.
    fn parse_span(
        &self,
        position: usize,
        end: usize,
        marks: &Marks,
        depth: usize,
    ) -> Option<(Vec<Inline>, usize)> {
        match self.chars[position] {
            '{' => self.parse_brace(position, end, marks, depth),
            '[' => self.parse_link(position, end, marks, depth),
            c if PHRASE_MARKERS.contains(&c) => self.parse_phrase(position, end, marks, depth),
            _ => None,
        }
    }

    fn parse_phrase(
        &self,
        position: usize,
        end: usize,
        marks: &Marks,
        depth: usize,
    ) -> Option<(Vec<Inline>, usize)> {
        let marker = self.chars[position];
        let kind = PHRASE_MARKERS.iter().position(|known| *known == marker)?;
        let previous = position.checked_sub(1).map(|index| self.chars[index]);
        let next = self.chars.get(position + 1).filter(|_| position + 1 < end);
        let opens = !previous.is_some_and(char::is_alphanumeric)
            && next.is_some_and(|next| !next.is_whitespace() && *next != marker);
        if !opens {
            return None;
        }
        let close = first_from(&self.closers[kind], position + 2, end)?;
        let inner = self.parse(position + 1, close, &add_mark(marks, marker), depth + 1);
        Some((inner, close + 1))
    }

    fn parse_brace(
        &self,
        position: usize,
        end: usize,
        marks: &Marks,
        depth: usize,
    ) -> Option<(Vec<Inline>, usize)> {
        let next = *self.chars.get(position + 1)?;
        if next == '{' {
            let close = first_from(&self.monospace_ends, position + 3, end - 1)?;
            let code: String = self.chars[position + 2..close].iter().collect();
            let code_marks = Marks {
                code: true,
                ..marks.clone()
            };
            return Some((vec![Inline::Text(code, code_marks)], close + 2));
        }
        if let Some(kind) = PHRASE_MARKERS.iter().position(|marker| *marker == next) {
            let markers = &self.brace_markers[kind];
            if markers.binary_search(&position).is_ok() {
                let close = first_from(markers, position + 4, end.saturating_sub(2))?;
                let inner = self.parse(position + 3, close, &add_mark(marks, next), depth + 1);
                return Some((inner, close + 3));
            }
        }
        self.skip_color_tag(position, end)
    }

    /// Skips `{color:...}` and `{color}` tags, keeping the coloured text.
    fn skip_color_tag(&self, position: usize, end: usize) -> Option<(Vec<Inline>, usize)> {
        let rest: String = self.chars[position + 1..end.min(position + 40)]
            .iter()
            .collect();
        let is_color = rest.starts_with("color}") || rest.starts_with("color:");
        let close = rest.find('}')?;
        is_color.then(|| (Vec::new(), position + 1 + rest[..close].chars().count() + 1))
    }

    fn parse_link(
        &self,
        position: usize,
        end: usize,
        marks: &Marks,
        depth: usize,
    ) -> Option<(Vec<Inline>, usize)> {
        let close = first_from(&self.brackets, position + 1, end)?;
        let content: String = self.chars[position + 1..close].iter().collect();
        if content.starts_with('~') {
            // A user mention: kept as its markup.
            let mention = Inline::Text(format!("[{content}]"), marks.clone());
            return Some((vec![mention], close + 1));
        }
        let pipe =
            (position + 1..close).find(|index| self.chars[*index] == '|' && !self.escaped[*index]);
        let url_start = pipe.map_or(position + 1, |pipe| pipe + 1);
        let url: String = self.chars[url_start..close].iter().collect();
        let url = url.split('|').next().unwrap_or("").trim().to_string();
        // `[text|target]` links any target, but `[word]` alone stays text.
        let has_text = pipe.is_some_and(|pipe| pipe > position + 1);
        if url.is_empty() || !(has_text || is_url(&url)) {
            return None;
        }
        let link_marks = Marks {
            link: Some(url.clone()),
            ..marks.clone()
        };
        let inner = match pipe {
            Some(pipe) if pipe > position + 1 => {
                self.parse(position + 1, pipe, &link_marks, depth + 1)
            }
            _ => vec![Inline::Text(url, link_marks)],
        };
        Some((inner, close + 1))
    }
}

/// Marks each character that an unescaped backslash before it escapes.
fn escape_flags(chars: &[char]) -> Vec<bool> {
    let mut escaped = vec![false; chars.len()];
    for position in 0..chars.len().saturating_sub(1) {
        if chars[position] == '\\'
            && !escaped[position]
            && chars[position + 1].is_ascii_punctuation()
        {
            escaped[position + 1] = true;
        }
    }
    escaped
}

fn flush_text(out: &mut Vec<Inline>, text: &mut String, marks: &Marks) {
    if !text.is_empty() {
        out.push(Inline::Text(std::mem::take(text), marks.clone()));
    }
}
