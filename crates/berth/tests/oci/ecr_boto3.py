"""boto3 against berth's ECR-compatible API, every response checked against botocore's service model.

Run by crates/berth/tests/oci/ecr.rs with:
  ECR_ENDPOINT        http://HOST:PORT of a fresh berth
  ADMIN_KEY_ID, ADMIN_SECRET        the administrator's access key
  READER_KEY_ID, READER_SECRET      a user whose policy allows only ecr:DescribeRepositories
  PUSHED_REPO         a repository pushed through /v2 with tags v1, v2 on one manifest and one untagged manifest

Every raw response body (not boto3's parsed form: timestamps must be JSON numbers on the wire) is walked
along the operation's output shape: required members present, no member outside the model, types right,
enum values, string patterns and lengths. Error responses must be {"__type", "message"} with a 4xx status
(5xx only for ServerException), and no call may be retried. Prints one line per group and exits non-zero on
the first failure.
"""

import base64
import json
import os
import re
import sys
import urllib.request

import boto3
import botocore.session
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

ENDPOINT = os.environ["ECR_ENDPOINT"]
HOST = ENDPOINT.split("://", 1)[1]
ADMIN = (os.environ["ADMIN_KEY_ID"], os.environ["ADMIN_SECRET"])
READER = (os.environ["READER_KEY_ID"], os.environ["READER_SECRET"])
PUSHED = os.environ["PUSHED_REPO"]
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


admin = client(ADMIN)
reader = client(READER)

# CreateRepository, with every input member botocore knows that berth supports.
created = admin.create_repository(
    repositoryName="boto/app",
    registryId="000000000000",
    tags=[{"Key": "team", "Value": "a"}],
    imageTagMutability="IMMUTABLE",
    imageScanningConfiguration={"scanOnPush": True},
    encryptionConfiguration={"encryptionType": "AES256"},
)["repository"]
assert created["repositoryName"] == "boto/app", created
assert created["repositoryUri"] == f"{HOST}/boto/app", created
assert created["repositoryArn"] == "arn:aws:ecr:us-east-1:000000000000:repository/boto/app", created
assert created["registryId"] == "000000000000"
assert created["imageTagMutability"] == "IMMUTABLE" and created["imageScanningConfiguration"] == {"scanOnPush": True}
for name in ["boto/b", "boto/c", "boto/d"]:
    admin.create_repository(repositoryName=name)
expect_error(lambda: admin.create_repository(repositoryName="boto/app"), "RepositoryAlreadyExistsException", "boto/app")
expect_error(lambda: admin.create_repository(repositoryName=PUSHED), "RepositoryAlreadyExistsException")
expect_error(
    lambda: admin.create_repository(repositoryName="boto/kms", encryptionConfiguration={"encryptionType": "KMS"}),
    "InvalidParameterException",
)
expect_error(
    lambda: admin.create_repository(repositoryName="boto/x", tags=[{"Key": "aws:reserved", "Value": "v"}]),
    "InvalidTagParameterException",
)
expect_error(
    lambda: admin.create_repository(repositoryName="boto/x", tags=[{"Key": f"k{i}", "Value": "v"} for i in range(51)]),
    "TooManyTagsException",
)
expect_error(lambda: admin.create_repository(repositoryName="boto/x", registryId="123456789012"), "InvalidParameterException")
print("boto3: CreateRepository ok")

