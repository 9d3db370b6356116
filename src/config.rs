//! Configuration: `/etc/taxiid/taxiid.conf` in postgresql.conf style (`key = value`, `#`
//! comments, dotted keys), overridden by `TAXIID_*` environment variables, secrets optionally
//! read from files. This module only parses and validates; it opens no sockets or databases.
//! Every key and its default is documented in `etc/taxiid.conf`.

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

pub const DEFAULT_PATH: &str = "/etc/taxiid/taxiid.conf";

/// One `listen` entry; `tls` listeners use `tls.certificate` and `tls.private_key`.
#[derive(Clone, Debug, PartialEq)]
pub struct Listen {
    pub bind: Bind,
    pub tls: bool,
}

/// Where a listener's socket comes from.
#[derive(Clone, Debug, PartialEq)]
pub enum Bind {
    /// taxiid binds the address itself.
    Addr(SocketAddr),
    /// Every socket systemd passes (`LISTEN_FDS`, from `taxiid.socket`): binding port 443
    /// then needs no capability at all.
    Systemd,
}

impl std::fmt::Display for Listen {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.bind {
            Bind::Addr(a) => write!(f, "{a}")?,
            Bind::Systemd => f.write_str("systemd")?,
        }
        if self.tls { f.write_str(" tls") } else { Ok(()) }
    }
}

#[derive(Clone, Debug)]
pub struct HttpConfig {
    pub workers: usize,
    pub max_connections: usize,
    pub max_body_bytes: u64,
    pub header_timeout: Duration,
    pub keepalive_timeout: Duration,
    pub min_body_rate: u64,
    pub io_timeout: Duration,
    pub shutdown_grace: Duration,
    pub return_server_error_details: bool,
}

#[derive(Clone, Debug)]
pub struct DatabaseConfig {
    /// URL (`postgresql://…`) or key=value conninfo.
    pub url: String,
    /// From `database.password_file`; overrides a password in the URL.
    pub password: Option<String>,
    pub pool_size: u32,
    pub ca_file: Option<PathBuf>,
    pub statement_timeout: Duration,
    pub startup_wait: Duration,
}

#[derive(Clone, Debug)]
pub struct AuthConfig {
    pub secret: Option<String>,
    /// Format of new password hashes: werkzeug `scrypt` (default) or `pbkdf2` (verifiable by
    /// the Werkzeug of OpenTAXII 0.9.3, for sites that may roll back).
    pub password_hash: crate::auth::password::Scheme,
    pub support_basic_auth: bool,
    pub token_ttl: Duration,
    /// Failed-login throttling: `auth.max_failed_logins` (0: off), `auth.failed_login_backoff`,
    /// `auth.failed_login_backoff_max`, `auth.failed_login_window`.
    pub throttle: crate::auth::throttle::Policy,
}

#[derive(Clone, Debug)]
pub struct Taxii1Config {
    pub save_raw_inbox_messages: bool,
    pub count_blocks_in_poll_responses: bool,
    pub unauthorized_status: String,
}

#[derive(Clone, Debug)]
pub struct Taxii2Config {
    pub title: String,
    pub description: Option<String>,
    pub contact: Option<String>,
    pub public_discovery: bool,
    pub max_content_length: u64,
    pub max_page_size: u32,
}

#[derive(Clone, Debug)]
pub struct Config {
    pub listen: Vec<Listen>,
    pub tls_certificate: Option<PathBuf>,
    pub tls_private_key: Option<PathBuf>,
    /// Public base URL (`https://taxii.example.org`), used for absolute URLs in responses.
    pub domain: Option<String>,
    pub http: HttpConfig,
    pub database: DatabaseConfig,
    pub auth: AuthConfig,
    pub taxii1: Taxii1Config,
    pub taxii2: Taxii2Config,
    /// `GET /management/metrics` answers anonymous callers too (else admins only).
    pub metrics_public: bool,
    pub log_level: log::LevelFilter,
    /// `TAXIID_*` environment variables that name no setting (a typo would otherwise go
    /// unnoticed): reported by [`Config::warn_ignored_env`] once logging is up.
    pub ignored_env: Vec<String>,
}

