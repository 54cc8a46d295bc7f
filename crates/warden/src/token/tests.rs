use super::*;

const SECRET: &[u8] = b"09d25e094faa6ca2556c818166b7a9563b93f7099f6f0f4caa6cf63b88e8d3e7";

fn b64(v: &Value) -> String {
    URL_SAFE_NO_PAD.encode(v.to_string())
}

/// A token built by hand: any header, any payload, signed with HMAC-SHA256 under `secret`.
fn hs256(header: Value, payload: Value, secret: &[u8]) -> String {
    use hmac::Mac as _;
    let signing_input = format!("{}.{}", b64(&header), b64(&payload));
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret).expect("hmac");
    mac.update(signing_input.as_bytes());
    format!(
        "{signing_input}.{}",
        URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
    )
}

fn seed_jwt() -> Jwt {
    Jwt::new(KeySet::new(
        Key::hmac(Algorithm::HS256, SECRET).expect("key"),
    ))
    .leeway(0)
}

fn decode(jwt: &Jwt, token: &str) -> Result<Claims, TokenError> {
    jwt.decode(token)
}

#[test]
fn a_plain_hs256_token_without_kid_verifies() {
    let token = hs256(
        json!({"alg":"HS256","typ":"JWT"}),
        json!({"sub":"johndoe","exp": now() + 60}),
        SECRET,
    );
    assert_eq!(
        decode(&seed_jwt(), &token).map(|c| c.sub),
        Ok("johndoe".into())
    );
}

#[test]
fn time_claims_are_strict() {
    let jwt = seed_jwt();
    let t = |payload| hs256(json!({"alg":"HS256"}), payload, SECRET);
    let n = now();
    assert_eq!(
        decode(&jwt, &t(json!({"sub":"a","exp": n}))),
        Err(TokenError::Expired)
    );
    assert_eq!(
        decode(&jwt, &t(json!({"sub":"a","exp": n - 1}))),
        Err(TokenError::Expired)
    );
    assert_eq!(
        decode(&jwt, &t(json!({"sub":"a"}))),
        Err(TokenError::MissingClaim("exp"))
    );
    assert_eq!(
        decode(&jwt, &t(json!({"sub":"a","exp": n + 60, "nbf": n + 30}))),
        Err(TokenError::NotYetValid)
    );
    assert_eq!(
        decode(&jwt, &t(json!({"sub":"a","exp": n + 60, "iat": n + 30}))),
        Err(TokenError::IssuedInTheFuture)
    );
    assert!(
        decode(
            &jwt,
            &t(json!({"sub":"a","exp": n + 60, "nbf": n, "iat": n}))
        )
        .is_ok()
    );
    // With leeway, a just-expired token still passes.
    assert!(decode(&seed_jwt().leeway(30), &t(json!({"sub":"a","exp": n - 5}))).is_ok());
    assert_eq!(
        decode(&jwt, &t(json!({"sub":"a","exp": "soon"}))),
        Err(TokenError::Malformed)
    );
}

#[test]
fn headers_that_must_never_verify() {
    let jwt = seed_jwt();
    let payload = json!({"sub":"a","exp": now() + 60});
    let crit = hs256(
        json!({"alg":"HS256","crit":["exp"]}),
        payload.clone(),
        SECRET,
    );
    assert_eq!(decode(&jwt, &crit), Err(TokenError::CriticalHeader));
    let none = format!("{}.{}.", b64(&json!({"alg":"none"})), b64(&payload));
    assert_eq!(decode(&jwt, &none), Err(TokenError::UnknownKey));
    let hs512 = hs256(json!({"alg":"HS512"}), payload.clone(), SECRET);
    assert_eq!(decode(&jwt, &hs512), Err(TokenError::UnknownKey));
    let unknown_kid = hs256(
        json!({"alg":"HS256","kid":"other"}),
        payload.clone(),
        SECRET,
    );
    assert_eq!(decode(&jwt, &unknown_kid), Err(TokenError::UnknownKey));
    let kid = jwt.keys().signing_key().kid().to_owned();
    let wrong_alg_for_kid = hs256(json!({"alg":"RS256","kid": kid}), payload.clone(), SECRET);
    assert_eq!(
        decode(&jwt, &wrong_alg_for_kid),
        Err(TokenError::AlgorithmMismatch)
    );
    // A jwk header carrying the attacker's own key is not used.
    let embedded = hs256(
        json!({"alg":"HS256","jwk":{"kty":"oct","k":"YQ"}}),
        payload.clone(),
        b"a",
    );
    assert_eq!(decode(&jwt, &embedded), Err(TokenError::BadSignature));
    let wrong_key = hs256(
        json!({"alg":"HS256"}),
        payload,
        b"another secret of thirty-two bytes!!",
    );
    assert_eq!(decode(&jwt, &wrong_key), Err(TokenError::BadSignature));
}