# DescribeRepositories: everything, by name, and paginated by 1 and 2.
everything = ["boto/app", "boto/b", "boto/c", "boto/d", PUSHED]
listed = [r["repositoryName"] for r in admin.describe_repositories()["repositories"]]
assert listed == sorted(everything), listed
for size in (1, 2):
    pages = list(admin.get_paginator("describe_repositories").paginate(PaginationConfig={"PageSize": size}))
    names = [r["repositoryName"] for p in pages for r in p["repositories"]]
    assert names == sorted(everything), (size, names)
    assert all(len(p["repositories"]) <= size for p in pages), size
    assert len(pages) == -(-len(everything) // size), (size, len(pages))
    assert all("nextToken" in p for p in pages[:-1]) and "nextToken" not in pages[-1], size
one = admin.describe_repositories(repositoryNames=["boto/b", PUSHED])["repositories"]
assert [r["repositoryName"] for r in one] == ["boto/b", PUSHED], one
expect_error(lambda: admin.describe_repositories(repositoryNames=["boto/none"]), "RepositoryNotFoundException", "boto/none")
expect_error(lambda: admin.describe_repositories(nextToken="not a token"), "InvalidParameterException")
# A user allowed only DescribeRepositories sees everything, and may do nothing else.
assert [r["repositoryName"] for r in reader.describe_repositories()["repositories"]] == sorted(everything)
expect_error(lambda: reader.create_repository(repositoryName="boto/mine"), "AccessDeniedException")
expect_error(lambda: reader.list_images(repositoryName=PUSHED), "AccessDeniedException")
expect_error(lambda: reader.delete_repository(repositoryName="boto/b"), "AccessDeniedException")
expect_error(lambda: reader.get_authorization_token(), "AccessDeniedException")
print("boto3: DescribeRepositories ok")

# ListImages: 2 tags of one manifest + 1 untagged manifest; filters; paginated by 1 and 2.
images = admin.list_images(repositoryName=PUSHED)["imageIds"]
assert len(images) == 3, images
assert sorted(i.get("imageTag", "") for i in images) == ["", "v1", "v2"], images
tagged = admin.list_images(repositoryName=PUSHED, filter={"tagStatus": "TAGGED"})["imageIds"]
assert sorted(i["imageTag"] for i in tagged) == ["v1", "v2"], tagged
untagged = admin.list_images(repositoryName=PUSHED, filter={"tagStatus": "UNTAGGED"})["imageIds"]
assert len(untagged) == 1 and "imageTag" not in untagged[0], untagged
assert admin.list_images(repositoryName=PUSHED, filter={"imageStatus": "ARCHIVED"})["imageIds"] == []
for size in (1, 2):
    pages = list(
        admin.get_paginator("list_images").paginate(repositoryName=PUSHED, PaginationConfig={"PageSize": size})
    )
    ids = [i for p in pages for i in p["imageIds"]]
    assert ids == images, (size, ids)
    assert all(len(p["imageIds"]) <= size for p in pages)
assert admin.list_images(repositoryName="boto/b")["imageIds"] == []
expect_error(lambda: admin.list_images(repositoryName="boto/none"), "RepositoryNotFoundException")
print("boto3: ListImages ok")

# DescribeImages: one detail per manifest; filters; by id; paginated by 1.
details = admin.describe_images(repositoryName=PUSHED)["imageDetails"]
assert len(details) == 2, details
by_digest = {d["imageDigest"]: d for d in details}
tagged_digest = next(d for d, x in by_digest.items() if x.get("imageTags"))
assert by_digest[tagged_digest]["imageTags"] == ["v1", "v2"], details
assert all(d["imageSizeInBytes"] > 0 and d["repositoryName"] == PUSHED for d in details), details
untagged_only = admin.describe_images(repositoryName=PUSHED, filter={"tagStatus": "UNTAGGED"})["imageDetails"]
assert len(untagged_only) == 1 and "imageTags" not in untagged_only[0], untagged_only
pages = list(admin.get_paginator("describe_images").paginate(repositoryName=PUSHED, PaginationConfig={"PageSize": 1}))
assert len(pages) == 2 and [p["imageDetails"][0] for p in pages] == details, pages
named = admin.describe_images(repositoryName=PUSHED, imageIds=[{"imageTag": "v1"}, {"imageDigest": tagged_digest}])
assert [d["imageDigest"] for d in named["imageDetails"]] == [tagged_digest], named
expect_error(lambda: admin.describe_images(repositoryName=PUSHED, imageIds=[{"imageTag": "nope"}]), "ImageNotFoundException")
expect_error(lambda: admin.describe_images(repositoryName="boto/none"), "RepositoryNotFoundException")
expect_error(lambda: admin.describe_images(repositoryName=PUSHED, nextToken="garbage"), "InvalidParameterException")
expect_error(lambda: reader.describe_images(repositoryName=PUSHED), "AccessDeniedException")
print("boto3: DescribeImages ok")

# BatchGetImage: the stored manifest text; failures for what is not there.
got = admin.batch_get_image(repositoryName=PUSHED, imageIds=[{"imageTag": "v1"}, {"imageTag": "gone"}, {}])
assert len(got["images"]) == 1 and json.loads(got["images"][0]["imageManifest"])["schemaVersion"] == 2, got
assert got["images"][0]["imageId"] == {"imageDigest": tagged_digest, "imageTag": "v1"}, got
assert [f["failureCode"] for f in got["failures"]] == ["ImageNotFound", "MissingDigestAndTag"], got
refused = admin.batch_get_image(
    repositoryName=PUSHED, imageIds=[{"imageTag": "v1"}], acceptedMediaTypes=["application/vnd.docker.distribution.manifest.v2+json"]
)
assert refused["images"] == [] and len(refused["failures"]) == 1, refused
expect_error(lambda: admin.batch_get_image(repositoryName="boto/none", imageIds=[{"imageTag": "v1"}]), "RepositoryNotFoundException")
expect_error(lambda: reader.batch_get_image(repositoryName=PUSHED, imageIds=[{"imageTag": "v1"}]), "AccessDeniedException")
print("boto3: BatchGetImage ok")

# BatchDeleteImage: a tag, then nothing more to delete.
gone = admin.batch_delete_image(repositoryName=PUSHED, imageIds=[{"imageTag": "v2"}])
assert gone == {"imageIds": [{"imageDigest": tagged_digest, "imageTag": "v2"}], "failures": [], "ResponseMetadata": gone["ResponseMetadata"]}, gone
again = admin.batch_delete_image(repositoryName=PUSHED, imageIds=[{"imageTag": "v2"}])
assert again["imageIds"] == [] and again["failures"][0]["failureCode"] == "ImageNotFound", again
expect_error(lambda: reader.batch_delete_image(repositoryName=PUSHED, imageIds=[{"imageTag": "v1"}]), "AccessDeniedException")
print("boto3: BatchDeleteImage ok")

# PutImage: the untagged manifest gets a tag, by digest too; errors by type.
untagged_digest = next(d for d, x in by_digest.items() if not x.get("imageTags"))
text = admin.batch_get_image(repositoryName=PUSHED, imageIds=[{"imageDigest": untagged_digest}])["images"][0]["imageManifest"]
image = admin.put_image(repositoryName=PUSHED, imageManifest=text, imageTag="v7", imageDigest=untagged_digest)["image"]
assert image["imageId"] == {"imageDigest": untagged_digest, "imageTag": "v7"} and image["imageManifest"] == text, image
expect_error(lambda: admin.put_image(repositoryName=PUSHED, imageManifest=text, imageTag="v7"), "ImageAlreadyExistsException")
expect_error(lambda: admin.put_image(repositoryName=PUSHED, imageManifest="{}"), "InvalidParameterException")
expect_error(lambda: admin.put_image(repositoryName="boto/none", imageManifest=text), "RepositoryNotFoundException")
expect_error(lambda: reader.put_image(repositoryName=PUSHED, imageManifest=text), "AccessDeniedException")
admin.batch_delete_image(repositoryName=PUSHED, imageIds=[{"imageTag": "v7"}])
print("boto3: PutImage ok")

# Repository and registry policies.
policy = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
    "Principal": {"AWS": "arn:aws:iam::000000000000:user/reader"}, "Action": "ecr:ListImages"}]})
