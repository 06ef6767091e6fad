//! The ECR-compatible API driven by the real clients: the AWS CLI (`aws ecr ...`, v1 from pip's `awscli`) and
//! boto3 (`ecr_boto3.py`, which also checks every response against botocore's service model). Both must be
//! installed (`.ci/run` installs them); the tests fail, saying so, when they are not.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use berth_oci::Digest;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::support::*;

pub fn start() -> (tempfile::TempDir, Server) {
    let tmp = tempfile::tempdir().unwrap();
    let s = Server::start_in(&tmp.path().join("data"));
    (tmp, s)
}

/// Fails the test with a clear message when a client is missing.
pub fn require(program: &str, args: &[&str], install: &str) {
    let ok = Command::new(program).args(args).output().map(|o| o.status.success()).unwrap_or(false);
    assert!(ok, "`{program} {}` failed: the ECR API tests need {install}", args.join(" "));
}

/// The result of one `aws` run.
pub struct Aws {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Aws {
    pub fn json(&self) -> Value {
        assert_eq!(self.code, 0, "aws failed: {}", self.stderr);
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| panic!("aws output is not JSON ({e}): {}", self.stdout))
    }

    /// Exit code 255 with `kind` printed.
    pub fn error(&self, kind: &str) -> &str {
        assert_eq!(self.code, 255, "expected {kind}; stdout {} stderr {}", self.stdout, self.stderr);
        assert!(self.stderr.contains(&format!("({kind})")), "expected {kind}: {}", self.stderr);
        &self.stderr
    }
}

/// Runs `aws ecr ARGS --endpoint-url ... --output json` with `key`, isolated from any local AWS config.
pub fn aws(s: &Server, dir: &Path, key: (&str, &str), args: &[&str]) -> Aws {
    let empty = dir.join("aws-empty-config");
    std::fs::write(&empty, "").unwrap();
    let out = Command::new("aws")
        .arg("ecr")
        .args(args)
        .args(["--endpoint-url", &s.base, "--output", "json"])
        .env("AWS_ACCESS_KEY_ID", key.0)
        .env("AWS_SECRET_ACCESS_KEY", key.1)
        .env("AWS_DEFAULT_REGION", "us-east-1")
        .env("AWS_CONFIG_FILE", &empty)
        .env("AWS_SHARED_CREDENTIALS_FILE", &empty)
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env_remove("AWS_PROFILE")
        .env_remove("AWS_SESSION_TOKEN")
        .env_remove("AWS_REGION")
        .output()
        .expect("run aws");
    let out = Aws {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    };
    eprintln!("$ aws ecr {} -> {}\n{}{}", args.join(" "), out.code, out.stdout, out.stderr);
    out
}

async fn admin_api(s: &Server, op: &str, body: Value) -> Value {
    s.admin(op, body).await
}

/// A user whose only permission is `ecr:DescribeRepositories`; returns its access key.
async fn describe_only_user(s: &Server) -> (String, String) {
    admin_api(s, "CreateUser", json!({"userName": "reader"})).await;
    let key = admin_api(s, "CreateAccessKey", json!({"userName": "reader"})).await;
    let policy = json!({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "ecr:DescribeRepositories", "Resource": "*"}]});
    admin_api(s, "PutPolicy", json!({"target": {"user": "reader"}, "policyText": policy.to_string()})).await;
    (key["accessKeyId"].as_str().unwrap().into(), key["secretAccessKey"].as_str().unwrap().into())
}

/// Pushes through /v2: tags v1 and v2 on one manifest, and one untagged manifest. Returns both digests.
async fn push_images(s: &Server, repo: &str) -> (Digest, Digest) {
    let (body, tagged) = s.push_image(repo, "v1", b"ecr layer one").await;
    assert_eq!(s.put_manifest(repo, "v2", OCI_MANIFEST, &body).await.status(), StatusCode::CREATED);
    let (other, _) = s.push_image(repo, "tmp", b"ecr layer two").await;
    let untagged = Digest::sha256_of(&other);
    assert_eq!(s.http.delete(s.url(&format!("/v2/{repo}/manifests/tmp"))).send().await.unwrap().status(), 202);
    (tagged, untagged)
}

fn names(v: &Value) -> Vec<String> {
    v["repositories"].as_array().unwrap().iter().map(|r| r["repositoryName"].as_str().unwrap().to_string()).collect()
}

