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
import datetime
import hashlib
import json
import os
import urllib.error
import urllib.request
from unittest import mock

import botocore.auth
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from ecr_model import ENDPOINT, HOST, checked, client, expect_error, fail, sends

ADMIN = (os.environ["ADMIN_KEY_ID"], os.environ["ADMIN_SECRET"])
READER = (os.environ["READER_KEY_ID"], os.environ["READER_SECRET"])
PUSHED = os.environ["PUSHED_REPO"]

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
assert created["encryptionConfiguration"] == {"encryptionType": "AES256"}, created
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
assert all(r["encryptionConfiguration"] == {"encryptionType": "AES256"} for r in one), one
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
# A manifest without mediaType needs imageManifestMediaType (ECR does not guess it either).
bare = json.loads(text)
del bare["mediaType"]
bare = json.dumps(bare)
expect_error(lambda: admin.put_image(repositoryName=PUSHED, imageManifest=bare, imageTag="bare"),
             "InvalidParameterException", "mediaType")
put_bare = admin.put_image(repositoryName=PUSHED, imageManifest=bare, imageTag="bare",
                           imageManifestMediaType="application/vnd.oci.image.manifest.v1+json")["image"]
assert put_bare["imageManifestMediaType"] == "application/vnd.oci.image.manifest.v1+json", put_bare
admin.batch_delete_image(repositoryName=PUSHED, imageIds=[{"imageTag": "bare"}])
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

# Layers: upload in parts, check availability, download through the signed URL, then PutImage.
layer = b"boto layer " * 3000
config = b'{"architecture":"amd64","os":"linux"}'
layer_digest = "sha256:" + hashlib.sha256(layer).hexdigest()
config_digest = "sha256:" + hashlib.sha256(config).hexdigest()
missing = "sha256:" + "0" * 64
MIB = 1024 * 1024
# A layer in parts: every part but the last has at least 5 MiB (ECR's minimum), the last is smaller.
big = (b"boto big layer " * (7 * MIB // 15 + 1))[: 7 * MIB]
big_digest = "sha256:" + hashlib.sha256(big).hexdigest()
for blob, digest, parts in [
    (layer, layer_digest, [(0, layer)]),
    (config, config_digest, [(0, config)]),
    (big, big_digest, [(0, big[: 5 * MIB]), (5 * MIB, big[5 * MIB:])]),
]:
    upload = admin.initiate_layer_upload(repositoryName="boto/b")
    assert upload["partSize"] >= 5 * MIB, upload
    uid = upload["uploadId"]
    for first, part in parts:
        r = admin.upload_layer_part(repositoryName="boto/b", uploadId=uid, partFirstByte=first,
                                    partLastByte=first + len(part) - 1, layerPartBlob=part)
        assert r["lastByteReceived"] == first + len(part) - 1, r
    expect_error(lambda: admin.upload_layer_part(repositoryName="boto/b", uploadId=uid, partFirstByte=1,
                                                 partLastByte=1, layerPartBlob=b"x"), "InvalidLayerPartException")
    done = admin.complete_layer_upload(repositoryName="boto/b", uploadId=uid, layerDigests=[digest])
    assert done["layerDigest"] == digest, done
    expect_error(lambda: admin.complete_layer_upload(repositoryName="boto/b", uploadId=uid, layerDigests=[digest]),
                 "UploadNotFoundException")
# A part after one smaller than 5 MiB: that one was not the last. Refused, once (a 400 no SDK retries).
uid = admin.initiate_layer_upload(repositoryName="boto/b")["uploadId"]
admin.upload_layer_part(repositoryName="boto/b", uploadId=uid, partFirstByte=0, partLastByte=2, layerPartBlob=b"abc")
expect_error(lambda: admin.upload_layer_part(repositoryName="boto/b", uploadId=uid, partFirstByte=3, partLastByte=5,
                                             layerPartBlob=b"def"), "LayerPartTooSmallException", "5 MiB")
# A digest that does not match leaves the upload usable: completed again with the right digest, it is stored.
expect_error(lambda: admin.complete_layer_upload(repositoryName="boto/b", uploadId=uid, layerDigests=[missing]),
             "InvalidLayerException")
abc_digest = "sha256:" + hashlib.sha256(b"abc").hexdigest()
assert admin.complete_layer_upload(repositoryName="boto/b", uploadId=uid, layerDigests=[abc_digest])["layerDigest"] == abc_digest
uid = admin.initiate_layer_upload(repositoryName="boto/b")["uploadId"]
expect_error(lambda: admin.complete_layer_upload(repositoryName="boto/b", uploadId=uid, layerDigests=[layer_digest]),
             "EmptyUploadException")
uid = admin.initiate_layer_upload(repositoryName="boto/b")["uploadId"]
admin.upload_layer_part(repositoryName="boto/b", uploadId=uid, partFirstByte=0, partLastByte=len(layer) - 1,
                        layerPartBlob=layer)
expect_error(lambda: admin.complete_layer_upload(repositoryName="boto/b", uploadId=uid, layerDigests=[layer_digest]),
             "LayerAlreadyExistsException")
expect_error(lambda: admin.initiate_layer_upload(repositoryName="boto/none"), "RepositoryNotFoundException")
expect_error(lambda: reader.initiate_layer_upload(repositoryName="boto/b"), "AccessDeniedException")
# No manifest references the layer yet: berth cannot know its media type and leaves it out.
check = admin.batch_check_layer_availability(repositoryName="boto/b", layerDigests=[layer_digest, missing, "nope"])
assert check["layers"] == [{"layerDigest": layer_digest, "layerAvailability": "AVAILABLE", "layerSize": len(layer)}], check
assert [f["failureCode"] for f in check["failures"]] == ["MissingLayerDigest", "InvalidLayerDigest"], check
url = admin.get_download_url_for_layer(repositoryName="boto/b", layerDigest=layer_digest)
assert url["layerDigest"] == layer_digest and url["downloadUrl"].startswith(ENDPOINT + "/"), url
with urllib.request.urlopen(url["downloadUrl"]) as r:
    assert r.read() == layer
for bad in [url["downloadUrl"][:-3] + "AAA", url["downloadUrl"].replace(layer_digest, config_digest)]:
    try:
        urllib.request.urlopen(bad)
        fail(f"{bad} was served")
    except urllib.error.HTTPError as e:
        assert e.code == 403, e.code
expect_error(lambda: admin.get_download_url_for_layer(repositoryName="boto/b", layerDigest=missing),
             "LayersNotFoundException")
expect_error(lambda: reader.get_download_url_for_layer(repositoryName="boto/b", layerDigest=layer_digest),
             "AccessDeniedException")
manifest = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
    "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config_digest, "size": len(config)},
    "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": layer_digest, "size": len(layer)}]})
