//! Markdown to document tree (with pulldown-cmark), and document tree to ADF.

use pulldown_cmark::{CodeBlockKind, Event, LinkType, Options, Parser, Tag, TagEnd};
use serde_json::{Value, json};

use crate::model::{Block, Inline, MAX_DEPTH, Marks};
use crate::normalize::{clean_text, normalize_blocks};

/// Parses GitHub-flavoured Markdown into a normalized document tree.
///
/// Only strikethrough is enabled beyond CommonMark. Tables and task lists stay
/// plain text, and raw HTML is kept as text except for comments, which GitHub
/// does not show, and `<br>`, which becomes a line break.
pub(crate) fn parse_markdown(markdown: &str) -> Vec<Block> {
    let text = clean_text(markdown);
    let mut builder = TreeBuilder::new();
    for event in Parser::new_ext(&text, Options::ENABLE_STRIKETHROUGH) {
        builder.handle(event);
    }
    normalize_blocks(builder.finish())
}

/// Writes a normalized document tree as an ADF `doc` node.
pub(crate) fn blocks_to_adf(blocks: &[Block]) -> Value {
    json!({
        "type": "doc",
        "version": 1,
        "content": blocks.iter().map(block_to_adf).collect::<Vec<_>>(),
    })
}

fn block_to_adf(block: &Block) -> Value {
    match block {
        Block::Paragraph(inlines) => {
            json!({"type": "paragraph", "content": inlines_to_adf(inlines)})
        }
        Block::Heading(level, inlines) => json!({
            "type": "heading",
            "attrs": {"level": level},
            "content": inlines_to_adf(inlines),
        }),
        Block::Code { language, text } => code_block_to_adf(language.as_deref(), text),
        Block::Quote(children) => json!({
            "type": "blockquote",
            "content": children.iter().map(block_to_adf).collect::<Vec<_>>(),
        }),
        Block::BulletList(items) => json!({"type": "bulletList", "content": items_to_adf(items)}),
        Block::OrderedList(start, items) => json!({
            "type": "orderedList",
            "attrs": {"order": start},
            "content": items_to_adf(items),
        }),
        Block::Rule => json!({"type": "rule"}),
    }
}

fn code_block_to_adf(language: Option<&str>, text: &str) -> Value {
    // ADF rejects empty text nodes, so an empty block has no content.
    let content: Vec<Value> = if text.is_empty() {
        Vec::new()
    } else {
        vec![json!({"type": "text", "text": text})]
    };
    match language {
        Some(language) => json!({
            "type": "codeBlock",
            "attrs": {"language": language},
            "content": content,
        }),
        None => json!({"type": "codeBlock", "content": content}),
    }
}

fn items_to_adf(items: &[Vec<Block>]) -> Vec<Value> {
    items
        .iter()
        .map(|item| {
            json!({
                "type": "listItem",
                "content": item.iter().map(block_to_adf).collect::<Vec<_>>(),
            })
        })
        .collect()
}

fn inlines_to_adf(inlines: &[Inline]) -> Vec<Value> {
    inlines
        .iter()
        .map(|inline| match inline {
            Inline::Break => json!({"type": "hardBreak"}),
            Inline::Text(text, marks) => text_to_adf(text, marks),
        })
        .collect()
}

fn text_to_adf(text: &str, marks: &Marks) -> Value {
    let marks = marks_to_adf(marks);
    if marks.is_empty() {
        json!({"type": "text", "text": text})
    } else {
        json!({"type": "text", "text": text, "marks": marks})
    }
}

/// Lists the marks in a fixed order, so equal formatting gives equal JSON.
fn marks_to_adf(marks: &Marks) -> Vec<Value> {
    let mut out = Vec::new();
    let flags = [
        (marks.strong, "strong"),
        (marks.em, "em"),
        (marks.strike, "strike"),
        (marks.code, "code"),
    ];
    for (set, name) in flags {
        if set {
            out.push(json!({"type": name}));
        }
    }
    if let Some(href) = &marks.link {
        out.push(json!({"type": "link", "attrs": {"href": href}}));
    }
    out
}