#[tokio::test]
async fn the_aws_cli_drives_the_ecr_api() {
    require("aws", &["--version"], "the AWS CLI (`pip install awscli`)");
    let (tmp, s) = start();
    let dir = tmp.path();
    let admin = ADMIN_KEY;
    let (tagged, untagged) = push_images(&s, "team/pushed").await;
    let host = s.base.trim_start_matches("http://");

    // CreateRepository.
    let created = aws(
        &s,
        dir,
        admin,
        &[
            "create-repository",
            "--repository-name",
            "team/app",
            "--image-scanning-configuration",
            "scanOnPush=true",
            "--tags",
            "Key=team,Value=a",
        ],
    )
    .json();
    let repo = &created["repository"];
    assert_eq!(repo["repositoryName"], "team/app");
    assert_eq!(repo["repositoryUri"], format!("{host}/team/app"));
    assert_eq!(repo["repositoryArn"], "arn:aws:ecr:us-east-1:000000000000:repository/team/app");
    assert_eq!(repo["registryId"], "000000000000");
    assert_eq!(repo["imageTagMutability"], "MUTABLE");
    assert_eq!(repo["imageScanningConfiguration"]["scanOnPush"], true);
    assert_eq!(repo["encryptionConfiguration"], json!({"encryptionType": "AES256"}), "ECR's default");
    assert!(repo["createdAt"].is_number(), "{repo}");
    aws(&s, dir, admin, &["create-repository", "--repository-name", "team/app"])
        .error("RepositoryAlreadyExistsException");
    aws(&s, dir, admin, &["create-repository", "--repository-name", "team/pushed"])
        .error("RepositoryAlreadyExistsException");
    for name in ["team/b", "team/c"] {
        aws(&s, dir, admin, &["create-repository", "--repository-name", name]).json();
    }
    // The empty repository exists for /v2 too: in the catalog, with an empty tag list.
    let catalog: Value = s.get("/v2/_catalog").await.json().await.unwrap();
    assert_eq!(catalog["repositories"], json!(["team/app", "team/b", "team/c", "team/pushed"]));
    let tags = s.get("/v2/team/app/tags/list").await;
    assert_eq!(tags.status(), StatusCode::OK);
    assert_eq!(tags.json::<Value>().await.unwrap()["tags"], json!([]));

    // DescribeRepositories, whole and paginated by 1 and 2 (the CLI follows nextToken).
    let all = ["team/app", "team/b", "team/c", "team/pushed"];
    assert_eq!(names(&aws(&s, dir, admin, &["describe-repositories"]).json()), all);
    for size in ["1", "2"] {
        assert_eq!(names(&aws(&s, dir, admin, &["describe-repositories", "--page-size", size]).json()), all);
    }
    let first = aws(&s, dir, admin, &["describe-repositories", "--max-items", "1"]).json();
    assert_eq!(names(&first), ["team/app"]);
    assert!(first["NextToken"].is_string(), "more to come: {first}");
    let named = aws(&s, dir, admin, &["describe-repositories", "--repository-names", "team/pushed", "team/b"]).json();
    assert_eq!(names(&named), ["team/pushed", "team/b"]);
    aws(&s, dir, admin, &["describe-repositories", "--repository-names", "team/none"])
        .error("RepositoryNotFoundException");

    // ListImages.
    let ids = |v: &Value| {
        let mut ids: Vec<(String, Option<String>)> = v["imageIds"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| (i["imageDigest"].as_str().unwrap().to_string(), i["imageTag"].as_str().map(String::from)))
            .collect();
        ids.sort();
        ids
    };
    let mut expected = vec![
        (tagged.to_string(), Some("v1".to_string())),
        (tagged.to_string(), Some("v2".to_string())),
        (untagged.to_string(), None),
    ];
    expected.sort();
    for size in ["1", "2", "100"] {
        let listed = aws(&s, dir, admin, &["list-images", "--repository-name", "team/pushed", "--page-size", size]);
        assert_eq!(ids(&listed.json()), expected, "page size {size}");
    }
    let only_untagged =
        aws(&s, dir, admin, &["list-images", "--repository-name", "team/pushed", "--filter", "tagStatus=UNTAGGED"]);
    assert_eq!(ids(&only_untagged.json()), [(untagged.to_string(), None)]);
    assert_eq!(aws(&s, dir, admin, &["list-images", "--repository-name", "team/app"]).json(), json!({"imageIds": []}));
    aws(&s, dir, admin, &["list-images", "--repository-name", "team/none"]).error("RepositoryNotFoundException");

    // get-login-password | docker login --username AWS: the password works on /v2.
    let login = aws(&s, dir, admin, &["get-login-password"]);
    assert_eq!(login.code, 0, "{}", login.stderr);
    let aws_client = client_as("AWS", login.stdout.trim());
    let r = aws_client.get(s.url("/v2/team/pushed/manifests/v1")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let token = aws(&s, dir, admin, &["get-authorization-token"]).json();
    assert_eq!(token["authorizationData"][0]["proxyEndpoint"], s.base.as_str());

    // DeleteRepository.
    aws(&s, dir, admin, &["delete-repository", "--repository-name", "team/pushed"])
        .error("RepositoryNotEmptyException");
    assert_eq!(s.get("/v2/team/pushed/manifests/v1").await.status(), StatusCode::OK, "untouched");
    let deleted = aws(&s, dir, admin, &["delete-repository", "--repository-name", "team/pushed", "--force"]).json();
    assert_eq!(deleted["repository"]["repositoryName"], "team/pushed");
    assert_eq!(s.get("/v2/team/pushed/tags/list").await.status(), StatusCode::NOT_FOUND, "gone from /v2");
    assert_eq!(aws(&s, dir, admin, &["delete-repository", "--repository-name", "team/c"]).code, 0, "empty");
    assert_eq!(names(&aws(&s, dir, admin, &["describe-repositories"]).json()), ["team/app", "team/b"]);
    aws(&s, dir, admin, &["delete-repository", "--repository-name", "team/c"]).error("RepositoryNotFoundException");

    // An operation of a feature berth does not have yet names it.
    let err = aws(
        &s,
        dir,
        admin,
        &["describe-image-replication-status", "--repository-name", "team/app", "--image-id", "imageTag=v1"],
    );
    assert!(err.error("UnsupportedOperationException").contains("replication is not a berth feature yet"));

    // A user allowed only ecr:DescribeRepositories.
    let reader = describe_only_user(&s).await;
    let reader = (reader.0.as_str(), reader.1.as_str());
    assert_eq!(names(&aws(&s, dir, reader, &["describe-repositories"]).json()), ["team/app", "team/b"]);
    aws(&s, dir, reader, &["create-repository", "--repository-name", "team/mine"]).error("AccessDeniedException");
    aws(&s, dir, reader, &["list-images", "--repository-name", "team/app"]).error("AccessDeniedException");
    aws(&s, dir, reader, &["get-login-password"]).error("AccessDeniedException");

    // Bad credentials.
    let wrong = (admin.0, "not-the-secret-at-all-0000000000000000000");
    aws(&s, dir, wrong, &["describe-repositories"]).error("InvalidSignatureException");
    aws(&s, dir, ("BKIANOSUCHKEY0000000", admin.1), &["describe-repositories"]).error("UnrecognizedClientException");

    // Creations, deletions and refusals are audited (the audit log is written in batches).
    let audited = |events: &Value, action: &str, outcome: &str| {
        events["events"].as_array().unwrap().iter().any(|e| e["action"] == action && e["outcome"] == outcome)
    };
    let mut events = Value::Null;
    for _ in 0..50 {
        events = admin_api(&s, "ListAuditEvents", json!({"limit": 1000})).await;
        if audited(&events, "ecr:CreateRepository", "denied") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(audited(&events, "ecr:CreateRepository", "denied"), "{events}");
    assert!(audited(&events, "ecr:CreateRepository", "allowed"), "{events}");
    assert!(audited(&events, "ecr:DeleteRepository", "allowed"), "{events}");
    assert!(audited(&events, "ecr:DeleteRepository", "error"), "the refused non-forced delete: {events}");
}

/// The size ECR reports for an image: the manifest and the blobs it references.
async fn image_size(s: &Server, repo: &str, digest: &Digest) -> u64 {
    let r = s.get(&format!("/v2/{repo}/manifests/{digest}")).await;
    let body = r.bytes().await.unwrap();
    let m: Value = serde_json::from_slice(&body).unwrap();
    let layers: u64 = m["layers"].as_array().unwrap().iter().map(|l| l["size"].as_u64().unwrap()).sum();
    body.len() as u64 + m["config"]["size"].as_u64().unwrap() + layers
}

#[tokio::test]
async fn the_aws_cli_describes_gets_and_deletes_images() {
    require("aws", &["--version"], "the AWS CLI (`pip install awscli`)");
    let (tmp, s) = start();
    let dir = tmp.path();
    let admin = ADMIN_KEY;
    let repo = "team/imgs";
    let (tagged, untagged) = push_images(&s, repo).await;
    // A pull through /v2 is recorded (in batches, every second).
    assert_eq!(s.get(&format!("/v2/{repo}/manifests/v1")).await.status(), StatusCode::OK);
    tokio::time::sleep(Duration::from_millis(1500)).await;

    // DescribeImages: every manifest once, with its tags, size, media types and last pull.
    let described = aws(&s, dir, admin, &["describe-images", "--repository-name", repo]).json();
    let details = described["imageDetails"].as_array().unwrap();
    assert_eq!(details.len(), 2, "{described}");
    let of = |d: &Digest| details.iter().find(|x| x["imageDigest"] == d.to_string()).unwrap().clone();
    let t = of(&tagged);
    assert_eq!(t["imageTags"], json!(["v1", "v2"]));
    assert_eq!(t["repositoryName"], repo);
    assert_eq!(t["registryId"], "000000000000");
    assert_eq!(t["imageSizeInBytes"], image_size(&s, repo, &tagged).await);
    assert_eq!(t["imageManifestMediaType"], OCI_MANIFEST);
    assert_eq!(t["artifactMediaType"], "application/vnd.oci.image.config.v1+json");
    assert!(!t["imagePushedAt"].is_null() && !t["lastRecordedPullTime"].is_null(), "{t}");
    let u = of(&untagged);
    assert!(u.get("imageTags").is_none() && u.get("lastRecordedPullTime").is_none(), "{u}");
    assert_eq!(u["imageSizeInBytes"], image_size(&s, repo, &untagged).await);
    for size in ["1", "2"] {
        let paged = aws(&s, dir, admin, &["describe-images", "--repository-name", repo, "--page-size", size]).json();
        assert_eq!(paged["imageDetails"].as_array().unwrap().len(), 2, "page size {size}");
    }
    let filtered =
        aws(&s, dir, admin, &["describe-images", "--repository-name", repo, "--filter", "tagStatus=UNTAGGED"]).json();
    assert_eq!(filtered["imageDetails"].as_array().unwrap().len(), 1);
    assert_eq!(filtered["imageDetails"][0]["imageDigest"], untagged.to_string());
    let by_tag = aws(&s, dir, admin, &["describe-images", "--repository-name", repo, "--image-ids", "imageTag=v2"]);
    assert_eq!(by_tag.json()["imageDetails"][0]["imageDigest"], tagged.to_string());
    let args = ["describe-images", "--repository-name", repo, "--image-ids", "imageTag=nope"];
    assert!(aws(&s, dir, admin, &args).error("ImageNotFoundException").contains("imageTag:'nope'"));
    aws(&s, dir, admin, &["describe-images", "--repository-name", "team/none"]).error("RepositoryNotFoundException");

    // BatchGetImage: the exact stored bytes; unknown and malformed ids are failures, not errors.
    let pushed = s.get(&format!("/v2/{repo}/manifests/v1")).await.bytes().await.unwrap();
    let got = aws(
        &s,
        dir,
        admin,
        &[
            "batch-get-image",
            "--repository-name",
            repo,
            "--image-ids",
            "imageTag=v1",
            "imageTag=gone",
            "imageDigest=sha256:bad",
        ],
    )
    .json();
    let images = got["images"].as_array().unwrap();
    assert_eq!(images.len(), 1, "{got}");
    assert_eq!(images[0]["imageManifest"].as_str().unwrap().as_bytes(), &pushed[..], "the stored bytes");
    assert_eq!(images[0]["imageId"], json!({"imageDigest": tagged.to_string(), "imageTag": "v1"}));
    assert_eq!(images[0]["imageManifestMediaType"], OCI_MANIFEST);
    let codes: Vec<&str> =
        got["failures"].as_array().unwrap().iter().map(|f| f["failureCode"].as_str().unwrap()).collect();
    assert_eq!(codes, ["ImageNotFound", "InvalidImageDigest"]);
    let mismatch = format!("imageDigest={untagged},imageTag=v1");
    let got = aws(&s, dir, admin, &["batch-get-image", "--repository-name", repo, "--image-ids", &mismatch]).json();
    assert_eq!(got["failures"][0]["failureCode"], "ImageTagDoesNotMatchDigest", "{got}");

    // BatchDeleteImage: by tag removes the tag; by digest the manifest and its tags.
    let deleted =
        aws(&s, dir, admin, &["batch-delete-image", "--repository-name", repo, "--image-ids", "imageTag=v2"]).json();
    assert_eq!(deleted["imageIds"], json!([{"imageDigest": tagged.to_string(), "imageTag": "v2"}]));
    assert_eq!(deleted["failures"], json!([]));
    assert_eq!(s.get(&format!("/v2/{repo}/manifests/v2")).await.status(), StatusCode::NOT_FOUND);
    assert_eq!(s.get(&format!("/v2/{repo}/manifests/v1")).await.status(), StatusCode::OK, "v1 stays");
    let by_digest = format!("imageDigest={tagged}");
    let deleted = aws(
        &s,
        dir,
        admin,
        &["batch-delete-image", "--repository-name", repo, "--image-ids", &by_digest, "imageTag=v2"],
    )
    .json();
    assert_eq!(deleted["imageIds"], json!([{"imageDigest": tagged.to_string()}]));
    assert_eq!(deleted["failures"][0]["failureCode"], "ImageNotFound");
    assert_eq!(s.get(&format!("/v2/{repo}/manifests/v1")).await.status(), StatusCode::NOT_FOUND, "tags went too");
    assert_eq!(s.get(&format!("/v2/{repo}/manifests/{tagged}")).await.status(), StatusCode::NOT_FOUND);

    // PutImage: the untagged manifest gets a tag; putting it again is ImageAlreadyExists.
    let body = s.get(&format!("/v2/{repo}/manifests/{untagged}")).await.text().await.unwrap();
    let put =
        aws(&s, dir, admin, &["put-image", "--repository-name", repo, "--image-manifest", &body, "--image-tag", "v9"]);
    let put = put.json();
    assert_eq!(put["image"]["imageId"], json!({"imageDigest": untagged.to_string(), "imageTag": "v9"}));
    assert_eq!(put["image"]["imageManifest"], body.as_str());
    assert_eq!(put["image"]["imageManifestMediaType"], OCI_MANIFEST);
    let r = s.get(&format!("/v2/{repo}/manifests/v9")).await;
    assert_eq!(r.text().await.unwrap(), body, "the tag is on /v2");
    aws(&s, dir, admin, &["put-image", "--repository-name", repo, "--image-manifest", &body, "--image-tag", "v9"])
        .error("ImageAlreadyExistsException");
    let wrong = format!("sha256:{}", "0".repeat(64));
    aws(&s, dir, admin, &["put-image", "--repository-name", repo, "--image-manifest", &body, "--image-digest", &wrong])
        .error("ImageDigestDoesNotMatchException");
    let missing = String::from_utf8(image_manifest((&Digest::sha256_of(b"no such config"), 2), &[], None)).unwrap();
    aws(&s, dir, admin, &["put-image", "--repository-name", repo, "--image-manifest", &missing, "--image-tag", "x"])
        .error("LayersNotFoundException");
    aws(&s, dir, admin, &["put-image", "--repository-name", repo, "--image-manifest", "{\"not\": 1}"])
        .error("InvalidParameterException");
    aws(&s, dir, admin, &["put-image", "--repository-name", "team/none", "--image-manifest", &body])
        .error("RepositoryNotFoundException");
    // An immutable repository: the tag cannot move.
    aws(
        &s,
        dir,
        admin,
        &["create-repository", "--repository-name", "team/fixed", "--image-tag-mutability", "IMMUTABLE"],
    )
    .json();
    let (first, _) = s.push_image("team/fixed", "v1", b"fixed one").await;
    let (second, _) = s.push_image("team/fixed", "v2", b"fixed two").await;
    assert_ne!(first, second);
    let second = String::from_utf8(second).unwrap();
    aws(
        &s,
        dir,
        admin,
        &["put-image", "--repository-name", "team/fixed", "--image-manifest", &second, "--image-tag", "v1"],
    )
    .error("ImageTagAlreadyExistsException");

    // Each operation needs its own permission.
    let reader = describe_only_user(&s).await;
    let reader = (reader.0.as_str(), reader.1.as_str());
    aws(&s, dir, reader, &["describe-images", "--repository-name", repo]).error("AccessDeniedException");
    aws(&s, dir, reader, &["batch-get-image", "--repository-name", repo, "--image-ids", "imageTag=v1"])
        .error("AccessDeniedException");
    aws(&s, dir, reader, &["batch-delete-image", "--repository-name", repo, "--image-ids", "imageTag=v1"])
        .error("AccessDeniedException");
    aws(&s, dir, reader, &["put-image", "--repository-name", repo, "--image-manifest", &body])
        .error("AccessDeniedException");
}

#[tokio::test]
async fn policies_set_with_the_aws_cli_are_enforced_on_v2() {
    require("aws", &["--version"], "the AWS CLI (`pip install awscli`)");
    let (tmp, s) = start();
    let dir = tmp.path();
    let admin = ADMIN_KEY;
    s.push_image("team/shared", "v1", b"shared layer").await;
    admin_api(&s, "CreateUser", json!({"userName": "dave", "password": "dave-password"})).await;
    let dave = client_as("dave", "dave-password");
    let pull = async || dave.get(s.url("/v2/team/shared/manifests/v1")).send().await.unwrap().status();
    assert_eq!(pull().await, StatusCode::FORBIDDEN, "no policy allows dave anything");

    // A repository policy.
    let policy = json!({"Version": "2012-10-17", "Statement": [{"Sid": "DaveReads", "Effect": "Allow",
        "Principal": {"AWS": "arn:aws:iam::000000000000:user/dave"},
        "Action": ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"]}]})
    .to_string();
    aws(&s, dir, admin, &["get-repository-policy", "--repository-name", "team/shared"])
        .error("RepositoryPolicyNotFoundException");
    let set =
        aws(&s, dir, admin, &["set-repository-policy", "--repository-name", "team/shared", "--policy-text", &policy]);
    let set = set.json();
    assert_eq!(
        (set["registryId"].as_str(), set["repositoryName"].as_str(), set["policyText"].as_str()),
        (Some("000000000000"), Some("team/shared"), Some(policy.as_str()))
    );
    assert_eq!(pull().await, StatusCode::OK, "the repository policy lets dave pull with Basic credentials");
    let got = aws(&s, dir, admin, &["get-repository-policy", "--repository-name", "team/shared"]).json();
    assert_eq!(got["policyText"], policy.as_str());
    let bad = r#"{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "ecr:*"}]}"#;
    let err = aws(&s, dir, admin, &["set-repository-policy", "--repository-name", "team/shared", "--policy-text", bad]);
    assert!(err.error("InvalidParameterException").contains("Principal"), "the parser's message");
    aws(&s, dir, admin, &["set-repository-policy", "--repository-name", "team/none", "--policy-text", &policy])
        .error("RepositoryNotFoundException");
    let deleted = aws(&s, dir, admin, &["delete-repository-policy", "--repository-name", "team/shared"]).json();
    assert_eq!(deleted["policyText"], policy.as_str());
    assert_eq!(pull().await, StatusCode::FORBIDDEN, "gone with its policy");
    aws(&s, dir, admin, &["delete-repository-policy", "--repository-name", "team/shared"])
        .error("RepositoryPolicyNotFoundException");

    // The registry policy.
    let registry = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
        "Principal": {"AWS": "arn:aws:iam::000000000000:user/dave"},
        "Action": ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"],
        "Resource": "arn:aws:ecr:us-east-1:000000000000:repository/*"}]})
    .to_string();
    aws(&s, dir, admin, &["get-registry-policy"]).error("RegistryPolicyNotFoundException");
    let put = aws(&s, dir, admin, &["put-registry-policy", "--policy-text", &registry]).json();
    assert_eq!(
        (put["registryId"].as_str(), put["policyText"].as_str()),
        (Some("000000000000"), Some(registry.as_str()))
    );
    assert_eq!(pull().await, StatusCode::OK, "the registry policy lets dave pull");
    assert_eq!(aws(&s, dir, admin, &["get-registry-policy"]).json()["policyText"], registry.as_str());
    aws(&s, dir, admin, &["put-registry-policy", "--policy-text", "not json"]).error("InvalidParameterException");
    assert_eq!(aws(&s, dir, admin, &["delete-registry-policy"]).json()["policyText"], registry.as_str());
    assert_eq!(pull().await, StatusCode::FORBIDDEN);
    aws(&s, dir, admin, &["delete-registry-policy"]).error("RegistryPolicyNotFoundException");

    // Managing policies needs its own permissions.
    let reader = describe_only_user(&s).await;
    let reader = (reader.0.as_str(), reader.1.as_str());
    aws(&s, dir, reader, &["set-repository-policy", "--repository-name", "team/shared", "--policy-text", &policy])
        .error("AccessDeniedException");
    aws(&s, dir, reader, &["get-registry-policy"]).error("AccessDeniedException");
}

#[tokio::test]
async fn the_aws_cli_tags_repositories() {
    require("aws", &["--version"], "the AWS CLI (`pip install awscli`)");
    let (tmp, s) = start();
    let dir = tmp.path();
    let admin = ADMIN_KEY;
    let arn = "arn:aws:ecr:us-east-1:000000000000:repository/team/app";
    aws(&s, dir, admin, &["create-repository", "--repository-name", "team/app", "--tags", "Key=team,Value=a"]).json();
    let listed = aws(&s, dir, admin, &["list-tags-for-resource", "--resource-arn", arn]).json();
    assert_eq!(listed, json!({"tags": [{"Key": "team", "Value": "a"}]}));
    let tagged = aws(
        &s,
        dir,
        admin,
        &["tag-resource", "--resource-arn", arn, "--tags", "Key=env,Value=dev", "Key=team,Value=b"],
    );
    assert_eq!(tagged.code, 0, "{}", tagged.stderr);
    let listed = aws(&s, dir, admin, &["list-tags-for-resource", "--resource-arn", arn]).json();
    assert_eq!(listed, json!({"tags": [{"Key": "env", "Value": "dev"}, {"Key": "team", "Value": "b"}]}));
    let untagged = aws(&s, dir, admin, &["untag-resource", "--resource-arn", arn, "--tag-keys", "team"]);
    assert_eq!(untagged.code, 0, "{}", untagged.stderr);
    let listed = aws(&s, dir, admin, &["list-tags-for-resource", "--resource-arn", arn]).json();
    assert_eq!(listed, json!({"tags": [{"Key": "env", "Value": "dev"}]}));

    // A repository created by a push can be tagged too.
    s.push_image("team/pushed", "v1", b"tagged by push").await;
    let pushed = "arn:aws:ecr:us-east-1:000000000000:repository/team/pushed";
    assert_eq!(aws(&s, dir, admin, &["tag-resource", "--resource-arn", pushed, "--tags", "Key=k,Value=v"]).code, 0);
    let listed = aws(&s, dir, admin, &["list-tags-for-resource", "--resource-arn", pushed]).json();
    assert_eq!(listed, json!({"tags": [{"Key": "k", "Value": "v"}]}));

    let none = "arn:aws:ecr:us-east-1:000000000000:repository/team/none";
    aws(&s, dir, admin, &["list-tags-for-resource", "--resource-arn", none]).error("RepositoryNotFoundException");
    let other = "arn:aws:ecr:eu-west-1:111111111111:repository/team/app";
    aws(&s, dir, admin, &["list-tags-for-resource", "--resource-arn", other]).error("InvalidParameterException");
    aws(&s, dir, admin, &["tag-resource", "--resource-arn", arn, "--tags", "Key=aws:x,Value=v"])
        .error("InvalidTagParameterException");
    let many: Vec<String> = (0..50).map(|i| format!("Key=k{i},Value=v")).collect();
    let mut args = vec!["tag-resource", "--resource-arn", arn, "--tags"];
    args.extend(many.iter().map(String::as_str));
    aws(&s, dir, admin, &args).error("TooManyTagsException");
    let reader = describe_only_user(&s).await;
    let reader = (reader.0.as_str(), reader.1.as_str());
    aws(&s, dir, reader, &["list-tags-for-resource", "--resource-arn", arn]).error("AccessDeniedException");
    aws(&s, dir, reader, &["tag-resource", "--resource-arn", arn, "--tags", "Key=a,Value=b"])
        .error("AccessDeniedException");
}

#[tokio::test]
async fn immutable_tags_cannot_be_moved_by_a_push() {
    require("aws", &["--version"], "the AWS CLI (`pip install awscli`)");
    let (tmp, s) = start();
    let args = ["create-repository", "--repository-name", "team/fixed", "--image-tag-mutability", "IMMUTABLE"];
    assert_eq!(aws(&s, tmp.path(), ADMIN_KEY, &args).json()["repository"]["imageTagMutability"], "IMMUTABLE");
    let (body, _) = s.push_image("team/fixed", "v1", b"first").await;
    assert_eq!(s.put_manifest("team/fixed", "v1", OCI_MANIFEST, &body).await.status(), StatusCode::CREATED, "same");
    let config = s.push_blob("team/fixed", b"{}").await;
    let layer = s.push_blob("team/fixed", b"second").await;
    let other = image_manifest((&config, 2), &[(&layer, 6)], None);
    let r = s.put_manifest("team/fixed", "v1", OCI_MANIFEST, &other).await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert_eq!(error_code(r).await, "TAG_INVALID");
    let r = s.put_manifest("team/fixed", "v2", OCI_MANIFEST, &other).await;
    assert_eq!(r.status(), StatusCode::CREATED, "a new tag is fine");
}

#[tokio::test]
async fn the_aws_cli_uploads_layers_and_manages_registry_settings() {
    require("aws", &["--version"], "the AWS CLI (`pip install awscli`)");
    let (tmp, s) = start();
    let dir = tmp.path();
    aws(&s, dir, ADMIN_KEY, &["create-repository", "--repository-name", "cli/layers"]).json();
    // Two parts: the first of ECR's minimum part size (5 MiB), the last smaller.
    let layer = bytes(7, 5 * 1024 * 1024 + 4321);
    let digest = Digest::sha256_of(&layer);
    let upload = aws(&s, dir, ADMIN_KEY, &["initiate-layer-upload", "--repository-name", "cli/layers"]).json();
    let id = upload["uploadId"].as_str().unwrap();
    let half = 5 * 1024 * 1024;
    for (first, part) in [(0, &layer[..half]), (half, &layer[half..])] {
        let file = dir.join(format!("part-{first}"));
        std::fs::write(&file, part).unwrap();
        let args = [
            "upload-layer-part".to_string(),
            "--repository-name".into(),
            "cli/layers".into(),
            "--upload-id".into(),
            id.into(),
            "--part-first-byte".into(),
            first.to_string(),
            "--part-last-byte".into(),
            (first + part.len() - 1).to_string(),
            "--layer-part-blob".into(),
            format!("fileb://{}", file.display()),
        ];
        let r = aws(&s, dir, ADMIN_KEY, &args.iter().map(String::as_str).collect::<Vec<_>>());
        assert_eq!(r.json()["lastByteReceived"], first + part.len() - 1);
    }
    let done = aws(
        &s,
        dir,
        ADMIN_KEY,
        &[
            "complete-layer-upload",
            "--repository-name",
            "cli/layers",
            "--upload-id",
            id,
            "--layer-digests",
            &digest.to_string(),
        ],
    );
    assert_eq!(done.json()["layerDigest"], digest.to_string());
    let check = aws(
        &s,
        dir,
        ADMIN_KEY,
        &["batch-check-layer-availability", "--repository-name", "cli/layers", "--layer-digests", &digest.to_string()],
    )
    .json();
    assert_eq!(check["layers"][0]["layerAvailability"], "AVAILABLE");
    assert_eq!(check["layers"][0]["layerSize"], layer.len());
    // The bytes are the repository's blob on /v2, and behind the download URL.
    let r = s.http.get(s.url(&format!("/v2/cli/layers/blobs/{digest}"))).send().await.unwrap();
    assert_eq!(r.bytes().await.unwrap().as_ref(), &layer[..]);
    let url = aws(
        &s,
        dir,
        ADMIN_KEY,
        &["get-download-url-for-layer", "--repository-name", "cli/layers", "--layer-digest", &digest.to_string()],
    )
    .json();
    let url = url["downloadUrl"].as_str().unwrap();
    let anonymous = reqwest::Client::new();
    assert_eq!(anonymous.get(url).send().await.unwrap().bytes().await.unwrap().as_ref(), &layer[..]);
    let r = anonymous.get(url).header("Range", "bytes=0-9").send().await.unwrap();
    assert_eq!((r.status(), r.bytes().await.unwrap().as_ref()), (StatusCode::PARTIAL_CONTENT, &layer[..10]));
    let r = anonymous.get(url.split('?').next().unwrap()).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN, "no token, no download");

    // Tag mutability with exclusions: pushes through /v2 obey it.
    let r = aws(
        &s,
        dir,
        ADMIN_KEY,
        &[
            "put-image-tag-mutability",
            "--repository-name",
            "cli/layers",
            "--image-tag-mutability",
            "IMMUTABLE_WITH_EXCLUSION",
            "--image-tag-mutability-exclusion-filters",
            "filterType=WILDCARD,filter=latest",
        ],
    )
    .json();
    assert_eq!(r["imageTagMutability"], "IMMUTABLE_WITH_EXCLUSION");
    let (first, _) = s.push_image("cli/layers", "v1", b"mutability one").await;
    assert_eq!(s.put_manifest("cli/layers", "latest", OCI_MANIFEST, &first).await.status(), StatusCode::CREATED);
    let (second, _) = s.push_image("cli/layers", "v2", b"mutability two").await;
    let moved = s.put_manifest("cli/layers", "latest", OCI_MANIFEST, &second).await;
    assert_eq!(moved.status(), StatusCode::CREATED, "latest is excluded: mutable");
    let refused = s.put_manifest("cli/layers", "v1", OCI_MANIFEST, &second).await;
    assert_eq!(refused.status(), StatusCode::BAD_REQUEST);
    assert_eq!(error_code(refused).await, "TAG_INVALID");

    // BLOB_MOUNTING=DISABLED: a mount request starts an upload instead of linking.
    let setting = ["put-account-setting", "--name", "BLOB_MOUNTING", "--value", "DISABLED"];
    assert_eq!(aws(&s, dir, ADMIN_KEY, &setting).json()["value"], "DISABLED");
    let mount = format!("/v2/cli/other/blobs/uploads/?mount={digest}&from=cli/layers");
    let r = s.http.post(s.url(&mount)).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::ACCEPTED, "an upload session, not a mount");
    let setting = ["put-account-setting", "--name", "BLOB_MOUNTING", "--value", "ENABLED"];
    aws(&s, dir, ADMIN_KEY, &setting).json();
    let r = s.http.post(s.url(&mount)).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::CREATED, "mounted");

    let registry = aws(&s, dir, ADMIN_KEY, &["describe-registry"]).json();
    assert_eq!(registry["registryId"], "000000000000");
    let rules =
        r#"[{"scanFrequency":"SCAN_ON_PUSH","repositoryFilters":[{"filter":"cli/*","filterType":"WILDCARD"}]}]"#;
    let put = ["put-registry-scanning-configuration", "--scan-type", "BASIC", "--rules", rules];
    aws(&s, dir, ADMIN_KEY, &put).json();
    let configs =
        aws(&s, dir, ADMIN_KEY, &["batch-get-repository-scanning-configuration", "--repository-names", "cli/layers"])
            .json();
    assert_eq!(configs["scanningConfigurations"][0]["scanFrequency"], "SCAN_ON_PUSH");
    let missing = aws(&s, dir, ADMIN_KEY, &["get-lifecycle-policy", "--repository-name", "cli/layers"]);
    let message = missing.error("LifecyclePolicyNotFoundException");
    assert!(message.contains("cli/layers"), "{message}");
}