expect_error(lambda: admin.get_repository_policy(repositoryName="boto/b"), "RepositoryPolicyNotFoundException")
assert admin.set_repository_policy(repositoryName="boto/b", policyText=policy)["policyText"] == policy
assert admin.get_repository_policy(repositoryName="boto/b")["policyText"] == policy
assert reader.list_images(repositoryName="boto/b")["imageIds"] == [], "the repository policy allows the reader"
expect_error(lambda: admin.set_repository_policy(repositoryName="boto/b", policyText="{}"), "InvalidParameterException")
expect_error(lambda: admin.set_repository_policy(repositoryName="boto/none", policyText=policy), "RepositoryNotFoundException")
assert admin.delete_repository_policy(repositoryName="boto/b")["policyText"] == policy
expect_error(lambda: admin.delete_repository_policy(repositoryName="boto/b"), "RepositoryPolicyNotFoundException")
expect_error(lambda: reader.list_images(repositoryName="boto/b"), "AccessDeniedException")
registry_policy = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
    "Principal": {"AWS": "arn:aws:iam::000000000000:user/reader"}, "Action": "ecr:ListImages",
    "Resource": "arn:aws:ecr:us-east-1:000000000000:repository/*"}]})
expect_error(lambda: admin.get_registry_policy(), "RegistryPolicyNotFoundException")
put = admin.put_registry_policy(policyText=registry_policy)
assert (put["registryId"], put["policyText"]) == ("000000000000", registry_policy), put
assert admin.get_registry_policy()["policyText"] == registry_policy
assert admin.delete_registry_policy()["policyText"] == registry_policy
expect_error(lambda: admin.delete_registry_policy(), "RegistryPolicyNotFoundException")
expect_error(lambda: reader.get_registry_policy(), "AccessDeniedException")
print("boto3: repository and registry policies ok")

