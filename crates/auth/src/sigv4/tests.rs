//! Vectors: the AWS documentation's examples (get-vanilla, get-vanilla-query-order-key-case from the SigV4
//! test suite, and the IAM ListUsers example), plus requests signed by botocore 1.43 (the AWS CLI's signer)
//! with a fixed clock; the script that produced them is reproduced at the bottom of this file.

use super::canonical::{Scope, canonical_request, signature};
use super::*;

const AKID: &str = "AKIDEXAMPLE";
const SECRET: &str = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
/// 20150830T123600Z
const T2015: i64 = 1_440_938_160;
const EMPTY_SHA256: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

const ECR_AKID: &str = "BKIAEXAMPLEEXAMPLE12";
const ECR_SECRET: &str = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJ0123";
/// 20240501T100000Z
const T2024: i64 = 1_714_557_600;
const ECR_BODY: &[u8] = br#"{"repositoryNames": ["team/app"]}"#;

fn secret(s: &str) -> Secret {
    Secret::new(s)
}

fn input(method: &str, path: &str, query: &str, headers: &[(&str, &str)], body: &[u8]) -> CanonicalInput {
    CanonicalInput {
        method: method.into(),
        path: path.into(),
        query: query.into(),
        headers: headers.iter().map(|(n, v)| (n.to_ascii_lowercase(), v.to_string())).collect(),
        payload_sha256: payload_sha256(body),
    }
}

fn sig_of(req: &CanonicalInput, signed: &[&str], date: &str, region: &str, service: &str, secret_key: &str) -> String {
    let signed: Vec<String> = signed.iter().map(|s| s.to_string()).collect();
    let amz_date = header_values(&req.headers, "x-amz-date").next().unwrap();
    signature(req, &signed, amz_date, &Scope { date, region, service }, &secret(secret_key)).unwrap()
}

// ---- Official AWS vectors --------------------------------------------------------------------------

fn get_vanilla() -> CanonicalInput {
    input("GET", "/", "", &[("Host", "example.amazonaws.com"), ("X-Amz-Date", "20150830T123600Z")], b"")
}

const GET_VANILLA_AUTH: &str = "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, \
     SignedHeaders=host;x-amz-date, Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31";

#[test]
fn get_vanilla_canonical_request() {
    let signed = vec!["host".to_string(), "x-amz-date".to_string()];
    assert_eq!(
        canonical_request(&get_vanilla(), &signed, "service").unwrap(),
        format!("GET\n/\n\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\nhost;x-amz-date\n{EMPTY_SHA256}")
    );
}

#[test]
fn get_vanilla_signature() {
    let sig = sig_of(&get_vanilla(), &["host", "x-amz-date"], "20150830", "us-east-1", "service", SECRET);
    assert_eq!(sig, "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31");
    let auth = parse_authorization(GET_VANILLA_AUTH).unwrap();
    assert_eq!(verify(&get_vanilla(), &auth, &secret(SECRET), T2015), Ok(()));
}

#[test]
fn get_vanilla_query_order_key_case() {
    let req = input(
        "GET",
        "/",
        "Param2=value2&Param1=value1",
        &[("Host", "example.amazonaws.com"), ("X-Amz-Date", "20150830T123600Z")],
        b"",
    );
    let sig = sig_of(&req, &["host", "x-amz-date"], "20150830", "us-east-1", "service", SECRET);
    assert_eq!(sig, "b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500");
}

#[test]
fn iam_list_users() {
    let req = input(
        "GET",
        "/",
        "Action=ListUsers&Version=2010-05-08",
        &[
            ("Content-Type", "application/x-www-form-urlencoded; charset=utf-8"),
            ("Host", "iam.amazonaws.com"),
            ("X-Amz-Date", "20150830T123600Z"),
        ],
        b"",
    );
    let auth = parse_authorization(
        "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/iam/aws4_request, \
         SignedHeaders=content-type;host;x-amz-date, \
         Signature=5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7",
    )
    .unwrap();
    assert_eq!(verify(&req, &auth, &secret(SECRET), T2015), Ok(()));
}

// ---- botocore vectors ------------------------------------------------------------------------------

/// A GET with an empty body to host `localhost:5000`, signed by botocore at 20150830T123600Z with AKIDEXAMPLE.
struct BotocoreGet {
    path: &'static str,
    query: &'static str,
    region: &'static str,
    service: &'static str,
    extra_headers: &'static [(&'static str, &'static str)],
    signed: &'static [&'static str],
    signature: &'static str,
}