pushed = admin.put_image(repositoryName="boto/b", imageManifest=manifest, imageTag="parts")["image"]
# Now a manifest gives each its media type.
check = admin.batch_check_layer_availability(repositoryName="boto/b", layerDigests=[layer_digest, config_digest])
assert [(l["layerDigest"], l["mediaType"]) for l in check["layers"]] == [
    (layer_digest, "application/vnd.oci.image.layer.v1.tar"),
    (config_digest, "application/vnd.oci.image.config.v1+json")], check
with urllib.request.urlopen(urllib.request.Request(f"{ENDPOINT}/v2/boto/b/blobs/{layer_digest}",
        headers={"Authorization": "Basic " + base64.b64encode(f"AWS:{password}".encode()).decode()})) as r:
    assert r.read() == layer
print("boto3: layer upload, availability, download URL ok")

# ListImageReferrers: an SBOM-like artifact whose subject is the image above, pushed with PutImage.
empty_digest = "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"
uid = admin.initiate_layer_upload(repositoryName="boto/b")["uploadId"]
admin.upload_layer_part(repositoryName="boto/b", uploadId=uid, partFirstByte=0, partLastByte=1, layerPartBlob=b"{}")
admin.complete_layer_upload(repositoryName="boto/b", uploadId=uid, layerDigests=[empty_digest])
subject_digest = pushed["imageId"]["imageDigest"]
artifact = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
    "artifactType": "application/vnd.example.sbom+json",
    "config": {"mediaType": "application/vnd.oci.empty.v1+json", "digest": empty_digest, "size": 2},
    "layers": [{"mediaType": "application/vnd.oci.empty.v1+json", "digest": empty_digest, "size": 2}],
    "subject": {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": subject_digest,
                "size": len(manifest)}, "annotations": {"org.example": "sbom"}})
