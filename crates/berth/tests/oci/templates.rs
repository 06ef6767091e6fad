//! Repository creation templates driven by the AWS CLI (`aws ecr create-repository-creation-template` and
//! the rest): every operation and its validation errors, then pushes over /v2 into new repositories, which
//! start with the settings of the template that covers them (`CREATE_ON_PUSH`): tag mutability, lifecycle
//! policy, repository policy, resource tags.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::ecr::{aws, require, start};
use crate::scanning::berth;
use crate::support::*;

const ACCOUNT: &str = "000000000000";
const LIFECYCLE: &str = r#"{"rules": [{"rulePriority": 1, "description": "keep ten untagged images", "selection": {"tagStatus": "untagged", "countType": "imageCountMoreThan", "countNumber": 10}, "action": {"type": "expire"}}]}"#;

/// A repository policy letting `reader` pull.
fn reader_policy() -> String {
    json!({"Version": "2012-10-17", "Statement": [{"Sid": "reader", "Effect": "Allow",
        "Principal": {"AWS": format!("arn:aws:iam::{ACCOUNT}:user/reader")},
        "Action": ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer", "ecr:BatchCheckLayerAvailability"]}]})
    .to_string()
}

async fn raw(s: &Server, op: &str, body: Value) -> (StatusCode, Value) {
    let target = format!("AmazonEC2ContainerRegistry_V20150921.{op}");
    let r = s.signed_post(Some(ADMIN_KEY), "ecr", "/", &[("x-amz-target", &target)], &body).await;
    (r.status(), r.json().await.unwrap())
}

fn tags_of(v: &Value) -> Vec<(String, String)> {
    let mut tags: Vec<(String, String)> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|t| (t["Key"].as_str().unwrap().to_string(), t["Value"].as_str().unwrap().to_string()))
        .collect();
    tags.sort();
    tags
}

fn pair(k: &str, v: &str) -> (String, String) {
    (k.to_string(), v.to_string())
}

#[tokio::test]
async fn creation_templates_over_the_aws_cli() {
    require("aws", &["--version"], "the AWS CLI (`pip install awscli`)");
    let (tmp, s) = start();
    let cli = |args: &[&str]| aws(&s, tmp.path(), ADMIN_KEY, args);

    let none = cli(&["describe-repository-creation-templates"]).json();
    assert_eq!(none["repositoryCreationTemplates"], json!([]));
    assert_eq!(none["registryId"], ACCOUNT);

    let policy = reader_policy();
    let role = format!("arn:aws:iam::{ACCOUNT}:role/ecr-templates");
    let created = cli(&[
        "create-repository-creation-template",
        "--prefix",
        "tpl",
        "--description",
        "team templates",
        "--image-tag-mutability",
        "IMMUTABLE",
        "--repository-policy",
        &policy,
        "--lifecycle-policy",
        LIFECYCLE,
        "--resource-tags",
        "Key=team,Value=tpl",
        "Key=cost,Value=42",
        "--applied-for",
        "CREATE_ON_PUSH",
        "REPLICATION",
        "--custom-role-arn",
        &role,
        "--encryption-configuration",
        "encryptionType=AES256",
    ])
    .json();
    let t = &created["repositoryCreationTemplate"];
    assert_eq!(created["registryId"], ACCOUNT);
    assert_eq!(t["prefix"], "tpl");
    assert_eq!(t["description"], "team templates");
    assert_eq!(t["imageTagMutability"], "IMMUTABLE");
    assert_eq!(t["repositoryPolicy"], policy.as_str());
    assert_eq!(t["lifecyclePolicy"], LIFECYCLE);
    assert_eq!(t["appliedFor"], json!(["CREATE_ON_PUSH", "REPLICATION"]));
    assert_eq!(t["customRoleArn"], role.as_str());
    assert_eq!(t["encryptionConfiguration"]["encryptionType"], "AES256");
    assert_eq!(tags_of(&t["resourceTags"]), [pair("cost", "42"), pair("team", "tpl")]);
    assert!(t["createdAt"].is_number() && t["createdAt"] == t["updatedAt"], "{t}");

    // One template per prefix; `tpl/` is `tpl` (ECR assumes the trailing slash).
    for prefix in ["tpl", "tpl/"] {
        cli(&["create-repository-creation-template", "--prefix", prefix, "--applied-for", "REPLICATION"])
            .error("TemplateAlreadyExistsException");
    }
    let root = cli(&[
        "create-repository-creation-template",
        "--prefix",
        "ROOT",
        "--applied-for",
        "CREATE_ON_PUSH",
        "--resource-tags",
        "Key=scope,Value=root",
    ])
    .json();
    assert_eq!(root["repositoryCreationTemplate"]["imageTagMutability"], "MUTABLE", "the default");
    cli(&[
        "create-repository-creation-template",
        "--prefix",
        "tpl/deep/",
        "--applied-for",
        "CREATE_ON_PUSH",
        "--image-tag-mutability",
        "MUTABLE_WITH_EXCLUSION",
        "--image-tag-mutability-exclusion-filters",
        "filterType=WILDCARD,filter=release-*",
        "--resource-tags",
        "Key=team,Value=deep",
    ])
    .json();
    cli(&[
        "create-repository-creation-template",
        "--prefix",
        "repl",
        "--applied-for",
        "REPLICATION",
        "PULL_THROUGH_CACHE",
    ])
    .json();

    // Listing: byte order of prefix, filtered by prefixes, paged.
    let prefixes = |v: &Value| {
        v["repositoryCreationTemplates"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["prefix"].as_str().unwrap().to_string())
            .collect::<Vec<_>>()
    };
    let all = cli(&["describe-repository-creation-templates"]).json();
    assert_eq!(prefixes(&all), ["ROOT", "repl", "tpl", "tpl/deep"]);
    let deep = &all["repositoryCreationTemplates"][3];
    assert_eq!(deep["imageTagMutability"], "MUTABLE_WITH_EXCLUSION");
    assert_eq!(deep["imageTagMutabilityExclusionFilters"], json!([{"filterType": "WILDCARD", "filter": "release-*"}]));
    let some = cli(&["describe-repository-creation-templates", "--prefixes", "tpl/deep", "tpl", "nothing"]).json();
    assert_eq!(prefixes(&some), ["tpl", "tpl/deep"], "unknown prefixes are left out");
    let page = cli(&["describe-repository-creation-templates", "--no-paginate", "--max-results", "3"]).json();
    assert_eq!(prefixes(&page), ["ROOT", "repl", "tpl"]);
    let token = page["nextToken"].as_str().expect("a next page").to_string();
    let rest =
        cli(&["describe-repository-creation-templates", "--no-paginate", "--max-results", "3", "--next-token", &token])
            .json();
    assert_eq!(prefixes(&rest), ["tpl/deep"]);
    assert!(rest.get("nextToken").is_none(), "{rest}");
    let paginated = cli(&["describe-repository-creation-templates", "--page-size", "1"]).json();
    assert_eq!(prefixes(&paginated), ["ROOT", "repl", "tpl", "tpl/deep"], "the CLI follows nextToken");

    // An update changes what it names and keeps the rest; an empty policy removes it.
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let updated = cli(&[
        "update-repository-creation-template",
        "--prefix",
        "repl",
        "--description",
        "replicas",
        "--lifecycle-policy",
        LIFECYCLE,
    ])
    .json();
    let u = &updated["repositoryCreationTemplate"];
    assert_eq!((u["description"].as_str(), u["lifecyclePolicy"].as_str()), (Some("replicas"), Some(LIFECYCLE)));
    assert_eq!(u["appliedFor"], json!(["REPLICATION", "PULL_THROUGH_CACHE"]), "kept");
    assert!(u["updatedAt"].as_f64() > u["createdAt"].as_f64(), "{u}");
    let cleared = cli(&["update-repository-creation-template", "--prefix", "repl", "--lifecycle-policy", ""]).json();
    assert!(cleared["repositoryCreationTemplate"].get("lifecyclePolicy").is_none(), "{cleared}");
    assert_eq!(cleared["repositoryCreationTemplate"]["description"], "replicas");

    // Missing templates.
    cli(&["update-repository-creation-template", "--prefix", "nothing", "--description", "x"])
        .error("TemplateNotFoundException");
    cli(&["delete-repository-creation-template", "--prefix", "nothing"]).error("TemplateNotFoundException");

    // Validation, each refused before anything is stored.
    let create = |extra: &[&str]| {
        let mut args = vec!["create-repository-creation-template", "--applied-for", "CREATE_ON_PUSH"];
        args.extend_from_slice(extra);
        cli(&args)
    };
    let long = "x".repeat(257);
    for (args, kind, says) in [
        (vec!["--prefix", "Team"], "InvalidParameterException", "pattern"),
        (vec!["--prefix", "a//b"], "InvalidParameterException", "pattern"),
        (vec!["--prefix=-a"], "InvalidParameterException", "pattern"),
        (vec!["--prefix", "v", "--description", &long], "InvalidParameterException", "description"),
        (
            vec!["--prefix", "v", "--lifecycle-policy", "{\"rules\": []}"],
            "InvalidParameterException",
            "lifecyclePolicy",
        ),
        (vec!["--prefix", "v", "--lifecycle-policy", "not json"], "InvalidParameterException", "lifecyclePolicy"),
        (
            vec!["--prefix", "v", "--repository-policy", "{\"Statement\": 5}"],
            "InvalidParameterException",
            "repositoryPolicy",
        ),
        (vec!["--prefix", "v", "--encryption-configuration", "encryptionType=KMS"], "InvalidParameterException", "KMS"),
        (
            vec!["--prefix", "v", "--image-tag-mutability", "SOMETIMES"],
            "InvalidParameterException",
            "imageTagMutability",
        ),
        (
            vec!["--prefix", "v", "--image-tag-mutability", "IMMUTABLE_WITH_EXCLUSION"],
            "InvalidParameterException",
            "imageTagMutabilityExclusionFilters",
        ),
        (vec!["--prefix", "v", "--resource-tags", "Key=aws:x,Value=y"], "InvalidParameterException", "resourceTags"),
        (vec!["--prefix", "v", "--custom-role-arn", "not-an-arn"], "InvalidParameterException", "customRoleArn"),
        (
            vec!["--prefix", "v", "--custom-role-arn", "arn:aws:iam::111122223333:role/r"],
            "ValidationException",
            "account",
        ),
    ] {
        let out = create(&args);
        assert!(out.error(kind).contains(says), "{args:?}: {}", out.stderr);
    }
    for (body, kind) in [
        (json!({"prefix": "v", "appliedFor": []}), "ValidationException"),
        (json!({"prefix": "v", "appliedFor": ["SOMETIMES"]}), "InvalidParameterException"),
        (json!({"prefix": "v"}), "InvalidParameterException"),
        (json!({"appliedFor": ["CREATE_ON_PUSH"]}), "InvalidParameterException"),
        (
            json!({"prefix": "v", "appliedFor": ["CREATE_ON_PUSH"], "repositoryPolicy": "x".repeat(10241)}),
            "InvalidParameterException",
        ),
    ] {
        let (status, v) = raw(&s, "CreateRepositoryCreationTemplate", body.clone()).await;
        assert_eq!((status, v["__type"].as_str()), (StatusCode::BAD_REQUEST, Some(kind)), "{body}: {v}");
    }
    let (status, v) = raw(&s, "DescribeRepositoryCreationTemplates", json!({"prefixes": ["Bad"]})).await;
    assert_eq!((status, v["__type"].as_str()), (StatusCode::BAD_REQUEST, Some("InvalidParameterException")), "{v}");
    let (_, v) = raw(&s, "DescribeRepositoryCreationTemplates", json!({"maxResults": 0})).await;
    assert_eq!(v["__type"], "InvalidParameterException");
    let (_, v) = raw(&s, "UpdateRepositoryCreationTemplate", json!({"prefix": "tpl", "appliedFor": []})).await;
    assert_eq!(v["__type"], "ValidationException");
    assert_eq!(prefixes(&cli(&["describe-repository-creation-templates"]).json()), ["ROOT", "repl", "tpl", "tpl/deep"]);

    // The berth CLI shows them too.
    let (code, table, err) = berth(&s, &["templates", "list"]);
    assert_eq!(code, 0, "{err}");
    let lines: Vec<&str> = table.lines().collect();
    assert!(lines[0].starts_with("PREFIX") && lines.len() == 5, "{table}");
    assert!(lines[3].starts_with("tpl ") && lines[3].contains("IMMUTABLE") && lines[3].contains("team=tpl"), "{table}");
    let (code, listed, err) = berth(&s, &["templates", "list", "--json"]);
    assert_eq!(code, 0, "{err}");
    let listed: Value = serde_json::from_str(&listed).unwrap();
    assert_eq!(prefixes(&listed), ["ROOT", "repl", "tpl", "tpl/deep"]);
    let (code, shown, err) = berth(&s, &["templates", "show", "tpl/"]);
    assert_eq!(code, 0, "{err}");
    assert!(shown.contains("team templates") && shown.contains("keep ten untagged images"), "{shown}");
    let (code, _, err) = berth(&s, &["templates", "show", "nothing"]);
    assert_ne!(code, 0);
    assert!(err.contains("no repository creation template has prefix nothing"), "{err}");

    let deleted = cli(&["delete-repository-creation-template", "--prefix", "repl/"]).json();
    assert_eq!(deleted["repositoryCreationTemplate"]["prefix"], "repl");
    assert_eq!(prefixes(&cli(&["describe-repository-creation-templates"]).json()), ["ROOT", "tpl", "tpl/deep"]);
}

/// What a push into a new repository starts with: the covering template's settings, in place before the
/// push's manifest is accepted; the longest prefix wins over `ROOT`; a repository created explicitly, or
/// one that already existed, is left alone.
#[tokio::test]
async fn pushes_create_repositories_from_their_template() {
    require("aws", &["--version"], "the AWS CLI (`pip install awscli`)");
    let (tmp, s) = start();
    let cli = |args: &[&str]| aws(&s, tmp.path(), ADMIN_KEY, args);
    s.admin("CreateUser", json!({"userName": "reader", "password": "reader-password"})).await;
    let reader = client_as("reader", "reader-password");

    // A repository that exists before the templates does not change.
    s.push_image("tpl/old", "v1", b"old").await;
    let policy = reader_policy();
    for args in [
        vec![
            "--prefix",
            "tpl",
            "--image-tag-mutability",
            "IMMUTABLE",
            "--repository-policy",
            &policy,
            "--lifecycle-policy",
            LIFECYCLE,
            "--resource-tags",
            "Key=team,Value=tpl",
            "--applied-for",
            "CREATE_ON_PUSH",
        ],
        vec!["--prefix", "tpl/deep", "--resource-tags", "Key=team,Value=deep", "--applied-for", "CREATE_ON_PUSH"],
        vec!["--prefix", "ROOT", "--resource-tags", "Key=scope,Value=root", "--applied-for", "CREATE_ON_PUSH"],
        vec!["--prefix", "repl", "--image-tag-mutability", "IMMUTABLE", "--applied-for", "REPLICATION"],
    ] {
        let mut full = vec!["create-repository-creation-template"];
        full.extend(args);
        cli(&full).json();
    }

    // The reader asks before the repository exists (and this node remembers that it has no policy).
    let manifest_url = s.url("/v2/tpl/app/manifests/v1");
    assert_ne!(reader.get(&manifest_url).send().await.unwrap().status(), StatusCode::OK);

    let (first, digest) = s.push_image("tpl/app", "v1", b"first").await;
    let repo = &cli(&["describe-repositories", "--repository-names", "tpl/app"]).json()["repositories"][0];
    assert_eq!(repo["imageTagMutability"], "IMMUTABLE");
    // The tag cannot move: the push's own repository was immutable from its start.
    let config = s.push_blob("tpl/app", b"{}").await;
    let layer = s.push_blob("tpl/app", b"second").await;
    let other = image_manifest((&config, 2), &[(&layer, 6)], None);
    let r = s.put_manifest("tpl/app", "v1", OCI_MANIFEST, &other).await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert_eq!(error_code(r).await, "TAG_INVALID");
    assert_eq!(s.put_manifest("tpl/app", "v1", OCI_MANIFEST, &first).await.status(), StatusCode::CREATED, "same");

    let lifecycle = cli(&["get-lifecycle-policy", "--repository-name", "tpl/app"]).json();
    assert_eq!(lifecycle["lifecyclePolicyText"], LIFECYCLE);
    let got = cli(&["get-repository-policy", "--repository-name", "tpl/app"]).json();
    assert_eq!(got["policyText"], policy.as_str());
    let arn = |name: &str| format!("arn:aws:ecr:us-east-1:{ACCOUNT}:repository/{name}");
    let tags = cli(&["list-tags-for-resource", "--resource-arn", &arn("tpl/app")]).json();
    assert_eq!(tags_of(&tags["tags"]), [pair("team", "tpl")]);

    // The template's policy decides at once, on this node too.
    let r = reader.get(&manifest_url).header("accept", OCI_MANIFEST).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK, "the template's repository policy lets the reader pull");
    assert_eq!(header(&r, "docker-content-digest"), digest.to_string());

    // The longest prefix wins; ROOT covers the rest; a template for another scenario does not apply.
    s.push_image("tpl/deep/x", "v1", b"deep").await;
    let tags = cli(&["list-tags-for-resource", "--resource-arn", &arn("tpl/deep/x")]).json();
    assert_eq!(tags_of(&tags["tags"]), [pair("team", "deep")]);
    let deep = &cli(&["describe-repositories", "--repository-names", "tpl/deep/x"]).json()["repositories"][0];
    assert_eq!(deep["imageTagMutability"], "MUTABLE");
    cli(&["get-lifecycle-policy", "--repository-name", "tpl/deep/x"]).error("LifecyclePolicyNotFoundException");
    for name in ["other/app", "solo", "repl/x", "tplx/app"] {
        s.push_image(name, "v1", name.as_bytes()).await;
        let tags = cli(&["list-tags-for-resource", "--resource-arn", &arn(name)]).json();
        assert_eq!(tags_of(&tags["tags"]), [pair("scope", "root")], "{name}");
        let r = &cli(&["describe-repositories", "--repository-names", name]).json()["repositories"][0];
        assert_eq!(r["imageTagMutability"], "MUTABLE", "{name}");
    }

    // CreateRepository is not a push: the template does not apply.
    cli(&["create-repository", "--repository-name", "tpl/explicit"]).json();
    s.push_image("tpl/explicit", "v1", b"explicit").await;
    let r = &cli(&["describe-repositories", "--repository-names", "tpl/explicit"]).json()["repositories"][0];
    assert_eq!(r["imageTagMutability"], "MUTABLE");
    cli(&["get-lifecycle-policy", "--repository-name", "tpl/explicit"]).error("LifecyclePolicyNotFoundException");
    let tags = cli(&["list-tags-for-resource", "--resource-arn", &arn("tpl/explicit")]).json();
    assert_eq!(tags["tags"], json!([]));
    // Nor to a repository that existed before.
    let r = &cli(&["describe-repositories", "--repository-names", "tpl/old"]).json()["repositories"][0];
    assert_eq!(r["imageTagMutability"], "MUTABLE");
    cli(&["get-repository-policy", "--repository-name", "tpl/old"]).error("RepositoryPolicyNotFoundException");

    // A mount is a push too.
    let layer = s.push_blob("other/app", b"mounted layer").await;
    let r = s
        .http
        .post(s.url(&format!("/v2/tpl/mounted/blobs/uploads/?mount={layer}&from=other/app")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    let r = &cli(&["describe-repositories", "--repository-names", "tpl/mounted"]).json()["repositories"][0];
    assert_eq!(r["imageTagMutability"], "IMMUTABLE");

    // Deleted with its template, the settings no longer apply; deleting a template changes no repository.
    cli(&["delete-repository-creation-template", "--prefix", "tpl"]).json();
    s.push_image("tpl/after", "v1", b"after").await;
    let tags = cli(&["list-tags-for-resource", "--resource-arn", &arn("tpl/after")]).json();
    assert_eq!(tags_of(&tags["tags"]), [pair("scope", "root")]);
    let r = &cli(&["describe-repositories", "--repository-names", "tpl/app"]).json()["repositories"][0];
    assert_eq!(r["imageTagMutability"], "IMMUTABLE");
}

/// Writing a template needs the template action on the registry, and for what the template carries the
/// actions it stands for on every repository: a user allowed only the template actions cannot hand itself
/// repository policies through a template.
#[tokio::test]
async fn templates_need_the_rights_they_carry() {
    require("aws", &["--version"], "the AWS CLI (`pip install awscli`)");
    let (tmp, s) = start();
    s.admin("CreateUser", json!({"userName": "ops"})).await;
    let key = s.admin("CreateAccessKey", json!({"userName": "ops"})).await;
    let key = (key["accessKeyId"].as_str().unwrap().to_string(), key["secretAccessKey"].as_str().unwrap().to_string());
    let templates_only = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
        "Action": ["ecr:CreateRepositoryCreationTemplate", "ecr:UpdateRepositoryCreationTemplate",
                   "ecr:DescribeRepositoryCreationTemplates", "ecr:DeleteRepositoryCreationTemplate"],
        "Resource": "*"}]});
    s.admin("PutPolicy", json!({"target": {"user": "ops"}, "policyText": templates_only.to_string()})).await;
    let ops = |args: &[&str]| aws(&s, tmp.path(), (&key.0, &key.1), args);

    ops(&["create-repository-creation-template", "--prefix", "r", "--applied-for", "REPLICATION"]).json();
    let policy = reader_policy();
    for extra in [
        vec!["--applied-for", "CREATE_ON_PUSH"],
        vec!["--applied-for", "REPLICATION", "--repository-policy", &policy],
        vec!["--applied-for", "REPLICATION", "--lifecycle-policy", LIFECYCLE],
        vec!["--applied-for", "REPLICATION", "--resource-tags", "Key=k,Value=v"],
    ] {
        let mut args = vec!["create-repository-creation-template", "--prefix", "p"];
        args.extend(extra.iter().copied());
        ops(&args).error("AccessDeniedException");
        let mut args = vec!["update-repository-creation-template", "--prefix", "r"];
        args.extend(extra.iter().copied());
        ops(&args).error("AccessDeniedException");
    }
    assert_eq!(
        ops(&["describe-repository-creation-templates"]).json()["repositoryCreationTemplates"]
            .as_array()
            .unwrap()
            .len(),
        1
    );

    // With those rights too, it may.
    let full = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": [
        "ecr:CreateRepositoryCreationTemplate", "ecr:CreateRepository", "ecr:SetRepositoryPolicy",
        "ecr:PutLifecyclePolicy", "ecr:TagResource"], "Resource": "*"}]});
    s.admin("PutPolicy", json!({"target": {"user": "ops"}, "policyText": full.to_string()})).await;
    ops(&[
        "create-repository-creation-template",
        "--prefix",
        "p",
        "--applied-for",
        "CREATE_ON_PUSH",
        "--repository-policy",
        &policy,
        "--lifecycle-policy",
        LIFECYCLE,
        "--resource-tags",
        "Key=k,Value=v",
    ])
    .json();
}
