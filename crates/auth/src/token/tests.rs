use super::*;

const NOW: i64 = 1_700_000_000;
const SERVICE: &str = "berth.example.com";
const ISSUER: &str = "berth-token-issuer";

fn ring() -> KeyRing {
    KeyRing::single(SigningKeyPair::generate())
}

fn claims(now: i64, ttl: i64) -> RegistryClaims {
    RegistryClaims::new(
        ISSUER,
        "user/alice",
        SERVICE,
        now,
        ttl,
        vec![Access {
            kind: "repository".into(),
            name: "team/app".into(),
            actions: vec!["pull".into(), "push".into()],
            ecr_actions: vec!["ecr:BatchGetImage".into(), "ecr:PutImage".into()],
        }],
    )
}

fn issue(keys: &KeyRing) -> String {
    issue_registry_token(keys, &claims(NOW, 300)).unwrap().expose().to_string()
}

fn b64json(v: &serde_json::Value) -> String {
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(v).unwrap())
}

fn parts(token: &str) -> (serde_json::Value, serde_json::Value, String) {
    let p: Vec<&str> = token.split('.').collect();
    assert_eq!(p.len(), 3);
    let h = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(p[0]).unwrap()).unwrap();
    let c = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(p[1]).unwrap()).unwrap();
    (h, c, p[2].to_string())
}

#[test]
fn registry_token_round_trip() {
    let keys = ring();
    let c = claims(NOW, 300);
    let token = issue_registry_token(&keys, &c).unwrap();
    assert_eq!(format!("{token:?}"), "***");
    let got = verify_registry_token(&keys, token.expose(), SERVICE, NOW).unwrap();
    assert_eq!(got, c);
    assert_eq!(verify_registry_token_issued_by(&keys, token.expose(), ISSUER, SERVICE, NOW + 299).unwrap(), c);
}

#[test]
fn registry_token_wire_format_follows_docker_spec() {
    let keys = ring();
    let (h, c, _) = parts(&issue(&keys));
    assert_eq!(h["alg"], "EdDSA");
    assert_eq!(h["typ"], "JWT");
    assert_eq!(h["kid"], keys.active_kid());
    assert_eq!(c["iss"], ISSUER);
    assert_eq!(c["sub"], "user/alice");
    assert_eq!(c["aud"], SERVICE);
    assert_eq!(c["iat"], NOW);
    assert_eq!(c["nbf"], NOW);
    assert_eq!(c["exp"], NOW + 300);
    assert_eq!(c["jti"].as_str().unwrap().len(), 32);
    assert_eq!(
        c["access"],
        serde_json::json!([{"type": "repository", "name": "team/app", "actions": ["pull", "push"],
            "ecr": ["ecr:BatchGetImage", "ecr:PutImage"]}])
    );
}

#[test]
fn jti_is_unique() {
    assert_ne!(claims(NOW, 1).jti, claims(NOW, 1).jti);
}

#[test]
fn expiry_and_not_before() {
    let keys = ring();
    let token = issue(&keys);
    assert!(verify_registry_token(&keys, &token, SERVICE, NOW + 299).is_ok());
    assert_eq!(verify_registry_token(&keys, &token, SERVICE, NOW + 300), Err(TokenError::Expired));
    assert_eq!(verify_registry_token(&keys, &token, SERVICE, NOW + 100_000), Err(TokenError::Expired));
    // nbf leeway: a node whose clock is up to 60 s behind the issuer's still accepts.
    assert!(verify_registry_token(&keys, &token, SERVICE, NOW - 60).is_ok());
    assert_eq!(verify_registry_token(&keys, &token, SERVICE, NOW - 61), Err(TokenError::NotYetValid));
}

#[test]
fn wrong_audience_and_issuer() {
    let keys = ring();
    let token = issue(&keys);
    assert_eq!(verify_registry_token(&keys, &token, "other.example.com", NOW), Err(TokenError::WrongAudience));
    assert_eq!(
        verify_registry_token_issued_by(&keys, &token, "someone-else", SERVICE, NOW),
        Err(TokenError::WrongIssuer)
    );
}

#[test]
fn unknown_kid_and_wrong_key() {
    let keys = ring();
    let token = issue(&keys);
    // A ring that does not know the kid.
    assert!(matches!(verify_registry_token(&ring(), &token, SERVICE, NOW), Err(TokenError::UnknownKey(_))));
    // A different key under the same kid: the signature does not match.
    let impostor =
        SigningKeyPair::from_private_bytes(keys.active_kid(), &SigningKeyPair::generate().to_private_bytes()).unwrap();
    let other = KeyRing::single(impostor);
    assert_eq!(verify_registry_token(&other, &token, SERVICE, NOW), Err(TokenError::BadSignature));
}