impl Default for Config {
    fn default() -> Self {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        Config {
            listen: vec![Listen { bind: Bind::Addr("127.0.0.1:9000".parse().unwrap()), tls: false }],
            tls_certificate: None,
            tls_private_key: None,
            domain: None,
            http: HttpConfig {
                workers: (4 * cores).max(16),
                max_connections: 10_000,
                max_body_bytes: 209_715_200,
                header_timeout: Duration::from_secs(10),
                keepalive_timeout: Duration::from_secs(5),
                min_body_rate: 1024,
                io_timeout: Duration::from_secs(30),
                shutdown_grace: Duration::from_secs(20),
                return_server_error_details: false,
            },
            database: DatabaseConfig {
                url: "postgresql://taxiid@localhost/taxiid".into(),
                password: None,
                pool_size: 16,
                ca_file: None,
                statement_timeout: Duration::from_secs(30),
                startup_wait: Duration::from_secs(30),
            },
            auth: AuthConfig {
                secret: None,
                password_hash: crate::auth::password::Scheme::Scrypt,
                support_basic_auth: true,
                token_ttl: Duration::from_secs(3600),
                throttle: crate::auth::throttle::Policy::default(),
            },
            taxii1: Taxii1Config {
                save_raw_inbox_messages: true,
                count_blocks_in_poll_responses: false,
                unauthorized_status: "UNAUTHORIZED".into(),
            },
            taxii2: Taxii2Config {
                title: "taxiid TAXII 2.1 server".into(),
                description: None,
                contact: None,
                public_discovery: true,
                max_content_length: 209_715_200,
                max_page_size: 1000,
            },
            metrics_public: false,
            log_level: log::LevelFilter::Info,
            ignored_env: Vec::new(),
        }
    }
}

/// Every key the file may hold. Anything else is an error naming file, line and key.
pub const KEYS: &[&str] = &[
    "listen",
    "domain",
    "tls.certificate",
    "tls.private_key",
    "http.workers",
    "http.max_connections",
    "http.max_body_bytes",
    "http.header_timeout",
    "http.keepalive_timeout",
    "http.min_body_rate",
    "http.io_timeout",
    "http.shutdown_grace",
    "http.return_server_error_details",
    "database.url",
    "database.password_file",
    "database.pool_size",
    "database.ca_file",
    "database.statement_timeout",
    "database.startup_wait",
    "auth.secret",
    "auth.secret_file",
    "auth.support_basic_auth",
    "auth.token_ttl",
    "auth.password_hash",
    "auth.max_failed_logins",
    "auth.failed_login_backoff",
    "auth.failed_login_backoff_max",
    "auth.failed_login_window",
    "taxii1.save_raw_inbox_messages",
    "taxii1.count_blocks_in_poll_responses",
    "taxii1.unauthorized_status",
    "taxii2.title",
    "taxii2.description",
    "taxii2.contact",
    "taxii2.public_discovery",
    "taxii2.max_content_length",
    "taxii2.max_page_size",
    "metrics.public",
    "log.level",
];