const BOTOCORE_GETS: &[BotocoreGet] = &[
    BotocoreGet {
        path: "/v2/a/b",
        query: "",
        region: "us-east-1",
        service: "ecr",
        extra_headers: &[],
        signed: &["host", "x-amz-date"],
        signature: "13edd95a10ff8c7d42f0a4f138c404e63a69c10b5770901df14158aa61cc24a6",
    },
    BotocoreGet {
        path: "/a%20b/c",
        query: "",
        region: "us-east-1",
        service: "ecr",
        extra_headers: &[],
        signed: &["host", "x-amz-date"],
        signature: "c70df561afdec5867c19b661b7e57a3b30d4cecc87290b2184ee2fa29a1f2fb3",
    },
    BotocoreGet {
        path: "/a/./b/../c//d/",
        query: "",
        region: "us-east-1",
        service: "ecr",
        extra_headers: &[],
        signed: &["host", "x-amz-date"],
        signature: "4ecbe6c85a0826040a1920ba0f1a325d896a2f5fcf498e0b95f2a49e25c16457",
    },
    BotocoreGet {
        path: "/x",
        query: "b=1%202&a=%2F&a=0",
        region: "eu-west-3",
        service: "ecr",
        extra_headers: &[],
        signed: &["host", "x-amz-date"],
        signature: "94745882ce42823080d1b0d691ffaa702d31e5bb1e76feaa79e2b6e9b52b4b1f",
    },
    BotocoreGet {
        path: "/a%20b//c",
        query: "",
        region: "us-east-1",
        service: "s3",
        extra_headers: &[("X-Amz-Content-SHA256", EMPTY_SHA256)],
        signed: &["host", "x-amz-content-sha256", "x-amz-date"],
        signature: "2dbac79bb84a0fe55ccfa795183bb0926b556ff667315fad2d022cfcf74ddf57",
    },
];

#[test]
fn botocore_get_vectors_verify() {
    for BotocoreGet { path, query, region, service, extra_headers: extra, signed, signature: sig } in BOTOCORE_GETS {
        let mut headers = vec![("Host", "localhost:5000"), ("X-Amz-Date", "20150830T123600Z")];
        headers.extend_from_slice(extra);
        let req = input("GET", path, query, &headers, b"");
        let header = format!(
            "AWS4-HMAC-SHA256 Credential={AKID}/20150830/{region}/{service}/aws4_request, SignedHeaders={}, Signature={sig}",
            signed.join(";")
        );
        let auth = parse_authorization(&header).unwrap();
        assert_eq!(verify(&req, &auth, &secret(SECRET), T2015), Ok(()), "{path}?{query} ({service})");
    }
}

/// The request `aws ecr describe-repositories --repository-names team/app --endpoint-url
/// http://127.0.0.1:5000` sends, as botocore built it (headers added after signing included).
fn ecr_describe_repositories() -> (CanonicalInput, &'static str) {
    let req = input(
        "POST",
        "/",
        "",
        &[
            ("Host", "127.0.0.1:5000"),
            ("X-Amz-Target", "AmazonEC2ContainerRegistry_V20150921.DescribeRepositories"),
            ("Content-Type", "application/x-amz-json-1.1"),
            ("User-Agent", "Botocore/1.43.11 ua/2.1 os/linux#6.18.44 md/arch#x86_64 lang/python#3.11.7"),
            ("X-Amz-Date", "20240501T100000Z"),
            ("amz-sdk-invocation-id", "74cb5351-dfed-4dfc-a2ce-bac9fe921d9c"),
            ("amz-sdk-request", "attempt=1"),
            ("Content-Length", "33"),
            ("Accept-Encoding", "identity"),
        ],
        ECR_BODY,
    );
    let auth = "AWS4-HMAC-SHA256 Credential=BKIAEXAMPLEEXAMPLE12/20240501/us-east-1/ecr/aws4_request, \
        SignedHeaders=content-type;host;x-amz-date;x-amz-target, \
        Signature=d2674c6d9f51552d3663ea7ce9472257408e0597debe5fc0a44181abbd3e2aaf";
    (req, auth)
}

