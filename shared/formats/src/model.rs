//! Format-neutral document tree shared by every converter.
//!
//! Each input format is parsed into [`Block`]s, passed through
//! [`crate::normalize::normalize_blocks`], and then written out. The tree only
//! models what ADF, Markdown and wiki markup can all express.

/// Maximum nesting of containers (lists, quotes, ADF nodes) that the
/// converters build. Deeper content is kept as flat text, which bounds the
/// recursion of every pass over the tree.
pub(crate) const MAX_DEPTH: usize = 64;

/// Inline formatting applied to a run of text.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Marks {
    pub(crate) strong: bool,
    pub(crate) em: bool,
    pub(crate) strike: bool,
    pub(crate) code: bool,
    /// Target URL when the text is part of a link.
    pub(crate) link: Option<String>,
}

impl Marks {
    /// Returns the marks with only the link kept.
    pub(crate) fn link_only(&self) -> Marks {
        Marks {
            link: self.link.clone(),
            ..Marks::default()
        }
    }
}

/// Inline content of a paragraph or heading.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Inline {
    Text(String, Marks),
    Break,
}

impl Inline {
    /// Creates a text node without marks.
    pub(crate) fn plain(text: impl Into<String>) -> Inline {
        Inline::Text(text.into(), Marks::default())
    }
}

/// Block-level content. A list item is a `Vec<Block>`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Block {
    Paragraph(Vec<Inline>),
    Heading(u8, Vec<Inline>),
    Code {
        language: Option<String>,
        text: String,
    },
    Quote(Vec<Block>),
    BulletList(Vec<Vec<Block>>),
    /// Ordered list with the number of its first item.
    OrderedList(u64, Vec<Vec<Block>>),
    Rule,
}

/// Appends the visible text of `blocks` to `out` as inline content, with the
/// blocks separated by spaces. Used where the target can only hold inline
/// content, such as a table cell or a list item in wiki markup.
pub(crate) fn flatten_blocks(blocks: &[Block], out: &mut Vec<Inline>) {
    for (index, block) in blocks.iter().enumerate() {
        if index > 0 {
            out.push(Inline::plain(" "));
        }
        match block {
            Block::Paragraph(inlines) | Block::Heading(_, inlines) => {
                out.extend(inlines.iter().cloned())
            }
            Block::Code { text, .. } => out.push(Inline::plain(text.clone())),
            Block::Quote(children) => flatten_blocks(children, out),
            Block::BulletList(items) | Block::OrderedList(_, items) => {
                for (index, item) in items.iter().enumerate() {
                    if index > 0 {
                        out.push(Inline::plain(" "));
                    }
                    flatten_blocks(item, out);
                }
            }
            Block::Rule => {}
        }
    }
}

/// Returns the text of `inlines` without marks, with breaks as newlines.
pub(crate) fn plain_text(inlines: &[Inline]) -> String {
    let mut out = String::new();
    for inline in inlines {
        match inline {
            Inline::Text(text, _) => out.push_str(text),
            Inline::Break => out.push('\n'),
        }
    }
    out
}
