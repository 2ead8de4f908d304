"""Run the proxysync demo on a local stack.

Starts moto's server (DynamoDB and Secrets Manager), the tracker sandbox
(every tracker proxysync syncs) and the functions under `cargo lambda
watch`, all on 127.0.0.1. Then it registers the instances and the
connections, has people change issues on each tracker, delivers the
webhooks (or runs the HP ALM/QC poller), and prints what each one caused.
Every process it started is stopped when it exits.

Run it through infra/local/demo.sh, which installs the tools first.
Ports: MOTO_PORT (5055), SANDBOX_PORT (8910, fixed by infra/local/proxysync.yaml),
LAMBDA_PORT (9055).
"""

import base64
import hashlib
import hmac
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from http.cookiejar import CookieJar
from pathlib import Path

import boto3

ROOT = Path(__file__).resolve().parents[2]
VENV_BIN = ROOT / ".venv" / "bin"
MOTO_PORT = int(os.environ.get("MOTO_PORT", "5055"))
SANDBOX_PORT = 8910
LAMBDA_PORT = int(os.environ.get("LAMBDA_PORT", "9055"))
LOG_DIR = ROOT / ".local" / "logs"
SECRETS = json.loads((ROOT / "infra/local/secrets.json").read_text())

ENV = dict(
    os.environ,
    AWS_ENDPOINT_URL=f"http://127.0.0.1:{MOTO_PORT}",
    AWS_ACCESS_KEY_ID="testing",
    AWS_SECRET_ACCESS_KEY="testing",
    AWS_REGION="us-east-1",
    AWS_DEFAULT_REGION="us-east-1",
    PROXYSYNC_TABLE="proxysync-demo",
    # The demo applies connections while the functions run, so they must not serve a cached configuration.
    PROXYSYNC_CONFIG_TTL_SECS="0",
    PATH=f"{VENV_BIN}:{os.environ.get('PATH', '')}",
    RUST_LOG=os.environ.get("RUST_LOG", "info"),
)
PROXYSYNC = str(ROOT / "target/debug/proxysync")
SANDBOX = f"http://127.0.0.1:{SANDBOX_PORT}"
HUMAN_GITHUB = "Bearer ghp_sandboxAliceDev00000000000000000000002"
HUMAN_JIRA = "Basic " + base64.b64encode(b"alice@acme.example:sandbox-jira-token-alice").decode()
# The endpoint URL token of the Salesforce Outbound Message, the webhook_secret of acme-salesforce.
SALESFORCE_ENDPOINT_TOKEN = "sandbox-salesforce-endpoint-token-0123456789"

# The function, webhook route and instance that receive each sandbox tracker's webhooks.
WEBHOOK_RECEIVERS = {
    "github": ("github-webhook", "github", "acme-github"),
    "jira": ("jira-webhook", "jira", "acme-jira"),
    "jira-dc": ("jira-webhook", "jira", "acme-jira-dc"),
    "servicenow": ("servicenow-webhook", "servicenow", "acme-servicenow"),
    "azure-devops": ("azure-devops-webhook", "azure-devops", "acme-azure-devops"),
    "zendesk": ("zendesk-webhook", "zendesk", "acme-zendesk"),
    "salesforce": ("salesforce-webhook", "salesforce", "acme-salesforce"),
}

processes = []


def start(name, command):
    """Start a background process with its output in .local/logs/NAME.log."""
    LOG_DIR.mkdir(parents=True, exist_ok=True)
    log = open(LOG_DIR / f"{name}.log", "wb")
    process = subprocess.Popen(command, cwd=ROOT, env=ENV, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    processes.append((name, process))
    return process


def stop_all():
    for _, process in reversed(processes):
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
    for _, process in processes:
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)


def wait_for_port(name, port, seconds):
    deadline = time.time() + seconds
    while time.time() < deadline:
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return
        for process_name, process in processes:
            if process.poll() is not None:
                sys.exit(f"{process_name} exited early: see {LOG_DIR / (process_name + '.log')}")
        time.sleep(0.2)
    sys.exit(f"{name} did not listen on 127.0.0.1:{port} within {seconds} s: see {LOG_DIR}")


def http(method, url, body=None, headers=None, timeout=120):
    """Send a request and return (status, parsed JSON or text)."""
    data = body if isinstance(body, bytes) or body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method)
    request.add_header("user-agent", "proxysync-demo")
    if data is not None and not (headers and any(k.lower() == "content-type" for k in headers)):
        request.add_header("content-type", "application/json")
    for name, value in (headers or {}).items():
        request.add_header(name, value)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            status, text = response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        status, text = error.code, error.read().decode()
    try:
        return status, json.loads(text) if text else None
    except json.JSONDecodeError:
        return status, text