#[test]
fn aws_cli_ecr_request_verifies() {
    let (req, header) = ecr_describe_repositories();
    let auth = parse_authorization(header).unwrap();
    assert_eq!(auth.access_key_id, ECR_AKID);
    assert_eq!(verify(&req, &auth, &secret(ECR_SECRET), T2024), Ok(()));
    assert_eq!(verify(&req, &auth, &secret(ECR_SECRET), T2024 + 900), Ok(()));
    assert_eq!(verify(&req, &auth, &secret(ECR_SECRET), T2024 - 900), Ok(()));
}

/// Our signer against botocore's for a POST with a JSON body to `/`, as the AWS CLI sends to ECR (botocore
/// given the same `x-amz-content-sha256` header our signer adds).
#[test]
fn signer_matches_botocore() {
    for (path, query, want) in [
        ("/", "", "38cfb0cacab5df49310e713b6b5dd9688b65b3e8b51dc6c6c90f1ad49a0c953a"),
        ("/v2/team%2Fapp/x", "b=2&a=1", "d50d52d8afc6543195711bac07804484386795159c4b13d2ece512ff2a1d668c"),
    ] {
        let mut headers = vec![
            ("Content-Type".to_string(), "application/x-amz-json-1.1".to_string()),
            ("X-Amz-Target".to_string(), "AmazonEC2ContainerRegistry_V20150921.GetAuthorizationToken".to_string()),
            ("Host".to_string(), "127.0.0.1:5000".to_string()),
            ("User-Agent".to_string(), "berth/0.1".to_string()),
        ];
        let key = secret(ECR_SECRET);
        let params = SigningParams {
            access_key_id: ECR_AKID,
            secret: &key,
            region: "us-east-1",
            service: "ecr",
            now_unix: T2024,
        };
        sign("POST", path, query, &mut headers, ECR_BODY, &params).unwrap();
        let get = |n: &str| headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(n)).map(|(_, v)| v.as_str());
        assert_eq!(get("x-amz-date"), Some("20240501T100000Z"));
        assert_eq!(
            get("x-amz-content-sha256"),
            Some("3fbc7d1b4fb3d0f5d03e7cc6255e291fdc17cc930279a2487447bea852e2c74e")
        );
        assert_eq!(
            get("authorization").unwrap(),
            format!(
                "AWS4-HMAC-SHA256 Credential=BKIAEXAMPLEEXAMPLE12/20240501/us-east-1/ecr/aws4_request, \
                 SignedHeaders=content-type;host;x-amz-content-sha256;x-amz-date;x-amz-target, Signature={want}"
            )
        );
    }
}

// ---- Round trips -----------------------------------------------------------------------------------

/// Signs a request with our signer and returns what the server sees.
fn signed_request(body: &[u8], now: i64) -> (CanonicalInput, SigV4Auth) {
    let mut headers = vec![
        ("Host".to_string(), "registry.example.com".to_string()),
        ("Content-Type".to_string(), "application/x-amz-json-1.1".to_string()),
        ("X-Amz-Target".to_string(), "AmazonEC2ContainerRegistry_V20150921.CreateRepository".to_string()),
        // A stale signature from an earlier attempt is replaced, not kept.
        ("Authorization".to_string(), "AWS4-HMAC-SHA256 stale".to_string()),
    ];
    let key = secret(ECR_SECRET);
    let params =
        SigningParams { access_key_id: ECR_AKID, secret: &key, region: "eu-west-1", service: "ecr", now_unix: now };
    sign("POST", "/", "", &mut headers, body, &params).unwrap();
    assert_eq!(headers.iter().filter(|(k, _)| k.eq_ignore_ascii_case("authorization")).count(), 1);
    let req = CanonicalInput {
        method: "POST".into(),
        path: "/".into(),
        query: String::new(),
        headers: headers.iter().map(|(n, v)| (n.to_ascii_lowercase(), v.clone())).collect(),
        payload_sha256: payload_sha256(body),
    };
    let auth = parse_authorization(header_values(&req.headers, "authorization").next().unwrap()).unwrap();
    (req, auth)
}

#[test]
fn sign_then_verify() {
    let (req, auth) = signed_request(b"{}", T2024);
    assert_eq!(auth.region, "eu-west-1");
    assert_eq!(auth.signed_headers, ["content-type", "host", "x-amz-content-sha256", "x-amz-date", "x-amz-target"]);
    assert_eq!(verify(&req, &auth, &secret(ECR_SECRET), T2024 + 10), Ok(()));
}