#[test]
fn tampered_and_garbage_tokens_are_refused() {
    let jwt = seed_jwt();
    let token = jwt
        .encode(&Claims::new("alice", Duration::from_secs(60)))
        .expect("token");
    let mut parts: Vec<&str> = token.split('.').collect();
    let forged = b64(&json!({"sub":"admin","exp": now() + 60}));
    parts[1] = &forged;
    assert_eq!(
        decode(&jwt, &parts.join(".")),
        Err(TokenError::BadSignature)
    );
    for garbage in [
        "",
        ".",
        "..",
        "a.b.c",
        "a.b",
        "ééé.é.é",
        &"x".repeat(20_000),
        "eyJhbGciOiJIUzI1NiJ9",
    ] {
        assert!(decode(&jwt, garbage).is_err(), "{garbage}");
    }
}

#[test]
fn issuer_and_audience() {
    let jwt = seed_jwt().issuer("https://warden.test").audience("api");
    let mut claims = Claims::new("a", Duration::from_secs(60));
    claims.aud = vec!["api".into(), "other".into()];
    let token = jwt.encode(&claims).expect("token");
    assert!(decode(&jwt, &token).is_ok());
    assert_eq!(
        decode(&seed_jwt().issuer("https://other"), &token),
        Err(TokenError::WrongIssuer)
    );
    assert_eq!(
        decode(&seed_jwt().audience("nope"), &token),
        Err(TokenError::WrongAudience)
    );
    // A verifier that names no audience refuses tokens meant for some audience (RFC 7519 §4.1.3).
    assert_eq!(decode(&seed_jwt(), &token), Err(TokenError::WrongAudience));
}

#[test]
fn scopes_round_trip_in_both_formats_and_extra_claims() {
    #[derive(Serialize, Deserialize, Debug, PartialEq, Default)]
    struct Tenant {
        tid: String,
    }
    for format in [ScopeClaim::List, ScopeClaim::SpaceSeparated] {
        let jwt = seed_jwt().scope_claim(format);
        let claims = Claims::with_extra("a", Duration::from_secs(60), Tenant { tid: "t1".into() })
            .with_scopes(["b", "a", "b"]);
        let token = jwt.encode(&claims).expect("token");
        let back: Claims<Tenant> = jwt.decode(&token).expect("claims");
        assert_eq!(back.scopes, ["b", "a"]);
        assert_eq!(back.extra.tid, "t1");
    }
}

#[test]
fn rotation_keeps_old_tokens_verifying_and_signs_with_the_new_key() {
    let (first, _) = Key::generate_ed25519().expect("key");
    let mut jwt = Jwt::new(KeySet::new(first.clone()));
    let old_token = jwt
        .encode(&Claims::new("a", Duration::from_secs(60)))
        .expect("token");
    let (second, _) = Key::generate_ed25519().expect("key");
    jwt.keys_mut().rotate(second.clone());
    let new_token = jwt
        .encode(&Claims::new("a", Duration::from_secs(60)))
        .expect("token");
    let kid = |t: &str| jsonwebtoken::decode_header(t).ok().and_then(|h| h.kid);
    assert_eq!(kid(&new_token).as_deref(), Some(second.kid()));
    assert_eq!(kid(&old_token).as_deref(), Some(first.kid()));
    assert!(decode(&jwt, &old_token).is_ok());
    assert!(decode(&jwt, &new_token).is_ok());
    // Once the old key is removed, its tokens stop verifying.
    assert!(jwt.keys_mut().remove(first.kid()));
    assert_eq!(decode(&jwt, &old_token), Err(TokenError::UnknownKey));
    assert!(
        !jwt.keys_mut().remove(second.kid()),
        "the signing key cannot be removed"
    );
}