#[test]
fn tampered_payload_is_rejected() {
    let keys = ring();
    let token = issue(&keys);
    let (h, mut c, sig) = parts(&token);
    c["access"][0]["actions"] = serde_json::json!(["pull", "push", "delete"]);
    let forged = format!("{}.{}.{}", b64json(&h), b64json(&c), sig);
    assert_eq!(verify_registry_token(&keys, &forged, SERVICE, NOW), Err(TokenError::BadSignature));
    // Flipping a character of the signature.
    let mut bad_sig = token.clone().into_bytes();
    let last = bad_sig.len() - 5;
    bad_sig[last] = if bad_sig[last] == b'A' { b'B' } else { b'A' };
    let bad_sig = String::from_utf8(bad_sig).unwrap();
    assert_eq!(verify_registry_token(&keys, &bad_sig, SERVICE, NOW), Err(TokenError::BadSignature));
}

#[test]
fn alg_none_and_other_algorithms_are_rejected() {
    let keys = ring();
    let (_, c, _) = parts(&issue(&keys));
    for alg in ["none", "None", "HS256", "RS256", "ES256", ""] {
        let h = serde_json::json!({"alg": alg, "typ": "JWT", "kid": keys.active_kid()});
        for sig in ["", "AAAA"] {
            let forged = format!("{}.{}.{}", b64json(&h), b64json(&c), sig);
            assert_eq!(
                verify_registry_token(&keys, &forged, SERVICE, NOW),
                Err(TokenError::UnsupportedAlgorithm(alg.into())),
                "{alg}"
            );
        }
    }
    let h = serde_json::json!({"typ": "JWT", "kid": keys.active_kid()});
    let forged = format!("{}.{}.", b64json(&h), b64json(&c));
    assert_eq!(verify_registry_token(&keys, &forged, SERVICE, NOW), Err(TokenError::UnsupportedAlgorithm("".into())));
}

#[test]
fn missing_kid() {
    let keys = ring();
    let (_, c, sig) = parts(&issue(&keys));
    let h = serde_json::json!({"alg": "EdDSA", "typ": "JWT"});
    let forged = format!("{}.{}.{}", b64json(&h), b64json(&c), sig);
    assert_eq!(verify_registry_token(&keys, &forged, SERVICE, NOW), Err(TokenError::MissingKeyId));
}

#[test]
fn garbage_is_malformed_never_a_panic() {
    let keys = ring();
    let long = "a".repeat(20_000);
    for bad in ["", ".", "..", "a.b.c", "a.b.c.d", "eyJ9.e30.", "!!!.e30.x", &long, "e30.e30.e30"] {
        let r = verify_registry_token(&keys, bad, SERVICE, NOW);
        assert!(matches!(r, Err(TokenError::Malformed(_) | TokenError::UnsupportedAlgorithm(_))), "{bad:?}: {r:?}");
    }
    // A correct header with a payload that is not our claims.
    let token = issue(&keys);
    let (h, _, sig) = parts(&token);
    let forged = format!("{}.{}.{}", b64json(&h), URL_SAFE_NO_PAD.encode(b"not json"), sig);
    assert!(verify_registry_token(&keys, &forged, SERVICE, NOW).is_err());
}

#[test]
fn rotation_old_keys_verify_new_key_signs() {
    let old = SigningKeyPair::generate();
    let new = SigningKeyPair::generate();
    let before = KeyRing::single(old.clone());
    let old_token = issue(&before);
    let after = KeyRing::new(vec![new.clone(), old.clone()], new.kid()).unwrap();
    assert_eq!(after.active_kid(), new.kid());
    let new_token = issue(&after);
    assert_eq!(parts(&new_token).0["kid"], new.kid());
    assert!(verify_registry_token(&after, &old_token, SERVICE, NOW).is_ok());
    assert!(verify_registry_token(&after, &new_token, SERVICE, NOW).is_ok());
    // Once the old key is dropped, its tokens no longer verify.
    let later = KeyRing::new(vec![new.clone()], new.kid()).unwrap();
    assert!(matches!(verify_registry_token(&later, &old_token, SERVICE, NOW), Err(TokenError::UnknownKey(_))));
}

#[test]
fn key_ring_construction_errors() {
    let a = SigningKeyPair::generate();
    assert!(matches!(KeyRing::new(vec![a.clone()], "nope"), Err(TokenError::UnknownKey(_))));
    assert!(matches!(KeyRing::new(vec![], "nope"), Err(TokenError::UnknownKey(_))));
    assert!(matches!(KeyRing::new(vec![a.clone(), a.clone()], a.kid()), Err(TokenError::DuplicateKeyId(_))));
}

