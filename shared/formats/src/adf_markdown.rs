//! ADF to document tree.
//!
//! The reader accepts any JSON value. Nodes that the tree cannot hold
//! (mentions, emoji, cards, panels, tables, media and so on) are reduced to
//! their visible text. Content nested deeper than [`MAX_DEPTH`] is kept as
//! plain text.

use serde_json::Value;

use crate::model::{Block, Inline, MAX_DEPTH, Marks, flatten_blocks};

/// Reads an ADF document, or any other JSON value, into a document tree.
pub(crate) fn adf_to_blocks(doc: &Value) -> Vec<Block> {
    match doc {
        Value::Array(nodes) => read_blocks(nodes, 0),
        Value::Object(_) => read_blocks(std::slice::from_ref(doc), 0),
        Value::String(text) => vec![Block::Paragraph(vec![Inline::plain(text.clone())])],
        _ => Vec::new(),
    }
}

fn node_type(node: &Value) -> &str {
    node.get("type").and_then(Value::as_str).unwrap_or("")
}

fn children(node: &Value) -> &[Value] {
    match node.get("content") {
        Some(Value::Array(nodes)) => nodes,
        _ => &[],
    }
}

fn attr_str<'a>(node: &'a Value, name: &str) -> Option<&'a str> {
    node.get("attrs")?.get(name)?.as_str()
}

fn is_inline_node(node: &Value) -> bool {
    match node_type(node) {
        "text" | "hardBreak" | "mention" | "emoji" | "inlineCard" | "status" | "date"
        | "placeholder" | "mediaInline" | "inlineExtension" => true,
        // An unknown node without children is treated as inline text.
        _ => !is_known_block(node) && node.get("content").is_none(),
    }
}

fn is_known_block(node: &Value) -> bool {
    matches!(
        node_type(node),
        "doc"
            | "paragraph"
            | "heading"
            | "codeBlock"
            | "blockquote"
            | "bulletList"
            | "orderedList"
            | "listItem"
            | "taskList"
            | "taskItem"
            | "decisionList"
            | "decisionItem"
            | "rule"
            | "table"
            | "tableRow"
            | "tableCell"
            | "tableHeader"
            | "media"
            | "mediaSingle"
            | "mediaGroup"
            | "blockCard"
            | "embedCard"
            | "expand"
            | "nestedExpand"
    )
}

/// Reads a sequence of sibling nodes. Runs of inline nodes between blocks
/// become paragraphs.
fn read_blocks(nodes: &[Value], depth: usize) -> Vec<Block> {
    if depth >= MAX_DEPTH {
        return deep_text_blocks(nodes);
    }
    let mut blocks = Vec::new();
    let mut pending = Vec::new();
    for node in nodes {
        if is_inline_node(node) {
            read_inline(node, depth, &mut pending);
            continue;
        }
        if !pending.is_empty() {
            blocks.push(Block::Paragraph(std::mem::take(&mut pending)));
        }
        read_block(node, depth, &mut blocks);
    }
    if !pending.is_empty() {
        blocks.push(Block::Paragraph(pending));
    }
    blocks
}

fn read_block(node: &Value, depth: usize, out: &mut Vec<Block>) {
    let inner = depth + 1;
    match node_type(node) {
        "paragraph" => out.push(Block::Paragraph(read_inlines(children(node), inner))),
        "heading" => out.push(Block::Heading(
            heading_level(node),
            read_inlines(children(node), inner),
        )),
        "codeBlock" => out.push(Block::Code {
            language: attr_str(node, "language").map(str::to_string),
            text: code_text(children(node)),
        }),
        "blockquote" => out.push(Block::Quote(read_blocks(children(node), inner))),
        "bulletList" => out.push(Block::BulletList(read_items(children(node), inner))),
        "orderedList" => out.push(Block::OrderedList(
            list_order(node),
            read_items(children(node), inner),
        )),
        "taskList" | "decisionList" => {
            out.push(Block::BulletList(read_task_items(children(node), inner)))
        }
        "taskItem" | "decisionItem" => out.push(Block::Paragraph(read_task_text(node, inner))),
        "rule" => out.push(Block::Rule),
        "table" => read_table(node, inner, out),
        "tableRow" => out.push(Block::Paragraph(read_table_row(node, inner))),
        "expand" | "nestedExpand" => read_expand(node, inner, out),
        "blockCard" | "embedCard" => out.push(Block::Paragraph(card_text(node))),
        "media" => out.push(Block::Paragraph(media_text(node))),
        // Other nodes (doc, listItem, panel, mediaSingle, layouts, extensions
        // and unknown containers) are replaced by their children.
        _ => out.extend(read_blocks(children(node), inner)),
    }
}