/// Open container while walking pulldown-cmark events.
enum Frame {
    /// Root, quote or list item. Loose inline content, as in a tight list
    /// item, collects in `pending` until a block closes it into a paragraph.
    Blocks {
        kind: BlocksKind,
        blocks: Vec<Block>,
        pending: Vec<Inline>,
    },
    List {
        start: Option<u64>,
        items: Vec<Vec<Block>>,
    },
    Inlines {
        kind: InlinesKind,
        inlines: Vec<Inline>,
    },
    Code {
        language: Option<String>,
        text: String,
    },
    /// Container that is not kept, because it is too deep or not modelled.
    /// Its content goes to the nearest kept container.
    Transparent,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum BlocksKind {
    Root,
    Quote,
    Item,
}

#[derive(Clone, Copy)]
enum InlinesKind {
    Paragraph,
    Heading(u8),
    Html,
}

/// Image being read, with its URL and the number of inline nodes that its
/// target held when the image started.
struct ImageStart {
    url: String,
    inline_count: usize,
}

struct TreeBuilder {
    frames: Vec<Frame>,
    strong: usize,
    em: usize,
    strike: usize,
    links: Vec<String>,
    images: Vec<ImageStart>,
}

impl TreeBuilder {
    fn new() -> TreeBuilder {
        TreeBuilder {
            frames: vec![Frame::Blocks {
                kind: BlocksKind::Root,
                blocks: Vec::new(),
                pending: Vec::new(),
            }],
            strong: 0,
            em: 0,
            strike: 0,
            links: Vec::new(),
            images: Vec::new(),
        }
    }

    fn handle(&mut self, event: Event<'_>) {
        match event {
            Event::Start(tag) => self.start(tag),
            Event::End(tag) => self.end(tag),
            Event::Text(text) => self.text(&text),
            Event::Code(code) => {
                self.push_inline(Inline::Text(code.to_string(), self.code_marks()))
            }
            Event::Html(html) => self.text(&html),
            Event::InlineHtml(html) => self.inline_html(&html),
            Event::SoftBreak | Event::HardBreak => self.push_inline(Inline::Break),
            Event::Rule => self.push_block(Block::Rule),
            Event::TaskListMarker(done) => self.text(if done { "[x] " } else { "[ ] " }),
            Event::FootnoteReference(label) => self.text(&format!("[^{label}]")),
            Event::InlineMath(math) => self.text(&format!("${math}$")),
            Event::DisplayMath(math) => self.text(&format!("$${math}$$")),
        }
    }

    fn start(&mut self, tag: Tag<'_>) {
        match tag {
            Tag::Paragraph => self.open_inlines(InlinesKind::Paragraph),
            Tag::Heading { level, .. } => self.open_inlines(InlinesKind::Heading(level as u8)),
            Tag::HtmlBlock => self.open_inlines(InlinesKind::Html),
            Tag::CodeBlock(kind) => self.frames.push(Frame::Code {
                language: code_language(&kind),
                text: String::new(),
            }),
            Tag::BlockQuote(_) => self.open_quote(),
            Tag::List(start) => self.open_list(start),
            Tag::Item => self.open_item(),
            Tag::Emphasis => self.em += 1,
            Tag::Strong => self.strong += 1,
            Tag::Strikethrough => self.strike += 1,
            Tag::Link {
                link_type,
                dest_url,
                ..
            } => self.links.push(link_href(link_type, &dest_url)),
            Tag::Image { dest_url, .. } => self.open_image(&dest_url),
            Tag::Superscript | Tag::Subscript => {}
            _ => self.frames.push(Frame::Transparent),
        }
    }

    fn end(&mut self, tag: TagEnd) {
        match tag {
            TagEnd::Paragraph | TagEnd::Heading(_) | TagEnd::HtmlBlock => self.close_inlines(),
            TagEnd::CodeBlock => self.close_code(),
            TagEnd::BlockQuote(_) => self.close_quote(),
            TagEnd::List(_) => self.close_list(),
            TagEnd::Item => self.close_item(),
            TagEnd::Emphasis => self.em = self.em.saturating_sub(1),
            TagEnd::Strong => self.strong = self.strong.saturating_sub(1),
            TagEnd::Strikethrough => self.strike = self.strike.saturating_sub(1),
            TagEnd::Link => {
                self.links.pop();
            }
            TagEnd::Image => self.close_image(),
            TagEnd::Superscript | TagEnd::Subscript => {}
            _ => {
                self.frames.pop();
            }
        }
    }

