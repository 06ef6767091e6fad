"""Shared by the boto3 test scripts: a boto3 ECR client for berth whose every raw response is checked against
botocore's service model (required members present, no member outside the model, types, enums, patterns,
epoch-second timestamps; errors are {"__type", "message"} with a 4xx status, 5xx only for ServerException),
and `expect_error`, which also checks that an error is not retried.

Environment: ECR_ENDPOINT (http://HOST:PORT of berth).
"""

import json
import os
import re

import boto3
import botocore.session
from botocore.exceptions import ClientError

ENDPOINT = os.environ["ECR_ENDPOINT"]
HOST = ENDPOINT.split("://", 1)[1]
MODEL = botocore.session.get_session().get_service_model("ecr")

checked = {"responses": 0, "errors": 0}


def fail(message):
    raise AssertionError(message)


def check_value(shape, value, path):
    """Checks a raw JSON value against a botocore shape."""
    t = shape.type_name
    if t == "structure":
        if not isinstance(value, dict):
            fail(f"{path}: expected a structure, got {value!r}")
        for required in shape.required_members:
            if required not in value:
                fail(f"{path}: required member {required} is missing")
        for key, member in value.items():
            if key not in shape.members:
                fail(f"{path}: member {key} is not in the model's {shape.name}")
            check_value(shape.members[key], member, f"{path}.{key}")
    elif t == "list":
        if not isinstance(value, list):
            fail(f"{path}: expected a list, got {value!r}")
        # List lengths are not checked: list shapes are shared with inputs (ImageIdentifierList is 1..100,
        # for BatchGetImage's input), while ECR answers ListImages of an empty repository with [] and pages
        # of up to maxResults (1000).
        for i, item in enumerate(value):
            check_value(shape.member, item, f"{path}[{i}]")
    elif t == "map":
        if not isinstance(value, dict):
            fail(f"{path}: expected a map, got {value!r}")
        for k, v in value.items():
            check_value(shape.key, k, f"{path} key")
            check_value(shape.value, v, f"{path}[{k}]")
    elif t == "string":
        if not isinstance(value, str):
            fail(f"{path}: expected a string, got {value!r}")
        if shape.enum and value not in shape.enum:
            fail(f"{path}: {value!r} is not one of {shape.enum}")
        meta = shape.metadata
        if "min" in meta and len(value) < meta["min"] or "max" in meta and len(value) > meta["max"]:
            fail(f"{path}: length {len(value)} outside {meta}")
        if "pattern" in meta and not re.fullmatch(meta["pattern"], value):
            fail(f"{path}: {value!r} does not match {meta['pattern']}")
    elif t in ("integer", "long"):
        if not isinstance(value, int) or isinstance(value, bool):
            fail(f"{path}: expected an integer, got {value!r}")
    elif t in ("float", "double"):
        if not isinstance(value, (int, float)) or isinstance(value, bool):
            fail(f"{path}: expected a number, got {value!r}")
    elif t == "boolean":
        if not isinstance(value, bool):
            fail(f"{path}: expected a boolean, got {value!r}")
    elif t == "timestamp":
        # AWS JSON 1.1 sends timestamps as epoch seconds: a JSON number.
        if not isinstance(value, (int, float)) or isinstance(value, bool):
            fail(f"{path}: expected epoch seconds (a number), got {value!r}")
    elif t == "blob":
        if not isinstance(value, str):
            fail(f"{path}: expected base64 text, got {value!r}")
    else:
        fail(f"{path}: unhandled shape type {t}")


def on_response(http_response, model, **_):
    """botocore's after-call hook: checks the raw response of every call."""
    status = http_response.status_code
    headers = {k.lower(): v for k, v in http_response.headers.items()}
    if headers.get("content-type") != "application/x-amz-json-1.1":
        fail(f"{model.name}: content-type {headers.get('content-type')!r}")
    request_id = headers.get("x-amzn-requestid", "")
    if not re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", request_id):
        fail(f"{model.name}: x-amzn-RequestId {request_id!r} is not a UUID")
    body = json.loads(http_response.content or b"{}")
    if status == 200:
        check_value(model.output_shape, body, model.name)
        checked["responses"] += 1
    else:
        if set(body) != {"__type", "message"} or not all(isinstance(v, str) for v in body.values()):
            fail(f"{model.name}: error body {body!r}")
        if status >= 500 and body["__type"] != "ServerException":
            fail(f"{model.name}: {status} for {body['__type']}")
        if not 400 <= status < 500:
            fail(f"{model.name}: status {status} for {body['__type']}")
        checked["errors"] += 1


sends = []


def client(key):
    c = boto3.client(
        "ecr",
        endpoint_url=ENDPOINT,
        region_name="us-east-1",
        aws_access_key_id=key[0],
        aws_secret_access_key=key[1],
    )
    c.meta.events.register("after-call.ecr.*", on_response)
    c.meta.events.register("before-send.ecr.*", lambda request, **_: sends.append(request.url))
    return c


def expect_error(call, kind, contains=""):
    """`call` fails with `kind` (and `contains` in the message), after exactly one request (no retries)."""
    before = len(sends)
    try:
        call()
    except ClientError as e:
        got = e.response["Error"]["Code"]
        message = e.response["Error"]["Message"]
        if got != kind or contains not in message:
            fail(f"expected {kind} ({contains!r}), got {got}: {message}")
        if len(sends) - before != 1:
            fail(f"{kind}: {len(sends) - before} requests were sent; errors must not be retried")
        return message
    fail(f"expected {kind}, the call succeeded")