# Resource tags on repository ARNs.
app_arn = created["repositoryArn"]
assert admin.list_tags_for_resource(resourceArn=app_arn)["tags"] == [{"Key": "team", "Value": "a"}]
admin.tag_resource(resourceArn=app_arn, tags=[{"Key": "env", "Value": "dev"}])
admin.untag_resource(resourceArn=app_arn, tagKeys=["team"])
assert admin.list_tags_for_resource(resourceArn=app_arn)["tags"] == [{"Key": "env", "Value": "dev"}]
expect_error(lambda: admin.list_tags_for_resource(resourceArn=app_arn.replace("boto/app", "boto/none")), "RepositoryNotFoundException")
expect_error(lambda: admin.tag_resource(resourceArn="arn:aws:s3:::bucket", tags=[]), "InvalidParameterException")
expect_error(lambda: reader.list_tags_for_resource(resourceArn=app_arn), "AccessDeniedException")
print("boto3: TagResource, UntagResource, ListTagsForResource ok")

# GetAuthorizationToken: the token is AWS:<login password>, which /v2 accepts.
data = admin.get_authorization_token()["authorizationData"]
assert len(data) == 1 and data[0]["proxyEndpoint"] == ENDPOINT, data
user, password = base64.b64decode(data[0]["authorizationToken"]).decode().split(":", 1)
assert user == "AWS"
request = urllib.request.Request(f"{ENDPOINT}/v2/{PUSHED}/tags/list")
request.add_header("Authorization", "Basic " + base64.b64encode(f"AWS:{password}".encode()).decode())
with urllib.request.urlopen(request) as r:
    assert sorted(json.load(r)["tags"]) == ["v1"]
assert len(admin.get_authorization_token(registryIds=["000000000000"])["authorizationData"]) == 1
print("boto3: GetAuthorizationToken ok")

# DeleteRepository: not empty without force; forced; an empty one without force.
expect_error(lambda: admin.delete_repository(repositoryName=PUSHED), "RepositoryNotEmptyException")
deleted = admin.delete_repository(repositoryName=PUSHED, force=True)["repository"]
assert deleted["repositoryName"] == PUSHED
expect_error(lambda: admin.describe_repositories(repositoryNames=[PUSHED]), "RepositoryNotFoundException")
assert admin.delete_repository(repositoryName="boto/d")["repository"]["repositoryName"] == "boto/d"
expect_error(lambda: admin.delete_repository(repositoryName="boto/d"), "RepositoryNotFoundException")
print("boto3: DeleteRepository ok")

# Operations of the model that berth does not implement yet.
for call in [
    lambda: admin.get_lifecycle_policy(repositoryName="boto/b"),
    lambda: admin.put_lifecycle_policy(repositoryName="boto/b", lifecyclePolicyText="{" + " " * 100 + "}"),
    lambda: admin.describe_registry(),
]:
    expect_error(call, "UnsupportedOperationException", "is not implemented by berth yet")

# Credentials: a wrong secret, an unknown key.
expect_error(lambda: client((ADMIN[0], "x" * 40)).describe_repositories(), "InvalidSignatureException")
expect_error(lambda: client(("BKIANOSUCHKEY0000000", "x" * 40)).describe_repositories(), "UnrecognizedClientException")


# Raw requests: an unknown operation, a body that is not JSON, no signature at all.
def raw(target, body, signed=True):
    request = AWSRequest(
        method="POST",
        url=ENDPOINT + "/",
        data=body,
        headers={"Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": target},
    )
    if signed:
        SigV4Auth(Credentials(*ADMIN), "ecr", "us-east-1").add_auth(request)
    prepared = urllib.request.Request(ENDPOINT + "/", data=body, method="POST", headers=dict(request.headers))
    try:
        with urllib.request.urlopen(prepared) as r:
            return r.status, json.load(r)
    except urllib.error.HTTPError as e:
        return e.code, json.load(e)


assert raw("AmazonEC2ContainerRegistry_V20150921.NoSuchOperation", b"{}") == (
    400,
    {"__type": "UnknownOperationException", "message": 'unknown operation "AmazonEC2ContainerRegistry_V20150921.NoSuchOperation"'},
)
status, body = raw("AmazonEC2ContainerRegistry_V20150921.DescribeRepositories", b"not json")
assert (status, body["__type"]) == (400, "SerializationException"), body
status, body = raw("AmazonEC2ContainerRegistry_V20150921.DescribeRepositories", b"{}", signed=False)
assert (status, body["__type"]) == (403, "MissingAuthenticationTokenException"), body
status, body = raw("AmazonEC2ContainerRegistry_V20150921.DescribeRepositories", b"")
assert status == 200 and "repositories" in body, body
status, body = raw("AmazonEC2ContainerRegistry_V20150921.CreateRepository", b'{"repositoryName": 5}')
assert (status, body["__type"]) == (400, "InvalidParameterException"), body

print(f"boto3: {checked['responses']} responses and {checked['errors']} errors matched the ecr service model")
