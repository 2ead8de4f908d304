//! Block structure of wiki markup.

use super::inline::parse_inline;
use crate::model::{Block, Inline, MAX_DEPTH};
use crate::normalize::clean_text;

/// Parses wiki markup into a document tree.
pub(crate) fn parse_wiki(wiki: &str) -> Vec<Block> {
    let text = clean_text(wiki);
    let lines: Vec<String> = text.split('\n').map(str::to_string).collect();
    BlockParser::default().parse(lines)
}

/// Delimited block macros: `{code}`, `{noformat}`, `{quote}` and `{panel}`.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Macro {
    Code,
    NoFormat,
    Quote,
    Panel,
}

impl Macro {
    fn name(self) -> &'static str {
        match self {
            Macro::Code => "code",
            Macro::NoFormat => "noformat",
            Macro::Quote => "quote",
            Macro::Panel => "panel",
        }
    }
}

/// Open macro found at the start of a line: which one, its parameters and
/// the byte length of the tag.
struct MacroStart<'a> {
    kind: Macro,
    parameters: &'a str,
    tag_length: usize,
}

fn macro_start(line: &str) -> Option<MacroStart<'_>> {
    let rest = line.strip_prefix('{')?;
    let close = rest.find('}')?;
    let tag = &rest[..close];
    let (name, parameters) = tag.split_once(':').unwrap_or((tag, ""));
    let kind = [Macro::Code, Macro::NoFormat, Macro::Quote, Macro::Panel]
        .into_iter()
        .find(|kind| kind.name() == name)?;
    Some(MacroStart {
        kind,
        parameters,
        tag_length: close + 2,
    })
}

/// Returns the language of `{code:...}` parameters: the first parameter
/// without `=`, or the value of `language=`.
fn code_language(parameters: &str) -> Option<String> {
    parameters
        .split('|')
        .find_map(|parameter| match parameter.split_once('=') {
            None => Some(parameter.trim().to_string()),
            Some((key, value)) if key.trim() == "language" => Some(value.trim().to_string()),
            Some(_) => None,
        })
}

/// Returns the list marker of a line (`*`, `-`, `#` or a run of `*` and `#`
/// such as `#*`) and the item text after it.
fn list_marker(line: &str) -> Option<(&str, &str)> {
    let marker_length = line.chars().take_while(|c| matches!(c, '*' | '#')).count();
    let marker_length = if marker_length == 0 && line.starts_with('-') {
        1
    } else {
        marker_length
    };
    if marker_length == 0 {
        return None;
    }
    let rest = &line[marker_length..];
    if rest.is_empty() {
        return Some((&line[..marker_length], ""));
    }
    let text = rest.trim_start_matches([' ', '\t']);
    (text.len() < rest.len()).then_some((&line[..marker_length], text))
}

fn heading_start(line: &str) -> Option<(u8, &str)> {
    let bytes = line.as_bytes();
    let level = match bytes {
        [b'h', level @ b'1'..=b'6', b'.', ..] => level - b'0',
        _ => return None,
    };
    let rest = &line[3..];
    let text = rest.trim_start_matches([' ', '\t']);
    (rest.is_empty() || text.len() < rest.len()).then_some((level, text))
}

fn quote_line(line: &str) -> Option<&str> {
    match line.strip_prefix("bq.")? {
        "" => Some(""),
        rest => rest.strip_prefix([' ', '\t']),
    }
}

fn is_rule(line: &str) -> bool {
    line.len() >= 4 && line.chars().all(|c| c == '-')
}

/// Open list while parsing: its kind and items.
struct OpenList {
    ordered: bool,
    items: Vec<Vec<Block>>,
}

#[derive(Default)]
struct BlockParser {
    blocks: Vec<Block>,
    paragraph: Vec<Inline>,
    lists: Vec<OpenList>,
    quote_depth: usize,
    /// For each macro, the first line index after which its closing tag is
    /// known to be missing, so that unclosed tags are searched for once.
    unclosed_after: Vec<(Macro, usize)>,
}

impl BlockParser {
    fn parse(mut self, mut lines: Vec<String>) -> Vec<Block> {
        let mut index = 0;
        while index < lines.len() {
            index = self.parse_line(&mut lines, index);
        }
        self.flush();
        self.blocks
    }