    fn finish(mut self) -> Vec<Block> {
        while self.frames.len() > 1 {
            self.close_top();
        }
        match self.frames.pop() {
            Some(Frame::Blocks {
                mut blocks,
                pending,
                ..
            }) => {
                flush_pending(&mut blocks, pending);
                blocks
            }
            _ => Vec::new(),
        }
    }

    /// Closes the innermost frame. `finish` calls it for frames left open.
    fn close_top(&mut self) {
        match self.frames.last() {
            Some(Frame::Inlines { .. }) => self.close_inlines(),
            Some(Frame::Code { .. }) => self.close_code(),
            Some(Frame::List { .. }) => self.close_list(),
            Some(Frame::Blocks {
                kind: BlocksKind::Item,
                ..
            }) => self.close_item(),
            Some(Frame::Blocks { .. }) => self.close_quote(),
            _ => {
                self.frames.pop();
            }
        }
    }

    /// Number of kept quotes and lists that enclose the next container.
    fn depth(&self) -> usize {
        self.frames
            .iter()
            .filter(|frame| {
                matches!(
                    frame,
                    Frame::List { .. }
                        | Frame::Blocks {
                            kind: BlocksKind::Quote,
                            ..
                        }
                )
            })
            .count()
    }

    fn marks(&self) -> Marks {
        Marks {
            strong: self.strong > 0,
            em: self.em > 0,
            strike: self.strike > 0,
            code: false,
            link: self.links.last().cloned(),
        }
    }

    fn code_marks(&self) -> Marks {
        Marks {
            code: true,
            ..self.marks()
        }
    }

    fn open_inlines(&mut self, kind: InlinesKind) {
        self.frames.push(Frame::Inlines {
            kind,
            inlines: Vec::new(),
        });
    }

    fn close_inlines(&mut self) {
        let Some(Frame::Inlines { kind, inlines }) = self.frames.pop() else {
            return;
        };
        match kind {
            InlinesKind::Paragraph => self.push_block(Block::Paragraph(inlines)),
            InlinesKind::Heading(level) => self.push_block(Block::Heading(level, inlines)),
            InlinesKind::Html if is_html_comment(&inlines) => {}
            InlinesKind::Html => self.push_block(Block::Paragraph(inlines)),
        }
    }

    fn close_code(&mut self) {
        let Some(Frame::Code { language, mut text }) = self.frames.pop() else {
            return;
        };
        // pulldown-cmark ends the text of every non-empty block with a newline.
        if text.ends_with('\n') {
            text.pop();
        }
        self.push_block(Block::Code { language, text });
    }

    fn open_quote(&mut self) {
        if self.depth() >= MAX_DEPTH {
            self.frames.push(Frame::Transparent);
            return;
        }
        self.frames.push(Frame::Blocks {
            kind: BlocksKind::Quote,
            blocks: Vec::new(),
            pending: Vec::new(),
        });
    }

    fn close_quote(&mut self) {
        if let Some(Frame::Blocks {
            mut blocks,
            pending,
            ..
        }) = self.frames.pop()
        {
            flush_pending(&mut blocks, pending);
            self.push_block(Block::Quote(blocks));
        }
    }

    fn open_list(&mut self, start: Option<u64>) {
        if self.depth() >= MAX_DEPTH {
            self.frames.push(Frame::Transparent);
            return;
        }
        self.frames.push(Frame::List {
            start,
            items: Vec::new(),
        });
    }

    fn close_list(&mut self) {
        match self.frames.pop() {
            Some(Frame::List { start: None, items }) => self.push_block(Block::BulletList(items)),
            Some(Frame::List {
                start: Some(start),
                items,
            }) => self.push_block(Block::OrderedList(start, items)),
            _ => {}
        }
    }

    fn open_item(&mut self) {
        // Items of a list that was not kept are not kept either.
        if !matches!(self.frames.last(), Some(Frame::List { .. })) {
            self.frames.push(Frame::Transparent);
            return;
        }
        self.frames.push(Frame::Blocks {
            kind: BlocksKind::Item,
            blocks: Vec::new(),
            pending: Vec::new(),
        });
    }