#[tokio::test]
async fn boto3_responses_match_the_service_model() {
    require("python3", &["-c", "import boto3, botocore"], "boto3 (`pip install boto3`) for python3");
    let (_tmp, s) = start();
    push_images(&s, "team/pushed").await;
    let reader = describe_only_user(&s).await;
    // A key that worked once and was deactivated: refused like an unknown key.
    let old = admin_api(&s, "CreateAccessKey", json!({"userName": "reader"})).await;
    let old_id = old["accessKeyId"].as_str().unwrap();
    admin_api(&s, "UpdateAccessKey", json!({"accessKeyId": old_id, "status": "Inactive"})).await;
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/oci/ecr_boto3.py");
    let out = Command::new("python3")
        .arg(script)
        .env("ECR_ENDPOINT", &s.base)
        .env("ADMIN_KEY_ID", ADMIN_KEY.0)
        .env("ADMIN_SECRET", ADMIN_KEY.1)
        .env("READER_KEY_ID", &reader.0)
        .env("READER_SECRET", &reader.1)
        .env("PUSHED_REPO", "team/pushed")
        .env("DEACTIVATED_KEY_ID", old_id)
        .env("DEACTIVATED_SECRET", old["secretAccessKey"].as_str().unwrap())
        .env("AWS_CONFIG_FILE", "/dev/null")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env_remove("AWS_PROFILE")
        .env_remove("AWS_ACCESS_KEY_ID")
        .env_remove("AWS_SECRET_ACCESS_KEY")
        .env_remove("AWS_SESSION_TOKEN")
        .output()
        .expect("run python3");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    eprintln!("{stdout}{stderr}");
    assert!(out.status.success(), "ecr_boto3.py failed:\n{stdout}\n{stderr}");
    assert!(stdout.contains("matched the ecr service model"), "{stdout}");
}

