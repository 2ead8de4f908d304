"""A minimal Lambda runtime client: imports the handler, then serves invocations from the
Runtime API at AWS_LAMBDA_RUNTIME_API, as the Python managed runtime's bootstrap does."""

import http.client
import json
import os
import sys
import traceback

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import handler  # noqa: E402  (imported after the path is set, as a runtime does)

API = os.environ["AWS_LAMBDA_RUNTIME_API"]
PREFIX = "/2018-06-01/runtime/invocation"


def main():
    connection = http.client.HTTPConnection(API)
    while True:
        connection.request("GET", f"{PREFIX}/next")
        response = connection.getresponse()
        request_id = response.getheader("Lambda-Runtime-Aws-Request-Id")
        event = json.loads(response.read())
        try:
            result = handler.handler(event, None)
            path, body = f"{PREFIX}/{request_id}/response", json.dumps(result)
        except Exception as error:  # reported to the runtime, as the managed runtime does
            traceback.print_exc()
            path = f"{PREFIX}/{request_id}/error"
            body = json.dumps({"errorMessage": str(error), "errorType": type(error).__name__})
        connection.request("POST", path, body=body, headers={"Content-Type": "application/json"})
        connection.getresponse().read()


if __name__ == "__main__":
    main()