def proxysync(*args):
    result = subprocess.run([PROXYSYNC, *args], cwd=ROOT, env=ENV, capture_output=True, text=True)
    if result.returncode != 0:
        sys.exit(f"proxysync {' '.join(args)} failed:\n{result.stderr}")
    return result.stdout.strip()


def read_headers(path):
    headers = {}
    for line in path.read_text().splitlines():
        if ":" in line and not line.startswith("HTTP/"):
            name, value = line.split(":", 1)
            headers[name.strip()] = value.strip()
    return headers


def basic(user, password):
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def function_url(tracker):
    """Return the local URL of the function that receives TRACKER's webhooks (a WEBHOOK_RECEIVERS key)."""
    function, route, instance = WEBHOOK_RECEIVERS[tracker]
    url = f"http://127.0.0.1:{LAMBDA_PORT}/lambda-url/{function}/webhooks/{route}/{instance}"
    if tracker == "salesforce":
        # Outbound Messages carry no signature, so the endpoint URL's token authenticates them.
        url += f"?token={SALESFORCE_ENDPOINT_TOKEN}"
    return url


def send_sample(route, name):
    """Send events/ROUTE/NAME.json with its headers file, as the tracker would."""
    body = (ROOT / "events" / route / f"{name}.json").read_bytes()
    headers = read_headers(ROOT / "events" / route / f"{name}.headers")
    return http("POST", function_url(route), body, headers)


def send_recorded(webhook):
    body = base64.b64decode(webhook["body_base64"])
    headers = {name: value for name, value in webhook["headers"]}
    return http("POST", function_url(webhook["tracker"]), body, headers)


def describe_soap(status, body):
    """Summarize a Salesforce SOAP response as the acknowledgement or the fault's message."""
    if "<Ack>true</Ack>" in body:
        return f"{status} SOAP Ack true"
    fault = re.search(r"<faultstring>(.*?)</faultstring>", body, re.DOTALL)
    return f"{status} SOAP fault: {fault.group(1) if fault else body[:300]}"


def describe(answer):
    status, body = answer
    if isinstance(body, str) and "soapenv:Envelope" in body:
        return describe_soap(status, body)
    if not isinstance(body, dict):
        return f"{status} {body}"
    if "error" in body and "outcome" not in body:
        return f"{status} {body['error']}: {body.get('message')}"
    events = body.get("events") or []
    if not events:
        return f"{status} {body.get('outcome')}" + (f" ({body.get('reason')})" if body.get("reason") else "")
    parts = []
    for event in events:
        detail = event.get("action") or event.get("reason") or event.get("error") or ""
        target = f" -> {event['target']}" if event.get("target") else ""
        parts.append(f"{event.get('decision')} {detail}{target}")
    return f"{status} {body.get('outcome')}: " + "; ".join(parts)


def expect(label, answer, wanted):
    """Print the response and stop the demo when it lacks the expected text (or each of several).

    Returns the printed description.
    """
    text = describe(answer)
    print(f"{label}: {text}")
    choices = wanted if isinstance(wanted, tuple) else (wanted,)
    if not any(choice in text for choice in choices):
        sys.exit(f"unexpected answer for {label}: wanted {wanted!r}; logs are in {LOG_DIR}")
    return text


def require(condition, failure):
    """Stop the demo with FAILURE when CONDITION is false."""
    if not condition:
        sys.exit(f"{failure}; logs are in {LOG_DIR}")


def take_webhooks():
    _, hooks = http("POST", f"{SANDBOX}/_sandbox/webhooks/take")
    return hooks


def forward_proxy_webhooks():
    """Deliver what the trackers recorded for the proxy user's writes; each must be skipped.

    Returns (tracker, description) of each delivery. A Salesforce Outbound Message gets a SOAP
    Ack as the response whether it was synced or skipped, so its description is the Ack.
    """
    answers = []
    for webhook in take_webhooks():
        # A write that touches no synced field is ignored before the author check.
        text = expect(f"  {webhook['tracker']} webhook for the proxy user's write", send_recorded(webhook),
                      ("proxy_author", "ignored", "SOAP Ack true"))
        answers.append((webhook["tracker"], text))
    return answers