admin.put_image(repositoryName="boto/b", imageManifest=artifact)
refs = admin.list_image_referrers(repositoryName="boto/b", subjectId={"imageDigest": subject_digest})["referrers"]
assert len(refs) == 1 and refs[0]["artifactType"] == "application/vnd.example.sbom+json", refs
assert refs[0]["annotations"] == {"org.example": "sbom"} and refs[0]["artifactStatus"] == "ACTIVE", refs
none = admin.list_image_referrers(repositoryName="boto/b", subjectId={"imageDigest": subject_digest},
                                  filter={"artifactTypes": ["application/other"]})
assert none["referrers"] == [], none
expect_error(lambda: admin.list_image_referrers(repositoryName="boto/none", subjectId={"imageDigest": subject_digest}),
             "RepositoryNotFoundException")
print("boto3: ListImageReferrers ok")

# BatchDeleteImage keeps a manifest an index lists (deleting it would break the index).
index = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": [
    {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": subject_digest, "size": len(manifest),
     "platform": {"architecture": "amd64", "os": "linux"}}]})
admin.put_image(repositoryName="boto/b", imageManifest=index, imageTag="multi")
kept = admin.batch_delete_image(repositoryName="boto/b", imageIds=[{"imageDigest": subject_digest}])
assert kept["imageIds"] == [] and kept["failures"][0]["failureCode"] == "ImageReferencedByManifestList", kept
kept = admin.batch_delete_image(repositoryName="boto/b", imageIds=[{"imageTag": "parts"}])
assert kept["imageIds"] == [] and kept["failures"][0]["failureCode"] == "ImageReferencedByManifestList", kept
assert admin.batch_get_image(repositoryName="boto/b", imageIds=[{"imageTag": "parts"}])["images"], "its last tag stays"
print("boto3: BatchDeleteImage keeps manifests of an index ok")

# Tag mutability with exclusions, enforced on PutImage (and /v2).
admin.put_image_tag_mutability(repositoryName="boto/b", imageTagMutability="IMMUTABLE_WITH_EXCLUSION",
                               imageTagMutabilityExclusionFilters=[{"filterType": "WILDCARD", "filter": "latest*"}])
shown = admin.describe_repositories(repositoryNames=["boto/b"])["repositories"][0]
assert shown["imageTagMutability"] == "IMMUTABLE_WITH_EXCLUSION", shown
assert shown["imageTagMutabilityExclusionFilters"] == [{"filterType": "WILDCARD", "filter": "latest*"}], shown
admin.put_image(repositoryName="boto/b", imageManifest=manifest, imageTag="latest")
admin.put_image(repositoryName="boto/b", imageManifest=artifact, imageTag="latest")
expect_error(lambda: admin.put_image(repositoryName="boto/b", imageManifest=artifact, imageTag="parts"),
             "ImageTagAlreadyExistsException")
expect_error(lambda: admin.put_image_tag_mutability(repositoryName="boto/b", imageTagMutability="IMMUTABLE_WITH_EXCLUSION"),
             "InvalidParameterException")
expect_error(lambda: admin.put_image_tag_mutability(repositoryName="boto/b", imageTagMutability="MUTABLE",
             imageTagMutabilityExclusionFilters=[{"filterType": "WILDCARD", "filter": "x"}]), "InvalidParameterException")
back = admin.put_image_tag_mutability(repositoryName="boto/b", imageTagMutability="MUTABLE")
assert back["imageTagMutability"] == "MUTABLE" and "imageTagMutabilityExclusionFilters" not in back, back
expect_error(lambda: admin.put_image_tag_mutability(repositoryName="boto/none", imageTagMutability="MUTABLE"),
             "RepositoryNotFoundException")
expect_error(lambda: reader.put_image_tag_mutability(repositoryName="boto/b", imageTagMutability="MUTABLE"),
             "AccessDeniedException")
print("boto3: PutImageTagMutability ok")

