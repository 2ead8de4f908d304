//! Round trips between the newer trackers and the GitHub or Jira Cloud peer that their own
//! test files do not pair them with: Azure DevOps, Jira Data Center, Salesforce and HP ALM/QC
//! with Jira Cloud, and Zendesk with GitHub. Each runs the steps of
//! [`proxysync_tests::round_trip::run`] in both orders.

use proxysync_tests::round_trip::{Peer, run};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn azure_devops_to_jira() {
    run(Peer::AzureDevops, Peer::JiraCloud).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jira_to_azure_devops() {
    run(Peer::JiraCloud, Peer::AzureDevops).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn zendesk_to_github() {
    run(Peer::Zendesk, Peer::Github).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn github_to_zendesk() {
    run(Peer::Github, Peer::Zendesk).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jira_dc_to_jira() {
    run(Peer::JiraDc, Peer::JiraCloud).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jira_to_jira_dc() {
    run(Peer::JiraCloud, Peer::JiraDc).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn salesforce_to_jira() {
    run(Peer::Salesforce, Peer::JiraCloud).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jira_to_salesforce() {
    run(Peer::JiraCloud, Peer::Salesforce).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hp_alm_to_jira() {
    run(Peer::HpAlm, Peer::JiraCloud).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jira_to_hp_alm() {
    run(Peer::JiraCloud, Peer::HpAlm).await;
}