def deliver_person_webhooks(tracker, label, wanted):
    """Deliver the webhooks TRACKER recorded for a person's change, and require WANTED in the first response."""
    webhooks = take_webhooks()
    others = [webhook["tracker"] for webhook in webhooks if webhook["tracker"] != tracker]
    require(not others, f"the sandbox also recorded webhooks of {others} for {label}")
    require(webhooks, f"the sandbox recorded no {tracker} webhook for {label}")
    text = expect(label, send_recorded(webhooks[0]), wanted)
    for webhook in webhooks[1:]:
        print(f"  and the next {tracker} webhook of that change: {describe(send_recorded(webhook))}")
    return text


def invoke_function(name):
    """Invoke a scheduled function once with the EventBridge sample event and return its JSON output."""
    result = subprocess.run(
        [str(VENV_BIN / "cargo-lambda"), "lambda", "invoke", name, "-A", "127.0.0.1", "-P", str(LAMBDA_PORT),
         "--data-file", "events/scheduled/eventbridge.json"],
        cwd=ROOT, env=ENV, capture_output=True, text=True, timeout=900)
    if result.returncode != 0:
        sys.exit(f"{name} failed: {result.stderr or result.stdout}")
    return result.stdout.strip()


def step(text):
    print(f"\n== {text}")


def refresh_servicenow_token(secrets):
    """Register a ServiceNow instance whose access token expires in 60 s, then run the refresher once."""
    form = urllib.parse.urlencode({
        "grant_type": "password", "username": "proxysync.bot", "password": "sandbox-servicenow-password-bot",
        "client_id": "sandbox-servicenow-client", "client_secret": "sandbox-servicenow-client-secret",
    }).encode()
    status, tokens = http("POST", f"{SANDBOX}/servicenow/oauth_token.do", form,
                          {"content-type": "application/x-www-form-urlencoded"})
    if status != 200:
        sys.exit(f"the sandbox refused the ServiceNow sign-in: {status} {tokens}")
    value = {
        "client_id": "sandbox-servicenow-client", "client_secret": "sandbox-servicenow-client-secret",
        "refresh_token": tokens["refresh_token"], "access_token": tokens["access_token"],
        "access_token_expires_at": int(time.time()) + int(tokens["expires_in"]),
        "webhook_secret": "sandbox-servicenow-webhook-secret",
    }
    secret_id = "proxysync/acme-servicenow"
    store_secret(secrets, secret_id, value)
    print(proxysync("instance", "add", "--id", "acme-servicenow", "--tracker", "servicenow",
                    "--base-url", f"{SANDBOX}/servicenow", "--secret", secret_id))
    # Pretend time passed: the stored token now expires within the refresher's 15-minute margin.
    value["access_token_expires_at"] = int(time.time()) + 60
    secrets.put_secret_value(SecretId=secret_id, SecretString=json.dumps(value))
    print("the stored access token expires in 60 s; invoking token-refresher once:")
    print(f"  token-refresher answered: {invoke_function('token-refresher')[:300]}")
    stored = json.loads(secrets.get_secret_value(SecretId=secret_id, VersionStage="AWSCURRENT")["SecretString"])
    left = stored["access_token_expires_at"] - int(time.time())
    renewed = stored["access_token"] != tokens["access_token"]
    print(f"  secret {secret_id}: new access token {'stored' if renewed else 'NOT stored'}, expires in {left} s")
    if not renewed or left <= 60:
        sys.exit("the token refresher did not renew the ServiceNow access token")


def store_secret(secrets, secret_id, value):
    try:
        secrets.create_secret(Name=secret_id, SecretString=json.dumps(value))
    except secrets.exceptions.ResourceExistsException:
        secrets.put_secret_value(SecretId=secret_id, SecretString=json.dumps(value))


def github_issue(repo, title):
    """Return the GitHub issue of REPO titled TITLE from the sandbox state, or None."""
    _, state = http("GET", f"{SANDBOX}/_sandbox/state")
    return next((issue for issue in state["github"]["issues"] if issue["repo"] == repo and issue["title"] == title), None)


def jira_issue(project, summary):
    """Return the Jira Cloud issue of PROJECT with SUMMARY from the sandbox state, or None."""
    _, state = http("GET", f"{SANDBOX}/_sandbox/state")
    return next((issue for issue in state["jira"]["issues"]
                 if issue["key"].startswith(f"{project}-") and issue["summary"] == summary), None)


