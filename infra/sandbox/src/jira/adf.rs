//! Atlassian Document Format checks, and the conversion of ADF to the wiki markup that Jira
//! webhooks carry.

use serde_json::Value;

/// Returns whether `value` is an ADF document: an object with `"type": "doc"`, `"version": 1` and a
/// `content` array. The nodes inside are not checked.
pub(crate) fn is_document(value: &Value) -> bool {
    value.get("type").and_then(Value::as_str) == Some("doc")
        && value.get("version").and_then(Value::as_u64) == Some(1)
        && value.get("content").is_some_and(Value::is_array)
}

/// Returns whether an ADF document has no visible text.
pub(crate) fn is_blank(doc: &Value) -> bool {
    proxysync_formats::adf_to_markdown(doc).trim().is_empty()
}

/// Converts an ADF document to Jira wiki markup, the representation of text fields in webhook
/// payloads. The conversion goes through Markdown, so ADF nodes that Markdown cannot express
/// arrive as their visible text.
pub(crate) fn to_wiki(doc: &Value) -> String {
    proxysync_formats::markdown_to_wiki(&proxysync_formats::adf_to_markdown(doc))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn document_check_needs_doc_version_and_content() {
        assert!(is_document(
            &json!({"type": "doc", "version": 1, "content": []})
        ));
        assert!(!is_document(&json!("plain text")));
        assert!(!is_document(
            &json!({"type": "paragraph", "version": 1, "content": []})
        ));
    }

    #[test]
    fn blank_document_has_no_text() {
        assert!(is_blank(
            &json!({"type": "doc", "version": 1, "content": []})
        ));
        let text = json!({"type": "doc", "version": 1, "content": [
            {"type": "paragraph", "content": [{"type": "text", "text": "hi"}]}
        ]});
        assert!(!is_blank(&text));
    }

    #[test]
    fn wiki_keeps_paragraph_text() {
        let doc = json!({"type": "doc", "version": 1, "content": [
            {"type": "paragraph", "content": [{"type": "text", "text": "Widgets break"}]}
        ]});
        assert_eq!(to_wiki(&doc).trim(), "Widgets break");
    }
}
