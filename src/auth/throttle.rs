//! Failed-login throttling (`auth.max_failed_logins`): after that many consecutive failed
//! password checks for one account name (from any address), or from one client address (for
//! any names), further password checks for it are refused without looking at the password
//! until a backoff has passed. The backoff starts at `auth.failed_login_backoff` and doubles
//! with every further failure up to `auth.failed_login_backoff_max`; a record is forgotten
//! `auth.failed_login_window` after its last failure.
//!
//! Why both, and why only a backoff: per-address throttling is the main defence, since it
//! stops one source whatever names it tries and cannot be used against anyone else's
//! address. Per-account throttling stops guesses spread over many addresses, but an attacker
//! can trigger it for any name, so it never locks an account for good: it only delays, by at
//! most the cap, and it does not apply to an address that logged in to that account
//! successfully within [`KNOWN_FOR`] (a partner polling from its usual address keeps working
//! while its account is sprayed from elsewhere). A correct password is refused like a wrong
//! one while throttled, so throttling never answers "right password" to a guesser.
//!
//! Only new guesses count: a record remembers fingerprints of its last few failed passwords,
//! and a repeat of one of them (a client retrying a stale password) counts no further, since
//! it teaches a guesser nothing. Unknown names are tracked exactly like existing ones, so a
//! 429 does not reveal which names exist.
//!
//! Names and guesses are kept as keyed hashes (fixed size, not reversible), IPv6 addresses
//! by /64. The table holds at most [`CAPACITY`] records; when full, stale records go first,
//! then the oldest that block nothing. State is per process: several instances on one
//! database each count their own failures (a guesser alternating between them gets the limit
//! once per instance). Nothing here speaks HTTP or reads the database.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use ring::rand::SecureRandom;

/// How long a successful login exempts its address from that account's backoff.
pub const KNOWN_FOR: Duration = Duration::from_secs(7 * 24 * 3600);
/// Records kept at most (about 100 bytes each).
pub const CAPACITY: usize = 100_000;
/// Failed guesses a record remembers, so repeating one does not count again.
const RECENT: usize = 4;

/// The `auth.*` throttling settings.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Policy {
    /// Failures before checks are refused; 0 disables throttling.
    pub max_failures: u32,
    /// Backoff after `max_failures` failures, doubled for each further one.
    pub backoff: Duration,
    pub backoff_max: Duration,
    /// A record is forgotten this long after its last failure (at least `backoff_max`).
    pub window: Duration,
}

impl Default for Policy {
    fn default() -> Policy {
        Policy {
            max_failures: 5,
            backoff: Duration::from_secs(1),
            backoff_max: Duration::from_secs(300),
            window: Duration::from_secs(900),
        }
    }
}

impl Policy {
    /// The backoff after `failures` consecutive failures (zero below the limit).
    fn backoff_after(&self, failures: u32) -> Duration {
        if self.max_failures == 0 || failures < self.max_failures {
            return Duration::ZERO;
        }
        let doublings = (failures - self.max_failures).min(31);
        self.backoff.saturating_mul(1 << doublings).min(self.backoff_max)
    }
}

/// Backoffs a failure started.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Started {
    pub account: Option<Duration>,
    pub address: Option<Duration>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Key {
    Account([u8; 16]),
    Address(u128),
    /// The address logged in to the account successfully (exempt from its backoff).
    Known([u8; 16], u128),
}

#[derive(Debug)]
struct Entry {
    failures: u32,
    /// The last failure (for `Known`: the last success).
    last: Instant,
    blocked_until: Option<Instant>,
    /// Fingerprints of the last failed guesses (0: none), oldest first.
    recent: [u32; RECENT],
}

impl Entry {
    fn new(now: Instant) -> Entry {
        Entry { failures: 0, last: now, blocked_until: None, recent: [0; RECENT] }
    }
}

pub struct Throttle {
    policy: Policy,
    capacity: usize,
    name_key: ring::hmac::Key,
    table: Mutex<HashMap<Key, Entry>>,
}

impl Throttle {
    pub fn new(policy: Policy) -> Throttle {
        Throttle::with_capacity(policy, CAPACITY)
    }

    pub fn with_capacity(policy: Policy, capacity: usize) -> Throttle {
        let mut k = [0u8; 32];
        ring::rand::SystemRandom::new().fill(&mut k).expect("the system random number generator failed");
        Throttle {
            policy,
            capacity: capacity.max(1),
            name_key: ring::hmac::Key::new(ring::hmac::HMAC_SHA256, &k),
            table: Mutex::new(HashMap::new()),
        }
    }

