//! Checks of the SAM template (template.yaml at the repository root).
//!
//! cfn-lint comes from the project's virtual environment, which
//! `bash infra/local/setup.sh` creates. These tests parse no YAML: the
//! route test only searches the template text.

use std::path::PathBuf;
use std::process::Command;

use proxysync_tests::repo_root;

fn template_path() -> PathBuf {
    repo_root().join("template.yaml")
}

#[test]
fn cfn_lint_passes() {
    let root = repo_root();
    let cfn_lint = root.join(".venv/bin/cfn-lint");
    if !cfn_lint.is_file() {
        panic!(
            "cfn-lint not found: run `bash infra/local/setup.sh` (expected {})",
            cfn_lint.display()
        );
    }

    let output = Command::new(&cfn_lint)
        .arg(template_path())
        .current_dir(&root)
        .output()
        .unwrap_or_else(|error| panic!("failed to run {}: {error}", cfn_lint.display()));

    // cfn-lint exits with a non-zero status when it reports an error or a warning.
    assert!(
        output.status.success(),
        "cfn-lint rejected template.yaml ({})\nstdout:\n{}\nstderr:\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr),
    );
}

#[test]
fn template_routes_match_functions() {
    let path = template_path();
    let template = std::fs::read_to_string(&path)
        .unwrap_or_else(|error| panic!("failed to read {}: {error}", path.display()));

    // The routes are matched with their `Path:` key, because the output URLs contain the same text.
    assert!(
        template.contains("Path: /webhooks/github/{instance}"),
        "template.yaml has no route `Path: /webhooks/github/{{instance}}`"
    );
    assert!(
        template.contains("Path: /webhooks/jira/{instance}"),
        "template.yaml has no route `Path: /webhooks/jira/{{instance}}`"
    );
    assert!(
        template.contains("Binary: github-webhook"),
        "template.yaml does not build the github-webhook binary (`Binary: github-webhook`)"
    );
    assert!(
        template.contains("Binary: jira-webhook"),
        "template.yaml does not build the jira-webhook binary (`Binary: jira-webhook`)"
    );
    assert!(
        template.contains("Runtime: provided.al2023"),
        "template.yaml does not use the provided.al2023 runtime"
    );
    assert!(
        template.contains("AttributeName: expires_at"),
        "template.yaml has no `AttributeName: expires_at` (the TTL attribute of the table)"
    );
}