def sync_azure_devops():
    """Register Azure DevOps, sync Dave's new work item to GitHub, and sync alice's reply back."""
    print(proxysync("instance", "add", "--id", "acme-azure-devops", "--tracker", "azure-devops",
                    "--base-url", f"{SANDBOX}/azure-devops/acme", "--secret", "proxysync/acme-azure-devops",
                    "--option", 'projects=["Web Shop"]'))
    print(proxysync("connection", "apply", "infra/local/azure-devops.yaml"))
    dave = basic("", "sandbox-azure-devops-pat-dave")
    title = "Coupon code ignored at checkout"
    patch = [
        {"op": "add", "path": "/fields/System.Title", "value": title},
        {"op": "add", "path": "/fields/System.Description",
         "value": "<div>The <b>SPRING10</b> code gives no discount.</div>"},
        {"op": "add", "path": "/fields/System.Tags", "value": "checkout"},
    ]
    status, item = http("POST", f"{SANDBOX}/azure-devops/acme/Web%20Shop/_apis/wit/workitems/$Task?api-version=7.1",
                        json.dumps(patch).encode(),
                        {"authorization": dave, "content-type": "application/json-patch+json"})
    require(status == 200, f"the Azure DevOps sandbox rejected Dave's work item: {status} {item}")
    deliver_person_webhooks("azure-devops", f"service hook workitem.created of Web Shop#{item['id']}",
                            "synced created -> acme/secret-plans#")
    issue = github_issue("acme/secret-plans", title)
    require(issue is not None, f"no GitHub issue \"{title}\" in acme/secret-plans")
    print(f"GitHub now has acme/secret-plans#{issue['number']} \"{issue['title']}\" labels {issue['labels']}:")
    print("  " + (issue["body"] or "").replace("\n", "\n  "))
    forward_proxy_webhooks()

    print("alice replies on GitHub; the comment reaches the work item, and its service hook is skipped:")
    http("POST", f"{SANDBOX}/github/repos/acme/secret-plans/issues/{issue['number']}/comments",
         {"body": "Also fails for `WELCOME5`."}, {"authorization": HUMAN_GITHUB})
    deliver_person_webhooks("github", "issue_comment webhook", f"synced comment_added -> Web Shop#{item['id']}")
    answers = forward_proxy_webhooks()
    require(("azure-devops", "200 skipped: skipped proxy_author") in answers,
            "the service hook of the proxy user's Azure DevOps comment was not skipped as proxy_author")


def sync_zendesk():
    """Register Zendesk and sync Carol's new ticket to the Jira Cloud project HR."""
    print(proxysync("instance", "add", "--id", "acme-zendesk", "--tracker", "zendesk",
                    "--base-url", f"{SANDBOX}/zendesk", "--secret", "proxysync/acme-zendesk"))
    print(proxysync("connection", "apply", "infra/local/zendesk.yaml"))
    carol = basic("carol@acme.example/token", "sandbox-zendesk-token-carol")
    subject = "Printer on floor 3 jams"
    status, created = http("POST", f"{SANDBOX}/zendesk/api/v2/tickets", {"ticket": {
        "subject": subject, "comment": {"body": "It jams after every **second** page."},
        "group_id": 360001, "tags": ["printer"]}}, {"authorization": carol})
    require(status in (200, 201), f"the Zendesk sandbox rejected Carol's ticket: {status} {created}")
    # The sandbox signs each webhook when it records it, so the timestamp is current when sent.
    deliver_person_webhooks("zendesk", f"ticket event webhook of ticket {created['ticket']['id']}",
                            "synced created -> HR-")
    issue = jira_issue("HR", subject)
    require(issue is not None, f"no Jira issue \"{subject}\" in HR")
    print(f"Jira now has {issue['key']} \"{issue['summary']}\" labels {issue['labels']}, status {issue['status']}")
    forward_proxy_webhooks()


def sync_jira_dc():
    """Register Jira Data Center and sync Bob's new issue to the Jira Cloud project SUP."""
    print(proxysync("instance", "add", "--id", "acme-jira-dc", "--tracker", "jira-dc",
                    "--base-url", f"{SANDBOX}/jira-dc", "--secret", "proxysync/acme-jira-dc",
                    "--option", 'projects=["OPS"]'))
    print(proxysync("connection", "apply", "infra/local/jira-dc.yaml"))
    bob = basic("bob", "sandbox-jira-dc-password-bob")
    summary = "Backups of node 3 fail"
    status, created = http("POST", f"{SANDBOX}/jira-dc/rest/api/2/issue", {"fields": {
        "project": {"key": "OPS"}, "issuetype": {"name": "Task"}, "summary": summary,
        "description": "The nightly job stops at *90%*.\n\n* disk full\n* no alert"}}, {"authorization": bob})
    require(status in (200, 201), f"the Jira Data Center sandbox rejected Bob's issue: {status} {created}")
    deliver_person_webhooks("jira-dc", f"jira:issue_created webhook of {created['key']}", "synced created -> SUP-")
    issue = jira_issue("SUP", summary)
    require(issue is not None, f"no Jira Cloud issue \"{summary}\" in SUP")
    print(f"Jira Cloud now has {issue['key']} \"{issue['summary']}\", status {issue['status']}")
    forward_proxy_webhooks()