# Registry: DescribeRegistry, account settings, scanning configuration.
described = admin.describe_registry()
assert described["registryId"] == "000000000000" and described["replicationConfiguration"] == {"rules": []}, described
assert admin.get_account_setting(name="BLOB_MOUNTING")["value"] == "ENABLED"
assert admin.put_account_setting(name="BLOB_MOUNTING", value="DISABLED")["value"] == "DISABLED"
assert admin.get_account_setting(name="BLOB_MOUNTING")["value"] == "DISABLED"
admin.put_account_setting(name="BLOB_MOUNTING", value="ENABLED")
assert admin.get_account_setting(name="REGISTRY_POLICY_SCOPE")["value"] == "V2"
expect_error(lambda: admin.put_account_setting(name="REGISTRY_POLICY_SCOPE", value="V1"), "ValidationException")
expect_error(lambda: admin.get_account_setting(name="NO_SUCH_SETTING"), "ValidationException")
expect_error(lambda: reader.put_account_setting(name="BLOB_MOUNTING", value="DISABLED"), "AccessDeniedException")
default_scanning = admin.get_registry_scanning_configuration()
assert default_scanning["scanningConfiguration"] == {"scanType": "BASIC", "rules": []}, default_scanning
rules = [{"scanFrequency": "SCAN_ON_PUSH", "repositoryFilters": [{"filter": "boto/*", "filterType": "WILDCARD"}]}]
put = admin.put_registry_scanning_configuration(scanType="BASIC", rules=rules)
assert put["registryScanningConfiguration"] == {"scanType": "BASIC", "rules": rules}, put
assert admin.get_registry_scanning_configuration()["scanningConfiguration"]["rules"] == rules
expect_error(lambda: admin.put_registry_scanning_configuration(scanType="BASIC", rules=[{"scanFrequency": "CONTINUOUS_SCAN",
             "repositoryFilters": [{"filter": "*", "filterType": "WILDCARD"}]}]), "ValidationException")
admin.create_repository(repositoryName="other/x")
admin.put_image_scanning_configuration(repositoryName="other/x", imageScanningConfiguration={"scanOnPush": True})
configs = admin.batch_get_repository_scanning_configuration(repositoryNames=["boto/c", "other/x", "boto/none"])
by_name = {c["repositoryName"]: c for c in configs["scanningConfigurations"]}
assert by_name["boto/c"]["scanFrequency"] == "SCAN_ON_PUSH" and by_name["boto/c"]["appliedScanFilters"] == [
    {"filter": "boto/*", "filterType": "WILDCARD"}], by_name
assert by_name["other/x"]["scanOnPush"] is True and by_name["other/x"]["appliedScanFilters"] == [], by_name
assert configs["failures"] == [{"repositoryName": "boto/none", "failureCode": "REPOSITORY_NOT_FOUND",
                                "failureReason": "REPOSITORY_NOT_FOUND"}], configs
print("boto3: DescribeRegistry, account settings, scanning configuration ok")

# Repository creation templates, every member botocore knows.
tpl = admin.create_repository_creation_template(
    prefix="boto-tpl/",
    description="boto3",
    appliedFor=["CREATE_ON_PUSH", "PULL_THROUGH_CACHE"],
    imageTagMutability="IMMUTABLE_WITH_EXCLUSION",
    imageTagMutabilityExclusionFilters=[{"filterType": "WILDCARD", "filter": "latest"}],
    resourceTags=[{"Key": "k", "Value": "v"}],
    encryptionConfiguration={"encryptionType": "AES256"},
    repositoryPolicy=json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": "*", "Action": "ecr:BatchGetImage"}]}),
    customRoleArn="arn:aws:iam::000000000000:role/templates",
)["repositoryCreationTemplate"]
assert tpl["prefix"] == "boto-tpl" and isinstance(tpl["createdAt"], datetime.datetime), tpl
assert tpl["imageTagMutabilityExclusionFilters"] == [{"filterType": "WILDCARD", "filter": "latest"}], tpl
admin.create_repository_creation_template(prefix="ROOT", appliedFor=["REPLICATION"])
pages = admin.get_paginator("describe_repository_creation_templates").paginate(PaginationConfig={"PageSize": 1})
assert [t["prefix"] for p in pages for t in p["repositoryCreationTemplates"]] == ["ROOT", "boto-tpl"]
updated = admin.update_repository_creation_template(prefix="boto-tpl", description="changed", repositoryPolicy="")
assert updated["repositoryCreationTemplate"]["description"] == "changed", updated
assert "repositoryPolicy" not in updated["repositoryCreationTemplate"], updated
expect_error(lambda: admin.create_repository_creation_template(prefix="boto-tpl", appliedFor=["REPLICATION"]),
             "TemplateAlreadyExistsException", "boto-tpl")
for prefix in ["boto-tpl", "ROOT"]:
    assert admin.delete_repository_creation_template(prefix=prefix)["repositoryCreationTemplate"]["prefix"] == prefix
expect_error(lambda: admin.delete_repository_creation_template(prefix="boto-tpl"), "TemplateNotFoundException")
expect_error(lambda: reader.describe_repository_creation_templates(), "AccessDeniedException")
print("boto3: repository creation templates ok")

