//! Metering and `berth usage report`: two users push and pull, an anonymous client pulls a public image, and
//! the report by principal, repository, operation and namespace gives exactly the requests and bytes the
//! clients sent and received (counted here, on the client side), the storage byte-hours of the hourly
//! snapshot, and the cost of the configured price sheet; the CSV and JSON output parse to the same figures.

use berth_oci::Digest;
use reqwest::{Client, Method, StatusCode};
use serde_json::{Value, json};

use crate::rate_limits::TestClock;
use crate::scanning::berth;
use crate::support::*;

/// The image config both repositories hold (one blob in the deduplicated figure).
const CONFIG: &[u8] = br#"{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}"#;

/// What one client sent and received, counted on its side.
#[derive(Default, Debug, Clone, Copy, PartialEq, Eq)]
struct Moved {
    requests: u64,
    bytes_in: u64,
    bytes_out: u64,
}

struct Counted {
    client: Client,
    moved: Moved,
}

impl Counted {
    fn new(client: Client) -> Counted {
        Counted { client, moved: Moved::default() }
    }

    /// Sends a request with `body` and reads the whole response; returns (status, body).
    async fn send(
        &mut self,
        s: &Server,
        method: Method,
        path: &str,
        ct: Option<&str>,
        body: &[u8],
    ) -> (StatusCode, Vec<u8>) {
        let mut r = self.client.request(method, s.url(path)).body(body.to_vec());
        if let Some(ct) = ct {
            r = r.header("content-type", ct);
        }
        let resp = r.send().await.unwrap();
        let status = resp.status();
        let got = resp.bytes().await.unwrap().to_vec();
        self.moved.requests += 1;
        self.moved.bytes_in += body.len() as u64;
        self.moved.bytes_out += got.len() as u64;
        (status, got)
    }

    async fn push_blob(&mut self, s: &Server, repo: &str, bytes: &[u8]) -> Digest {
        let d = Digest::sha256_of(bytes);
        let path = format!("/v2/{repo}/blobs/uploads/?digest={d}");
        let (status, _) = self.send(s, Method::POST, &path, None, bytes).await;
        assert_eq!(status, StatusCode::CREATED);
        d
    }

    /// Config, layer and manifest; returns (manifest bytes, bytes stored by the repository).
    async fn push_image(&mut self, s: &Server, repo: &str, tag: &str, layer: &[u8]) -> (Vec<u8>, u64) {
        let config = CONFIG;
        let c = self.push_blob(s, repo, config).await;
        let l = self.push_blob(s, repo, layer).await;
        let body = image_manifest((&c, config.len()), &[(&l, layer.len())], None);
        let path = format!("/v2/{repo}/manifests/{tag}");
        let (status, _) = self.send(s, Method::PUT, &path, Some(OCI_MANIFEST), &body).await;
        assert_eq!(status, StatusCode::CREATED);
        let stored = (config.len() + layer.len() + body.len()) as u64;
        (body, stored)
    }
}

/// `YYYY-MM-DD` of Unix seconds (UTC).
fn day(at: i64) -> String {
    let d = time::OffsetDateTime::from_unix_timestamp(at).unwrap().date();
    format!("{:04}-{:02}-{:02}", d.year(), u8::from(d.month()), d.day())
}

async fn report(s: &Server, from: &str, to: &str, group_by: &str) -> Value {
    s.admin("GetUsageReport", json!({"from": from, "to": to, "groupBy": group_by})).await
}

fn line<'a>(r: &'a Value, key: &str) -> &'a Value {
    r["lines"].as_array().unwrap().iter().find(|l| l["key"] == key).unwrap_or_else(|| panic!("no line {key} in {r:#}"))
}

fn moved(l: &Value) -> Moved {
    Moved {
        requests: l["requests"].as_u64().unwrap(),
        bytes_in: l["bytesIn"].as_u64().unwrap(),
        bytes_out: l["bytesOut"].as_u64().unwrap(),
    }
}

fn cli(s: &Server, args: &[&str]) -> String {
    let (code, stdout, stderr) = berth(s, args);
    assert_eq!(code, 0, "{args:?}: {stderr}");
    stdout
}