def salesforce_access_token(username):
    """Issue a Salesforce refresh token for USERNAME and return it with an access token from the grant."""
    status, issued = http("POST", f"{SANDBOX}/_sandbox/salesforce/refresh-tokens", {"username": username})
    require(status == 201, f"the sandbox issued no Salesforce refresh token for {username}: {status} {issued}")
    form = urllib.parse.urlencode({
        "grant_type": "refresh_token", "refresh_token": issued["refresh_token"],
        "client_id": "sandbox-salesforce-client", "client_secret": "sandbox-salesforce-client-secret",
    }).encode()
    status, tokens = http("POST", f"{SANDBOX}/salesforce/services/oauth2/token", form,
                          {"content-type": "application/x-www-form-urlencoded"})
    require(status == 200, f"the Salesforce sandbox rejected the refresh token of {username}: {status} {tokens}")
    return issued["refresh_token"], tokens["access_token"]


def sync_salesforce(secrets):
    """Register Salesforce and sync Casey's new Case to GitHub through its Outbound Message."""
    refresh_token, _ = salesforce_access_token("sync.proxy@example.com")
    store_secret(secrets, "proxysync/acme-salesforce", {
        "client_id": "sandbox-salesforce-client", "client_secret": "sandbox-salesforce-client-secret",
        "refresh_token": refresh_token, "webhook_secret": SALESFORCE_ENDPOINT_TOKEN,
    })
    # The organization id is the sandbox org's, which the samples in events/salesforce/ carry too.
    print(proxysync("instance", "add", "--id", "acme-salesforce", "--tracker", "salesforce",
                    "--base-url", f"{SANDBOX}/salesforce", "--secret", "proxysync/acme-salesforce",
                    "--option", "organization_id=00D000000000042AAA",
                    "--option", 'sobject_types=["Case","CaseComment"]'))
    print(proxysync("connection", "apply", "infra/local/salesforce.yaml"))

    _, casey = salesforce_access_token("casey.agent@example.com")
    subject = "Invoice PDF is blank"
    status, created = http("POST", f"{SANDBOX}/salesforce/services/data/v60.0/sobjects/Case/",
                           {"Subject": subject, "Description": "Invoices from March open as empty pages.",
                            "Status": "New"}, {"authorization": f"Bearer {casey}"})
    require(status == 201, f"the Salesforce sandbox rejected Casey's Case: {status} {created}")
    deliver_person_webhooks("salesforce", f"Outbound Message of Case {created['id']}", "SOAP Ack true")
    issue = github_issue("acme/widgets", subject)
    require(issue is not None, f"no GitHub issue \"{subject}\" in acme/widgets after the acknowledged Outbound Message")
    print(f"GitHub now has acme/widgets#{issue['number']} \"{issue['title']}\" {issue['state']}")

    skipped_metric = "Skipped[Tracker=salesforce,Reason=proxy_author]"
    skipped_before = metric_totals().get(skipped_metric, 0)
    forward_proxy_webhooks()
    # The Ack does not tell a synced message from a skipped one, so count the function's Skipped metric.
    deadline = time.time() + 10
    while metric_totals().get(skipped_metric, 0) <= skipped_before and time.time() < deadline:
        time.sleep(0.2)
    require(metric_totals().get(skipped_metric, 0) > skipped_before,
            "salesforce-webhook logged no proxy_author skip for the proxy user's Outbound Message")
    print(f"  salesforce-webhook counted the proxy user's Outbound Message in {skipped_metric}")


def alm_session(username, password):
    """Sign in to the HP ALM/QC sandbox and return an opener with the session cookies, and the XSRF token."""
    cookies = CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(cookies))
    alm = f"{SANDBOX}/hp-alm/qcbin"
    sign_in = urllib.request.Request(f"{alm}/authentication-point/authenticate",
                                     headers={"authorization": basic(username, password)})
    opener.open(sign_in, timeout=30).close()
    opener.open(urllib.request.Request(f"{alm}/rest/site-session", data=b"", method="POST"), timeout=30).close()
    xsrf = next((cookie.value for cookie in cookies if cookie.name == "XSRF-TOKEN"), None)
    require(xsrf is not None, f"the HP ALM/QC sandbox opened no session for {username}")
    return opener, xsrf


def alm_fields(values):
    return {"Type": "defect", "Fields": [{"Name": name, "values": [{"value": value}]} for name, value in values.items()]}