impl Config {
    /// Reads `path` (a missing file is an error unless `allow_missing`), then the environment.
    pub fn load(path: &Path, allow_missing: bool) -> Result<Config, String> {
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && allow_missing => String::new(),
            Err(e) => return Err(format!("{}: {e}", path.display())),
        };
        let env: Vec<(String, String)> = std::env::vars().filter(|(k, _)| k.starts_with("TAXIID_")).collect();
        Config::from_sources(&path.display().to_string(), &text, &env)
    }

    /// Parses file text, then applies `TAXIID_*` overrides (`TAXIID_DATABASE_URL` → `database.url`).
    pub fn from_sources(file: &str, text: &str, env: &[(String, String)]) -> Result<Config, String> {
        let mut cfg = Config::default();
        let mut listen_from_file: Vec<Listen> = Vec::new();
        for (n, raw) in text.lines().enumerate() {
            let line = strip_comment(raw).trim();
            if line.is_empty() {
                continue;
            }
            let at = |msg: String| format!("{file}:{}: {msg}", n + 1);
            let (key, value) =
                line.split_once('=').ok_or_else(|| at(format!("expected `key = value`, got `{line}`")))?;
            let key = key.trim();
            let value = unquote(value.trim());
            if key == "listen" {
                // Several `listen` lines add up; the default applies only when none is given.
                listen_from_file.extend(parse_listen(&value).map_err(|e| at(format!("{key}: {e}")))?);
                continue;
            }
            cfg.set(key, &value).map_err(|e| at(format!("{key}: {e}")))?;
        }
        if !listen_from_file.is_empty() {
            cfg.listen = listen_from_file;
        }
        for (name, value) in env {
            let Some(key) = env_key(name) else {
                cfg.ignored_env.push(name.clone());
                continue;
            };
            if key == "listen" {
                cfg.listen = parse_listen(value).map_err(|e| format!("environment {name}: {e}"))?;
                continue;
            }
            cfg.set(&key, value).map_err(|e| format!("environment {name}: {e}"))?;
        }
        cfg.validate().map_err(|e| format!("{file}: {e}"))?;
        Ok(cfg)
    }

    /// One line per ignored `TAXIID_*` variable, naming it (never its value: it may be a secret).
    pub fn ignored_env_warnings(&self) -> impl Iterator<Item = String> + '_ {
        self.ignored_env
            .iter()
            .map(|name| format!("environment variable {name} names no setting and is ignored"))
    }

    /// [`Config::ignored_env_warnings`] in the log, once logging is up.
    pub fn warn_ignored_env(&self) {
        self.ignored_env_warnings().for_each(|w| log::warn!("{w}"));
    }

    fn set(&mut self, key: &str, v: &str) -> Result<(), String> {
        match key {
            "domain" => self.domain = non_empty(v).map(|d| d.trim_end_matches('/').to_string()),
            "tls.certificate" => self.tls_certificate = non_empty(v).map(PathBuf::from),
            "tls.private_key" => self.tls_private_key = non_empty(v).map(PathBuf::from),
            "http.workers" => self.http.workers = parse_count(v, 1, 4096)?,
            "http.max_connections" => self.http.max_connections = parse_count(v, 1, 1_000_000)?,
            "http.max_body_bytes" => self.http.max_body_bytes = parse_size(v)?,
            "http.header_timeout" => self.http.header_timeout = parse_duration(v)?,
            "http.keepalive_timeout" => self.http.keepalive_timeout = parse_duration(v)?,
            "http.min_body_rate" => self.http.min_body_rate = parse_size(v.trim_end_matches("/s"))?,
            "http.io_timeout" => self.http.io_timeout = parse_duration(v)?,
            "http.shutdown_grace" => self.http.shutdown_grace = parse_duration(v)?,
            "http.return_server_error_details" => self.http.return_server_error_details = parse_bool(v)?,
            "database.url" => self.database.url = v.to_string(),
            "database.password_file" => self.database.password = non_empty(v).map(read_secret).transpose()?,
            "database.pool_size" => self.database.pool_size = parse_count(v, 1, 1000)? as u32,
            "database.ca_file" => self.database.ca_file = non_empty(v).map(PathBuf::from),
            "database.statement_timeout" => self.database.statement_timeout = parse_duration(v)?,
            "database.startup_wait" => self.database.startup_wait = parse_duration(v)?,
            "auth.secret" => self.auth.secret = non_empty(v).map(str::to_string),
            "auth.secret_file" => {
                if let Some(path) = non_empty(v) {
                    self.auth.secret = Some(read_secret(path)?);
                }
            }
            "auth.support_basic_auth" => self.auth.support_basic_auth = parse_bool(v)?,
            "auth.token_ttl" => self.auth.token_ttl = parse_duration(v)?,
            "auth.password_hash" => {
                self.auth.password_hash = match v {
                    "scrypt" => crate::auth::password::Scheme::Scrypt,
                    "pbkdf2" => crate::auth::password::Scheme::Pbkdf2,
                    _ => return Err(format!("`{v}` is not one of scrypt, pbkdf2")),
                }
            }
            "auth.max_failed_logins" => {
                self.auth.throttle.max_failures = parse_count(v, 0, 1_000_000)? as u32
            }
            "auth.failed_login_backoff" => self.auth.throttle.backoff = parse_duration(v)?,
            "auth.failed_login_backoff_max" => self.auth.throttle.backoff_max = parse_duration(v)?,
            "auth.failed_login_window" => self.auth.throttle.window = parse_duration(v)?,
            "taxii1.save_raw_inbox_messages" => self.taxii1.save_raw_inbox_messages = parse_bool(v)?,
            "taxii1.count_blocks_in_poll_responses" => {
                self.taxii1.count_blocks_in_poll_responses = parse_bool(v)?
            }
            "taxii1.unauthorized_status" => {
                self.taxii1.unauthorized_status = match v {
                    "UNAUTHORIZED" | "DENIED" | "FAILURE" => v.to_string(),
                    _ => return Err(format!("`{v}` is not one of UNAUTHORIZED, DENIED, FAILURE")),
                }
            }
            "taxii2.title" => self.taxii2.title = v.to_string(),
            "taxii2.description" => self.taxii2.description = non_empty(v).map(str::to_string),
            "taxii2.contact" => self.taxii2.contact = non_empty(v).map(str::to_string),
            "taxii2.public_discovery" => self.taxii2.public_discovery = parse_bool(v)?,
            "taxii2.max_content_length" => self.taxii2.max_content_length = parse_size(v)?,
            "taxii2.max_page_size" => self.taxii2.max_page_size = parse_count(v, 1, 100_000)? as u32,
            "metrics.public" => self.metrics_public = parse_bool(v)?,
            "log.level" => self.log_level = parse_level(v)?,
            _ => return Err("unknown key".to_string()),
        }
        Ok(())
    }

    fn validate(&self) -> Result<(), String> {
        if self.listen.iter().any(|l| l.tls)
            && (self.tls_certificate.is_none() || self.tls_private_key.is_none())
        {
            return Err("a `tls` listener needs tls.certificate and tls.private_key".into());
        }
        if self.listen.iter().filter(|l| l.bind == Bind::Systemd).count() > 1 {
            return Err("listen: `systemd` takes every passed socket, so it may appear only once".into());
        }
        if self.http.header_timeout.is_zero() || self.http.io_timeout.is_zero() {
            return Err("http.header_timeout and http.io_timeout must be positive".into());
        }
        // 0 would let a client that stops mid-body hold a worker for ever.
        if self.http.min_body_rate == 0 {
            return Err("http.min_body_rate must be positive".into());
        }
        let t = &self.auth.throttle;
        if t.max_failures > 0 {
            if t.backoff.is_zero() || t.backoff > t.backoff_max {
                return Err(
                    "auth.failed_login_backoff must be positive and at most auth.failed_login_backoff_max"
                        .into(),
                );
            }
            // A record forgotten before its backoff ends would give a guesser a fresh count.
            if t.backoff_max > t.window || t.window > Duration::from_secs(30 * 86_400) {
                return Err(
                    "auth.failed_login_window must be at least auth.failed_login_backoff_max and at most 30d"
                        .into(),
                );
            }
        }
        if let Some(d) = &self.domain
            && !(d.starts_with("http://") || d.starts_with("https://"))
        {
            return Err(format!("domain: `{d}` must start with http:// or https://"));
        }
        Ok(())
    }

    /// The effective configuration as `key = value` lines, secrets masked (`check-config`).
    pub fn render(&self) -> String {
        let mut o = String::new();
        let opt = |p: &Option<PathBuf>| p.as_ref().map(|p| p.display().to_string()).unwrap_or_default();
        let secs = |d: Duration| format!("{}ms", d.as_millis());
        let listen: Vec<String> = self.listen.iter().map(Listen::to_string).collect();
        let lines: Vec<(&str, String)> = vec![
            ("listen", listen.join(", ")),
            ("domain", self.domain.clone().unwrap_or_default()),
            ("tls.certificate", opt(&self.tls_certificate)),
            ("tls.private_key", opt(&self.tls_private_key)),
            ("http.workers", self.http.workers.to_string()),
            ("http.max_connections", self.http.max_connections.to_string()),
            ("http.max_body_bytes", self.http.max_body_bytes.to_string()),
            ("http.header_timeout", secs(self.http.header_timeout)),
            ("http.keepalive_timeout", secs(self.http.keepalive_timeout)),
            ("http.min_body_rate", self.http.min_body_rate.to_string()),
            ("http.io_timeout", secs(self.http.io_timeout)),
            ("http.shutdown_grace", secs(self.http.shutdown_grace)),
            ("http.return_server_error_details", yes(self.http.return_server_error_details)),
            ("database.url", mask_url(&self.database.url)),
            ("database.password", mask(&self.database.password)),
            ("database.pool_size", self.database.pool_size.to_string()),
            ("database.ca_file", opt(&self.database.ca_file)),
            ("database.statement_timeout", secs(self.database.statement_timeout)),
            ("database.startup_wait", secs(self.database.startup_wait)),
            ("auth.secret", mask(&self.auth.secret)),
            ("auth.support_basic_auth", yes(self.auth.support_basic_auth)),
            ("auth.token_ttl", secs(self.auth.token_ttl)),
            (
                "auth.password_hash",
                if self.auth.password_hash == crate::auth::password::Scheme::Pbkdf2 {
                    "pbkdf2"
                } else {
                    "scrypt"
                }
                .into(),
            ),
            ("auth.max_failed_logins", self.auth.throttle.max_failures.to_string()),
            ("auth.failed_login_backoff", secs(self.auth.throttle.backoff)),
            ("auth.failed_login_backoff_max", secs(self.auth.throttle.backoff_max)),
            ("auth.failed_login_window", secs(self.auth.throttle.window)),
            ("taxii1.save_raw_inbox_messages", yes(self.taxii1.save_raw_inbox_messages)),
            ("taxii1.count_blocks_in_poll_responses", yes(self.taxii1.count_blocks_in_poll_responses)),
            ("taxii1.unauthorized_status", self.taxii1.unauthorized_status.clone()),
            ("taxii2.title", self.taxii2.title.clone()),
            ("taxii2.description", self.taxii2.description.clone().unwrap_or_default()),
            ("taxii2.contact", self.taxii2.contact.clone().unwrap_or_default()),
            ("taxii2.public_discovery", yes(self.taxii2.public_discovery)),
            ("taxii2.max_content_length", self.taxii2.max_content_length.to_string()),
            ("taxii2.max_page_size", self.taxii2.max_page_size.to_string()),
            ("metrics.public", yes(self.metrics_public)),
            ("log.level", self.log_level.to_string().to_lowercase()),
        ];
        for (k, v) in lines {
            let _ = writeln!(o, "{k} = {v}");
        }
        o
    }
}

