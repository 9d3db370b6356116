//! Werkzeug password hashes as OpenTAXII stores them in `accounts.password_hash`:
//! `pbkdf2:<hash>:<iterations>$<salt>$<hex>` and `scrypt:<N>:<r>:<p>$<salt>$<hex>`. The salt is
//! used as its UTF-8 bytes, never decoded. Comparison is constant-time.

use std::num::NonZeroU32;

use ring::rand::SecureRandom;

/// Which format new hashes use (`auth.password_hash`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Scheme {
    /// `scrypt:32768:8:1`, Werkzeug 3's default.
    Scrypt,
    /// `pbkdf2:sha256:600000`, verifiable by the Werkzeug of OpenTAXII 0.9.3 (rollback path).
    Pbkdf2,
}

const SALT_CHARS: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

/// Random `[A-Za-z0-9]` string from the system CSPRNG (salts, generated passwords).
pub fn random_token(len: usize) -> String {
    let rng = ring::rand::SystemRandom::new();
    let mut out = String::with_capacity(len);
    while out.len() < len {
        let mut b = [0u8; 64];
        if rng.fill(&mut b).is_err() {
            panic!("the system random number generator failed");
        }
        // Reject bytes above the largest multiple of 62 so every character is equally likely.
        for x in b {
            if (x as usize) < 248 && out.len() < len {
                out.push(SALT_CHARS[x as usize % SALT_CHARS.len()] as char);
            }
        }
    }
    out
}

pub fn hash(password: &str, scheme: Scheme) -> String {
    let salt = random_token(16);
    match scheme {
        Scheme::Scrypt => {
            let out = scrypt_raw(password, &salt, 15, 8, 1).expect("fixed scrypt parameters are valid");
            format!("scrypt:32768:8:1${salt}${}", hex(&out))
        }
        Scheme::Pbkdf2 => {
            let out = pbkdf2_raw(ring::pbkdf2::PBKDF2_HMAC_SHA256, 32, 600_000, password, &salt);
            format!("pbkdf2:sha256:600000${salt}${}", hex(&out))
        }
    }
}

/// Whether `password` matches a stored werkzeug hash. Unknown formats never match.
pub fn verify(stored: &str, password: &str) -> bool {
    let mut parts = stored.splitn(3, '$');
    let (Some(method), Some(salt), Some(expected)) = (parts.next(), parts.next(), parts.next()) else {
        return false;
    };
    let Some(expected) = unhex(expected) else { return false };
    let computed = match method.split(':').collect::<Vec<_>>().as_slice() {
        ["pbkdf2", name, iters] => {
            let Ok(iters) = iters.parse::<u32>() else { return false };
            let (alg, len) = match *name {
                "sha256" => (ring::pbkdf2::PBKDF2_HMAC_SHA256, 32),
                "sha512" => (ring::pbkdf2::PBKDF2_HMAC_SHA512, 64),
                "sha384" => (ring::pbkdf2::PBKDF2_HMAC_SHA384, 48),
                "sha1" => (ring::pbkdf2::PBKDF2_HMAC_SHA1, 20),
                _ => return false,
            };
            // A hostile row must not cost minutes of CPU.
            if iters == 0 || iters > 10_000_000 {
                return false;
            }
            pbkdf2_raw(alg, len, iters, password, salt)
        }
        ["scrypt", n, r, p] => {
            let (Ok(n), Ok(r), Ok(p)) = (n.parse::<u64>(), r.parse::<u32>(), p.parse::<u32>()) else {
                return false;
            };
            if !n.is_power_of_two()
                || !(2..=1 << 20).contains(&n)
                || !(1..=32).contains(&r)
                || !(1..=16).contains(&p)
            {
                return false;
            }
            match scrypt_raw(password, salt, n.trailing_zeros() as u8, r, p) {
                Some(v) => v,
                None => return false,
            }
        }
        _ => return false,
    };
    super::ct_eq(&computed, &expected)
}

fn pbkdf2_raw(alg: ring::pbkdf2::Algorithm, len: usize, iters: u32, password: &str, salt: &str) -> Vec<u8> {
    let mut out = vec![0u8; len];
    let iters = NonZeroU32::new(iters).unwrap_or(NonZeroU32::MIN);
    ring::pbkdf2::derive(alg, iters, salt.as_bytes(), password.as_bytes(), &mut out);
    out
}

fn scrypt_raw(password: &str, salt: &str, log_n: u8, r: u32, p: u32) -> Option<Vec<u8>> {
    let params = scrypt::Params::new(log_n, r, p).ok()?;
    let mut out = vec![0u8; 64];
    scrypt::scrypt(password.as_bytes(), salt.as_bytes(), &params, &mut out).ok()?;
    Some(out)
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn unhex(s: &str) -> Option<Vec<u8>> {
    if s.len() % 2 != 0 || s.is_empty() {
        return None;
    }
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_both_schemes() {
        for scheme in [Scheme::Scrypt, Scheme::Pbkdf2] {
            let h = hash("s3cret pass", scheme);
            assert!(verify(&h, "s3cret pass"), "{h}");
            assert!(!verify(&h, "s3cret pas"), "{h}");
        }
    }

    #[test]
    fn rejects_garbage() {
        for s in
            ["", "plain$$x", "pbkdf2:sha256:0$a$00", "scrypt:3:8:1$a$00", "pbkdf2:md5:1000$a$00", "x$y$zz"]
        {
            assert!(!verify(s, "x"), "{s}");
        }
    }
}
