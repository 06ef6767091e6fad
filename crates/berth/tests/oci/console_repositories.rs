//! The console's repository list over HTTP, as a browser gets it: filters by name prefix, visibility, scan
//! on push and tag mutability, pages of 25 with a link to the next one, image count and size per repository,
//! and only the repositories the caller may describe — pages stay full when some are hidden.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::support::*;

/// Signs in over HTTP as a browser would; the session cookie header.
async fn session(s: &Server, user: &str, password: &str) -> String {
    let http = anonymous_client();
    let page = http.get(s.url("/console/login")).send().await.unwrap();
    let csrf = cookie(&page, "berth_login_csrf").expect("the sign-in form's CSRF cookie");
    let r = http
        .post(s.url("/console/login"))
        .header("cookie", format!("berth_login_csrf={csrf}"))
        .form(&[("csrf", csrf.as_str()), ("user", user), ("password", password)])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER, "{user} signs in");
    format!("berth_session={}", cookie(&r, "berth_session").expect("a session cookie"))
}

fn cookie(r: &reqwest::Response, name: &str) -> Option<String> {
    r.headers().get_all("set-cookie").iter().filter_map(|v| v.to_str().ok()).find_map(|v| {
        let (pair, _) = v.split_once(';').unwrap_or((v, ""));
        pair.strip_prefix(&format!("{name}=")).map(str::to_string)
    })
}

/// A page of the list: the repositories' names, the rows' text, and the next page's link.
struct Listed {
    names: Vec<String>,
    rows: Vec<String>,
    next: Option<String>,
}

async fn list(s: &Server, cookie: &str, query: &str) -> Listed {
    let r = anonymous_client().get(s.url(&format!("/console/?{query}"))).header("cookie", cookie).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK, "/console/?{query}");
    let html = r.text().await.unwrap();
    let body = html.split_once("<tbody>").map_or("", |(_, b)| b.split_once("</tbody>").map_or(b, |(b, _)| b));
    let rows: Vec<String> = body.split("<tr>").skip(1).map(|r| r.to_string()).collect();
    let names = rows
        .iter()
        .map(|r| {
            let after = r.split_once("href=\"/console/repositories/").expect("a link to the repository").1;
            after.split_once('"').unwrap().0.to_string()
        })
        .collect();
    let next = html
        .split_once("<p class=\"pager\"><a href=\"")
        .map(|(_, rest)| rest.split_once('"').unwrap().0.replace("&#38;", "&").replace("&amp;", "&"));
    Listed { names, rows, next }
}

fn names(range: impl Iterator<Item = usize>) -> Vec<String> {
    range.map(|i| format!("list/r{i:02}")).collect()
}