#[tokio::test]
async fn usage_report_by_principal_repository_operation_and_namespace() {
    let mut clock = TestClock::new();
    let s = Server::start_env(&[
        ("BERTH_TEST_CLOCK_FILE", clock.path()),
        ("BERTH_PRICE_STORAGE_GB_MONTH", "0.10"),
        ("BERTH_PRICE_TRANSFER_OUT_GB", "0.09"),
        ("BERTH_PRICE_FREE_TRANSFER_OUT_GB", "0"),
    ]);
    let allow = |actions: &[&str]| {
        json!({"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": actions, "Resource": "arn:aws:ecr:*:*:repository/mt/*"}]})
        .to_string()
    };
    for (name, actions) in [("alice", vec!["ecr:*"]), ("bob", vec!["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"])]
    {
        s.admin("CreateUser", json!({"userName": name, "password": format!("{name}-password")})).await;
        s.admin("PutPolicy", json!({"target": {"user": name}, "policyText": allow(&actions)})).await;
    }
    let mut alice = Counted::new(client_as("alice", "alice-password"));
    let mut bob = Counted::new(client_as("bob", "bob-password"));
    let mut anonymous = Counted::new(anonymous_client());

    let layer_a = bytes(1, 300_000);
    let layer_b = bytes(2, 123_457);
    let (manifest_a, stored_a) = alice.push_image(&s, "mt/a", "v1", &layer_a).await;
    let alice_a = alice.moved;
    let (manifest_b, stored_b) = alice.push_image(&s, "mt/b", "v1", &layer_b).await;
    let alice_b = Moved {
        requests: alice.moved.requests - alice_a.requests,
        bytes_in: alice.moved.bytes_in - alice_a.bytes_in,
        bytes_out: alice.moved.bytes_out - alice_a.bytes_out,
    };

    // Bob pulls mt/a: a HEAD (nothing out), the manifest, the layer, and a range of it.
    let layer_digest = Digest::sha256_of(&layer_a);
    bob.send(&s, Method::HEAD, "/v2/mt/a/manifests/v1", None, b"").await;
    let (status, got) = bob.send(&s, Method::GET, "/v2/mt/a/manifests/v1", None, b"").await;
    assert_eq!((status, got), (StatusCode::OK, manifest_a.clone()));
    let (status, got) = bob.send(&s, Method::GET, &format!("/v2/mt/a/blobs/{layer_digest}"), None, b"").await;
    assert_eq!((status, got.len()), (StatusCode::OK, layer_a.len()));
    let r = bob
        .client
        .get(s.url(&format!("/v2/mt/a/blobs/{layer_digest}")))
        .header("range", "bytes=0-999")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::PARTIAL_CONTENT);
    bob.moved.requests += 1;
    bob.moved.bytes_out += r.bytes().await.unwrap().len() as u64;
    // A refused request counts too (bob may not push), with what it sent.
    let (status, _) = bob.send(&s, Method::POST, "/v2/mt/a/blobs/uploads/", None, b"").await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let bob_a = bob.moved;

    // Anonymous pulls of a public repository count by address.
    // (The administrator's call is about mt/b, and counts there: its JSON in, its JSON out.)
    let visibility = json!({"repositoryName": "mt/b", "visibility": "public"});
    let answer = s.admin("SetRepositoryVisibility", visibility.clone()).await;
    let admin_b = Moved {
        requests: 1,
        bytes_in: serde_json::to_vec(&visibility).unwrap().len() as u64,
        bytes_out: serde_json::to_vec(&answer).unwrap().len() as u64,
    };
    let (status, _) = anonymous.send(&s, Method::GET, "/v2/mt/b/manifests/v1", None, b"").await;
    assert_eq!(status, StatusCode::OK);

    let today = day(clock.now());
    let by_principal = report(&s, &today, &today, "principal").await;
    let arn = |u: &str| format!("arn:aws:iam::000000000000:user/{u}");
    assert_eq!(moved(line(&by_principal, &arn("alice"))), alice.moved, "{by_principal:#}");
    assert_eq!(moved(line(&by_principal, &arn("bob"))), bob.moved);
    assert_eq!(moved(line(&by_principal, "ip:127.0.0.1")), anonymous.moved);
    // The administrator calls the admin API with its access key: metered under the key.
    let admin_key = format!("{}/access-key/{}", arn("admin"), ADMIN_KEY.0);
    assert!(line(&by_principal, &admin_key)["requests"].as_u64().unwrap() >= 5, "the administrator's calls");
    assert!(line(&by_principal, &arn("alice"))["byteHoursStored"].is_null(), "storage has no principal");

    let by_repo = report(&s, &today, &today, "repository").await;
    let a = moved(line(&by_repo, "mt/a"));
    assert_eq!(
        a,
        Moved {
            requests: alice_a.requests + bob_a.requests,
            bytes_in: alice_a.bytes_in + bob_a.bytes_in,
            bytes_out: alice_a.bytes_out + bob_a.bytes_out
        }
    );
    let b = moved(line(&by_repo, "mt/b"));
    assert_eq!(
        b,
        Moved {
            requests: alice_b.requests + admin_b.requests + anonymous.moved.requests,
            bytes_in: alice_b.bytes_in + admin_b.bytes_in,
            bytes_out: alice_b.bytes_out + admin_b.bytes_out + anonymous.moved.bytes_out
        }
    );
    assert_eq!(line(&by_repo, "mt/a")["byteHoursStored"], 0, "no hourly snapshot of mt/a yet");

    let by_op = report(&s, &today, &today, "operation").await;
    let op = |name: &str| moved(line(&by_op, name));
    assert_eq!(op("PUT /v2/{name}/manifests/{reference}").requests, 2);
    assert_eq!(op("PUT /v2/{name}/manifests/{reference}").bytes_in, (manifest_a.len() + manifest_b.len()) as u64);
    let gets = op("GET /v2/{name}/blobs/{digest}");
    assert_eq!((gets.requests, gets.bytes_out), (2, layer_a.len() as u64 + 1000));
    assert_eq!(op("HEAD /v2/{name}/manifests/{reference}"), Moved { requests: 1, bytes_in: 0, bytes_out: 0 });
    assert!(op("admin:CreateUser").requests >= 2);

    // An hour later the snapshot of that hour gives each repository one hour of its storage; the blob both
    // repositories hold (the config) is stored once in the deduplicated figure.
    clock.advance(3600);
    let mut waited = 0;
    let by_repo = loop {
        let r = report(&s, &today, &today, "repository").await;
        if line(&r, "mt/a")["byteHoursStored"] != 0 || waited >= 100 {
            break r;
        }
        waited += 1;
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    };
    assert_eq!(line(&by_repo, "mt/a")["byteHoursStored"], stored_a, "{by_repo:#}");
    assert_eq!(line(&by_repo, "mt/b")["byteHoursStored"], stored_b);
    let config_len = CONFIG.len() as u64;
    assert_eq!(by_repo["deduplicatedByteHoursStored"], stored_a + stored_b - config_len, "{by_repo:#}");
    // Cost: GB (2^30) out at 0.09 and GB-months (730 h) at 0.10.
    let gb = (1u64 << 30) as f64;
    let a_line = line(&by_repo, "mt/a");
    let expected = a.bytes_out as f64 / gb * 0.09 + stored_a as f64 / gb / 730.0 * 0.10;
    assert!((a_line["cost"].as_f64().unwrap() - expected).abs() < 1e-12, "{a_line} vs {expected}");

    let by_ns = report(&s, &today, &today, "namespace").await;
    let mt = line(&by_ns, "mt");
    assert_eq!(mt["requests"].as_u64().unwrap(), a.requests + b.requests);
    assert_eq!(mt["byteHoursStored"], stored_a + stored_b);

    // The CLI: JSON is the API's answer, CSV has exact integers, the table has a cost column.
    let args = ["usage", "report", "--from", &today, "--to", &today, "--group-by", "repository"];
    let json_out: Value = serde_json::from_str(&cli(&s, &[&args[..], &["--format", "json"]].concat())).unwrap();
    assert_eq!(moved(line(&json_out, "mt/a")), a);
    let csv = cli(&s, &[&args[..], &["--format", "csv"]].concat());
    let mut rows = csv.lines();
    let header: Vec<&str> = rows.next().unwrap().split(',').collect();
    assert_eq!(
        header,
        [
            "repository",
            "requests",
            "bytes_in",
            "bytes_out",
            "gb_in",
            "gb_out",
            "byte_hours_stored",
            "gb_months_stored",
            "cost_usd"
        ]
    );
    let row: Vec<&str> = rows.find(|r| r.starts_with("mt/a,")).unwrap_or_else(|| panic!("{csv}")).split(',').collect();
    let n = |i: usize| row[i].parse::<u64>().unwrap();
    assert_eq!(Moved { requests: n(1), bytes_in: n(2), bytes_out: n(3) }, a);
    assert_eq!(n(6), stored_a);
    assert!((row[8].parse::<f64>().unwrap() - expected).abs() < 1e-6);
    let table = cli(&s, &args);
    assert!(table.starts_with("REPOSITORY"), "{table}");
    assert!(table.contains("COST (USD)") && table.contains("\nTOTAL "), "{table}");

    // Bad input is a validation error, not a server error.
    for bad in [
        json!({"from": today, "to": "yesterday", "groupBy": "repository"}),
        json!({"from": today, "to": today, "groupBy": "day"}),
    ] {
        let (status, body) = s.admin_as(Some(ADMIN_KEY), "GetUsageReport", &bad).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    }
}

