//! Accounts and credentials, shared by TAXII 1.x and 2.1: werkzeug password hashes (so
//! OpenTAXII accounts log in unchanged), OpenTAXII-compatible JWTs, HTTP Basic with a
//! verified-credential cache, failed-login throttling, and the one place that decides
//! permissions. Nothing here speaks HTTP; callers turn [`AuthError`] into their protocol's
//! answer, and a throttled check into a 429 ([`Auth::login_refusal`]).
//!
//! Every password check goes through [`Auth`] (`check_password`), which counts it for the
//! account name and for the client address. The protocol handlers pass only the
//! `Authorization` header, so the address reaches the check through [`client_scope`], which
//! the application sets on the worker thread for the duration of each request.
//!
//! Secrets are compared in constant time: JWT signatures by `ring::hmac::verify`, password
//! hashes and cursor MACs by [`ct_eq`].

pub mod password;
pub mod throttle;
pub mod token;

use std::cell::Cell;
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Condvar, Mutex};
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

/// What an `Authorization` header claims before the account is looked up.
#[derive(Debug)]
pub enum Claim {
    /// No header.
    Anonymous,
    /// A valid bearer token for this account id.
    Account(i32),
    /// HTTP Basic credentials, not yet checked.
    Basic { username: String, password: String },
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
    throttle: throttle::Throttle,
    /// Whether a password hash is being computed (see `hash_turn`).
    hashing: Mutex<bool>,
    hashed: Condvar,
    /// The hash method (`scrypt:32768:8:1`, `pbkdf2:sha256:260000`, ...) of the last account
    /// checked: unknown names are hashed the same way, so they cost what a real name costs.
    timing_method: Mutex<String>,
}

/// The turn to compute a password hash; gives it up when dropped (also on a panic).
struct HashTurn<'a>(&'a Auth);

