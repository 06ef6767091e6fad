//! The console's image pages and public gallery over HTTP, as a browser without JavaScript sees them: an
//! image's layers, config, referrers and findings (filtered and sorted by the query), the SBOM download,
//! deleting an image, and the gallery's search over repository descriptions, which are escaped wherever
//! they are shown. Private repositories are never listed or described to anonymous or unauthorised callers.

use berth_oci::Digest;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::scanning::{findings_when_evaluated, import, push_fixture};
use crate::support::*;

/// A browser session: its cookie header and the CSRF token its forms carry.
struct Session {
    cookie: String,
    csrf: String,
}

fn cookie_of(r: &reqwest::Response, name: &str) -> Option<String> {
    r.headers().get_all("set-cookie").iter().filter_map(|v| v.to_str().ok()).find_map(|v| {
        let (pair, _) = v.split_once(';').unwrap_or((v, ""));
        pair.strip_prefix(&format!("{name}=")).map(str::to_string)
    })
}

fn no_redirects() -> reqwest::Client {
    reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap()
}

async fn sign_in(s: &Server, user: &str, password: &str) -> Session {
    let http = no_redirects();
    let page = http.get(s.url("/console/login")).send().await.unwrap();
    let csrf = cookie_of(&page, "berth_login_csrf").unwrap();
    let r = http
        .post(s.url("/console/login"))
        .header("cookie", format!("berth_login_csrf={csrf}"))
        .form(&[("csrf", csrf.as_str()), ("user", user), ("password", password)])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER, "{user} signs in");
    let cookie = format!("berth_session={}", cookie_of(&r, "berth_session").unwrap());
    let home = http.get(s.url("/console/")).header("cookie", &cookie).send().await.unwrap().text().await.unwrap();
    let csrf = between(&home, "name=\"csrf\" value=\"", "\"").expect("a CSRF token on the page").to_string();
    Session { cookie, csrf }
}

fn between<'a>(text: &'a str, start: &str, end: &str) -> Option<&'a str> {
    let from = text.find(start)? + start.len();
    let len = text[from..].find(end)?;
    Some(&text[from..from + len])
}

async fn get(s: &Server, session: Option<&Session>, path: &str) -> (StatusCode, String) {
    let mut r = no_redirects().get(s.url(path));
    if let Some(session) = session {
        r = r.header("cookie", &session.cookie);
    }
    let r = r.send().await.unwrap();
    let status = r.status();
    let location = r.headers().get("location").map(|l| l.to_str().unwrap().to_string()).unwrap_or_default();
    let body = r.text().await.unwrap();
    (status, if status == StatusCode::SEE_OTHER { location } else { body })
}

async fn post(s: &Server, session: &Session, path: &str, form: &[(&str, &str)]) -> (StatusCode, String) {
    let mut fields = vec![("csrf", session.csrf.as_str())];
    fields.extend_from_slice(form);
    let r = no_redirects().post(s.url(path)).header("cookie", &session.cookie).form(&fields).send().await.unwrap();
    let status = r.status();
    let location = r.headers().get("location").map(|l| l.to_str().unwrap().to_string()).unwrap_or_default();
    let body = r.text().await.unwrap();
    (status, if status == StatusCode::SEE_OTHER { location } else { body })
}

/// The text of every `<td>` in column `n` (from 0) of the table with class `class`.
fn column(html: &str, class: &str, n: usize) -> Vec<String> {
    let Some(table) = between(html, &format!("<table class=\"{class}\">"), "</table>") else {
        return Vec::new();
    };
    let body = between(table, "<tbody>", "</tbody>").unwrap_or("");
    body.split("<tr>")
        .skip(1)
        .filter_map(|row| row.split("<td>").nth(n + 1))
        .map(|cell| {
            let cell = cell.split("</td>").next().unwrap_or("");
            // Drop tags, keep text.
            let mut out = String::new();
            let mut in_tag = false;
            for c in cell.chars() {
                match c {
                    '<' => in_tag = true,
                    '>' => in_tag = false,
                    c if !in_tag => out.push(c),
                    _ => {}
                }
            }
            out.trim().to_string()
        })
        .collect()
}