/// `BatchDeleteImage` by tag, as ECR documents it: removing an image's last tag deletes the image, in one
/// step; a tag among others only goes. A manifest an index lists keeps its last tag (nothing changes, as
/// for a delete by digest). `/v2` `DELETE` by tag keeps only untagging.
#[tokio::test]
async fn the_aws_cli_deletes_an_image_with_its_last_tag() {
    require("aws", &["--version"], "the AWS CLI (`pip install awscli`)");
    let (tmp, s) = start();
    let dir = tmp.path();
    let repo = "cli/untag";
    let (body, digest) = s.push_image(repo, "a", b"untag layer").await;
    assert_eq!(s.put_manifest(repo, "b", OCI_MANIFEST, &body).await.status(), StatusCode::CREATED);
    let delete = |tag: &str| {
        let id = format!("imageTag={tag}");
        aws(&s, dir, ADMIN_KEY, &["batch-delete-image", "--repository-name", repo, "--image-ids", &id]).json()
    };
    let by_digest = format!("/v2/{repo}/manifests/{digest}");

    let v = delete("a");
    assert_eq!(v["imageIds"], json!([{"imageDigest": digest.to_string(), "imageTag": "a"}]), "{v}");
    assert_eq!(s.get(&by_digest).await.status(), StatusCode::OK, "tag b remains: the image stays");
    let v = delete("b");
    assert_eq!(v["imageIds"], json!([{"imageDigest": digest.to_string(), "imageTag": "b"}]), "{v}");
    assert_eq!(s.get(&by_digest).await.status(), StatusCode::NOT_FOUND, "its last tag gone, the image is deleted");
    let listed = aws(&s, dir, ADMIN_KEY, &["list-images", "--repository-name", repo]).json();
    assert_eq!(listed["imageIds"], json!([]), "no untagged image is left behind: {listed}");
    assert_eq!(delete("b")["failures"][0]["failureCode"], "ImageNotFound");

    // /v2 keeps Distribution's semantics: DELETE by tag only untags.
    let (_, kept) = s.push_image(repo, "v2only", b"untag layer 2").await;
    let r = s.http.delete(s.url(&format!("/v2/{repo}/manifests/v2only"))).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::ACCEPTED);
    assert_eq!(s.get(&format!("/v2/{repo}/manifests/{kept}")).await.status(), StatusCode::OK, "untagged, kept");

    // A manifest an index lists: its last tag cannot take it away.
    let (_, child) = s.push_image(repo, "child", b"untag child").await;
    let child_body = s.get(&format!("/v2/{repo}/manifests/{child}")).await.bytes().await.unwrap();
    let index = json!({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [
        descriptor(OCI_MANIFEST, &child, child_body.len())]});
    let r = s.put_manifest(repo, "multi", OCI_INDEX, &serde_json::to_vec(&index).unwrap()).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let v = delete("child");
    assert_eq!(
        (v["imageIds"].clone(), &v["failures"][0]["failureCode"]),
        (json!([]), &json!("ImageReferencedByManifestList"))
    );
    assert_eq!(s.get(&format!("/v2/{repo}/manifests/child")).await.status(), StatusCode::OK, "nothing changed");
    assert_eq!(delete("multi")["imageIds"].as_array().unwrap().len(), 1);
    assert_eq!(delete("child")["imageIds"].as_array().unwrap().len(), 1, "the index is gone: deletable");
    assert_eq!(s.get(&format!("/v2/{repo}/manifests/{child}")).await.status(), StatusCode::NOT_FOUND);
}