def sync_hp_alm():
    """Register HP ALM/QC and sync a tester's new defect to GitHub with two runs of alm-poller."""
    project = "DEFAULT/Example_Project"
    print(proxysync("instance", "add", "--id", "acme-alm", "--tracker", "hp-alm",
                    "--base-url", f"{SANDBOX}/hp-alm/qcbin", "--secret", "proxysync/acme-alm",
                    "--option", f'projects=["{project}"]'))
    print(proxysync("connection", "apply", "infra/local/hp-alm.yaml"))
    opener, xsrf = alm_session("tester_one", "sandbox-alm-password-tester")
    name = "Monthly report totals are off by one"
    defect = alm_fields({
        "name": name, "severity": "2-Medium", "status": "New", "detected-by": "tester_one",
        "creation-time": time.strftime("%Y-%m-%d"),
        "description": "<html><body><p>Totals are off by <b>one</b>.</p></body></html>",
    })
    request = urllib.request.Request(f"{SANDBOX}/hp-alm/qcbin/rest/domains/DEFAULT/projects/Example_Project/defects",
                                     data=json.dumps(defect).encode(), method="POST",
                                     headers={"content-type": "application/json", "accept": "application/json",
                                              "x-xsrf-token": xsrf})
    with opener.open(request, timeout=30) as response:
        created = json.loads(response.read())
    defect_id = next(field["values"][0]["value"] for field in created["Fields"] if field["Name"] == "id")
    print(f"tester_one filed defect {defect_id} in {project}; ALM sends no webhook, so alm-poller reads it:")

    reports = json.loads(invoke_function("alm-poller"))
    report = next((report for report in reports if report.get("instance") == "acme-alm"), None)
    print(f"  alm-poller report: {json.dumps(report)}")
    require(report is not None and report.get("synced") == 1,
            f"alm-poller synced no defect of acme-alm: {reports}")
    issue = github_issue("acme/widgets", name)
    require(issue is not None, f"no GitHub issue \"{name}\" in acme/widgets after the poll")
    print(f"GitHub now has acme/widgets#{issue['number']} \"{issue['title']}\":")
    print("  " + (issue["body"] or "").replace("\n", "\n  "))
    forward_proxy_webhooks()

    print("the next poll reads the proxy user's link comment on the defect and skips it:")
    reports = json.loads(invoke_function("alm-poller"))
    report = next((report for report in reports if report.get("instance") == "acme-alm"), None)
    print(f"  alm-poller report: {json.dumps(report)}")
    require(report is not None and report.get("synced") == 0 and report.get("skipped", 0) >= 1,
            f"the second poll did not skip the proxy user's change: {reports}")


def metric_totals():
    """Sum the EMF metrics the functions printed into .local/logs/functions.log, by name and dimensions."""
    totals = {}
    for line in (LOG_DIR / "functions.log").read_text(errors="replace").splitlines():
        start = line.find('{"_aws"')
        if start < 0:
            start = line.find("{") if '"_aws"' in line else -1
        if start < 0:
            continue
        try:
            document = json.loads(line[start:])
        except json.JSONDecodeError:
            continue
        for directive in document.get("_aws", {}).get("CloudWatchMetrics", []):
            dimensions = list(dict.fromkeys(name for group in directive.get("Dimensions", []) for name in group))
            label = ",".join(f"{name}={document.get(name)}" for name in dimensions)
            for metric in directive.get("Metrics", []):
                value = document.get(metric["Name"])
                if isinstance(value, (int, float)):
                    key = f"{metric['Name']}{'[' + label + ']' if label else ''}"
                    totals[key] = totals.get(key, 0) + value
    return totals


def print_metrics():
    totals = metric_totals()
    if not totals:
        print("no metric lines found in the function log")
    for key in sorted(totals):
        print(f"  {key}: {totals[key]:g}")


def check_ports_free():
    for name, port, variable in [("moto_server", MOTO_PORT, "MOTO_PORT"), ("tracker-sandbox", SANDBOX_PORT, None),
                                 ("cargo lambda watch", LAMBDA_PORT, "LAMBDA_PORT")]:
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                fix = f"set {variable} to a free port" if variable else "stop what listens there"
                sys.exit(f"port {port} on 127.0.0.1, needed by {name}, is in use: {fix}")