async fn create_scanned(s: &Server, repo: &str) {
    let create = json!({"repositoryName": repo, "imageScanningConfiguration": {"scanOnPush": true}});
    let target = ("x-amz-target", "AmazonEC2ContainerRegistry_V20150921.CreateRepository");
    assert!(s.signed_post(Some(ADMIN_KEY), "ecr", "/", &[target], &create).await.status().is_success());
}

#[tokio::test]
async fn image_page_shows_layers_config_referrers_and_filtered_findings_serves_the_sbom_and_deletes() {
    let s = Server::start();
    import(&s, &["Debian", "PyPI"]);
    create_scanned(&s, "img/scanned").await;
    let (digest, layers) = push_fixture(&s, "img/scanned", "v1").await;
    let report = findings_when_evaluated(&s, &format!("img/scanned@{digest}"), |v| {
        v["imageScanFindings"]["findingSeverityCounts"].as_object().is_some_and(|c| !c.is_empty())
    });
    let counts: Vec<(String, u64)> = report["imageScanFindings"]["findingSeverityCounts"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), v.as_u64().unwrap()))
        .collect();
    let total: u64 = counts.iter().map(|(_, n)| n).sum();
    let admin = sign_in(&s, "admin", ADMIN_PASSWORD).await;

    // The repository's images table links to the image page.
    let (status, html) = get(&s, Some(&admin), "/console/repositories/img/scanned").await;
    assert_eq!(status, StatusCode::OK);
    let page = format!("/console/repositories/img/scanned/-/images/{digest}");
    assert!(html.contains(&format!("href=\"{page}\"")), "{html}");

    let (status, html) = get(&s, Some(&admin), &page).await;
    assert_eq!(status, StatusCode::OK, "{html}");
    // Layers with digest, size and media type; the config's summary.
    let shown_layers = column(&html, "layers", 1);
    assert_eq!(shown_layers, layers, "every layer, bottom first");
    assert!(column(&html, "layers", 3).iter().all(|m| m.contains("tar")), "media types");
    assert!(html.contains("<dt>Platform</dt><dd>linux/amd64</dd>"), "the config's platform: {html}");
    // The SBOM the scan stored is listed as a referrer and offered as a download.
    assert_eq!(column(&html, "referrers", 0).first().map(String::as_str), Some("SBOM · download"), "{html}");
    assert!(html.contains("Download SBOM (CycloneDX)"));
    // Every finding, most severe first, with its advisory linked.
    assert!(html.contains(&format!("Scanned: {total} findings.")), "{html}");
    let severities = column(&html, "findings", 0);
    assert_eq!(severities.len() as u64, total.min(50));
    let rank =
        |s: &str| ["CRITICAL", "HIGH", "MEDIUM", "LOW", "INFORMATIONAL", "UNDEFINED"].iter().position(|x| *x == s);
    assert!(severities.windows(2).all(|w| rank(&w[0]) <= rank(&w[1])), "most severe first: {severities:?}");
    assert!(html.contains("rel=\"noopener noreferrer\""), "advisories are linked");
    assert!(html.contains("Delete image"), "the administrator may delete it");

    // Filtered by severity (server-side): only that severity, as many as the API counts.
    for (severity, n) in &counts {
        let (status, html) = get(&s, Some(&admin), &format!("{page}?severity={severity}")).await;
        assert_eq!(status, StatusCode::OK);
        let shown = column(&html, "findings", 0);
        assert_eq!(shown.len() as u64, (*n).min(50), "{severity}");
        assert!(shown.iter().all(|s| s == severity), "{severity}: {shown:?}");
    }
    // Sorted by package, both ways.
    let (_, html) = get(&s, Some(&admin), &format!("{page}?sort=package&order=asc")).await;
    let packages = column(&html, "findings", 2);
    assert!(packages.windows(2).all(|w| w[0] <= w[1]), "ascending: {packages:?}");
    assert!(html.contains("aria-sort=\"ascending\""));
    let (_, html) = get(&s, Some(&admin), &format!("{page}?sort=package&order=desc")).await;
    let reversed = column(&html, "findings", 2);
    assert!(reversed.windows(2).all(|w| w[0] >= w[1]), "descending: {reversed:?}");
    // Bad parameters get a clear page, not a guess.
    let (status, html) = get(&s, Some(&admin), &format!("{page}?severity=SEVERE")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(html.contains("severity must be one of"), "{html}");

    // The SBOM download: the CycloneDX document, with its content type and a file name.
    let r = no_redirects().get(s.url(&format!("{page}/sbom"))).header("cookie", &admin.cookie).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(header(&r, "content-type"), "application/vnd.cyclonedx+json");
    let hex = &digest.to_string()["sha256:".len()..];
    assert_eq!(
        header(&r, "content-disposition"),
        format!("attachment; filename=\"img_scanned-{}.cdx.json\"", &hex[..12])
    );
    let bom: Value = r.json().await.unwrap();
    assert_eq!(bom["bomFormat"], "CycloneDX");
    assert!(bom["components"].as_array().is_some_and(|c| !c.is_empty()), "the SBOM lists the packages");

    // A user who may describe and pull but not read findings or delete: no findings, no delete button, and
    // a forged delete is refused.
    s.admin("CreateUser", json!({"userName": "viewer", "password": "viewer-password"})).await;
    let policy = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Resource": "*", "Action": [
        "ecr:DescribeRepositories", "ecr:DescribeImages", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"]}]});
    s.admin("PutPolicy", json!({"target": {"user": "viewer"}, "policyText": policy.to_string()})).await;
    let viewer = sign_in(&s, "viewer", "viewer-password").await;
    let (status, html) = get(&s, Some(&viewer), &page).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("You may not view this repository's scan findings"), "{html}");
    assert!(column(&html, "findings", 0).is_empty() && !html.contains("Delete image"));
    let (status, html) = post(&s, &viewer, &format!("{page}/delete"), &[]).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{html}");
    assert!(html.contains("may not ecr:BatchDeleteImage"), "{html}");
    // Anonymous callers are sent to sign in, for the page and the SBOM alike.
    for path in [page.clone(), format!("{page}/sbom")] {
        let (status, location) = get(&s, None, &path).await;
        assert_eq!(status, StatusCode::SEE_OTHER);
        assert!(location.starts_with("/console/login?next="), "{location}");
    }
    // Without the CSRF token a delete is refused.
    let r = no_redirects().post(s.url(&format!("{page}/delete"))).header("cookie", &admin.cookie).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);

    // The administrator deletes it: gone from the repository, its page answers 404.
    let (status, location) = post(&s, &admin, &format!("{page}/delete"), &[]).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(location, "/console/repositories/img/scanned?image_deleted=1");
    let (_, html) = get(&s, Some(&admin), &location).await;
    assert!(html.contains("Image deleted.") && !html.contains(&format!("href=\"{page}\"")), "{html}");
    assert_eq!(get(&s, Some(&admin), &page).await.0, StatusCode::NOT_FOUND);
    assert_eq!(s.get(&format!("/v2/img/scanned/manifests/{digest}")).await.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn index_pages_link_their_platforms() {
    let s = Server::start();
    let admin = sign_in(&s, "admin", ADMIN_PASSWORD).await;
    let (amd, amd_digest) = s.push_image("img/multi", "amd", b"amd64 layer").await;
    let (arm, arm_digest) = s.push_image("img/multi", "arm", b"arm64 layer").await;
    let index = json!({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [
        {"mediaType": OCI_MANIFEST, "digest": amd_digest.to_string(), "size": amd.len(),
         "platform": {"os": "linux", "architecture": "amd64"}},
        {"mediaType": OCI_MANIFEST, "digest": arm_digest.to_string(), "size": arm.len(),
         "platform": {"os": "linux", "architecture": "arm64", "variant": "v8"}}]});
    let body = serde_json::to_vec(&index).unwrap();
    assert_eq!(s.put_manifest("img/multi", "multi", OCI_INDEX, &body).await.status(), StatusCode::CREATED);
    let index_digest = Digest::sha256_of(&body);

    let (_, html) = get(&s, Some(&admin), "/console/repositories/img/multi").await;
    assert!(html.contains("linux/amd64, linux/arm64/v8"), "the table shows an index's platforms: {html}");
    let (status, html) =
        get(&s, Some(&admin), &format!("/console/repositories/img/multi/-/images/{index_digest}")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(column(&html, "platforms", 0), ["linux/amd64", "linux/arm64/v8"]);
    assert!(html.contains(&format!("href=\"/console/repositories/img/multi/-/images/{arm_digest}\"")), "{html}");
    // An index has no SBOM of its own.
    let (status, html) =
        get(&s, Some(&admin), &format!("/console/repositories/img/multi/-/images/{index_digest}/sbom")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(html.contains("has no SBOM"), "{html}");
    // Deleting a child the index lists is refused and says why.
    let (status, html) =
        post(&s, &admin, &format!("/console/repositories/img/multi/-/images/{amd_digest}/delete"), &[]).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert!(html.contains("delete the index first"), "{html}");
}

#[tokio::test]
async fn the_gallery_searches_public_descriptions_escapes_them_and_never_shows_private_repositories() {
    let s = Server::start();
    s.push_image("pub/web", "v1", b"public web layer").await;
    s.push_image("pub/db", "latest", b"public db layer").await;
    s.push_image("priv/web-secret", "v1", b"private layer").await;
    for r in ["pub/web", "pub/db"] {
        s.admin("SetRepositoryVisibility", json!({"repositoryName": r, "visibility": "public"})).await;
    }
    let admin = sign_in(&s, "admin", ADMIN_PASSWORD).await;
    let hostile = "<script>alert(1)</script> Fast web server";
    let about = "Serves files.\n\n```\n<img src=x onerror=alert(1)>\n```";
    let (status, location) = post(
        &s,
        &admin,
        "/console/repositories/pub/web/-/catalog",
        &[
            ("description", hostile),
            ("about_text", about),
            ("usage_text", "docker run it"),
            ("architectures", "x86-64"),
            ("operating_systems", "Linux"),
        ],
    )
    .await;
    assert_eq!((status, location.as_str()), (StatusCode::SEE_OTHER, "/console/repositories/pub/web?described=1"));
    let secret = [("description", "Internal web server with the secret sauce")];
    assert_eq!(
        post(&s, &admin, "/console/repositories/priv/web-secret/-/catalog", &secret).await.0,
        StatusCode::SEE_OTHER
    );
    // Invalid catalog data is refused with the reason, and nothing changes.
    let (status, html) =
        post(&s, &admin, "/console/repositories/pub/web/-/catalog", &[("architectures", "sparc")]).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(html.contains("is not an architecture"), "{html}");

    // The repository page shows the form with the stored values, escaped.
    let (_, html) = get(&s, Some(&admin), "/console/repositories/pub/web?described=1").await;
    assert!(html.contains("Gallery description saved."));
    assert!(html.contains("value=\"&#60;script&#62;alert(1)&#60;/script&#62; Fast web server\""), "{html}");
    assert!(!html.contains("<script>") && !html.contains("<img src=x"), "{html}");

    // Anonymous: the public repositories, searched by name and description; escaped; never the private one.
    let (status, html) = get(&s, None, "/console/public").await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("<h2>pub/web</h2>") && html.contains("<h2>pub/db</h2>"), "{html}");
    assert!(!html.contains("priv/web-secret") && !html.contains("secret sauce"), "{html}");
    assert!(!html.contains("<script>") && !html.contains("<img src=x"), "hostile text is escaped: {html}");
    assert!(html.contains("&#60;script&#62;alert(1)&#60;/script&#62; Fast web server"), "{html}");
    assert!(html.contains("&#60;img src=x onerror=alert(1)&#62;"), "the about text's code block: {html}");
    assert!(html.contains("Linux, x86-64"));
    let host = s.base.trim_start_matches("http://");
    assert!(html.contains(&format!("docker pull {host}/pub/web:v1")), "{html}");
    assert!(html.contains(&format!("docker pull {host}/pub/db:latest")), "{html}");
    let (_, html) = get(&s, None, "/console/public?q=FAST+WEB").await;
    assert!(html.contains("<h2>pub/web</h2>") && !html.contains("<h2>pub/db</h2>"), "by description: {html}");
    let (_, html) = get(&s, None, "/console/public?q=db").await;
    assert!(html.contains("<h2>pub/db</h2>") && !html.contains("<h2>pub/web</h2>"), "by name: {html}");
    for q in ["secret", "sauce", "priv", "web-secret"] {
        let (_, html) = get(&s, None, &format!("/console/public?q={q}")).await;
        assert!(!html.contains("priv/web-secret") && html.contains("No public repositories"), "{q}: {html}");
    }
    // Signed in as the administrator, the gallery still shows only what the public sees.
    let (_, html) = get(&s, Some(&admin), "/console/public?q=web").await;
    assert!(!html.contains("priv/web-secret"), "{html}");

    // Anonymous callers are never told about the private repository's pages.
    for path in ["/console/repositories/priv/web-secret", "/console/repositories/pub/web"] {
        let (status, location) = get(&s, None, path).await;
        assert_eq!(status, StatusCode::SEE_OTHER);
        assert!(location.starts_with("/console/login?next="), "{path}: {location}");
    }
    // A user without ecr:PutRepositoryCatalogData sees no form, its forged post is refused, and a user who
    // may not describe the private repository learns nothing of it.
    s.admin("CreateUser", json!({"userName": "reader", "password": "reader-password"})).await;
    let policy = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Resource": "arn:aws:ecr:*:*:repository/pub/*",
        "Action": ["ecr:DescribeRepositories", "ecr:DescribeImages"]}]});
    s.admin("PutPolicy", json!({"target": {"user": "reader"}, "policyText": policy.to_string()})).await;
    let reader = sign_in(&s, "reader", "reader-password").await;
    let (status, html) = get(&s, Some(&reader), "/console/repositories/pub/web").await;
    assert_eq!(status, StatusCode::OK);
    assert!(!html.contains("Save description") && html.contains("Fast web server"), "{html}");
    let (status, _) = post(&s, &reader, "/console/repositories/pub/web/-/catalog", &[("description", "defaced")]).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, html) = get(&s, Some(&reader), "/console/repositories/priv/web-secret").await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(!html.contains("secret sauce"), "{html}");
    let (_, html) = get(&s, Some(&reader), "/console/").await;
    assert!(!html.contains("priv/web-secret"), "{html}");
}

/// `aws ecr-public ARGS` against the server, as `key`.
fn aws_public(s: &Server, dir: &std::path::Path, key: (&str, &str), args: &[&str]) -> (i32, String, String) {
    let empty = dir.join("aws-empty-config");
    std::fs::write(&empty, "").unwrap();
    let out = std::process::Command::new("aws")
        .arg("ecr-public")
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
    let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    eprintln!("$ aws ecr-public {} -> {:?}\n{stdout}{stderr}", args.join(" "), out.status.code());
    (out.status.code().unwrap_or(-1), stdout.into_owned(), stderr.into_owned())
}

#[tokio::test]
async fn catalog_data_through_the_aws_cli_ecr_public_commands() {
    crate::ecr::require("aws", &["--version"], "the aws CLI");
    let s = Server::start();
    let tmp = tempfile::tempdir().unwrap();
    s.push_image("pub/cli", "v1", b"cli layer").await;
    s.admin("SetRepositoryVisibility", json!({"repositoryName": "pub/cli", "visibility": "public"})).await;
    let data = json!({"description": "Set with <aws> ecr-public", "aboutText": "About it", "usageText": "Run it",
        "architectures": ["ARM 64", "x86-64"], "operatingSystems": ["Linux"]});
    let (code, out, _) = aws_public(
        &s,
        tmp.path(),
        ADMIN_KEY,
        &["put-repository-catalog-data", "--repository-name", "pub/cli", "--catalog-data", &data.to_string()],
    );
    assert_eq!(code, 0);
    let put: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(put["catalogData"]["description"], "Set with <aws> ecr-public");
    assert_eq!(put["catalogData"]["architectures"], json!(["ARM 64", "x86-64"]));

    // Members left out keep their values.
    let (code, _, _) = aws_public(
        &s,
        tmp.path(),
        ADMIN_KEY,
        &["put-repository-catalog-data", "--repository-name", "pub/cli", "--catalog-data", "usageText=docker run x"],
    );
    assert_eq!(code, 0);
    let (code, out, _) =
        aws_public(&s, tmp.path(), ADMIN_KEY, &["get-repository-catalog-data", "--repository-name", "pub/cli"]);
    assert_eq!(code, 0);
    let got: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(got["catalogData"]["usageText"], "docker run x");
    assert_eq!(got["catalogData"]["aboutText"], "About it");
    assert_eq!(got["catalogData"]["operatingSystems"], json!(["Linux"]));

    // Refusals: an unknown repository, an invalid architecture (nothing changes), a caller without the action.
    let (code, _, err) =
        aws_public(&s, tmp.path(), ADMIN_KEY, &["get-repository-catalog-data", "--repository-name", "pub/none"]);
    assert!(code != 0 && err.contains("RepositoryNotFoundException"), "{err}");
    let bad = json!({"architectures": ["sparc"]}).to_string();
    let (code, _, err) = aws_public(
        &s,
        tmp.path(),
        ADMIN_KEY,
        &["put-repository-catalog-data", "--repository-name", "pub/cli", "--catalog-data", &bad],
    );
    assert!(code != 0 && err.contains("InvalidParameterException") && err.contains("sparc"), "{err}");
    s.admin("CreateUser", json!({"userName": "puller"})).await;
    let key = s.admin("CreateAccessKey", json!({"userName": "puller"})).await;
    let key = (key["accessKeyId"].as_str().unwrap(), key["secretAccessKey"].as_str().unwrap());
    let (code, _, err) = aws_public(
        &s,
        tmp.path(),
        key,
        &["put-repository-catalog-data", "--repository-name", "pub/cli", "--catalog-data", "description=defaced"],
    );
    assert!(code != 0 && err.contains("AccessDenied"), "{err}");

    // The gallery shows what was set, escaped.
    let (_, html) = get(&s, None, "/console/public?q=ecr-public").await;
    assert!(html.contains("Set with &#60;aws&#62; ecr-public") && html.contains("<h2>pub/cli</h2>"), "{html}");
    assert!(!html.contains("defaced"));
}

#[tokio::test]
async fn image_pages_escape_what_images_say_and_list_their_signatures() {
    let s = Server::start();
    let admin = sign_in(&s, "admin", ADMIN_PASSWORD).await;
    let repo = "img/hostile";
    let config = json!({"architecture": "arm64", "os": "linux", "created": "2025-01-02T03:04:05Z",
        "config": {"Entrypoint": ["/bin/<script>alert(1)</script>"], "Cmd": ["\"><img src=x onerror=alert(1)>"],
                   "Labels": {"<b>key</b>": "<i>value</i>"}},
        "rootfs": {"type": "layers", "diff_ids": []}})
    .to_string();
    let layer = b"hostile layer";
    let body = image_manifest(
        (&s.push_blob(repo, config.as_bytes()).await, config.len()),
        &[(&s.push_blob(repo, layer).await, layer.len())],
        None,
    );
    assert_eq!(s.put_manifest(repo, "v1", OCI_MANIFEST, &body).await.status(), StatusCode::CREATED);
    let image = Digest::sha256_of(&body);
    // A signature stored as a referrer of the image (as cosign's OCI 1.1 mode does).
    let empty = s.push_blob(repo, b"{}").await;
    let payload = br#"{"critical":{"image":{"docker-manifest-digest":"x"}}}"#;
    let payload_digest = s.push_blob(repo, payload).await;
    let sig = json!({"schemaVersion": 2, "mediaType": OCI_MANIFEST,
        "artifactType": "application/vnd.dev.cosign.artifact.sig.v1+json",
        "config": descriptor("application/vnd.oci.empty.v1+json", &empty, 2),
        "layers": [descriptor("application/vnd.dev.cosign.simplesigning.v1+json", &payload_digest, payload.len())],
        "subject": descriptor(OCI_MANIFEST, &image, body.len())});
    let sig = serde_json::to_vec(&sig).unwrap();
    let sig_digest = Digest::sha256_of(&sig);
    let r = s.put_manifest(repo, &sig_digest.to_string(), OCI_MANIFEST, &sig).await;
    assert_eq!(r.status(), StatusCode::CREATED);

    let page = format!("/console/repositories/{repo}/-/images/{image}");
    let (status, html) = get(&s, Some(&admin), &page).await;
    assert_eq!(status, StatusCode::OK);
    for raw in ["<script>alert", "<img src=x", "<b>key", "<i>value"] {
        assert!(!html.contains(raw), "{raw} reached the page: {html}");
    }
    assert!(html.contains("<dt>Platform</dt><dd>linux/arm64</dd>") && html.contains("2025-01-02T03:04:05Z"));
    assert!(html.contains("/bin/&#60;script&#62;alert(1)&#60;/script&#62;"), "{html}");
    assert!(html.contains("&#60;b&#62;key&#60;/b&#62;"), "{html}");
    assert_eq!(column(&html, "referrers", 0), ["signature"]);
    assert!(html.contains(&format!("href=\"/console/repositories/{repo}/-/images/{sig_digest}\"")), "{html}");
    assert!(html.contains("Only container images are scanned.") || html.contains("Not scanned."), "{html}");
    // The signature's own page says what it refers to; it is an artifact, with no SBOM.
    let (status, html) = get(&s, Some(&admin), &format!("/console/repositories/{repo}/-/images/{sig_digest}")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains(&format!("href=\"{page}\"")) && html.contains(">artifact<"), "{html}");
    assert!(!html.contains("Download SBOM"));
    // An unknown digest is a 404 page, not an error.
    let unknown = Digest::sha256_of(b"nothing");
    let (status, html) = get(&s, Some(&admin), &format!("/console/repositories/{repo}/-/images/{unknown}")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(html.contains("There is no image"), "{html}");
}

#[tokio::test]
async fn the_gallery_pages_through_public_repositories() {
    let s = Server::start();
    let target = ("x-amz-target", "AmazonEC2ContainerRegistry_V20150921.CreateRepository");
    let names: Vec<String> = (0..23).map(|i| format!("many/repo-{i:02}")).collect();
    for (i, name) in names.iter().enumerate() {
        let r = s.signed_post(Some(ADMIN_KEY), "ecr", "/", &[target], &json!({"repositoryName": name})).await;
        assert!(r.status().is_success());
        // Every third stays private.
        if i % 3 != 0 {
            s.admin("SetRepositoryVisibility", json!({"repositoryName": name, "visibility": "public"})).await;
        }
    }
    let public: Vec<&String> = names.iter().enumerate().filter(|(i, _)| i % 3 != 0).map(|(_, n)| n).collect();
    let listed = |html: &str| -> Vec<String> {
        html.split("<h2>").skip(1).filter_map(|h| h.split("</h2>").next()).map(str::to_string).collect()
    };
    let (_, first) = get(&s, None, "/console/public?q=many/").await;
    let shown = listed(&first);
    assert_eq!(shown.len(), 15, "all 15 public ones fit a page: {shown:?}");
    assert!(!first.contains("Next page"));
    assert_eq!(shown.iter().collect::<Vec<_>>(), public);
    // Twenty a page: with more public repositories than that, a link leads on, strictly after the last.
    for name in names.iter().step_by(3) {
        s.admin("SetRepositoryVisibility", json!({"repositoryName": name, "visibility": "public"})).await;
    }
    let (_, first) = get(&s, None, "/console/public?q=many").await;
    assert_eq!(listed(&first), names[..20]);
    let next = between(&first, "<p class=\"pager\"><a href=\"", "\"").expect("a next page link").replace("&amp;", "&");
    assert_eq!(next, "/console/public?q=many&after=many/repo-19");
    let (_, second) = get(&s, None, &next).await;
    assert_eq!(listed(&second), names[20..]);
    assert!(!second.contains("Next page"));
}