    /// Parses the block that starts at `lines[index]` and returns the index
    /// of the next unparsed line.
    fn parse_line(&mut self, lines: &mut [String], index: usize) -> usize {
        let line = lines[index].trim_start_matches([' ', '\t']).to_string();
        let line = line.as_str();
        if line.trim().is_empty() {
            self.flush();
            return index + 1;
        }
        if let Some(start) = macro_start(line)
            && let Some(next) = self.parse_macro(lines, index, &start)
        {
            return next;
        }
        if let Some((level, text)) = heading_start(line) {
            self.flush();
            self.blocks.push(Block::Heading(level, parse_inline(text)));
        } else if let Some(text) = quote_line(line) {
            self.flush();
            let paragraph = Block::Paragraph(parse_inline(text));
            self.blocks.push(Block::Quote(vec![paragraph]));
        } else if is_rule(line.trim_end()) {
            self.flush();
            self.blocks.push(Block::Rule);
        } else if let Some((marker, text)) = list_marker(line) {
            self.flush_paragraph();
            self.push_item(marker, text);
        } else if line.starts_with('|') {
            self.flush();
            self.blocks.push(Block::Paragraph(table_row(line)));
        } else {
            self.flush_lists();
            if !self.paragraph.is_empty() {
                self.paragraph.push(Inline::Break);
            }
            self.paragraph.extend(parse_inline(line));
        }
        index + 1
    }

    /// Parses a `{code}`, `{noformat}`, `{quote}` or `{panel}` block and
    /// returns the index of the next line to parse, or `None` when the macro
    /// is never closed, in which case its tag is ordinary text. Text after
    /// the closing tag replaces its line, which is parsed next.
    fn parse_macro(
        &mut self,
        lines: &mut [String],
        index: usize,
        start: &MacroStart<'_>,
    ) -> Option<usize> {
        let closing = format!("{{{}}}", start.kind.name());
        let line = lines[index].trim_start_matches([' ', '\t']);
        let first = &line[start.tag_length..];
        let closed = match find_tag(first, &closing) {
            Some(position) => Some(same_line_body(first, position, &closing, index)),
            None if self.known_unclosed(start.kind, index) => None,
            None => find_closing(lines, index, first, &closing),
        };
        let Some((body, rest, closing_line)) = closed else {
            self.unclosed_after.push((start.kind, index));
            return None;
        };
        self.flush();
        match start.kind {
            Macro::Code | Macro::NoFormat => {
                let language = match start.kind {
                    Macro::Code => code_language(start.parameters),
                    _ => None,
                };
                self.blocks.push(Block::Code {
                    language,
                    text: body,
                });
            }
            Macro::Quote | Macro::Panel => self.push_container(start.kind, &body),
        }
        if rest.trim().is_empty() {
            return Some(closing_line + 1);
        }
        lines[closing_line] = rest;
        Some(closing_line)
    }

    fn known_unclosed(&self, kind: Macro, index: usize) -> bool {
        self.unclosed_after
            .iter()
            .any(|(unclosed, after)| *unclosed == kind && *after <= index)
    }

    fn push_container(&mut self, kind: Macro, body: &str) {
        let lines: Vec<String> = body.split('\n').map(str::to_string).collect();
        let children = if self.quote_depth >= MAX_DEPTH {
            vec![Block::Paragraph(vec![Inline::plain(body)])]
        } else {
            let inner = BlockParser {
                quote_depth: self.quote_depth + 1,
                ..BlockParser::default()
            };
            inner.parse(lines)
        };
        match kind {
            Macro::Quote => self.blocks.push(Block::Quote(children)),
            _ => self.blocks.extend(children),
        }
    }

    /// Adds a list item with the given marker, opening and closing nested
    /// lists to match the marker's length.
    fn push_item(&mut self, marker: &str, text: &str) {
        let kinds: Vec<bool> = marker.chars().take(MAX_DEPTH).map(|c| c == '#').collect();
        while self.lists.len() > kinds.len() {
            self.close_list();
        }
        // A list of the other kind at the same level ends the current one.
        while let Some(last) = self.lists.last() {
            if last.ordered == kinds[self.lists.len() - 1] {
                break;
            }
            self.close_list();
        }
        while self.lists.len() < kinds.len() {
            let ordered = kinds[self.lists.len()];
            if let Some(parent) = self.lists.last_mut()
                && parent.items.is_empty()
            {
                parent.items.push(Vec::new());
            }
            self.lists.push(OpenList {
                ordered,
                items: Vec::new(),
            });
        }
        if let Some(list) = self.lists.last_mut() {
            list.items.push(vec![Block::Paragraph(parse_inline(text))]);
        }
    }