def main(keep_running):
    check_ports_free()
    print("compiling proxysync, the sandbox and the functions (the first run takes several minutes)", flush=True)
    packages = ["proxysync", "tracker-sandbox", "github-webhook", "jira-webhook", "token-refresher", "servicenow-webhook",
                "azure-devops-webhook", "zendesk-webhook", "salesforce-webhook", "alm-poller"]
    subprocess.run(["cargo", "build", *(arg for package in packages for arg in ("-p", package))], cwd=ROOT, check=True)

    step("starting moto's server, the tracker sandbox and the functions (cargo lambda watch)")
    start("moto", [str(VENV_BIN / "moto_server"), "-H", "127.0.0.1", "-p", str(MOTO_PORT)])
    start("sandbox", [str(ROOT / "target/debug/tracker-sandbox"), "--listen", f"127.0.0.1:{SANDBOX_PORT}"])
    start("functions", [str(VENV_BIN / "cargo-lambda"), "lambda", "watch", "-A", "127.0.0.1", "-P", str(LAMBDA_PORT), "--ignore-changes"])
    wait_for_port("moto_server", MOTO_PORT, 30)
    wait_for_port("tracker-sandbox", SANDBOX_PORT, 30)
    wait_for_port("cargo lambda watch", LAMBDA_PORT, 300)
    print(f"moto 127.0.0.1:{MOTO_PORT}, sandbox {SANDBOX}, functions 127.0.0.1:{LAMBDA_PORT}; logs in {LOG_DIR}")

    step("creating the table and the instance secrets")
    print(proxysync("create-table"))
    secrets = boto3.client("secretsmanager", endpoint_url=ENV["AWS_ENDPOINT_URL"], region_name="us-east-1",
                           aws_access_key_id="testing", aws_secret_access_key="testing")
    for secret_id, value in SECRETS.items():
        store_secret(secrets, secret_id, value)
        print(f"secret {secret_id}")

    step("registering the instances (reads each proxy user from the tracker) and the connection")
    print(proxysync("instance", "add", "--id", "acme-github", "--tracker", "github",
                    "--base-url", f"{SANDBOX}/github", "--secret", "proxysync/acme-github"))
    print(proxysync("instance", "add", "--id", "acme-jira", "--tracker", "jira-cloud",
                    "--base-url", f"{SANDBOX}/jira", "--secret", "proxysync/acme-jira"))
    print(proxysync("connection", "apply", "infra/local/proxysync.yaml"))

    step("warming up the webhook functions (cargo lambda starts each on first use)")
    for route, secret_id, headers, body in [
        ("github", "proxysync/acme-github", {"X-GitHub-Event": "ping", "X-GitHub-Delivery": "warm-up"}, b'{"zen":"warm up"}'),
        ("jira", "proxysync/acme-jira", {}, b'{"webhookEvent":"warm_up","timestamp":0}'),
    ]:
        signature = "sha256=" + hmac.new(SECRETS[secret_id]["webhook_secret"].encode(), body, hashlib.sha256).hexdigest()
        header = "X-Hub-Signature-256" if route == "github" else "X-Hub-Signature"
        expect(f"{route}-webhook", http("POST", function_url(route), body, {**headers, header: signature}, timeout=600), "ignored")
    # A GET starts the function without touching an instance: webhooks are POST requests, so it returns 405.
    for tracker in ["azure-devops", "zendesk", "salesforce"]:
        expect(WEBHOOK_RECEIVERS[tracker][0], http("GET", function_url(tracker), timeout=600), "405")

    step("alice opens acme/widgets#1 on GitHub; GitHub sends events/github/issues.opened.json")
    http("POST", f"{SANDBOX}/github/repos/acme/widgets/issues",
         {"title": "Export fails for large files", "labels": ["bug"],
          "body": json.loads((ROOT / "events/github/issues.opened.json").read_text())["issue"]["body"]},
         {"authorization": HUMAN_GITHUB})
    take_webhooks()
    expect("first delivery", send_sample("github", "issues.opened"), "synced created -> SUP-1")
    _, state = http("GET", f"{SANDBOX}/_sandbox/state")
    for issue in state["jira"]["issues"]:
        print(f"Jira now has {issue['key']} \"{issue['summary']}\" labels {issue['labels']}, status {issue['status']}")

    print("the trackers now send webhooks for what the proxy user wrote; proxysync skips them:")
    forward_proxy_webhooks()

    step("GitHub redelivers the same webhook")
    expect("second delivery", send_sample("github", "issues.opened"), "duplicate")

    step("alice comments on GitHub; GitHub sends events/github/issue_comment.created.json")
    http("POST", f"{SANDBOX}/github/repos/acme/widgets/issues/1/comments", {"body": "Also happens on `v2.3.1`."},
         {"authorization": HUMAN_GITHUB})
    take_webhooks()
    expect("comment", send_sample("github", "issue_comment.created"), "synced comment_added -> SUP-1")
    forward_proxy_webhooks()

    step("alice comments on SUP-1 in Jira; Jira sends events/jira/comment_created.json")
    comment = {"type": "doc", "version": 1, "content": [{"type": "paragraph", "content": [
        {"type": "text", "text": "Reproduced on the "}, {"type": "text", "text": "staging", "marks": [{"type": "strong"}]},
        {"type": "text", "text": " cluster."}]}]}
    http("POST", f"{SANDBOX}/jira/rest/api/3/issue/SUP-1/comment", {"body": comment}, {"authorization": HUMAN_JIRA})
    take_webhooks()
    expect("comment", send_sample("jira", "comment_created"), "synced comment_added -> acme/widgets#1")
    forward_proxy_webhooks()

    step("result on both trackers")
    _, state = http("GET", f"{SANDBOX}/_sandbox/state")
    for issue in state["github"]["issues"]:
        print(f"GitHub {issue['repo']}#{issue['number']} \"{issue['title']}\" {issue['state']}")
    for comment in state["github"]["comments"]:
        print(f"  comment by {comment['author_id']}: {comment['body'].splitlines()[0]}")
    for issue in state["jira"]["issues"]:
        print(f"Jira {issue['key']} \"{issue['summary']}\" {issue['status']}")
    for link in state["jira"]["remote_links"]:
        print(f"  remote link: {link['title']} {link['url']}")
    print(f"  {len(state['jira']['comments'])} comments")

    step("ServiceNow with OAuth: the token refresher renews an access token before it expires")
    refresh_servicenow_token(secrets)

    step("ServiceNow: an incident opened by a person reaches GitHub")
    print(proxysync("connection", "apply", "infra/local/servicenow.yaml"))
    agent = "Basic " + base64.b64encode(b"alice.agent:sandbox-servicenow-password-alice").decode()
    http("POST", f"{SANDBOX}/servicenow/api/now/table/incident",
         {"short_description": "VPN drops every hour", "description": "The VPN client disconnects every 60 minutes."},
         {"authorization": agent})
    for webhook in take_webhooks():
        if webhook["tracker"] == "servicenow":
            expect("business rule webhook", send_recorded(webhook), "synced created -> acme/widgets#")
    forward_proxy_webhooks()

    step("Azure DevOps: a work item opened by a person reaches GitHub, and a GitHub reply comes back")
    sync_azure_devops()

    step("Zendesk: a ticket opened by an agent reaches Jira Cloud")
    sync_zendesk()

    step("Jira Data Center: an issue opened by a person reaches Jira Cloud")
    sync_jira_dc()

    step("Salesforce: a Case opened by an agent reaches GitHub through an Outbound Message")
    sync_salesforce(secrets)

    step("HP ALM/QC: a defect filed by a tester reaches GitHub through the alm-poller function")
    sync_hp_alm()

    step("proxysync doctor: credentials, proxy identity, permissions and token expiry of every instance")
    doctor = subprocess.run([PROXYSYNC, "doctor"], cwd=ROOT, env=ENV, capture_output=True, text=True)
    print(doctor.stdout.strip() or doctor.stderr.strip())
    print(f"(doctor exit code {doctor.returncode}: non-zero means something needs an operator)")

    step("metrics the functions wrote as CloudWatch Embedded Metric Format log lines, summed over invocations")
    print_metrics()

    step("proxysync explain, offline: what would a webhook do?")
    print(proxysync("explain", "--tracker", "jira", "--instance", "acme-jira",
                    "--headers", "events/jira/issue_created.by-proxy.headers",
                    "--body", "events/jira/issue_created.by-proxy.json",
                    "--config", "infra/local/proxysync.yaml", "--secrets", "infra/local/secrets.json"))
    print("\ndemo finished")
    if keep_running:
        print("\nthe stack keeps running (Ctrl-C stops it). Send webhooks to")
        for tracker in WEBHOOK_RECEIVERS:
            print(f"  {function_url(tracker)}")
        print(f"with AWS_ENDPOINT_URL={ENV['AWS_ENDPOINT_URL']} AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing "
              f"AWS_REGION=us-east-1 PROXYSYNC_TABLE={ENV['PROXYSYNC_TABLE']} for the proxysync CLI.")
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass


def exit_on_signal(signum, _frame):
    """Turns SIGTERM and SIGHUP into an exit, so the servers are stopped as on Ctrl-C."""
    sys.exit(128 + signum)


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, exit_on_signal)
    signal.signal(signal.SIGHUP, exit_on_signal)
    try:
        main(keep_running="--keep-running" in sys.argv[1:])
    finally:
        stop_all()