fn yes(b: bool) -> String {
    if b { "yes" } else { "no" }.to_string()
}

fn mask(s: &Option<String>) -> String {
    if s.is_some() { "********".into() } else { String::new() }
}

/// Hides the password of a `postgresql://user:password@host` URL (also a `password=` query
/// parameter) or of a `password = value` conninfo pair. It reads the string the way the
/// postgres crate does (tests/fuzz found these): a conninfo whose values contain `://` is not a
/// URL, blanks may surround `=`, and a quoted value may contain blanks.
pub fn mask_url(url: &str) -> String {
    const MASK: &str = "********";
    let Some(rest) = url.strip_prefix("postgresql://").or_else(|| url.strip_prefix("postgres://")) else {
        return mask_conninfo(url);
    };
    let scheme = &url[..url.len() - rest.len()];
    // The postgres crate takes everything up to the first `@` as user:password.
    let (creds, tail) = match rest.split_once('@') {
        Some((creds, tail)) => (Some(creds), tail),
        None => (None, rest),
    };
    let mut out = scheme.to_string();
    if let Some(creds) = creds {
        match creds.split_once(':') {
            Some((user, _)) => out.push_str(&format!("{user}:{MASK}@")),
            None => out.push_str(&format!("{creds}@")),
        }
    }
    let Some((base, mut query)) = tail.split_once('?') else { return out + tail };
    out.push_str(base);
    out.push('?');
    // Parameters as the postgres crate splits them: key up to `=`, value up to `&`; a key with
    // a percent escape might decode to `password`.
    while let Some((key, after)) = query.split_once('=') {
        let (value, next) = after.split_once('&').map_or((after, None), |(v, n)| (v, Some(n)));
        let secret = key == "password" || key.contains('%');
        out.push_str(&format!("{key}={}", if secret { MASK } else { value }));
        match next {
            Some(n) => {
                out.push('&');
                query = n;
            }
            None => return out,
        }
    }
    out + query
}