fn heading_level(node: &Value) -> u8 {
    let level = node.get("attrs").and_then(|attrs| attrs.get("level"));
    let level = level.and_then(Value::as_u64).unwrap_or(1);
    level.clamp(1, 6) as u8
}

fn list_order(node: &Value) -> u64 {
    let order = node.get("attrs").and_then(|attrs| attrs.get("order"));
    match order {
        Some(Value::Number(number)) => number
            .as_u64()
            .or_else(|| number.as_f64().filter(|n| *n >= 0.0).map(|n| n as u64))
            .unwrap_or(0),
        _ => 1,
    }
}

fn read_items(nodes: &[Value], depth: usize) -> Vec<Vec<Block>> {
    nodes
        .iter()
        .map(|node| match node_type(node) {
            "listItem" => read_blocks(children(node), depth + 1),
            _ => read_blocks(std::slice::from_ref(node), depth + 1),
        })
        .collect()
}

/// Reads task or decision items as bullet items that start with `[ ]` or
/// `[x]`. A nested task list becomes part of the item before it.
fn read_task_items(nodes: &[Value], depth: usize) -> Vec<Vec<Block>> {
    let mut items: Vec<Vec<Block>> = Vec::new();
    for node in nodes {
        let blocks = match node_type(node) {
            "taskItem" | "decisionItem" => vec![Block::Paragraph(read_task_text(node, depth + 1))],
            _ => read_blocks(std::slice::from_ref(node), depth + 1),
        };
        let nested = matches!(node_type(node), "taskList" | "decisionList");
        match items.last_mut() {
            Some(last) if nested => last.extend(blocks),
            _ => items.push(blocks),
        }
    }
    items
}

fn read_task_text(node: &Value, depth: usize) -> Vec<Inline> {
    let marker = match (node_type(node), attr_str(node, "state")) {
        ("taskItem", Some("DONE")) => "[x] ",
        ("taskItem", _) => "[ ] ",
        _ => "",
    };
    let mut inlines = vec![Inline::plain(marker)];
    inlines.extend(read_inlines(children(node), depth));
    inlines
}

/// Writes each table row as one paragraph with cells separated by ` | `.
fn read_table(node: &Value, depth: usize, out: &mut Vec<Block>) {
    for row in children(node) {
        out.push(Block::Paragraph(read_table_row(row, depth + 1)));
    }
}

fn read_table_row(row: &Value, depth: usize) -> Vec<Inline> {
    let mut inlines = Vec::new();
    for (index, cell) in children(row).iter().enumerate() {
        if index > 0 {
            inlines.push(Inline::plain(" | "));
        }
        let blocks = read_blocks(children(cell), depth + 1);
        flatten_blocks(&blocks, &mut inlines);
    }
    inlines
}

fn read_expand(node: &Value, depth: usize, out: &mut Vec<Block>) {
    if let Some(title) = attr_str(node, "title").filter(|title| !title.is_empty()) {
        out.push(Block::Paragraph(vec![Inline::Text(
            title.to_string(),
            Marks {
                strong: true,
                ..Marks::default()
            },
        )]));
    }
    out.extend(read_blocks(children(node), depth));
}

fn read_inlines(nodes: &[Value], depth: usize) -> Vec<Inline> {
    if depth >= MAX_DEPTH {
        return vec![Inline::plain(collect_text(nodes))];
    }
    let mut inlines = Vec::new();
    for node in nodes {
        read_inline(node, depth, &mut inlines);
    }
    inlines
}

fn read_inline(node: &Value, depth: usize, out: &mut Vec<Inline>) {
    let text = |text: Option<&str>| Inline::plain(text.unwrap_or(""));
    match node_type(node) {
        "text" => out.push(Inline::Text(
            node.get("text")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string(),
            read_marks(node),
        )),
        "hardBreak" => out.push(Inline::Break),
        "mention" => out.push(Inline::plain(mention_text(node))),
        "emoji" => out.push(text(
            attr_str(node, "text").or_else(|| attr_str(node, "shortName")),
        )),
        "inlineCard" => out.extend(card_text(node)),
        "status" | "placeholder" => out.push(text(attr_str(node, "text"))),
        "date" => out.push(Inline::plain(date_text(
            attr_str(node, "timestamp").unwrap_or(""),
        ))),
        "mediaInline" | "media" => out.extend(media_text(node)),
        _ if is_known_block(node) || node.get("content").is_some() => {
            let blocks = read_blocks(std::slice::from_ref(node), depth + 1);
            flatten_blocks(&blocks, out);
        }
        _ => out.push(text(
            node.get("text")
                .and_then(Value::as_str)
                .or_else(|| attr_str(node, "text")),
        )),
    }
}