/// Requests signed with an access key are metered under that key (a user's keys are told apart); a layer
/// download URL's bytes under the principal the URL was issued to, whoever fetches it.
#[tokio::test]
async fn access_keys_and_download_urls_are_metered_under_their_principal() {
    let clock = TestClock::new();
    let s = Server::start_env(&[("BERTH_TEST_CLOCK_FILE", clock.path())]);
    let (digest, layer) = {
        let layer = bytes(3, 70_001);
        s.push_image("dl/app", "v1", &layer).await;
        (Digest::sha256_of(&layer), layer)
    };
    s.admin("CreateUser", json!({"userName": "carol", "password": "carol-password"})).await;
    let policy = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
        "Action": ["ecr:GetDownloadUrlForLayer"], "Resource": "arn:aws:ecr:*:*:repository/dl/*"}]});
    s.admin("PutPolicy", json!({"target": {"user": "carol"}, "policyText": policy.to_string()})).await;
    let key = s.admin("CreateAccessKey", json!({"userName": "carol"})).await;
    let (id, secret) = (key["accessKeyId"].as_str().unwrap(), key["secretAccessKey"].as_str().unwrap());

    let target = ("x-amz-target", "AmazonEC2ContainerRegistry_V20150921.GetDownloadUrlForLayer");
    let body = json!({"repositoryName": "dl/app", "layerDigest": digest.to_string()});
    let r = s.signed_post(Some((id, secret)), "ecr", "/", &[target], &body).await;
    assert_eq!(r.status(), StatusCode::OK);
    let answer = r.bytes().await.unwrap();
    let url = serde_json::from_slice::<Value>(&answer).unwrap()["downloadUrl"].as_str().unwrap().to_string();
    let got = anonymous_client().get(&url).send().await.unwrap().bytes().await.unwrap();
    assert_eq!(got.as_ref(), &layer[..]);

    let today = day(clock.now());
    let by_principal = report(&s, &today, &today, "principal").await;
    let carol = "arn:aws:iam::000000000000:user/carol";
    let with_key = moved(line(&by_principal, &format!("{carol}/access-key/{id}")));
    let ecr_in = serde_json::to_vec(&body).unwrap().len() as u64;
    assert_eq!(with_key, Moved { requests: 1, bytes_in: ecr_in, bytes_out: answer.len() as u64 }, "{by_principal:#}");
    let download = moved(line(&by_principal, carol));
    assert_eq!(download, Moved { requests: 1, bytes_in: 0, bytes_out: layer.len() as u64 }, "{by_principal:#}");
    let by_repo = report(&s, &today, &today, "repository").await;
    assert!(moved(line(&by_repo, "dl/app")).bytes_out >= layer.len() as u64, "the download is the repository's");
}