/// `key = value ...` with libpq's quoting: the value of `password` becomes `********`.
fn mask_conninfo(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while !rest.is_empty() {
        let key_start = rest.trim_start();
        let key_len = key_start.find(|c: char| c == '=' || c.is_whitespace()).unwrap_or(key_start.len());
        let after_key = key_start[key_len..].trim_start();
        let Some(value_start) = after_key.strip_prefix('=').map(str::trim_start) else {
            // Not `key = value`: the postgres crate refuses it, so nothing here is a password.
            out.push_str(rest);
            break;
        };
        let value_len = conninfo_value_len(value_start);
        out.push_str(&rest[..rest.len() - value_start.len()]);
        out.push_str(if &key_start[..key_len] == "password" {
            "********"
        } else {
            &value_start[..value_len]
        });
        rest = &value_start[value_len..];
    }
    out
}

/// Bytes of a conninfo value: up to a blank, or a `'…'` quoted value; `\` escapes a character.
fn conninfo_value_len(v: &str) -> usize {
    let quoted = v.starts_with('\'');
    let mut chars = v.char_indices().skip(usize::from(quoted));
    while let Some((i, c)) = chars.next() {
        match c {
            '\\' => {
                chars.next();
            }
            '\'' if quoted => return i + 1,
            c if !quoted && c.is_whitespace() => return i,
            _ => {}
        }
    }
    v.len()
}

