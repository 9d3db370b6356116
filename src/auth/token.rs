//! JWTs exactly as OpenTAXII issues and accepts them: HS256, header `{"alg":"HS256","typ":"JWT"}`,
//! payload `{"account_id": <int>, "exp": <unix seconds>}`, signed with the configured secret.
//! A token from either server is accepted by the other when they share the secret.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

const HEADER: &str = r#"{"alg":"HS256","typ":"JWT"}"#;

pub fn issue(secret: &str, account_id: i32, exp_unix: i64) -> String {
    let header = URL_SAFE_NO_PAD.encode(HEADER);
    let payload = URL_SAFE_NO_PAD.encode(format!(r#"{{"account_id":{account_id},"exp":{exp_unix}}}"#));
    let signing_input = format!("{header}.{payload}");
    let sig = sign(secret, signing_input.as_bytes());
    format!("{signing_input}.{}", URL_SAFE_NO_PAD.encode(sig))
}

/// The account id of a valid, unexpired token. Anything else (another algorithm, `none`, a
/// bad signature, a missing or non-integer claim, expiry) is `None`.
pub fn verify(secret: &str, token: &str, now_unix: i64) -> Option<i32> {
    let mut parts = token.split('.');
    let (Some(h), Some(p), Some(s), None) = (parts.next(), parts.next(), parts.next(), parts.next()) else {
        return None;
    };
    let header: serde_json::Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(h).ok()?).ok()?;
    // Only HS256: `alg` is attacker-controlled and must never choose the verification.
    if header.get("alg")?.as_str()? != "HS256" {
        return None;
    }
    let sig = URL_SAFE_NO_PAD.decode(s.trim_end_matches('=')).ok()?;
    // Constant-time: ring compares the computed MAC with `sig` without an early exit.
    ring::hmac::verify(&key(secret), format!("{h}.{p}").as_bytes(), &sig).ok()?;
    let payload: serde_json::Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(p).ok()?).ok()?;
    let exp = payload.get("exp")?.as_f64()?;
    if exp <= now_unix as f64 {
        return None;
    }
    let id = payload.get("account_id")?.as_i64()?;
    i32::try_from(id).ok()
}

fn key(secret: &str) -> ring::hmac::Key {
    ring::hmac::Key::new(ring::hmac::HMAC_SHA256, secret.as_bytes())
}

fn sign(secret: &str, data: &[u8]) -> Vec<u8> {
    ring::hmac::sign(&key(secret), data).as_ref().to_vec()
}

/// HMAC-SHA256 under a purpose-specific key derived from the secret (cursor signatures).
pub fn mac(secret: &str, purpose: &str, data: &[u8]) -> Vec<u8> {
    let derived = sign(secret, purpose.as_bytes());
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, &derived);
    ring::hmac::sign(&key, data).as_ref().to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issue_then_verify() {
        let t = issue("s3", 7, 2_000_000_000);
        assert_eq!(verify("s3", &t, 1_000), Some(7));
        assert_eq!(verify("other", &t, 1_000), None);
        assert_eq!(verify("s3", &t, 2_000_000_001), None);
    }

    #[test]
    fn refuses_alg_none_and_tampering() {
        let none_header = URL_SAFE_NO_PAD.encode(r#"{"alg":"none","typ":"JWT"}"#);
        let payload = URL_SAFE_NO_PAD.encode(r#"{"account_id":1,"exp":9999999999}"#);
        assert_eq!(verify("s", &format!("{none_header}.{payload}."), 0), None);
        let t = issue("s", 1, 9_999_999_999);
        let parts: Vec<&str> = t.split('.').collect();
        let other = URL_SAFE_NO_PAD.encode(r#"{"account_id":2,"exp":9999999999}"#);
        let forged = format!("{}.{other}.{}", parts[0], parts[2]);
        assert_eq!(verify("s", &forged, 0), None);
    }
}