/// Repository names of up to 256 characters are valid in ECR's model: created with the AWS CLI, pushed to
/// over `/v2`, described; 257 characters are refused.
#[tokio::test]
async fn repository_names_of_256_characters() {
    require("aws", &["--version"], "the AWS CLI (`pip install awscli`)");
    let (tmp, s) = start();
    let dir = tmp.path();
    let name = format!("long/{}", "n".repeat(251));
    assert_eq!(name.len(), 256);
    let created = aws(&s, dir, ADMIN_KEY, &["create-repository", "--repository-name", &name]).json();
    assert_eq!(created["repository"]["repositoryName"], name.as_str());
    s.push_image(&name, "v1", b"a layer of a long-named repository").await;
    assert_eq!(s.get(&format!("/v2/{name}/manifests/v1")).await.status(), StatusCode::OK);
    let described = aws(&s, dir, ADMIN_KEY, &["describe-repositories", "--repository-names", &name]).json();
    assert_eq!(described["repositories"][0]["repositoryName"], name.as_str());
    let images = aws(&s, dir, ADMIN_KEY, &["list-images", "--repository-name", &name]).json();
    assert_eq!(images["imageIds"][0]["imageTag"], "v1");

    let too_long = format!("{name}x");
    let target = ("x-amz-target", "AmazonEC2ContainerRegistry_V20150921.CreateRepository");
    let r = s.signed_post(Some(ADMIN_KEY), "ecr", "/", &[target], &json!({"repositoryName": too_long})).await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert_eq!(r.json::<Value>().await.unwrap()["__type"], "InvalidParameterException");
    let r = s.put_manifest(&too_long, "v1", OCI_MANIFEST, b"{}").await;
    assert_eq!(error_code(r).await, "NAME_INVALID");
}