#[test]
fn sign_requires_host() {
    let key = secret(ECR_SECRET);
    let params = SigningParams { access_key_id: ECR_AKID, secret: &key, region: "r", service: "ecr", now_unix: T2024 };
    let mut headers = vec![];
    assert_eq!(sign("GET", "/", "", &mut headers, b"", &params), Err(SigV4Error::MissingHeader("host".into())));
    let bad = SigningParams { region: "a/b", ..params };
    let mut headers = vec![("host".to_string(), "h".to_string())];
    assert!(matches!(sign("GET", "/", "", &mut headers, b"", &bad), Err(SigV4Error::Malformed(_))));
}

// ---- Negative cases --------------------------------------------------------------------------------

#[test]
fn wrong_secret() {
    let (req, auth) = signed_request(b"{}", T2024);
    assert_eq!(verify(&req, &auth, &secret("x".repeat(40).as_str()), T2024), Err(SigV4Error::InvalidSignature));
    let (req, header) = ecr_describe_repositories();
    let auth = parse_authorization(header).unwrap();
    assert_eq!(verify(&req, &auth, &secret(SECRET), T2024), Err(SigV4Error::InvalidSignature));
}

#[test]
fn clock_skew_over_fifteen_minutes() {
    let (req, auth) = signed_request(b"{}", T2024);
    let key = secret(ECR_SECRET);
    assert_eq!(verify(&req, &auth, &key, T2024 + 900), Ok(()));
    assert_eq!(verify(&req, &auth, &key, T2024 - 900), Ok(()));
    assert_eq!(
        verify(&req, &auth, &key, T2024 + 901),
        Err(SigV4Error::RequestTimeTooSkewed { request_time: T2024, server_time: T2024 + 901 })
    );
    assert!(matches!(verify(&req, &auth, &key, T2024 - 901), Err(SigV4Error::RequestTimeTooSkewed { .. })));
    assert!(matches!(verify(&req, &auth, &key, 0), Err(SigV4Error::RequestTimeTooSkewed { .. })));
    assert!(matches!(verify(&req, &auth, &key, i64::MAX), Err(SigV4Error::RequestTimeTooSkewed { .. })));
    assert!(matches!(verify(&req, &auth, &key, i64::MIN), Err(SigV4Error::RequestTimeTooSkewed { .. })));
}

#[test]
fn host_and_date_must_be_signed() {
    let req = get_vanilla();
    let no_host = GET_VANILLA_AUTH.replace("SignedHeaders=host;x-amz-date", "SignedHeaders=x-amz-date");
    let auth = parse_authorization(&no_host).unwrap();
    assert_eq!(verify(&req, &auth, &secret(SECRET), T2015), Err(SigV4Error::HeaderNotSigned("host")));
    let no_date = GET_VANILLA_AUTH.replace("SignedHeaders=host;x-amz-date", "SignedHeaders=host");
    let auth = parse_authorization(&no_date).unwrap();
    assert_eq!(verify(&req, &auth, &secret(SECRET), T2015), Err(SigV4Error::HeaderNotSigned("x-amz-date")));
}