# Lifecycle policies and previews (botocore's own waiter), pull time update exclusions, image storage class.
POLICY = json.dumps({"rules": [{"rulePriority": 1, "description": "keep one untagged image",
                                "selection": {"tagStatus": "untagged", "countType": "imageCountMoreThan",
                                              "countNumber": 1}, "action": {"type": "expire"}}]})
put = admin.put_lifecycle_policy(repositoryName="boto/c", lifecyclePolicyText=POLICY)
assert put["repositoryName"] == "boto/c" and json.loads(put["lifecyclePolicyText"]) == json.loads(POLICY), put
got = admin.get_lifecycle_policy(repositoryName="boto/c")
assert json.loads(got["lifecyclePolicyText"]) == json.loads(POLICY) and got["registryId"] == "000000000000", got
expect_error(lambda: admin.get_lifecycle_policy(repositoryName="boto/app"), "LifecyclePolicyNotFoundException")
expect_error(lambda: admin.get_lifecycle_policy(repositoryName="boto/none"), "RepositoryNotFoundException")
expect_error(lambda: admin.put_lifecycle_policy(repositoryName="boto/c", lifecyclePolicyText=POLICY.replace(
    '"untagged"', '"sometimes"')), "InvalidParameterException", "tagStatus")
expect_error(lambda: reader.get_lifecycle_policy(repositoryName="boto/c"), "AccessDeniedException")
started = admin.start_lifecycle_policy_preview(repositoryName="boto/c")
assert started["status"] in ("IN_PROGRESS", "COMPLETE") and started["repositoryName"] == "boto/c", started
admin.get_waiter("lifecycle_policy_preview_complete").wait(
    repositoryName="boto/c", WaiterConfig={"Delay": 1, "MaxAttempts": 120})
preview = admin.get_lifecycle_policy_preview(repositoryName="boto/c")
assert preview["status"] == "COMPLETE" and preview["previewResults"] == [], preview
expect_error(lambda: admin.get_lifecycle_policy_preview(repositoryName="boto/app"),
             "LifecyclePolicyPreviewNotFoundException")
deleted = admin.delete_lifecycle_policy(repositoryName="boto/c")
assert json.loads(deleted["lifecyclePolicyText"]) == json.loads(POLICY), deleted
expect_error(lambda: admin.delete_lifecycle_policy(repositoryName="boto/c"), "LifecyclePolicyNotFoundException")
print("boto3: lifecycle policies and previews ok")

SCANNER = "arn:aws:iam::000000000000:user/boto-scanner"
registered = admin.register_pull_time_update_exclusion(principalArn=SCANNER)
assert registered["principalArn"] == SCANNER and isinstance(registered["createdAt"], datetime.datetime), registered
expect_error(lambda: admin.register_pull_time_update_exclusion(principalArn=SCANNER),
             "ExclusionAlreadyExistsException")
expect_error(lambda: admin.register_pull_time_update_exclusion(principalArn="not-an-arn"), "InvalidParameterException",
             "principalArn")
listed = admin.list_pull_time_update_exclusions()["pullTimeUpdateExclusions"]
assert SCANNER in listed, listed
assert admin.deregister_pull_time_update_exclusion(principalArn=SCANNER)["principalArn"] == SCANNER
expect_error(lambda: admin.deregister_pull_time_update_exclusion(principalArn=SCANNER), "ExclusionNotFoundException")
expect_error(lambda: reader.list_pull_time_update_exclusions(), "AccessDeniedException")
print("boto3: pull time update exclusions ok")

# An image of its own (an empty config, no layers) in boto/c to archive and restore.
empty = b"{}"
upload = admin.initiate_layer_upload(repositoryName="boto/c")["uploadId"]
admin.upload_layer_part(repositoryName="boto/c", uploadId=upload, partFirstByte=0, partLastByte=1, layerPartBlob=empty)
empty_digest = "sha256:" + hashlib.sha256(empty).hexdigest()
admin.complete_layer_upload(repositoryName="boto/c", uploadId=upload, layerDigests=[empty_digest])
admin.put_image(repositoryName="boto/c", imageTag="archive-me", imageManifest=json.dumps({
    "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
    "config": {"mediaType": "application/vnd.oci.empty.v1+json", "digest": empty_digest, "size": 2}, "layers": []}))