/// berth's operation list is botocore's: every operation of the installed botocore's ECR model is known to
/// berth (implemented, or `UnsupportedOperationException` naming its feature; never
/// `UnknownOperationException`), and berth knows no operation botocore lacks except those ECR added since
/// that botocore release (replication backfills), which answer `UnsupportedOperationException` too.
#[tokio::test]
async fn ecr_operations_match_botocore() {
    require("python3", &["-c", "import boto3, botocore"], "boto3 (`pip install boto3`) for python3");
    let out = Command::new("python3")
        .args([
            "-c",
            "import json, botocore.session as s; \
             print(json.dumps(sorted(s.get_session().get_service_model('ecr').operation_names)))",
        ])
        .output()
        .expect("run python3");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let modelled: Vec<String> = serde_json::from_slice(&out.stdout).unwrap();
    let known: Vec<&str> = berth_api::ECR_OPERATIONS.to_vec();
    let newer = berth_api::ECR_OPERATIONS_NEWER_THAN_BOTOCORE;
    let missing: Vec<&String> = modelled.iter().filter(|op| !known.contains(&op.as_str())).collect();
    assert!(missing.is_empty(), "operations of botocore's ECR model berth does not list: {missing:?}");
    let extra: Vec<&&str> = known.iter().filter(|op| !modelled.iter().any(|m| m == *op)).collect();
    let unexplained: Vec<&&&str> = extra.iter().filter(|op| !newer.contains(op)).collect();
    assert!(unexplained.is_empty(), "operations berth lists that botocore's model does not: {unexplained:?}");
    let stale: Vec<&&str> = newer.iter().filter(|op| modelled.iter().any(|m| m == *op)).collect();
    assert!(stale.is_empty(), "botocore models these now: take them out of NEWER_THAN_BOTOCORE: {stale:?}");

    // Every known operation is answered as one of ECR's, whatever its input.
    let s = Server::start();
    let mut unsupported = Vec::new();
    for op in &known {
        let target = format!("AmazonEC2ContainerRegistry_V20150921.{op}");
        let r = s.signed_post(Some(ADMIN_KEY), "ecr", "/", &[("x-amz-target", &target)], &json!({})).await;
        let status = r.status();
        let body: Value = r.json().await.unwrap();
        let kind = body["__type"].as_str().unwrap_or("");
        assert_ne!(kind, "UnknownOperationException", "{op}: {body}");
        assert!(!status.is_server_error(), "{op}: {status} {body}");
        if kind == "UnsupportedOperationException" {
            let message = body["message"].as_str().unwrap();
            assert!(
                message.contains("is not a berth feature yet") && !message.contains("this operation"),
                "{op}: {message}"
            );
            unsupported.push(*op);
        }
    }
    for op in newer {
        assert!(unsupported.contains(op), "{op} answers UnsupportedOperationException");
    }
    let target = "AmazonEC2ContainerRegistry_V20150921.StartReplicationBackfill";
    let body = json!({"destination": {"region": "eu-west-1", "registryId": "000000000000"}});
    let r = s.signed_post(Some(ADMIN_KEY), "ecr", "/", &[("x-amz-target", target)], &body).await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["__type"], "UnsupportedOperationException");
    assert!(body["message"].as_str().unwrap().contains("replication is not a berth feature yet"), "{body}");
    eprintln!("{} operations, {} of them unsupported: {unsupported:?}", known.len(), unsupported.len());
}
