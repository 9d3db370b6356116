//! Accounts and credentials, shared by TAXII 1.x and 2.1: werkzeug password hashes (so
//! OpenTAXII accounts log in unchanged), OpenTAXII-compatible JWTs, HTTP Basic with a
//! verified-credential cache, and the one place that decides permissions. Nothing here speaks
//! HTTP; callers turn [`AuthError`] into their protocol's answer.

pub mod password;
pub mod token;

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use base64::Engine;
use postgres::GenericClient;
use ring::rand::SecureRandom;

use crate::db::DbError;
use crate::db::accounts::{self, AccountRow};

/// An authenticated account with its permissions, as loaded for this request.
#[derive(Clone, Debug)]
pub struct Account {
    pub id: i32,
    pub username: String,
    pub is_admin: bool,
    /// TAXII 1: collection name → `read` | `modify`.
    pub taxii1: HashMap<String, String>,
    /// TAXII 2: collection UUID → rights (`read`, `write`).
    pub taxii2: HashMap<String, Vec<String>>,
}

#[derive(Debug)]
pub enum AuthError {
    /// Credentials were presented and are not valid (401).
    Invalid,
    Db(DbError),
}

impl From<DbError> for AuthError {
    fn from(e: DbError) -> AuthError {
        AuthError::Db(e)
    }
}

/// What a caller may do with one TAXII 2 collection.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Rights {
    pub read: bool,
    pub write: bool,
}

impl Rights {
    /// The collection exists for this caller (hidden collections answer 404).
    pub fn visible(&self) -> bool {
        self.read || self.write
    }
}

/// TAXII 2.1 rights of `who` (None: anonymous) on a collection — OpenTAXII master's rules:
/// public flags, admin, or the collection's UUID in `_permissions` with `read`/`write`.
pub fn taxii2_rights(
    who: Option<&Account>,
    collection_id: &str,
    is_public: bool,
    is_public_write: bool,
) -> Rights {
    let has = |right: &str| {
        who.is_some_and(|a| {
            a.is_admin || a.taxii2.get(collection_id).is_some_and(|r| r.iter().any(|x| x == right))
        })
    };
    Rights { read: is_public || has("read"), write: is_public_write || has("write") }
}

/// What a caller may do with one TAXII 1 collection.
#[derive(Clone, Copy, Debug, PartialEq, Default)]
pub struct Taxii1Rights {
    /// Poll, subscribe, see it in collection information.
    pub read: bool,
    /// Push to it through an inbox (and see its inboxes in collection information).
    pub modify: bool,
}

/// TAXII 1 rights of `who` on the collection named `collection` — OpenTAXII's rules: a
/// service without `authentication_required` (`open_service`) runs every request with full
/// rights, whoever the caller is; otherwise admins may do everything, and `_permissions`
/// maps the collection name to `read`, or `modify` (which includes read).
pub fn taxii1_rights(who: Option<&Account>, collection: &str, open_service: bool) -> Taxii1Rights {
    if open_service || who.is_some_and(|a| a.is_admin) {
        return Taxii1Rights { read: true, modify: true };
    }
    match who.and_then(|a| a.taxii1.get(collection)).map(String::as_str) {
        Some("modify") => Taxii1Rights { read: true, modify: true },
        Some("read") => Taxii1Rights { read: true, modify: false },
        _ => Taxii1Rights::default(),
    }
}

impl Account {
    fn from_row(row: AccountRow) -> Account {
        let (mut taxii1, mut taxii2) = (HashMap::new(), HashMap::new());
        // Both shapes live in one JSON object: strings are TAXII 1, lists are TAXII 2.
        if let Ok(serde_json::Value::Object(map)) = serde_json::from_str(&row.permissions) {
            for (k, v) in map {
                match v {
                    serde_json::Value::String(s) => {
                        taxii1.insert(k, s);
                    }
                    serde_json::Value::Array(list) => {
                        let rights = list.iter().filter_map(|x| x.as_str().map(str::to_string)).collect();
                        taxii2.insert(k.to_ascii_lowercase(), rights);
                    }
                    _ => {}
                }
            }
        }
        Account { id: row.id, username: row.username, is_admin: row.is_admin, taxii1, taxii2 }
    }
}

/// Successful Basic verifications are cached so a partner polling with Basic credentials does
/// not pay a deliberately slow scrypt/pbkdf2 computation per request.
///
/// Threat model: the cache key is an HMAC, under a random per-process key, of the username and
/// password; no password or reusable hash is kept, so a memory or core dump yields nothing
/// that logs in elsewhere. An entry is honoured only while the account row's password hash is
/// the one it was verified against (a password change or deletion takes effect at once) and
/// for at most [`CACHE_TTL`]. Only successes are cached: guessing still costs a full hash.
const CACHE_TTL: Duration = Duration::from_secs(60);
const CACHE_MAX: usize = 10_000;