#[tokio::test]
async fn console_repository_list_filters_pages_and_shows_only_what_the_caller_may_describe() {
    let s = Server::start();
    // 40 repositories: every third immutable, every fifth scanned on push, two public; one holds an image.
    for i in 0..40 {
        let mut body = json!({"repositoryName": format!("list/r{i:02}")});
        if i % 3 == 0 {
            body["imageTagMutability"] = json!("IMMUTABLE");
        }
        if i % 5 == 0 {
            body["imageScanningConfiguration"] = json!({"scanOnPush": true});
        }
        let target = ("x-amz-target", "AmazonEC2ContainerRegistry_V20150921.CreateRepository");
        let r = s.signed_post(Some(ADMIN_KEY), "ecr", "/", &[target], &body).await;
        assert!(r.status().is_success(), "CreateRepository {body}");
    }
    for public in ["list/r04", "list/r21"] {
        s.admin("SetRepositoryVisibility", json!({"repositoryName": public, "visibility": "public"})).await;
    }
    s.push_image("list/r07", "v1", b"a layer of the listed image").await;
    s.push_image("other/elsewhere", "v1", b"not under list/").await;
    let admin = session(&s, "admin", ADMIN_PASSWORD).await;

    // Pages of 25, in name order, with a link to the rest.
    let first = list(&s, &admin, "prefix=list/").await;
    assert_eq!(first.names, names(0..25));
    let next = first.next.expect("a next page");
    assert!(next.contains("after=list%2Fr24"), "{next}");
    let second = list(&s, &admin, next.trim_start_matches("/console/?")).await;
    assert_eq!((second.names, second.next), (names(25..40), None));
    let r07 = &first.rows[7];
    assert!(r07.contains(">1<") && (r07.contains(" KiB<") || r07.contains(" B<")), "count and size: {r07}");
    assert!(first.rows[8].contains(">0<") && first.rows[8].contains(">never<"), "an empty one: {}", first.rows[8]);

    // Filters, alone and together; the next page keeps them.
    let immutable = list(&s, &admin, "prefix=list/&mutability=IMMUTABLE").await;
    assert_eq!(immutable.names, names((0..40).filter(|i| i % 3 == 0)));
    let scanned = list(&s, &admin, "prefix=list/&scan_on_push=true").await;
    assert_eq!(scanned.names, names((0..40).filter(|i| i % 5 == 0)));
    let public = list(&s, &admin, "prefix=list/&visibility=public").await;
    assert_eq!(public.names, ["list/r04", "list/r21"]);
    let both = list(&s, &admin, "prefix=list/&mutability=IMMUTABLE&scan_on_push=true").await;
    assert_eq!(both.names, ["list/r00", "list/r15", "list/r30"]);
    let mutable = list(&s, &admin, "prefix=list/&mutability=MUTABLE").await;
    let all_mutable: Vec<usize> = (0..40).filter(|i| i % 3 != 0).collect();
    assert_eq!(mutable.names, names(all_mutable[..25].iter().copied()), "a full page of mutable repositories");
    let rest = mutable.next.expect("and more");
    assert!(rest.contains("mutability=MUTABLE") && rest.contains("after=list%2Fr37"), "{rest}");
    let rest = list(&s, &admin, rest.trim_start_matches("/console/?")).await;
    assert_eq!((rest.names, rest.next), (vec!["list/r38".to_string()], None), "the next page keeps the filter");
    let private = list(&s, &admin, "prefix=list/&mutability=MUTABLE&visibility=private").await;
    assert_eq!(private.names.len(), 25, "r04 is public");
    assert!(!private.names.contains(&"list/r04".to_string()) && private.next.is_none());
    let bad = anonymous_client().get(s.url("/console/?mutability=SOMETIMES")).header("cookie", &admin).send();
    assert_eq!(bad.await.unwrap().status(), StatusCode::BAD_REQUEST);

    // A user who may describe every repository except list/r0* (and no images): their pages stay full,
    // filled past the hidden ones; no image figures are shown to them.
    s.admin("CreateUser", json!({"userName": "lister", "password": "lister-password"})).await;
    let policy: Value = json!({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "ecr:DescribeRepositories", "Resource": "*"},
        {"Effect": "Deny", "Action": "ecr:DescribeRepositories", "Resource": [
            "arn:aws:ecr:*:*:repository/list/r0*"]}]});
    s.admin("PutPolicy", json!({"target": {"user": "lister"}, "policyText": policy.to_string()})).await;
    let lister = session(&s, "lister", "lister-password").await;
    let seen = list(&s, &lister, "prefix=list/").await;
    assert_eq!(seen.names, names(10..35), "a full page of what the policy lets them describe");
    let next = seen.next.expect("a next page");
    let rest = list(&s, &lister, next.trim_start_matches("/console/?")).await;
    assert_eq!((rest.names, rest.next), (names(35..40), None));
    let all = list(&s, &lister, "").await;
    assert_eq!(all.names, names(10..35), "without a prefix too");
    let last = list(&s, &lister, all.next.unwrap().trim_start_matches("/console/?")).await;
    let mut want = names(35..40);
    want.push("other/elsewhere".into());
    assert_eq!(last.names, want);
    assert!(all.rows.iter().all(|r| !r.contains(" B<") && !r.contains(">never<")), "no image figures");
}