    pub fn enabled(&self) -> bool {
        self.policy.max_failures > 0
    }

    /// How long password checks for `account` from `client` must still be refused, if at all.
    pub fn refusal(&self, account: &str, client: Option<IpAddr>) -> Option<Duration> {
        self.refusal_at(account, client, Instant::now())
    }

    /// A password check for `account` with `password` from `client` failed. Returns the
    /// backoffs this failure started, for the account and for the address (to be logged).
    pub fn failed(&self, account: &str, password: &str, client: Option<IpAddr>) -> Started {
        self.failed_at(account, password, client, Instant::now())
    }

    /// A password check for `account` from `client` succeeded: the account's count starts
    /// over and the address becomes known for it. The address's own count stays, or one
    /// valid account would let its owner guess others' passwords without limit.
    pub fn succeeded(&self, account: &str, client: Option<IpAddr>) {
        self.succeeded_at(account, client, Instant::now());
    }

    /// Records held (for the metrics).
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn refusal_at(&self, account: &str, client: Option<IpAddr>, now: Instant) -> Option<Duration> {
        if !self.enabled() {
            return None;
        }
        let name = self.name(account);
        let table = self.lock();
        let wait = |key: &Key| {
            table.get(key).and_then(|e| e.blocked_until).and_then(|t| t.checked_duration_since(now))
        };
        let by_address = client.and_then(|c| wait(&Key::Address(address(c))));
        let known = client.is_some_and(|c| {
            table.get(&Key::Known(name, address(c))).is_some_and(|e| now.duration_since(e.last) < KNOWN_FOR)
        });
        let by_account = if known { None } else { wait(&Key::Account(name)) };
        by_address.max(by_account).filter(|d| !d.is_zero())
    }

    fn failed_at(&self, account: &str, password: &str, client: Option<IpAddr>, now: Instant) -> Started {
        if !self.enabled() {
            return Started::default();
        }
        let name = self.name(account);
        let guess = self.fingerprint(account, password);
        let mut table = self.lock();
        Started {
            account: self.count_failure(&mut table, Key::Account(name), guess, now),
            address: client
                .and_then(|c| self.count_failure(&mut table, Key::Address(address(c)), guess, now)),
        }
    }

    fn succeeded_at(&self, account: &str, client: Option<IpAddr>, now: Instant) {
        if !self.enabled() {
            return;
        }
        let name = self.name(account);
        let mut table = self.lock();
        table.remove(&Key::Account(name));
        if let Some(c) = client {
            let key = Key::Known(name, address(c));
            self.make_room(&mut table, &key, now);
            table.insert(key, Entry::new(now));
        }
    }

    fn count_failure(
        &self,
        table: &mut HashMap<Key, Entry>,
        key: Key,
        guess: u32,
        now: Instant,
    ) -> Option<Duration> {
        self.make_room(table, &key, now);
        let e = table.entry(key).or_insert_with(|| Entry::new(now));
        if now.duration_since(e.last) > self.policy.window {
            *e = Entry::new(now);
        }
        if e.recent.contains(&guess) {
            return None;
        }
        e.recent.rotate_left(1);
        e.recent[RECENT - 1] = guess;
        e.failures = e.failures.saturating_add(1);
        e.last = now;
        let backoff = self.policy.backoff_after(e.failures);
        e.blocked_until = (!backoff.is_zero()).then(|| now + backoff);
        e.blocked_until.map(|_| backoff)
    }

    /// Frees a slot when `key` is new and the table is full: first every stale record, then,
    /// if that is not enough, a quarter of the table (so this runs once per many insertions):
    /// the oldest records that block nothing, and blocking ones only when there are no others,
    /// so a spray from fresh addresses cannot flush the block of an account under attack.
    fn make_room(&self, table: &mut HashMap<Key, Entry>, key: &Key, now: Instant) {
        if table.len() < self.capacity || table.contains_key(key) {
            return;
        }
        let window = self.policy.window;
        table.retain(|k, e| match k {
            Key::Known(..) => now.duration_since(e.last) < KNOWN_FOR,
            _ => now.duration_since(e.last) <= window || e.blocked_until.is_some_and(|t| t > now),
        });
        if table.len() < self.capacity {
            return;
        }
        let blocking = |e: &Entry| e.blocked_until.is_some_and(|t| t > now);
        let mut order: Vec<(bool, Instant, Key)> =
            table.iter().map(|(k, e)| (blocking(e), e.last, *k)).collect();
        let evict = table.len() - self.capacity * 3 / 4;
        order.select_nth_unstable_by_key(evict - 1, |(b, t, _)| (*b, *t));
        for (_, _, k) in &order[..evict] {
            table.remove(k);
        }
    }