    /// Closes the innermost open list and attaches it to its parent item or
    /// to the document.
    fn close_list(&mut self) {
        let Some(list) = self.lists.pop() else {
            return;
        };
        let block = if list.ordered {
            Block::OrderedList(1, list.items)
        } else {
            Block::BulletList(list.items)
        };
        match self
            .lists
            .last_mut()
            .and_then(|parent| parent.items.last_mut())
        {
            Some(item) => item.push(block),
            None => self.blocks.push(block),
        }
    }

    fn flush_lists(&mut self) {
        while !self.lists.is_empty() {
            self.close_list();
        }
    }

    fn flush_paragraph(&mut self) {
        if !self.paragraph.is_empty() {
            let paragraph = std::mem::take(&mut self.paragraph);
            self.blocks.push(Block::Paragraph(paragraph));
        }
    }

    fn flush(&mut self) {
        self.flush_paragraph();
        self.flush_lists();
    }
}

/// Splits the rest of an opening line whose closing tag is at `position`
/// into the body, the text after the tag, and the line index.
fn same_line_body(
    first: &str,
    position: usize,
    closing: &str,
    index: usize,
) -> (String, String, usize) {
    let rest = first[position + closing.len()..].to_string();
    (first[..position].to_string(), rest, index)
}

/// Finds the closing tag of a macro that opened on `lines[index]` in the
/// lines after it, where `first` is the rest of the opening line. Returns
/// the body, the text after the closing tag, and the index of its line.
fn find_closing(
    lines: &[String],
    index: usize,
    first: &str,
    closing: &str,
) -> Option<(String, String, usize)> {
    let mut body: Vec<&str> = Vec::new();
    if !first.trim().is_empty() {
        body.push(first);
    }
    for (offset, line) in lines[index + 1..].iter().enumerate() {
        if let Some(position) = find_tag(line, closing) {
            if !line[..position].is_empty() {
                body.push(&line[..position]);
            }
            let rest = line[position + closing.len()..].to_string();
            return Some((body.join("\n"), rest, index + offset + 1));
        }
        body.push(line);
    }
    None
}

/// Finds `tag` in `line` where no backslash escapes it.
fn find_tag(line: &str, tag: &str) -> Option<usize> {
    line.match_indices(tag)
        .map(|(position, _)| position)
        .find(|position| {
            let backslashes = line[..*position]
                .chars()
                .rev()
                .take_while(|c| *c == '\\')
                .count();
            backslashes % 2 == 0
        })
}

/// Reads a table row (`||heading||` or `|cell|`) as text with cells
/// separated by ` | `.
fn table_row(line: &str) -> Vec<Inline> {
    let cells: Vec<&str> = split_cells(line)
        .into_iter()
        .map(str::trim)
        .filter(|cell| !cell.is_empty())
        .collect();
    let mut inlines = Vec::new();
    for (index, cell) in cells.iter().enumerate() {
        if index > 0 {
            inlines.push(Inline::plain(" | "));
        }
        inlines.extend(parse_inline(cell));
    }
    inlines
}

/// Splits a table row at `|`, except inside `[...]` links and `{{...}}`.
fn split_cells(line: &str) -> Vec<&str> {
    let mut cells = Vec::new();
    let mut brackets = 0usize;
    let mut braces = 0usize;
    let mut start = 0;
    for (position, c) in line.char_indices() {
        match c {
            '[' => brackets += 1,
            ']' => brackets = brackets.saturating_sub(1),
            '{' => braces += 1,
            '}' => braces = braces.saturating_sub(1),
            '|' if brackets == 0 && braces == 0 => {
                cells.push(&line[start..position]);
                start = position + 1;
            }
            _ => {}
        }
    }
    cells.push(&line[start..]);
    cells
}