fn env_key(name: &str) -> Option<String> {
    let rest = name.strip_prefix("TAXIID_")?.to_ascii_lowercase();
    // TAXIID_DATABASE_URL → database.url: the first `_` is the section dot when a section matches.
    let key = KEYS.iter().find(|k| k.replace('.', "_") == rest)?;
    Some(key.to_string())
}

fn strip_comment(line: &str) -> &str {
    // `#` starts a comment unless inside quotes.
    let mut quoted = false;
    for (i, c) in line.char_indices() {
        match c {
            '"' | '\'' => quoted = !quoted,
            '#' if !quoted => return &line[..i],
            _ => {}
        }
    }
    line
}

fn unquote(v: &str) -> String {
    for q in ['"', '\''] {
        if v.len() >= 2 && v.starts_with(q) && v.ends_with(q) {
            return v[1..v.len() - 1].to_string();
        }
    }
    v.to_string()
}

fn non_empty(v: &str) -> Option<&str> {
    if v.is_empty() { None } else { Some(v) }
}

fn read_secret(path: &str) -> Result<String, String> {
    // `$CREDENTIALS_DIRECTORY/name` works with systemd's LoadCredential=.
    let expanded = match (path.strip_prefix("$CREDENTIALS_DIRECTORY"), std::env::var("CREDENTIALS_DIRECTORY"))
    {
        (Some(rest), Ok(dir)) => format!("{dir}{rest}"),
        _ => path.to_string(),
    };
    let s = std::fs::read_to_string(&expanded).map_err(|e| format!("cannot read {expanded}: {e}"))?;
    let s = s.trim_end_matches(['\r', '\n']).to_string();
    if s.is_empty() {
        return Err(format!("{expanded} is empty"));
    }
    Ok(s)
}