#[test]
fn private_bytes_round_trip() {
    let a = SigningKeyPair::generate();
    let der = a.to_private_bytes();
    assert_eq!(der.len(), 83);
    let b = SigningKeyPair::from_private_bytes(a.kid(), &der).unwrap();
    assert_eq!(a.public_key_bytes(), b.public_key_bytes());
    // A token signed with the restored key verifies with the original, and vice versa.
    let token = issue(&KeyRing::single(b));
    assert!(verify_registry_token(&KeyRing::single(a.clone()), &token, SERVICE, NOW).is_ok());
    // PKCS#8 v1 (RFC 8410 section 7: no public key) is read too.
    let mut v1 = hex::decode("302e020100300506032b657004220420").unwrap();
    v1.extend_from_slice(&der[16..48]);
    let c = SigningKeyPair::from_private_bytes("v1", &v1).unwrap();
    assert_eq!(c.public_key_bytes(), a.public_key_bytes());
    assert!(SigningKeyPair::from_private_bytes(a.kid(), b"garbage").is_err());
    assert!(SigningKeyPair::from_private_bytes(a.kid(), &der[..47]).is_err());
    assert!(SigningKeyPair::from_private_bytes("", &der).is_err());
}

#[test]
fn debug_never_shows_private_key() {
    let a = SigningKeyPair::generate();
    let der = a.to_private_bytes();
    let seed = &der[16..];
    for shown in [format!("{a:?}"), format!("{a:#?}"), format!("{:?}", KeyRing::single(a.clone()))] {
        assert!(shown.contains(a.kid()));
        assert!(!shown.contains(&hex::encode(seed)));
        assert!(!shown.to_lowercase().contains("signing:"), "{shown}");
        assert!(!shown.contains(&format!("{:?}", &seed[..4]).replace(' ', "")), "{shown}");
        assert!(!shown.contains("content"), "{shown}");
    }
}

#[test]
fn login_password_round_trip() {
    let keys = ring();
    let pw = issue_login_password(&keys, "alice", NOW, 43_200).unwrap();
    assert_eq!(format!("{pw}"), "***");
    assert!(!pw.expose().contains(':'), "docker login splits on ':'");
    assert!(pw.expose().bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b)));
    assert_eq!(verify_login_password(&keys, pw.expose(), NOW).unwrap(), "alice");
    assert_eq!(verify_login_password(&keys, pw.expose(), NOW + 43_199).unwrap(), "alice");
    assert_eq!(verify_login_password(&keys, pw.expose(), NOW + 43_200), Err(TokenError::Expired));
    assert_eq!(verify_login_password(&keys, pw.expose(), NOW - 61), Err(TokenError::NotYetValid));
    let (h, c, _) = parts(pw.expose());
    assert_eq!(h["typ"], LOGIN_TYP);
    assert_eq!(c["aud"], LOGIN_AUDIENCE);
    assert_eq!(c["sub"], "alice");
}

#[test]
fn tokens_do_not_cross_over() {
    let keys = ring();
    let pw = issue_login_password(&keys, "alice", NOW, 300).unwrap();
    // A login password is not a registry token, whatever audience the registry is configured with.
    assert_eq!(verify_registry_token(&keys, pw.expose(), SERVICE, NOW), Err(TokenError::WrongType));
    assert_eq!(verify_registry_token(&keys, pw.expose(), LOGIN_AUDIENCE, NOW), Err(TokenError::WrongType));
    // A registry token is not a login password.
    assert_eq!(verify_login_password(&keys, &issue(&keys), NOW), Err(TokenError::WrongType));
    // And a registry token for the login audience cannot even be issued.
    let c = RegistryClaims::new(ISSUER, "user/alice", LOGIN_AUDIENCE, NOW, 300, vec![]);
    assert!(matches!(issue_registry_token(&keys, &c), Err(TokenError::Signing(_))));
}

#[test]
fn login_password_forgeries() {
    let keys = ring();
    let pw = issue_login_password(&keys, "alice", NOW, 300).unwrap();
    let (h, mut c, sig) = parts(pw.expose());
    c["sub"] = "admin".into();
    let forged = format!("{}.{}.{}", b64json(&h), b64json(&c), sig);
    assert_eq!(verify_login_password(&keys, &forged, NOW), Err(TokenError::BadSignature));
    let none = serde_json::json!({"alg": "none", "typ": LOGIN_TYP, "kid": keys.active_kid()});
    let forged = format!("{}.{}.", b64json(&none), b64json(&c));
    assert_eq!(verify_login_password(&keys, &forged, NOW), Err(TokenError::UnsupportedAlgorithm("none".into())));
    assert!(matches!(verify_login_password(&ring(), pw.expose(), NOW), Err(TokenError::UnknownKey(_))));
    assert!(verify_login_password(&keys, "hunter2", NOW).is_err());
}