    fn close_item(&mut self) {
        let Some(Frame::Blocks {
            mut blocks,
            pending,
            ..
        }) = self.frames.pop()
        else {
            return;
        };
        flush_pending(&mut blocks, pending);
        if let Some(Frame::List { items, .. }) = self.frames.last_mut() {
            items.push(blocks);
        }
    }

    fn open_image(&mut self, url: &str) {
        // An image inside a link keeps the outer link target.
        let href = self
            .links
            .last()
            .cloned()
            .unwrap_or_else(|| url.to_string());
        self.links.push(href);
        let inline_count = self.inline_count();
        self.images.push(ImageStart {
            url: url.to_string(),
            inline_count,
        });
    }

    /// Closes an image. An image without alt text is shown as its URL.
    fn close_image(&mut self) {
        let image = self.images.pop();
        let inline_count = self.inline_count();
        if let Some(image) = image
            && image.inline_count == inline_count
        {
            self.push_inline(Inline::Text(image.url, self.marks()));
        }
        self.links.pop();
    }

    fn text(&mut self, text: &str) {
        let innermost = self
            .frames
            .iter_mut()
            .rev()
            .find(|frame| !matches!(frame, Frame::Transparent));
        if let Some(Frame::Code { text: code, .. }) = innermost {
            code.push_str(text);
            return;
        }
        let marks = self.marks();
        self.push_inline(Inline::Text(text.to_string(), marks));
    }

    fn inline_html(&mut self, html: &str) {
        let tag = html.trim().to_ascii_lowercase();
        if matches!(tag.as_str(), "<br>" | "<br/>" | "<br />") {
            self.push_inline(Inline::Break);
        } else if !(tag.starts_with("<!--") && tag.ends_with("-->")) {
            self.text(html);
        }
    }

    fn inline_target(&mut self) -> Option<&mut Vec<Inline>> {
        for frame in self.frames.iter_mut().rev() {
            match frame {
                Frame::Transparent => continue,
                Frame::Inlines { inlines, .. } => return Some(inlines),
                Frame::Blocks { pending, .. } => return Some(pending),
                Frame::List { .. } | Frame::Code { .. } => return None,
            }
        }
        None
    }

    fn inline_count(&mut self) -> usize {
        self.inline_target().map_or(0, |inlines| inlines.len())
    }

    fn push_inline(&mut self, inline: Inline) {
        if let Some(inlines) = self.inline_target() {
            inlines.push(inline);
        }
    }

    /// Adds a finished block to the nearest container that holds blocks.
    fn push_block(&mut self, block: Block) {
        for frame in self.frames.iter_mut().rev() {
            match frame {
                Frame::Transparent => continue,
                Frame::Blocks {
                    blocks, pending, ..
                } => {
                    flush_pending(blocks, std::mem::take(pending));
                    blocks.push(block);
                }
                Frame::List { items, .. } => items.push(vec![block]),
                Frame::Inlines { inlines, .. } => crate::model::flatten_blocks(&[block], inlines),
                Frame::Code { text, .. } => {
                    let mut flat = Vec::new();
                    crate::model::flatten_blocks(&[block], &mut flat);
                    text.push_str(&crate::model::plain_text(&flat));
                }
            }
            return;
        }
    }
}

fn flush_pending(blocks: &mut Vec<Block>, pending: Vec<Inline>) {
    if !pending.is_empty() {
        blocks.push(Block::Paragraph(pending));
    }
}

fn code_language(kind: &CodeBlockKind<'_>) -> Option<String> {
    match kind {
        CodeBlockKind::Fenced(info) => info.split_whitespace().next().map(str::to_string),
        CodeBlockKind::Indented => None,
    }
}

fn link_href(link_type: LinkType, destination: &str) -> String {
    match link_type {
        LinkType::Email => format!("mailto:{destination}"),
        _ => destination.to_string(),
    }
}

fn is_html_comment(inlines: &[Inline]) -> bool {
    let text = crate::model::plain_text(inlines);
    let text = text.trim();
    text.starts_with("<!--") && text.ends_with("-->")
}