pub fn parse_listen(v: &str) -> Result<Vec<Listen>, String> {
    let mut out = Vec::new();
    for item in v.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let mut words = item.split_whitespace();
        let addr = words.next().unwrap_or_default();
        let bind = match addr {
            "systemd" => Bind::Systemd,
            _ => Bind::Addr(
                addr.parse()
                    .map_err(|_| format!("`{addr}` is not an address like 127.0.0.1:9000, nor `systemd`"))?,
            ),
        };
        let tls = match words.next() {
            None => false,
            Some("tls") => true,
            Some(w) => return Err(format!("unexpected `{w}` after address (only `tls` may follow)")),
        };
        if let Some(w) = words.next() {
            return Err(format!("unexpected `{w}`"));
        }
        out.push(Listen { bind, tls });
    }
    if out.is_empty() {
        return Err("no address".into());
    }
    Ok(out)
}

pub fn parse_bool(v: &str) -> Result<bool, String> {
    match v.to_ascii_lowercase().as_str() {
        "yes" | "true" | "on" | "1" => Ok(true),
        "no" | "false" | "off" | "0" => Ok(false),
        _ => Err(format!("`{v}` is not a boolean (yes/no)")),
    }
}

fn parse_count(v: &str, min: usize, max: usize) -> Result<usize, String> {
    let n: usize = v.parse().map_err(|_| format!("`{v}` is not a whole number"))?;
    if n < min || n > max {
        return Err(format!("{n} is outside {min}..={max}"));
    }
    Ok(n)
}

/// `30`, `30s`, `500ms`, `5 min`, `24h`, `7d`; a bare number is seconds.
pub fn parse_duration(v: &str) -> Result<Duration, String> {
    let v = v.trim();
    let split = v.find(|c: char| !c.is_ascii_digit()).unwrap_or(v.len());
    let (num, unit) = v.split_at(split);
    let n: u64 = num.parse().map_err(|_| format!("`{v}` is not a duration like 30s"))?;
    let ms = match unit.trim() {
        "ms" => n,
        "" | "s" | "sec" => n.saturating_mul(1000),
        "m" | "min" => n.saturating_mul(60_000),
        "h" => n.saturating_mul(3_600_000),
        "d" => n.saturating_mul(86_400_000),
        u => return Err(format!("unknown unit `{u}` in `{v}` (ms, s, min, h, d)")),
    };
    Ok(Duration::from_millis(ms))
}

/// `1024`, `16kB`, `1KiB`, `200MB`, `1GiB`; a bare number is bytes.
pub fn parse_size(v: &str) -> Result<u64, String> {
    let v = v.trim();
    let split = v.find(|c: char| !c.is_ascii_digit()).unwrap_or(v.len());
    let (num, unit) = v.split_at(split);
    let n: u64 = num.parse().map_err(|_| format!("`{v}` is not a size like 16KiB"))?;
    let mult: u64 = match unit.trim() {
        "" | "B" => 1,
        "kB" | "KB" => 1000,
        "KiB" => 1024,
        "MB" => 1_000_000,
        "MiB" => 1 << 20,
        "GB" => 1_000_000_000,
        "GiB" => 1 << 30,
        u => return Err(format!("unknown unit `{u}` in `{v}` (B, kB, KiB, MB, MiB, GB, GiB)")),
    };
    n.checked_mul(mult).ok_or_else(|| format!("`{v}` is too large"))
}

pub fn parse_level(v: &str) -> Result<log::LevelFilter, String> {
    v.parse().map_err(|_| format!("`{v}` is not one of off, error, warn, info, debug, trace"))
}