image = admin.describe_images(repositoryName="boto/c", imageIds=[{"imageTag": "archive-me"}])["imageDetails"][0]
image_id = {"imageDigest": image["imageDigest"]}
archived = admin.update_image_storage_class(repositoryName="boto/c", imageId=image_id, targetStorageClass="ARCHIVE")
assert archived["imageStatus"] == "ARCHIVED" and archived["imageId"]["imageDigest"] == image["imageDigest"], archived
shown = admin.describe_images(repositoryName="boto/c", imageIds=[image_id])["imageDetails"][0]
assert shown["imageStatus"] == "ARCHIVED" and isinstance(shown["lastArchivedAt"], datetime.datetime), shown
assert image["imageDigest"] in [d["imageDigest"] for d in admin.describe_images(
    repositoryName="boto/c", filter={"imageStatus": "ARCHIVED"})["imageDetails"]]
failures = admin.batch_get_image(repositoryName="boto/c", imageIds=[image_id])["failures"]
assert failures and failures[0]["failureCode"] == "ImageInaccessible", failures
restored = admin.update_image_storage_class(repositoryName="boto/c", imageId=image_id, targetStorageClass="STANDARD")
assert restored["imageStatus"] in ("ACTIVATING", "ACTIVE"), restored
expect_error(lambda: admin.update_image_storage_class(repositoryName="boto/c", imageId={"imageDigest": "sha256:" + "0" * 64},
                                                      targetStorageClass="ARCHIVE"), "ImageNotFoundException")
print("boto3: UpdateImageStorageClass ok")

# Operations of features berth does not have yet name the feature, once, without a retry.
for call, feature in [
    (lambda: admin.describe_pull_through_cache_rules(), "pull-through caching"),
    (lambda: admin.put_replication_configuration(replicationConfiguration={"rules": []}), "replication"),
]:
    expect_error(call, "UnsupportedOperationException", f"{feature} is not a berth feature yet")

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


def signed_raw(body, send_body=None, shift=None, strip_host=False, key=ADMIN):
    """A DescribeRepositories request signed over `body`, sent with `send_body`, its clock shifted."""
    request = AWSRequest(method="POST", url=ENDPOINT + "/", data=body, headers={
        "Content-Type": "application/x-amz-json-1.1",
        "X-Amz-Target": "AmazonEC2ContainerRegistry_V20150921.DescribeRepositories"})
    signer = SigV4Auth(Credentials(*key), "ecr", "us-east-1")
    if shift:
        real = botocore.auth.get_current_datetime
        with mock.patch("botocore.auth.get_current_datetime", lambda: real() + shift):
            signer.add_auth(request)
    else:
        signer.add_auth(request)
    headers = dict(request.headers)
    if strip_host:
        # Claim host is not signed: the signature no longer covers where the request goes.
        headers["Authorization"] = headers["Authorization"].replace(";host;", ";").replace("SignedHeaders=host;", "SignedHeaders=")
    prepared = urllib.request.Request(ENDPOINT + "/", data=send_body if send_body is not None else body,
                                      method="POST", headers=headers)
    try:
        with urllib.request.urlopen(prepared) as r:
            return r.status, json.load(r)
    except urllib.error.HTTPError as e:
        return e.code, json.load(e)


assert signed_raw(b"{}")[0] == 200
for label, kwargs, kind in [
    ("skew +20 min", {"shift": datetime.timedelta(minutes=20)}, "InvalidSignatureException"),
    ("skew -20 min", {"shift": -datetime.timedelta(minutes=20)}, "InvalidSignatureException"),
    ("tampered body", {"send_body": b'{"maxResults": 1}'}, "InvalidSignatureException"),
    ("unsigned host", {"strip_host": True}, "InvalidSignatureException"),
    ("unknown key", {"key": ("BKIANOSUCHKEY0000000", "x" * 40)}, "UnrecognizedClientException"),
]:
    status, body = signed_raw(b"{}", **kwargs)
    assert (status, body.get("__type")) == (403, kind), (label, status, body)
if os.environ.get("DEACTIVATED_KEY_ID"):
    status, body = signed_raw(b"{}", key=(os.environ["DEACTIVATED_KEY_ID"], os.environ["DEACTIVATED_SECRET"]))
    assert (status, body.get("__type")) == (403, "UnrecognizedClientException"), ("deactivated key", status, body)
else:
    fail("DEACTIVATED_KEY_ID is not set")
print("boto3: SigV4 negatives (skew, tampered body, unsigned host, unknown and deactivated keys) ok")

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