struct Verified {
    account_id: i32,
    password_hash: String,
    at: Instant,
}

pub struct Auth {
    secret: String,
    basic: bool,
    token_ttl: Duration,
    cache_key: ring::hmac::Key,
    cache: Mutex<HashMap<Vec<u8>, Verified>>,
}

impl Auth {
    pub fn new(secret: &str, basic: bool, token_ttl: Duration) -> Auth {
        let mut k = [0u8; 32];
        ring::rand::SystemRandom::new().fill(&mut k).expect("the system random number generator failed");
        Auth {
            secret: secret.to_string(),
            basic,
            token_ttl,
            cache_key: ring::hmac::Key::new(ring::hmac::HMAC_SHA256, &k),
            cache: Mutex::new(HashMap::new()),
        }
    }

    pub fn basic_enabled(&self) -> bool {
        self.basic
    }

    /// The account behind an `Authorization` header; `Ok(None)` without one (anonymous).
    pub fn authenticate(
        &self,
        c: &mut impl GenericClient,
        header: Option<&str>,
    ) -> Result<Option<Account>, AuthError> {
        let Some(value) = header else { return Ok(None) };
        let (scheme, rest) = value.split_once(' ').unwrap_or((value, ""));
        let rest = rest.trim();
        if scheme.eq_ignore_ascii_case("bearer") {
            let id = token::verify(&self.secret, rest, now_unix()).ok_or(AuthError::Invalid)?;
            let row = accounts::by_id(c, id)?.ok_or(AuthError::Invalid)?;
            return Ok(Some(Account::from_row(row)));
        }
        if scheme.eq_ignore_ascii_case("basic") && self.basic {
            let decoded =
                base64::engine::general_purpose::STANDARD.decode(rest).map_err(|_| AuthError::Invalid)?;
            let text = String::from_utf8(decoded).map_err(|_| AuthError::Invalid)?;
            let (user, pass) = text.split_once(':').ok_or(AuthError::Invalid)?;
            return self.login(c, user, pass)?.map(Some).ok_or(AuthError::Invalid);
        }
        Err(AuthError::Invalid)
    }

    /// Checks a username and password (login endpoint and Basic), using the cache.
    pub fn login(
        &self,
        c: &mut impl GenericClient,
        username: &str,
        password: &str,
    ) -> Result<Option<Account>, DbError> {
        let Some(row) = accounts::by_username(c, username)? else {
            // Same cost as a real check, so response time does not reveal which names exist.
            password::verify("pbkdf2:sha256:260000$timing$00", password);
            return Ok(None);
        };
        let key =
            ring::hmac::sign(&self.cache_key, format!("{username}\0{password}").as_bytes()).as_ref().to_vec();
        let cached = {
            let cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
            cache.get(&key).is_some_and(|v| {
                v.account_id == row.id && v.password_hash == row.password_hash && v.at.elapsed() < CACHE_TTL
            })
        };
        if !cached {
            if !password::verify(&row.password_hash, password) {
                return Ok(None);
            }
            let mut cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
            if cache.len() >= CACHE_MAX {
                cache.retain(|_, v| v.at.elapsed() < CACHE_TTL);
                if cache.len() >= CACHE_MAX {
                    cache.clear();
                }
            }
            cache.insert(
                key,
                Verified { account_id: row.id, password_hash: row.password_hash.clone(), at: Instant::now() },
            );
        }
        Ok(Some(Account::from_row(row)))
    }

    /// A token for `account_id`, valid for `auth.token_ttl`.
    pub fn token_for(&self, account_id: i32) -> String {
        token::issue(&self.secret, account_id, now_unix() + self.token_ttl.as_secs() as i64)
    }

    /// MAC for server-issued opaque values (pagination cursors), keyed by the shared secret
    /// so every instance on one database accepts the others' cursors.
    pub fn mac(&self, purpose: &str, data: &[u8]) -> Vec<u8> {
        token::mac(&self.secret, purpose, data)
    }
}

fn now_unix() -> i64 {
    crate::timefmt::now().unix_timestamp()
}

/// Constant-time equality for secrets (hashes, signatures): the time depends on the length
/// only, never on where the first difference is.
pub fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let diff = a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y));
    std::hint::black_box(diff) == 0
}
