"""Run the proxysync demo on a local stack.

Starts moto's server (DynamoDB and Secrets Manager), the tracker sandbox
(GitHub and Jira Cloud) and both webhook functions under `cargo lambda
watch`, all on 127.0.0.1. Then it registers the instances and the
connection, sends the sample webhooks from events/, and prints what each
one caused. Every process it started is stopped when it exits.

Run it through infra/local/demo.sh, which installs the tools first.
Ports: MOTO_PORT (5055), SANDBOX_PORT (8910, fixed by infra/local/proxysync.yaml),
LAMBDA_PORT (9055).
"""

import base64
import hashlib
import hmac
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
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
    PATH=f"{VENV_BIN}:{os.environ.get('PATH', '')}",
    RUST_LOG=os.environ.get("RUST_LOG", "info"),
)
PROXYSYNC = str(ROOT / "target/debug/proxysync")
SANDBOX = f"http://127.0.0.1:{SANDBOX_PORT}"
HUMAN_GITHUB = "Bearer ghp_sandboxAliceDev00000000000000000000002"
HUMAN_JIRA = "Basic " + base64.b64encode(b"alice@acme.example:sandbox-jira-token-alice").decode()

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


def function_url(route):
    return f"http://127.0.0.1:{LAMBDA_PORT}/lambda-url/{route}-webhook/webhooks/{route}/acme-{route}"


def send_sample(route, name):
    """Send events/ROUTE/NAME.json with its headers file, as the tracker would."""
    body = (ROOT / "events" / route / f"{name}.json").read_bytes()
    headers = read_headers(ROOT / "events" / route / f"{name}.headers")
    return http("POST", function_url(route), body, headers)


def send_recorded(webhook):
    body = base64.b64decode(webhook["body_base64"])
    route = webhook["tracker"]
    headers = {name: value for name, value in webhook["headers"]}
    return http("POST", function_url(route), body, headers)


def describe(answer):
    status, body = answer
    if not isinstance(body, dict):
        return f"{status} {body}"
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
    """Print the answer and stop the demo when it lacks the expected text (or each of several)."""
    text = describe(answer)
    print(f"{label}: {text}")
    choices = wanted if isinstance(wanted, tuple) else (wanted,)
    if not any(choice in text for choice in choices):
        sys.exit(f"unexpected answer for {label}: wanted {wanted!r}; logs are in {LOG_DIR}")


def take_webhooks():
    _, hooks = http("POST", f"{SANDBOX}/_sandbox/webhooks/take")
    return hooks


def forward_proxy_webhooks():
    """Deliver what the trackers recorded for the proxy user's writes; each must be skipped."""
    for webhook in take_webhooks():
        # A write that touches no synced field is ignored before the author check.
        expect(f"  {webhook['tracker']} webhook for the proxy user's write", send_recorded(webhook),
               ("proxy_author", "ignored"))


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
    try:
        secrets.create_secret(Name=secret_id, SecretString=json.dumps(value))
    except secrets.exceptions.ResourceExistsException:
        secrets.put_secret_value(SecretId=secret_id, SecretString=json.dumps(value))
    print(proxysync("instance", "add", "--id", "acme-servicenow", "--tracker", "servicenow",
                    "--base-url", f"{SANDBOX}/servicenow", "--secret", secret_id))
    # Pretend time passed: the stored token now expires within the refresher's 15-minute margin.
    value["access_token_expires_at"] = int(time.time()) + 60
    secrets.put_secret_value(SecretId=secret_id, SecretString=json.dumps(value))
    print("the stored access token expires in 60 s; invoking token-refresher once:")
    result = subprocess.run(
        [str(VENV_BIN / "cargo-lambda"), "lambda", "invoke", "token-refresher", "-A", "127.0.0.1", "-P", str(LAMBDA_PORT),
         "--data-file", "events/scheduled/eventbridge.json"],
        cwd=ROOT, env=ENV, capture_output=True, text=True, timeout=900)
    if result.returncode != 0:
        sys.exit(f"token-refresher failed: {result.stderr or result.stdout}")
    print(f"  token-refresher answered: {result.stdout.strip()[:300]}")
    stored = json.loads(secrets.get_secret_value(SecretId=secret_id, VersionStage="AWSCURRENT")["SecretString"])
    left = stored["access_token_expires_at"] - int(time.time())
    renewed = stored["access_token"] != tokens["access_token"]
    print(f"  secret {secret_id}: new access token {'stored' if renewed else 'NOT stored'}, expires in {left} s")
    if not renewed or left <= 60:
        sys.exit("the token refresher did not renew the ServiceNow access token")


def print_metrics():
    """Sum the EMF metrics the functions printed into .local/logs/functions.log."""
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
    subprocess.run(["cargo", "build", "-p", "proxysync", "-p", "tracker-sandbox", "-p", "github-webhook", "-p", "jira-webhook",
                    "-p", "token-refresher", "-p", "servicenow-webhook"], cwd=ROOT, check=True)

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
        try:
            secrets.create_secret(Name=secret_id, SecretString=json.dumps(value))
        except secrets.exceptions.ResourceExistsException:
            secrets.put_secret_value(SecretId=secret_id, SecretString=json.dumps(value))
        print(f"secret {secret_id}")

    step("registering the instances (reads each proxy user from the tracker) and the connection")
    print(proxysync("instance", "add", "--id", "acme-github", "--tracker", "github",
                    "--base-url", f"{SANDBOX}/github", "--secret", "proxysync/acme-github"))
    print(proxysync("instance", "add", "--id", "acme-jira", "--tracker", "jira-cloud",
                    "--base-url", f"{SANDBOX}/jira", "--secret", "proxysync/acme-jira"))
    print(proxysync("connection", "apply", "infra/local/proxysync.yaml"))

    step("warming up both functions with a ping (cargo lambda compiles each on first use)")
    for route, secret_id, headers, body in [
        ("github", "proxysync/acme-github", {"X-GitHub-Event": "ping", "X-GitHub-Delivery": "warm-up"}, b'{"zen":"warm up"}'),
        ("jira", "proxysync/acme-jira", {}, b'{"webhookEvent":"warm_up","timestamp":0}'),
    ]:
        signature = "sha256=" + hmac.new(SECRETS[secret_id]["webhook_secret"].encode(), body, hashlib.sha256).hexdigest()
        header = "X-Hub-Signature-256" if route == "github" else "X-Hub-Signature"
        expect(f"{route}-webhook", http("POST", function_url(route), body, {**headers, header: signature}, timeout=600), "ignored")

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
        print(f"\nthe stack keeps running (Ctrl-C stops it). Send webhooks to\n"
              f"  {function_url('github')}\n  {function_url('jira')}\n"
              f"with AWS_ENDPOINT_URL={ENV['AWS_ENDPOINT_URL']} AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing "
              f"AWS_REGION=us-east-1 PROXYSYNC_TABLE={ENV['PROXYSYNC_TABLE']} for the proxysync CLI.")
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass


if __name__ == "__main__":
    try:
        main(keep_running="--keep-running" in sys.argv[1:])
    finally:
        stop_all()