#[test]
fn a_token_verifies_against_the_exported_jwks() {
    let rsa_pem = {
        use rsa::pkcs8::EncodePrivateKey as _;
        let key = rsa::RsaPrivateKey::new(&mut rand::rngs::OsRng, 2048).expect("rsa");
        key.to_pkcs8_pem(Default::default())
            .expect("pem")
            .to_string()
    };
    let keys = [
        Key::generate_ed25519().expect("ed").0,
        Key::generate_es256().expect("es").0,
        Key::from_private_pem(Algorithm::RS256, &rsa_pem).expect("rs"),
    ];
    for key in keys {
        let jwt = Jwt::new(KeySet::new(key.clone()));
        let token = jwt
            .encode(&Claims::new("a", Duration::from_secs(60)))
            .expect("token");
        let jwks: jsonwebtoken::jwk::JwkSet =
            serde_json::from_value(jwt.jwks()).expect("jwks parses");
        let jwk = jwks.find(key.kid()).expect("kid in jwks");
        let decoding = jsonwebtoken::DecodingKey::from_jwk(jwk).expect("decoding key");
        let data =
            jsonwebtoken::decode::<Value>(&token, &decoding, &Validation::new(key.algorithm()));
        assert_eq!(
            data.expect("verifies with the JWKS").claims["sub"],
            "a",
            "{:?}",
            key.algorithm()
        );
    }
}

#[test]
fn an_hmac_secret_never_appears_in_the_jwks() {
    let jwt = seed_jwt();
    assert_eq!(jwt.jwks(), json!({"keys": []}));
    assert!(!jwt.keys().signing_key().kid().contains("09d25e"));
}

#[test]
fn a_public_key_used_as_an_hmac_secret_is_refused() {
    // Algorithm confusion: the attacker signs HS256 with the verifier's public key as the secret.
    let (key, _) = Key::generate_es256().expect("key");
    let jwt = Jwt::new(KeySet::new(key.clone()));
    let public = key.public_jwk().expect("jwk").to_string();
    let payload = json!({"sub":"admin","exp": now() + 60});
    for header in [
        json!({"alg":"HS256","kid": key.kid()}),
        json!({"alg":"HS256"}),
    ] {
        let forged = hs256(header, payload.clone(), public.as_bytes());
        assert!(matches!(
            decode(&jwt, &forged),
            Err(TokenError::AlgorithmMismatch | TokenError::UnknownKey)
        ));
    }
}

#[test]
fn weak_hmac_secrets_are_flagged() {
    assert!(
        Key::hmac(Algorithm::HS256, b"short")
            .expect("key")
            .is_weak()
    );
    assert!(!Key::hmac(Algorithm::HS256, SECRET).expect("key").is_weak());
    assert_eq!(
        Key::hmac(Algorithm::HS256, b"").err(),
        Some(KeyError::EmptySecret)
    );
    assert!(Key::hmac(Algorithm::RS256, SECRET).is_err());
}

#[test]
fn eddsa_tokens_interoperate_with_jsonwebtoken_both_ways() {
    let (key, pem) = Key::generate_ed25519().expect("key");
    let jwt = Jwt::new(KeySet::new(key.clone()));
    // Signed by jsonwebtoken, verified by warden's parsed-once key.
    let mut header = Header::new(Algorithm::EdDSA);
    header.kid = Some(key.kid().to_owned());
    let theirs = jsonwebtoken::encode(
        &header,
        &json!({"sub": "a", "exp": now() + 60}),
        &jsonwebtoken::EncodingKey::from_ed_pem(pem.as_bytes()).expect("pem"),
    )
    .expect("sign");
    assert_eq!(decode(&jwt, &theirs).map(|c| c.sub), Ok("a".into()));
    // Tampered payload or signature: refused.
    let ours = jwt
        .encode(&Claims::new("b", Duration::from_secs(60)))
        .expect("token");
    let mut parts: Vec<String> = ours.split('.').map(str::to_owned).collect();
    parts[1] = b64(&json!({"sub": "root", "exp": now() + 60}));
    assert_eq!(
        decode(&jwt, &parts.join(".")),
        Err(TokenError::BadSignature)
    );
    // One character of the signature changed (in the middle: the last one holds padding bits).
    let mut bad_signature = ours.clone().into_bytes();
    let at = bad_signature.len() - 20;
    bad_signature[at] = if bad_signature[at] == b'A' {
        b'B'
    } else {
        b'A'
    };
    let bad_signature = String::from_utf8(bad_signature).expect("ascii");
    assert_eq!(decode(&jwt, &bad_signature), Err(TokenError::BadSignature));
    assert_eq!(
        decode(&jwt, &format!("{ours}.extra")),
        Err(TokenError::Malformed)
    );
}