    /// A short keyed fingerprint of one guess (name and password), never 0.
    fn fingerprint(&self, account: &str, password: &str) -> u32 {
        let tag = ring::hmac::sign(&self.name_key, format!("guess\0{account}\0{password}").as_bytes());
        let b = tag.as_ref();
        u32::from_le_bytes([b[0], b[1], b[2], b[3]]).max(1)
    }

    fn name(&self, account: &str) -> [u8; 16] {
        let tag = ring::hmac::sign(&self.name_key, account.as_bytes());
        let mut out = [0u8; 16];
        out.copy_from_slice(&tag.as_ref()[..16]);
        out
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Key, Entry>> {
        self.table.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// A wait in whole seconds, rounded up and at least 1 (`Retry-After`, messages).
pub fn whole_seconds(wait: Duration) -> u64 {
    (wait.as_secs() + u64::from(wait.subsec_nanos() > 0)).max(1)
}

/// The address a client is counted under: IPv4 as is (also when IPv4-mapped), IPv6 by its
/// /64, which one host or site usually holds whole.
fn address(ip: IpAddr) -> u128 {
    match ip {
        IpAddr::V4(a) => u128::from(a.to_ipv6_mapped()),
        IpAddr::V6(a) => match a.to_ipv4_mapped() {
            Some(v4) => u128::from(v4.to_ipv6_mapped()),
            None => u128::from(a) & !u128::from(u64::MAX),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: Duration = Duration::from_secs(1);

    fn policy(max: u32) -> Policy {
        Policy { max_failures: max, backoff: S, backoff_max: 8 * S, window: 60 * S }
    }

    fn ip(s: &str) -> Option<IpAddr> {
        Some(s.parse().unwrap())
    }

    /// A failure with a password never tried before.
    fn fail(t: &Throttle, account: &str, client: Option<IpAddr>, now: Instant) {
        static GUESS: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = GUESS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        t.failed_at(account, &format!("guess {n}"), client, now);
    }

    #[test]
    fn a_repeated_guess_counts_once() {
        let t = Throttle::new(policy(3));
        let now = Instant::now();
        let a = ip("192.0.2.1");
        for _ in 0..10 {
            t.failed_at("alice", "stale password", a, now);
            t.failed_at("bob", "stale password", a, now);
        }
        assert_eq!(t.refusal_at("alice", a, now), None);
        assert_eq!(t.refusal_at("carol", a, now), None);
        // A third new guess from the address throttles it; two more new ones, the account.
        t.failed_at("carol", "x", a, now);
        assert_eq!(t.refusal_at("dave", a, now), Some(S));
        assert_eq!(t.refusal_at("alice", None, now), None);
        t.failed_at("alice", "y", None, now);
        t.failed_at("alice", "z", None, now);
        assert_eq!(t.refusal_at("alice", None, now), Some(S));
        // Cycling through more guesses than a record remembers counts every one.
        let t = Throttle::new(policy(8));
        for i in 0..8 {
            t.failed_at("alice", &format!("g{}", i % (RECENT + 1)), None, now);
        }
        assert_eq!(t.refusal_at("alice", None, now), Some(S));
    }

    #[test]
    fn backoff_starts_at_the_limit_and_doubles_to_the_cap() {
        let p = policy(3);
        let got: Vec<u64> = (0..9).map(|n| p.backoff_after(n).as_secs()).collect();
        assert_eq!(got, [0, 0, 0, 1, 2, 4, 8, 8, 8]);
        assert_eq!(policy(3).backoff_after(u32::MAX), 8 * S);
        assert_eq!(policy(0).backoff_after(100), Duration::ZERO);
    }

    #[test]
    fn account_and_address_limits() {
        let t = Throttle::new(policy(3));
        let now = Instant::now();
        let a = ip("192.0.2.1");
        for _ in 0..2 {
            fail(&t, "alice", a, now);
        }
        assert_eq!(t.refusal_at("alice", a, now), None);
        fail(&t, "alice", a, now);
        // The account, from any address; the address, for any account.
        assert_eq!(t.refusal_at("alice", ip("198.51.100.7"), now), Some(S));
        assert_eq!(t.refusal_at("bob", a, now), Some(S));
        assert_eq!(t.refusal_at("bob", ip("198.51.100.7"), now), None);
        assert_eq!(t.refusal_at("alice", a, now + S), None);
        // A further failure doubles; a success resets the account but not the address.
        fail(&t, "alice", a, now + S);
        assert_eq!(t.refusal_at("alice", None, now + S), Some(2 * S));
        t.succeeded_at("alice", ip("203.0.113.9"), now + 3 * S);
        assert_eq!(t.refusal_at("alice", None, now + 3 * S), None);
        fail(&t, "carol", a, now + 3 * S);
        assert_eq!(t.refusal_at("dave", a, now + 3 * S), Some(4 * S));
        // Forgotten after the window without failures.
        fail(&t, "erin", None, now + 10 * S);
        assert_eq!(t.refusal_at("dave", a, now + 80 * S), None);
        fail(&t, "dave", a, now + 80 * S);
        assert_eq!(t.refusal_at("dave", a, now + 80 * S), None);
    }

    #[test]
    fn a_known_address_is_exempt_from_the_account_backoff_only() {
        let t = Throttle::new(policy(2));
        let now = Instant::now();
        let (home, attacker) = (ip("192.0.2.1"), ip("198.51.100.7"));
        t.succeeded_at("alice", home, now);
        fail(&t, "alice", attacker, now);
        fail(&t, "alice", attacker, now);
        assert_eq!(t.refusal_at("alice", attacker, now), Some(S));
        assert_eq!(t.refusal_at("alice", ip("203.0.113.1"), now), Some(S));
        assert_eq!(t.refusal_at("alice", home, now), None);
        // Not from a throttled address, though.
        fail(&t, "bob", home, now);
        fail(&t, "bob", home, now);
        assert_eq!(t.refusal_at("alice", home, now), Some(S));
        // And not forever.
        let t = Throttle::new(policy(1));
        t.succeeded_at("alice", home, now);
        fail(&t, "alice", attacker, now + KNOWN_FOR);
        assert_eq!(t.refusal_at("alice", home, now + KNOWN_FOR), Some(S));
    }

    #[test]
    fn ipv6_counts_by_slash_64_and_mapped_ipv4_as_ipv4() {
        let t = Throttle::new(policy(2));
        let now = Instant::now();
        fail(&t, "a", ip("2001:db8:1:2::1"), now);
        fail(&t, "b", ip("2001:db8:1:2:ffff::9"), now);
        assert_eq!(t.refusal_at("c", ip("2001:db8:1:2::77"), now), Some(S));
        assert_eq!(t.refusal_at("c", ip("2001:db8:1:3::1"), now), None);
        fail(&t, "d", ip("192.0.2.1"), now);
        fail(&t, "e", ip("::ffff:192.0.2.1"), now);
        assert_eq!(t.refusal_at("f", ip("192.0.2.1"), now), Some(S));
    }

    #[test]
    fn disabled_tracks_nothing() {
        let t = Throttle::new(policy(0));
        let now = Instant::now();
        for _ in 0..100 {
            fail(&t, "alice", ip("192.0.2.1"), now);
        }
        assert_eq!(t.refusal_at("alice", ip("192.0.2.1"), now), None);
        assert!(t.is_empty());
    }

    #[test]
    fn the_table_is_bounded_and_keeps_recent_blocks() {
        let long = Policy { max_failures: 2, backoff: 1000 * S, backoff_max: 1000 * S, window: 2000 * S };
        let t = Throttle::with_capacity(long, 100);
        let now = Instant::now();
        fail(&t, "target", None, now);
        fail(&t, "target", None, now);
        for i in 0..1000u32 {
            // Then a spray from ever new addresses with ever new names.
            let a = IpAddr::V4(std::net::Ipv4Addr::from(0x0a00_0000 + i));
            fail(&t, &format!("name{i}"), Some(a), now + S * (i / 10));
            assert!(t.len() <= 100, "{}", t.len());
        }
        assert!(t.refusal_at("target", None, now + 100 * S).is_some());
    }
}