fn read_marks(node: &Value) -> Marks {
    let mut marks = Marks::default();
    let Some(Value::Array(list)) = node.get("marks") else {
        return marks;
    };
    for mark in list {
        match node_type(mark) {
            "strong" => marks.strong = true,
            "em" => marks.em = true,
            "strike" => marks.strike = true,
            "code" => marks.code = true,
            "link" => marks.link = attr_str(mark, "href").map(str::to_string),
            // underline, textColor, subsup, annotation and others change
            // only the look of the text.
            _ => {}
        }
    }
    marks
}

fn mention_text(node: &Value) -> String {
    if let Some(text) = attr_str(node, "text").filter(|text| !text.is_empty()) {
        return text.to_string();
    }
    match attr_str(node, "id") {
        Some(id) => format!("@{id}"),
        None => String::new(),
    }
}

/// Returns a card as its URL, linked to itself.
fn card_text(node: &Value) -> Vec<Inline> {
    let url = attr_str(node, "url").or_else(|| {
        let data = node.get("attrs")?.get("data")?;
        data.get("url")?.as_str()
    });
    match url {
        Some(url) => vec![Inline::Text(
            url.to_string(),
            Marks {
                link: Some(url.to_string()),
                ..Marks::default()
            },
        )],
        None => Vec::new(),
    }
}

/// Returns the alt text of a media node, or the URL of an external one.
/// Attached files without alt text have no visible text.
fn media_text(node: &Value) -> Vec<Inline> {
    if let Some(alt) = attr_str(node, "alt").filter(|alt| !alt.is_empty()) {
        return vec![Inline::plain(alt)];
    }
    card_text(node)
}

/// Formats an ADF date (milliseconds since the Unix epoch, as a string) as
/// an ISO 8601 calendar date in UTC. Other values are returned unchanged.
fn date_text(timestamp: &str) -> String {
    let Ok(millis) = timestamp.trim().parse::<i64>() else {
        return timestamp.to_string();
    };
    let days = millis.div_euclid(86_400_000);
    let (year, month, day) = civil_from_days(days);
    format!("{year:04}-{month:02}-{day:02}")
}

/// Converts days since 1970-01-01 to a proleptic Gregorian (year, month,
/// day), counting in 400-year eras of 146,097 days that start on March 1.
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z.rem_euclid(146_097);
    let year_of_era =
        (day_of_era - day_of_era / 1_460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_index = (5 * day_of_year + 2) / 153;
    let day = (day_of_year - (153 * month_index + 2) / 5 + 1) as u32;
    let month = if month_index < 10 {
        month_index + 3
    } else {
        month_index - 9
    } as u32;
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// Concatenates the text nodes of a code block, with breaks as newlines.
fn code_text(nodes: &[Value]) -> String {
    let mut text = String::new();
    for node in nodes {
        match node_type(node) {
            "hardBreak" => text.push('\n'),
            _ => text.push_str(node.get("text").and_then(Value::as_str).unwrap_or("")),
        }
    }
    text
}

/// Replaces nodes nested too deeply by one paragraph of their text.
fn deep_text_blocks(nodes: &[Value]) -> Vec<Block> {
    let text = collect_text(nodes);
    if text.is_empty() {
        return Vec::new();
    }
    vec![Block::Paragraph(vec![Inline::plain(text)])]
}

/// Concatenates the text of all nodes below `nodes`, without recursion so
/// that any depth is safe. The text of each node with children is followed
/// by a space, so words of sibling paragraphs stay apart.
fn collect_text(nodes: &[Value]) -> String {
    enum Step<'a> {
        Visit(&'a Value),
        Space,
    }
    let mut out = String::new();
    let mut stack: Vec<Step<'_>> = nodes.iter().rev().map(Step::Visit).collect();
    while let Some(step) = stack.pop() {
        let node = match step {
            Step::Space => {
                out.push(' ');
                continue;
            }
            Step::Visit(node) => node,
        };
        match node {
            Value::Object(_) => {
                out.push_str(node_text(node));
                if node_type(node) == "hardBreak" {
                    out.push('\n');
                }
                let nested = children(node);
                if !nested.is_empty() {
                    stack.push(Step::Space);
                    stack.extend(nested.iter().rev().map(Step::Visit));
                }
            }
            Value::Array(items) => stack.extend(items.iter().rev().map(Step::Visit)),
            _ => {}
        }
    }
    out.trim_end_matches(' ').to_string()
}

fn node_text(node: &Value) -> &str {
    node.get("text")
        .and_then(Value::as_str)
        .or_else(|| attr_str(node, "text"))
        .or_else(|| attr_str(node, "url"))
        .unwrap_or("")
}