impl Drop for HashTurn<'_> {
    fn drop(&mut self) {
        *self.0.hashing.lock().unwrap_or_else(|e| e.into_inner()) = false;
        self.0.hashed.notify_all();
    }
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
            throttle: throttle::Throttle::new(throttle::Policy::default()),
            hashing: Mutex::new(false),
            hashed: Condvar::new(),
            timing_method: Mutex::new("scrypt:32768:8:1".to_string()),
        }
    }

    /// The failed-login throttling policy (`auth.max_failed_logins` and the backoff keys);
    /// [`throttle::Policy::default`] otherwise.
    pub fn with_throttle(mut self, policy: throttle::Policy) -> Auth {
        self.throttle = throttle::Throttle::new(policy);
        self
    }

    /// How long a password check for `username` from the current client must still be
    /// refused (too many failed logins for the name or from the address). Callers answer
    /// 429 (TAXII 1: their unauthorized status) without checking the password.
    pub fn login_refusal(&self, username: &str) -> Option<Duration> {
        self.throttle.refusal(username, current_client())
    }

    /// [`Auth::login_refusal`] for the Basic credentials in an `Authorization` header; `None`
    /// for anything else (tokens cost no password check and cannot be guessed).
    pub fn basic_refusal(&self, header: Option<&str>) -> Option<Duration> {
        match self.claim(header) {
            Ok(Claim::Basic { username, .. }) => self.login_refusal(&username),
            _ => None,
        }
    }

    /// Accounts and addresses the throttle keeps records for (bounded by
    /// [`throttle::CAPACITY`]).
    pub fn throttle_records(&self) -> usize {
        self.throttle.len()
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
        let claim = self.claim(header)?;
        let row = match &claim {
            Claim::Anonymous => return Ok(None),
            Claim::Account(id) => accounts::by_id(c, *id)?,
            Claim::Basic { username, .. } => accounts::by_username(c, username)?,
        };
        self.resolve(&claim, row)
    }

    /// What an `Authorization` header claims, checked as far as it can be without the
    /// database: a bearer token's signature and expiry, the shape of Basic credentials.
    /// A header that cannot be read is refused, not taken as anonymous as OpenTAXII does:
    /// a client whose credentials are garbled should learn it, not get an open service's
    /// partial view (README, TAXII 1.0 and 1.1).
    pub fn claim(&self, header: Option<&str>) -> Result<Claim, AuthError> {
        let Some(value) = header else { return Ok(Claim::Anonymous) };
        let (scheme, rest) = value.split_once(' ').unwrap_or((value, ""));
        let rest = rest.trim();
        if scheme.eq_ignore_ascii_case("bearer") {
            let id = token::verify(&self.secret, rest, now_unix()).ok_or(AuthError::Invalid)?;
            return Ok(Claim::Account(id));
        }
        if scheme.eq_ignore_ascii_case("basic") && self.basic {
            let decoded =
                base64::engine::general_purpose::STANDARD.decode(rest).map_err(|_| AuthError::Invalid)?;
            let text = String::from_utf8(decoded).map_err(|_| AuthError::Invalid)?;
            let (username, password) = text.split_once(':').ok_or(AuthError::Invalid)?;
            return Ok(Claim::Basic { username: username.to_string(), password: password.to_string() });
        }
        Err(AuthError::Invalid)
    }

    /// The account for `claim` given its row (by id for a token, by username for Basic),
    /// which the caller looked up, possibly together with other things.
    pub fn resolve(&self, claim: &Claim, row: Option<AccountRow>) -> Result<Option<Account>, AuthError> {
        match claim {
            Claim::Anonymous => Ok(None),
            Claim::Account(_) => Ok(Some(Account::from_row(row.ok_or(AuthError::Invalid)?))),
            Claim::Basic { username, password } => {
                self.check_password(username, password, row).map(Some).ok_or(AuthError::Invalid)
            }
        }
    }

    /// Checks a username and password (login endpoint and Basic), using the cache.
    pub fn login(
        &self,
        c: &mut impl GenericClient,
        username: &str,
        password: &str,
    ) -> Result<Option<Account>, DbError> {
        let row = accounts::by_username(c, username)?;
        Ok(self.check_password(username, password, row))
    }

    /// The one password check. A throttled name or address is refused before anything else,
    /// the cache included: a guesser must not learn that a password is right while throttled.
    /// Unknown names cost a hash and count as failures like wrong passwords, so neither the
    /// time nor the throttling reveals which names exist. Only successes are cached.
    fn check_password(&self, username: &str, password: &str, row: Option<AccountRow>) -> Option<Account> {
        let client = current_client();
        if self.throttle.refusal(username, client).is_some() {
            return None;
        }
        let key =
            ring::hmac::sign(&self.cache_key, format!("{username}\0{password}").as_bytes()).as_ref().to_vec();
        let cached = || {
            let Some(row) = &row else { return false };
            let cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
            cache.get(&key).is_some_and(|v| {
                v.account_id == row.id && v.password_hash == row.password_hash && v.at.elapsed() < CACHE_TTL
            })
        };
        let verified = cached()
            || match self.hash_turn(cached) {
                // Requests that queued behind a check of the same credentials find them cached.
                None => true,
                // A burst of guesses queued behind one hash: the later ones may be throttled now.
                Some(_turn) if self.throttle.refusal(username, client).is_some() => return None,
                Some(_turn) => match &row {
                    Some(row) => {
                        if let Some((method, _)) = row.password_hash.split_once('$') {
                            *self.timing_method.lock().unwrap_or_else(|e| e.into_inner()) =
                                method.to_string();
                        }
                        let ok = password::verify(&row.password_hash, password);
                        if ok {
                            self.remember(key, row);
                        }
                        ok
                    }
                    None => {
                        // Same cost as a real check, so response time does not reveal which
                        // names exist.
                        let method = self.timing_method.lock().unwrap_or_else(|e| e.into_inner()).clone();
                        password::verify(&format!("{method}$timing$00"), password);
                        false
                    }
                },
            };
        match row {
            Some(row) if verified => {
                self.throttle.succeeded(username, client);
                Some(Account::from_row(row))
            }
            row => {
                let started = self.throttle.failed(username, password, client);
                if let (Some(wait), Some(ip)) = (started.address, client) {
                    log::warn!(
                        "too many failed logins from {ip}: its password checks wait {} s",
                        throttle::whole_seconds(wait)
                    );
                }
                if let Some(wait) = started.account {
                    // Names that exist are no secret; others may be mistyped passwords.
                    let name = row.map_or_else(
                        || "an unknown account".to_string(),
                        |r| format!("account {}", r.username),
                    );
                    log::warn!(
                        "too many failed logins for {name}: its password checks wait {} s",
                        throttle::whole_seconds(wait)
                    );
                }
                None
            }
        }
    }

    fn remember(&self, key: Vec<u8>, row: &AccountRow) {
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

    /// Waits until no password hash is being computed and claims the turn (released when the
    /// guard drops); `None` when `done` became true meanwhile. One hash at a time: a Werkzeug
    /// scrypt hash takes 32 MiB and a tenth of a second, so the first requests of many Basic
    /// clients at once, or a burst of guesses, would otherwise take 32 MiB each.
    fn hash_turn(&self, done: impl Fn() -> bool) -> Option<HashTurn<'_>> {
        let mut busy = self.hashing.lock().unwrap_or_else(|e| e.into_inner());
        while *busy {
            busy = self.hashed.wait(busy).unwrap_or_else(|e| e.into_inner());
        }
        if done() {
            return None;
        }
        *busy = true;
        Some(HashTurn(self))
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

/// Constant-time equality for secrets (hashes, MACs): the time depends on the length only,
/// never on where the first difference is. The accumulator passes through `black_box` at
/// every byte, so the compiler cannot stop early once it knows the answer.
pub fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let diff = a.iter().zip(b).fold(0u8, |acc, (x, y)| std::hint::black_box(acc | (x ^ y)));
    diff == 0
}

thread_local! {
    /// The client address of the request this thread serves (see [`client_scope`]).
    static CLIENT: Cell<Option<IpAddr>> = const { Cell::new(None) };
}

/// Attributes the password checks this thread makes to `client` until the guard drops (the
/// previous value is restored then). Checks outside any scope count for the name only.
pub fn client_scope(client: Option<IpAddr>) -> ClientScope {
    ClientScope(CLIENT.with(|c| c.replace(client)))
}

pub struct ClientScope(Option<IpAddr>);

impl Drop for ClientScope {
    fn drop(&mut self) {
        CLIENT.with(|c| c.set(self.0));
    }
}

fn current_client() -> Option<IpAddr> {
    CLIENT.with(Cell::get)
}
