"""The GitHub webhook job of proxysync, written as the usual Python alternative.

It does what the Rust github-webhook function does for an `issues` event that edits an
issue already linked to Jira, with the same DynamoDB records and the same calls: read the
configuration (cached for 60 s) and the secrets (cached for 15 min), check the signature,
skip the proxy user's own changes, claim the delivery, read the link, update the Jira issue,
and store the link and the finished claim in one transaction. It exists only so that the
benchmark compares like with like; its Markdown conversion is simpler than the Rust one
(paragraphs and line breaks only), so it does a little less work per event.
"""

import base64
import hashlib
import hmac
import json
import os
import time

import boto3
import requests
from botocore.exceptions import ClientError

TABLE = os.environ["PROXYSYNC_TABLE"]
CONFIG_TTL_SECS = 60
SECRET_TTL_SECS = 900
CLAIM_LEASE_MS = 300_000
DELIVERY_RETENTION_SECS = 7 * 24 * 3600

dynamodb = boto3.client("dynamodb")
secretsmanager = boto3.client("secretsmanager")
http = requests.Session()

_config = {"read_at": 0.0, "instances": {}, "connections": []}
_secrets = {}


def now_ms():
    return int(time.time() * 1000)


def load_config():
    if time.monotonic() - _config["read_at"] < CONFIG_TTL_SECS and _config["instances"]:
        return _config
    instances, connections = {}, []
    pages = dynamodb.get_paginator("query").paginate(
        TableName=TABLE,
        KeyConditionExpression="pk = :pk",
        ExpressionAttributeValues={":pk": {"S": "config"}},
    )
    for page in pages:
        for item in page["Items"]:
            data = json.loads(item["data"]["S"])
            if item["sk"]["S"].startswith("instance#"):
                instances[data["id"]] = data
            elif item["sk"]["S"].startswith("connection#"):
                connections.append(data)
    _config.update(read_at=time.monotonic(), instances=instances, connections=connections)
    return _config


def secret(secret_id):
    cached = _secrets.get(secret_id)
    if cached and time.monotonic() - cached[0] < SECRET_TTL_SECS:
        return cached[1]
    value = json.loads(secretsmanager.get_secret_value(SecretId=secret_id)["SecretString"])
    _secrets[secret_id] = (time.monotonic(), value)
    return value


def markdown_to_adf(markdown):
    content = []
    for block in (markdown or "").replace("\r\n", "\n").split("\n\n"):
        if not block.strip():
            continue
        inline = []
        for index, line in enumerate(block.split("\n")):
            if index:
                inline.append({"type": "hardBreak"})
            if line:
                inline.append({"type": "text", "text": line})
        content.append({"type": "paragraph", "content": inline})
    return {"type": "doc", "version": 1, "content": content}


def answer(status, body):
    return {
        "statusCode": status,
        "headers": {"content-type": "application/json"},
        "body": json.dumps(body),
    }


def handler(event, context):
    headers = {name.lower(): value for name, value in (event.get("headers") or {}).items()}
    body = event.get("body") or ""
    raw = base64.b64decode(body) if event.get("isBase64Encoded") else body.encode()
    instance_id = (event.get("pathParameters") or {}).get("instance", "")

    config = load_config()
    instance = config["instances"].get(instance_id)
    if instance is None:
        return answer(404, {"error": "unknown_instance"})
    credentials = secret(instance["secret"])
    expected = "sha256=" + hmac.new(
        credentials["webhook_secret"].encode(), raw, hashlib.sha256
    ).hexdigest()
    if not hmac.compare_digest(expected, headers.get("x-hub-signature-256", "")):
        return answer(401, {"error": "bad_signature"})

    payload = json.loads(raw)
    if headers.get("x-github-event") != "issues":
        return answer(200, {"outcome": "ignored"})
    if str(payload["sender"]["id"]) == instance["proxy"]["id"]:
        return answer(200, {"outcome": "skipped", "reason": "proxy_author"})

    repo = payload["repository"]["full_name"]
    connection = next(
        c for c in config["connections"]
        if c["a"]["instance"] == instance_id and c["a"]["project"] == repo
    )
    target = config["instances"][connection["b"]["instance"]]
    issue = payload["issue"]
    delivery_key = f"delivery#{instance_id}#{headers['x-github-delivery']}"
    now = now_ms()
    try:
        dynamodb.put_item(
            TableName=TABLE,
            Item={
                "pk": {"S": delivery_key},
                "sk": {"S": "delivery"},
                "status": {"S": "in_progress"},
                "lease_until": {"N": str(now + CLAIM_LEASE_MS)},
                "expires_at": {"N": str(now // 1000 + DELIVERY_RETENTION_SECS)},
            },
            ConditionExpression="attribute_not_exists(pk)",
        )
    except ClientError as error:
        if error.response["Error"]["Code"] == "ConditionalCheckFailedException":
            return answer(200, {"outcome": "duplicate"})
        raise

    link_key = {
        "pk": {"S": f"link#{instance_id}#{issue['node_id']}"},
        "sk": {"S": connection["id"]},
    }
    link = dynamodb.get_item(TableName=TABLE, Key=link_key, ConsistentRead=True)["Item"]
    peer = json.loads(link["peer"]["S"])

    jira = secret(target["secret"])
    response = http.put(
        f"{target['base_url']}/rest/api/3/issue/{peer['key']}",
        json={"fields": {"summary": issue["title"], "description": markdown_to_adf(issue["body"])}},
        auth=(jira["email"], jira["api_token"]),
        timeout=10,
    )
    response.raise_for_status()

    updated_ms = now_ms()
    dynamodb.transact_write_items(
        TransactItems=[
            {"Update": {
                "TableName": TABLE,
                "Key": link_key,
                "UpdateExpression": "SET applied_at = :at",
                "ExpressionAttributeValues": {":at": {"N": str(updated_ms)}},
            }},
            {"Update": {
                "TableName": TABLE,
                "Key": {"pk": {"S": delivery_key}, "sk": {"S": "delivery"}},
                "UpdateExpression": "SET #status = :done REMOVE lease_until",
                "ExpressionAttributeNames": {"#status": "status"},
                "ExpressionAttributeValues": {":done": {"S": "done"}},
            }},
        ]
    )
    return answer(200, {"outcome": "processed", "target": peer["key"]})
