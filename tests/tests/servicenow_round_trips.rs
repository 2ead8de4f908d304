//! Round trips between ServiceNow and Azure DevOps, Zendesk, Jira Data Center, Salesforce and
//! HP ALM/QC, connected both ways. In each test a person creates an incident or an issue on
//! one side, and a person on the other side edits its title, description and state and
//! comments on it. Both sides must converge, and the webhooks of the proxy users' own writes
//! must be skipped without writing anything (no ping-pong).

use proxysync_tests::round_trip::{Peer, run};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn servicenow_to_azure_devops() {
    run(Peer::Servicenow, Peer::AzureDevops).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn azure_devops_to_servicenow() {
    run(Peer::AzureDevops, Peer::Servicenow).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn servicenow_to_zendesk() {
    run(Peer::Servicenow, Peer::Zendesk).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn zendesk_to_servicenow() {
    run(Peer::Zendesk, Peer::Servicenow).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn servicenow_to_jira_dc() {
    run(Peer::Servicenow, Peer::JiraDc).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jira_dc_to_servicenow() {
    run(Peer::JiraDc, Peer::Servicenow).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn servicenow_to_salesforce() {
    run(Peer::Servicenow, Peer::Salesforce).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn salesforce_to_servicenow() {
    run(Peer::Salesforce, Peer::Servicenow).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn servicenow_to_hp_alm() {
    run(Peer::Servicenow, Peer::HpAlm).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hp_alm_to_servicenow() {
    run(Peer::HpAlm, Peer::Servicenow).await;
}