#[test]
fn tampered_body() {
    // The body changed but the declared hash did not: reported as such.
    let (mut req, auth) = signed_request(b"{\"repositoryName\":\"a\"}", T2024);
    req.payload_sha256 = payload_sha256(b"{\"repositoryName\":\"b\"}");
    assert_eq!(verify(&req, &auth, &secret(ECR_SECRET), T2024), Err(SigV4Error::PayloadHashMismatch));
    // The declared hash changed along with the body: the signature no longer matches.
    for (n, v) in req.headers.iter_mut() {
        if n == "x-amz-content-sha256" {
            *v = req.payload_sha256.clone();
        }
    }
    assert_eq!(verify(&req, &auth, &secret(ECR_SECRET), T2024), Err(SigV4Error::InvalidSignature));
    // Without x-amz-content-sha256 (the AWS CLI's ECR requests), a changed body breaks the signature.
    let (mut req, header) = ecr_describe_repositories();
    req.payload_sha256 = payload_sha256(br#"{"repositoryNames": ["team/other"]}"#);
    let auth = parse_authorization(header).unwrap();
    assert_eq!(verify(&req, &auth, &secret(ECR_SECRET), T2024), Err(SigV4Error::InvalidSignature));
}

#[test]
fn tampered_request_parts() {
    let (req, auth) = signed_request(b"{}", T2024);
    let key = secret(ECR_SECRET);
    let mut r = req.clone();
    r.method = "PUT".into();
    assert_eq!(verify(&r, &auth, &key, T2024), Err(SigV4Error::InvalidSignature));
    let mut r = req.clone();
    r.path = "/other".into();
    assert_eq!(verify(&r, &auth, &key, T2024), Err(SigV4Error::InvalidSignature));
    let mut r = req.clone();
    r.query = "a=1".into();
    assert_eq!(verify(&r, &auth, &key, T2024), Err(SigV4Error::InvalidSignature));
    let mut r = req.clone();
    for (n, v) in r.headers.iter_mut() {
        if n == "x-amz-target" {
            *v = "AmazonEC2ContainerRegistry_V20150921.DeleteRepository".into();
        }
    }
    assert_eq!(verify(&r, &auth, &key, T2024), Err(SigV4Error::InvalidSignature));
    // Unsigned headers may change freely.
    let mut r = req.clone();
    r.headers.push(("user-agent".into(), "anything".into()));
    assert_eq!(verify(&r, &auth, &key, T2024), Ok(()));
    // Other region or service in the scope.
    let mut a = auth.clone();
    a.region = "us-east-1".into();
    assert_eq!(verify(&req, &a, &key, T2024), Err(SigV4Error::InvalidSignature));
    let mut a = auth.clone();
    a.signature = "0".repeat(64);
    assert_eq!(verify(&req, &a, &key, T2024), Err(SigV4Error::InvalidSignature));
}

#[test]
fn scope_date_mismatch() {
    let header = GET_VANILLA_AUTH.replace("/20150830/", "/20150831/");
    let auth = parse_authorization(&header).unwrap();
    assert_eq!(verify(&get_vanilla(), &auth, &secret(SECRET), T2015), Err(SigV4Error::ScopeDateMismatch));
}

#[test]
fn missing_or_bad_date_header() {
    let auth = parse_authorization(GET_VANILLA_AUTH).unwrap();
    let key = secret(SECRET);
    let req = input("GET", "/", "", &[("Host", "example.amazonaws.com")], b"");
    assert_eq!(verify(&req, &auth, &key, T2015), Err(SigV4Error::MissingHeader("x-amz-date".into())));
    for bad in
        ["2015-08-30T12:36:00Z", "20150830T123600", "20151330T123600Z", "20150830T253600Z", "2015083OT123600Z", ""]
    {
        let req = input("GET", "/", "", &[("Host", "example.amazonaws.com"), ("X-Amz-Date", bad)], b"");
        assert_eq!(verify(&req, &auth, &key, T2015), Err(SigV4Error::BadDate), "{bad:?}");
    }
    let mut req = get_vanilla();
    req.headers.push(("x-amz-date".into(), "20150830T123600Z".into()));
    assert_eq!(verify(&req, &auth, &key, T2015), Err(SigV4Error::BadDate));
}

#[test]
fn signed_header_missing_from_request() {
    let header =
        GET_VANILLA_AUTH.replace("SignedHeaders=host;x-amz-date", "SignedHeaders=host;x-amz-date;x-amz-target");
    let auth = parse_authorization(&header).unwrap();
    assert_eq!(
        verify(&get_vanilla(), &auth, &secret(SECRET), T2015),
        Err(SigV4Error::MissingHeader("x-amz-target".into()))
    );
}

#[test]
fn unsigned_payload_must_be_declared_in_a_signed_header() {
    let mut req = get_vanilla();
    req.payload_sha256 = UNSIGNED_PAYLOAD.into();
    let auth = parse_authorization(GET_VANILLA_AUTH).unwrap();
    assert_eq!(verify(&req, &auth, &secret(SECRET), T2015), Err(SigV4Error::HeaderNotSigned("x-amz-content-sha256")));
    // Declared and signed: accepted when the signature covers it.
    let mut req = get_vanilla();
    req.headers.push(("x-amz-content-sha256".into(), UNSIGNED_PAYLOAD.into()));
    req.payload_sha256 = UNSIGNED_PAYLOAD.into();
    let sig = sig_of(&req, &["host", "x-amz-content-sha256", "x-amz-date"], "20150830", "us-east-1", "service", SECRET);
    let header = format!(
        "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request,SignedHeaders=host;x-amz-content-sha256;x-amz-date,Signature={sig}"
    );
    assert_eq!(verify(&req, &parse_authorization(&header).unwrap(), &secret(SECRET), T2015), Ok(()));
}

#[test]
fn parse_authorization_accepts_variants() {
    let auth = parse_authorization(GET_VANILLA_AUTH).unwrap();
    assert_eq!(
        auth,
        SigV4Auth {
            access_key_id: AKID.into(),
            date: "20150830".into(),
            region: "us-east-1".into(),
            service: "service".into(),
            signed_headers: vec!["host".into(), "x-amz-date".into()],
            signature: "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31".into(),
        }
    );
    // No spaces after commas, components reordered, upper-case hex, surrounding whitespace.
    let compact = "  AWS4-HMAC-SHA256 Signature=5FA00FA31553B73EBF1942676E86291E8372FF2A2260956D9B8AAE1D763FBF31,\
        SignedHeaders=host;x-amz-date,Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request ";
    assert_eq!(parse_authorization(compact).unwrap(), auth);
}

#[test]
fn malformed_authorization_headers() {
    let ok_cred = "Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request";
    let ok_sh = "SignedHeaders=host;x-amz-date";
    let ok_sig = "Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31";
    let cases: Vec<String> = vec![
        String::new(),
        "AWS4-HMAC-SHA256".into(),
        "AWS4-HMAC-SHA256 ".into(),
        format!("AWS4-HMAC-SHA256 {ok_cred}, {ok_sh}"),
        format!("AWS4-HMAC-SHA256 {ok_cred}, {ok_sig}"),
        format!("AWS4-HMAC-SHA256 {ok_sh}, {ok_sig}"),
        format!("AWS4-HMAC-SHA256 {ok_cred}, {ok_sh}, {ok_sig}, {ok_sig}"),
        format!("AWS4-HMAC-SHA256 {ok_cred}, {ok_sh}, {ok_sig}, Extra=1"),
        format!("AWS4-HMAC-SHA256 {ok_cred}, {ok_sh}, {ok_sig},"),
        format!("AWS4-HMAC-SHA256 {ok_cred} {ok_sh} {ok_sig}"),
        format!("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service, {ok_sh}, {ok_sig}"),
        format!("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws3_request, {ok_sh}, {ok_sig}"),
        format!("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/2015-08-30/us-east-1/service/aws4_request, {ok_sh}, {ok_sig}"),
        format!("AWS4-HMAC-SHA256 Credential=/20150830/us-east-1/service/aws4_request, {ok_sh}, {ok_sig}"),
        format!("AWS4-HMAC-SHA256 Credential=A/20150830//service/aws4_request, {ok_sh}, {ok_sig}"),
        format!("AWS4-HMAC-SHA256 Credential=A/B/20150830/us-east-1/service/aws4_request, {ok_sh}, {ok_sig}"),
        format!("AWS4-HMAC-SHA256 {ok_cred}, SignedHeaders=, {ok_sig}"),
        format!("AWS4-HMAC-SHA256 {ok_cred}, SignedHeaders=host;;x-amz-date, {ok_sig}"),
        format!("AWS4-HMAC-SHA256 {ok_cred}, SignedHeaders=Host;x-amz-date, {ok_sig}"),
        format!("AWS4-HMAC-SHA256 {ok_cred}, SignedHeaders=host;host, {ok_sig}"),
        format!("AWS4-HMAC-SHA256 {ok_cred}, SignedHeaders=ho st, {ok_sig}"),
        format!("AWS4-HMAC-SHA256 {ok_cred}, {ok_sh}, Signature=5fa00f"),
        format!("AWS4-HMAC-SHA256 {ok_cred}, {ok_sh}, Signature={}", "g".repeat(64)),
        format!("AWS4-HMAC-SHA256 {ok_cred}, {ok_sh}, Signature={}é", "a".repeat(63)),
        format!("AWS4-HMAC-SHA256 {ok_cred}, SignedHeaders={}, {ok_sig}", vec!["h"; 65].join(";")),
        format!("AWS4-HMAC-SHA256 {ok_cred}, {ok_sh}, {ok_sig}{}", " ".repeat(5000)),
    ];
    for c in &cases {
        assert!(matches!(parse_authorization(c), Err(SigV4Error::Malformed(_))), "{c:?}: {:?}", parse_authorization(c));
    }
    for other in ["AWS4-HMAC-SHA512 Credential=a", "Basic dXNlcjpwYXNz", "Bearer abc", "aws4-hmac-sha256 x=y"] {
        assert_eq!(parse_authorization(other), Err(SigV4Error::UnsupportedAlgorithm), "{other}");
    }
}

#[test]
fn amz_date_conversions() {
    assert_eq!(parse::parse_amz_date("20150830T123600Z"), Ok(T2015));
    assert_eq!(parse::parse_amz_date("19700101T000000Z"), Ok(0));
    assert_eq!(parse::format_amz_date(T2015).unwrap(), "20150830T123600Z");
    assert_eq!(parse::format_amz_date(0).unwrap(), "19700101T000000Z");
    assert_eq!(parse::parse_amz_date("20240229T235959Z"), Ok(1_709_251_199));
    assert_eq!(parse::parse_amz_date("20230229T000000Z"), Err(SigV4Error::BadDate));
    assert_eq!(parse::parse_amz_date("20150830T123660Z"), Err(SigV4Error::BadDate));
    assert_eq!(parse::parse_amz_date("+0150830T123600Z"), Err(SigV4Error::BadDate));
    assert_eq!(parse::parse_amz_date("20150830T12360é"), Err(SigV4Error::BadDate));
    assert_eq!(parse::format_amz_date(i64::MAX), Err(SigV4Error::BadDate));
    assert_eq!(parse::format_amz_date(-1_000_000_000_000), Err(SigV4Error::BadDate));
}

#[test]
fn debug_does_not_print_the_secret() {
    let key = secret(SECRET);
    let params = SigningParams { access_key_id: AKID, secret: &key, region: "r", service: "s", now_unix: 0 };
    let shown = format!("{params:?}");
    assert!(!shown.contains("wJalr"), "{shown}");
}

mod properties {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn parse_authorization_never_panics(s in "\\PC{0,300}") {
            let _ = parse_authorization(&s);
            let _ = parse_authorization(&format!("AWS4-HMAC-SHA256 {s}"));
        }

        #[test]
        fn verify_never_panics(
            path in "\\PC{0,40}",
            query in "\\PC{0,40}",
            date in "\\PC{0,20}",
            hv in "\\PC{0,20}",
        ) {
            let req = input("GET", &path, &query, &[("host", &hv), ("x-amz-date", &date)], b"");
            let auth = parse_authorization(GET_VANILLA_AUTH).unwrap();
            let _ = verify(&req, &auth, &secret(SECRET), T2015);
        }

        #[test]
        fn sign_verify_round_trip(path in "(/[a-zA-Z0-9%._~ -]{0,8}){1,4}", query in "[a-z0-9=&%+]{0,20}", body in proptest::collection::vec(any::<u8>(), 0..64)) {
            let key = secret(ECR_SECRET);
            let params = SigningParams { access_key_id: ECR_AKID, secret: &key, region: "us-east-1", service: "ecr", now_unix: T2024 };
            let mut headers = vec![("host".to_string(), "h:1".to_string())];
            sign("PUT", &path, &query, &mut headers, &body, &params).unwrap();
            let req = CanonicalInput { method: "PUT".into(), path, query, headers: headers.clone(), payload_sha256: payload_sha256(&body) };
            let auth = parse_authorization(header_values(&headers, "authorization").next().unwrap()).unwrap();
            prop_assert_eq!(verify(&req, &auth, &key, T2024), Ok(()));
        }
    }
}

// The botocore vectors above came from (botocore 1.43.11):
//
//   import datetime, hashlib; from unittest import mock
//   import botocore.auth, botocore.credentials, botocore.awsrequest
//   creds = botocore.credentials.Credentials(AKID, SECRET)
//   req = botocore.awsrequest.AWSRequest(method=..., url=..., headers=..., data=...)
//   with mock.patch('botocore.auth.get_current_datetime', return_value=datetime.datetime(2015, 8, 30, 12, 36)):
//       botocore.auth.SigV4Auth(creds, service, region).add_auth(req)   # S3SigV4Auth for "s3"
//
// and, for the ECR request, a botocore `ecr` client with endpoint_url http://127.0.0.1:5000 and a
// `before-send` hook capturing the prepared request.
