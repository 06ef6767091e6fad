"""boto3 reads the scan of the scanner fixture: DescribeImageScanFindings (basic and enhanced findings,
pagination), DescribeImages' scan fields, StartImageScan; every response checked against botocore's model
(ecr_model.py).

Run by crates/berth/tests/oci/scanning.rs with ECR_ENDPOINT, ADMIN_KEY_ID/ADMIN_SECRET, SCAN_REPO,
SCAN_DIGEST (the fixture image, already scanned and evaluated against Debian, PyPI, npm, crates and Go
advisories) and LAYERS (its layer digests, bottom first, comma-separated).
"""

import os
import time

from ecr_model import checked, client, expect_error, fail

ADMIN = (os.environ["ADMIN_KEY_ID"], os.environ["ADMIN_SECRET"])
REPO = os.environ["SCAN_REPO"]
DIGEST = os.environ["SCAN_DIGEST"]
L1, L2, L3, L4, L5 = os.environ["LAYERS"].split(",")

ecr = client(ADMIN)
image = {"imageDigest": DIGEST}


def all_findings():
    pages = list(ecr.get_paginator("describe_image_scan_findings").paginate(
        repositoryName=REPO, imageId=image, PaginationConfig={"PageSize": 7}))
    if any(len(p["imageScanFindings"]["findings"]) > 7 for p in pages):
        fail("a page holds more than maxResults findings")
    basic = [f for p in pages for f in p["imageScanFindings"]["findings"]]
    enhanced = [f for p in pages for f in p["imageScanFindings"]["enhancedFindings"]]
    return pages[0], basic, enhanced


first, basic, enhanced = all_findings()
if first["imageScanStatus"]["status"] != "COMPLETE":
    fail(f"scan status {first['imageScanStatus']}")
counts = first["imageScanFindings"]["findingSeverityCounts"]
if sum(counts.values()) != len(basic) or len(basic) != len(enhanced):
    fail(f"counts {counts} vs {len(basic)} basic and {len(enhanced)} enhanced findings")
print(f"scan: {len(basic)} findings {counts}")


def by(vuln_id, package):
    """The enhanced finding of `vuln_id` on `package`."""
    for f in enhanced:
        d = f["packageVulnerabilityDetails"]
        if d["vulnerabilityId"] == vuln_id and d["vulnerablePackages"][0]["name"] == package:
            return d
    fail(f"no finding {vuln_id} on {package}; findings: {sorted((f['packageVulnerabilityDetails']['vulnerabilityId'], f['packageVulnerabilityDetails']['vulnerablePackages'][0]['name']) for f in enhanced)}")


def packages():
    return {f["packageVulnerabilityDetails"]["vulnerablePackages"][0]["name"] for f in enhanced}


# Debian 12: advisories are matched by source package (xz-utils → liblzma5), the layer is L1's.
xz = by("DEBCL-xz-utils-GHSA-5qpq-xqfv-j9pg", "liblzma5")["vulnerablePackages"][0]
if xz["sourceLayerHash"] != L1 or not xz.get("fixedInVersion"):
    fail(f"liblzma5: {xz}")
# perl-base was upgraded in L5 to 5.36.0-7+deb12u4, which fixes every perl advisory of the data.
if any(p.startswith("perl") or p == "libperl5.36" for p in packages()):
    fail(f"perl findings after the upgrade: {sorted(packages())}")
# Python (L2): PyYAML 5.3.1 → PYSEC-2021-142, fixed in 5.4; urllib3 1.24.1 was whited out in L5 (1.26.18 is clean).
pyyaml = by("PYSEC-2021-142", "PyYAML")["vulnerablePackages"][0]
if (pyyaml["version"], pyyaml["fixedInVersion"], pyyaml["sourceLayerHash"]) != ("5.3.1", "5.4", L2):
    fail(f"PyYAML: {pyyaml}")
if "urllib3" in packages():
    fail("urllib3 1.24.1 was deleted by a whiteout; 1.26.18 has no advisory")
# npm (zstd layer L3): lodash 4.17.15; minimist's opaque directory in L5 leaves only 1.2.8 (clean).
lodash = [f["packageVulnerabilityDetails"]["vulnerablePackages"][0] for f in enhanced
          if f["packageVulnerabilityDetails"]["vulnerablePackages"][0]["name"] == "lodash"]
if not lodash or any(p["sourceLayerHash"] != L3 or p["version"] != "4.17.15" for p in lodash):
    fail(f"lodash: {lodash}")
if "minimist" in packages():
    fail("minimist 1.2.0 was hidden by an opaque directory; 1.2.8 has no advisory")
# Cargo.lock (L4): tar 0.4.35.
tar = [f["packageVulnerabilityDetails"] for f in enhanced
       if f["packageVulnerabilityDetails"]["vulnerablePackages"][0]["name"] == "tar"]
if not tar or any(d["vulnerablePackages"][0]["sourceLayerHash"] != L4 for d in tar):
    fail(f"tar: {tar}")
if not all(d["vulnerabilityId"].startswith("RUSTSEC-") or d["vulnerabilityId"].startswith("GHSA-") for d in tar):
    fail(f"tar advisories: {[d['vulnerabilityId'] for d in tar]}")
# Basic findings carry the package as attributes.
for f in basic:
    keys = {a["key"] for a in f["attributes"]}
    if not {"package_name", "package_version"} <= keys:
        fail(f"attributes of {f['name']}: {keys}")
print("scan: Debian (by source package), Python, npm, Cargo findings and their layers ok")

# DescribeImages shows the scan.
detail = ecr.describe_images(repositoryName=REPO, imageIds=[image])["imageDetails"][0]
if detail["imageScanStatus"]["status"] != "COMPLETE" or detail["imageScanFindingsSummary"]["findingSeverityCounts"] != counts:
    fail(f"DescribeImages: {detail}")

# StartImageScan queues a new scan; it finishes with the same findings (the layers come from the cache).
started = ecr.start_image_scan(repositoryName=REPO, imageId={"imageTag": "1"})
if started["imageScanStatus"]["status"] != "IN_PROGRESS" or started["imageId"] != {"imageDigest": DIGEST, "imageTag": "1"}:
    fail(f"StartImageScan: {started}")
deadline = time.time() + 60
while True:
    status = ecr.describe_image_scan_findings(repositoryName=REPO, imageId=image)["imageScanStatus"]["status"]
    if status == "COMPLETE":
        break
    if time.time() > deadline:
        fail(f"the second scan is still {status}")
    time.sleep(0.3)
_, again, _ = all_findings()
if sorted(f["name"] for f in again) != sorted(f["name"] for f in basic):
    fail("a second scan found something else")
expect_error(lambda: ecr.start_image_scan(repositoryName=REPO, imageId={"imageTag": "nope"}), "ImageNotFoundException")
expect_error(lambda: ecr.describe_image_scan_findings(repositoryName="scan/none", imageId=image), "RepositoryNotFoundException")
print(f"scan: {checked['responses']} responses and {checked['errors']} errors matched the ecr service model")
