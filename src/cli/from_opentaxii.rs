//! `taxiid config from-opentaxii OPENTAXII.yml [--env] [--include-secrets]`: prints the
//! taxiid.conf equivalent to an OpenTAXII server configuration. The file is merged over
//! OpenTAXII's defaults (and, with `--env`, its `OPENTAXII_*` variables) as OpenTAXII does,
//! then each option becomes a taxiid key, or a comment saying why it has no equivalent. Every
//! line says where its value came from. Secrets (the JWT secret, a database password) are
//! printed only with `--include-secrets`. Reads files only; touches no database.

use std::fmt::Write as _;

use pico_args::Arguments;

use super::Usage;
use super::yaml::{self, Kind, Node};

/// OpenTAXII 0.9.3's built-in defaults, under which it reads its configuration file.
const OPENTAXII_DEFAULTS: &str = "
domain: localhost:9000
support_basic_auth: yes
return_server_error_details: no
auth_api:
  class: opentaxii.auth.sqldb.SQLDatabaseAPI
  parameters: {db_connection: 'sqlite:////tmp/auth.db', create_tables: yes,
               secret: SECRET-STRING-NEEDS-TO-BE-CHANGED, token_ttl_secs: 3600}
taxii1:
  save_raw_inbox_messages: yes
  xml_parser_supports_huge_tree: yes
  count_blocks_in_poll_responses: no
  unauthorized_status: UNAUTHORIZED
  hooks:
  persistence_api:
    class: opentaxii.persistence.sqldb.SQLDatabaseAPI
    parameters: {db_connection: 'sqlite:////tmp/data.db', create_tables: yes}
taxii2:
logging: {opentaxii: info, root: info}
";

/// Where a value came from, encoded in `Node::line`.
const FROM_DEFAULTS: usize = 0;
const FROM_ENV: usize = usize::MAX;
const LEGACY_TAXII1: &[&str] = &[
    "persistence_api",
    "save_raw_inbox_messages",
    "xml_parser_supports_huge_tree",
    "count_blocks_in_poll_responses",
    "unauthorized_status",
    "hooks",
];

pub fn run(p: &mut Arguments) -> Result<i32, Usage> {
    let action: String = p
        .opt_free_from_str()
        .map_err(|e| Usage(e.to_string()))?
        .ok_or_else(|| Usage("missing action (from-opentaxii)".into()))?;
    if action != "from-opentaxii" {
        return Err(Usage(format!("unknown config action `{action}`")));
    }
    let use_env = p.contains("--env");
    let secrets = p.contains("--include-secrets");
    let file: String = p
        .opt_free_from_str()
        .map_err(|e| Usage(e.to_string()))?
        .ok_or_else(|| Usage("missing OPENTAXII.yml".into()))?;
    super::finish_args(p)?;
    let env: Vec<(String, String)> =
        std::env::vars().filter(|(k, _)| k.starts_with("OPENTAXII_") && k != "OPENTAXII_CONFIG").collect();
    let text = match std::fs::read_to_string(&file) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("taxiid config: {file}: {e}");
            return Ok(1);
        }
    };
    match convert(&file, &text, if use_env { &env } else { &[] }, secrets) {
        Ok(out) => {
            print!("{out}");
            if !use_env && !env.is_empty() {
                eprintln!(
                    "taxiid config: {} OPENTAXII_* environment variables were not applied (--env applies them)",
                    env.len()
                );
            }
            Ok(0)
        }
        Err(e) => {
            eprintln!("taxiid config: {e}");
            Ok(1)
        }
    }
}

/// The taxiid.conf text for an OpenTAXII configuration file and `OPENTAXII_*` variables.
pub fn convert(file: &str, text: &str, env: &[(String, String)], secrets: bool) -> Result<String, String> {
    let user = yaml::parse(text).map_err(|(line, msg)| format!("{file}:{line}: {msg}"))?;
    if !matches!(user.kind, Kind::Map(_) | Kind::Null) {
        return Err(format!(
            "{file}:{}: expected a mapping of options, found {}",
            user.line,
            user.describe()
        ));
    }
    let mut cfg = yaml::parse(OPENTAXII_DEFAULTS).map_err(|(_, m)| m)?;
    mark(&mut cfg, FROM_DEFAULTS);
    merge(&mut cfg, user);
    for (name, value) in env {
        let path: Vec<String> = name["OPENTAXII_".len()..]
            .trim_start_matches('_')
            .to_lowercase()
            .split("__")
            .map(String::from)
            .collect();
        let mut v = yaml::parse(value).map_err(|(_, m)| format!("environment {name}: {m}"))?;
        mark(&mut v, FROM_ENV);
        set(&mut cfg, &path, v);
    }
    let mut out = Out { file: file.to_string(), text: String::new(), secrets };
    out.text.push_str(&format!(
        "# taxiid.conf converted from the OpenTAXII configuration {file} by `taxiid config from-opentaxii`.\n\
         # Review every line, then validate it: taxiid check-config --config FILE\n"
    ));
    out.convert(cfg);
    Ok(out.text)
}

/// Marks every node of a tree as coming from `origin`.
fn mark(n: &mut Node, origin: usize) {
    n.line = origin;
    match &mut n.kind {
        Kind::Seq(items) => items.iter_mut().for_each(|i| mark(i, origin)),
        Kind::Map(entries) => entries.iter_mut().for_each(|(k, v)| {
            mark(k, origin);
            mark(v, origin)
        }),
        _ => {}
    }
}

/// OpenTAXII's merge: mappings merge key by key, anything else replaces.
fn merge(base: &mut Node, top: Node) {
    match (&mut base.kind, top.kind) {
        (Kind::Map(b), Kind::Map(t)) => {
            for (k, v) in t {
                match b.iter_mut().find(|(bk, _)| bk.text == k.text) {
                    Some((_, bv)) if matches!(bv.kind, Kind::Map(_)) && matches!(v.kind, Kind::Map(_)) => {
                        merge(bv, v)
                    }
                    Some(slot) => *slot = (k, v),
                    None => b.push((k, v)),
                }
            }
        }
        (_, kind) => {
            base.kind = kind;
            base.line = top.line;
        }
    }
}

fn set(n: &mut Node, path: &[String], v: Node) {
    let Some((first, rest)) = path.split_first() else { return };
    if !matches!(n.kind, Kind::Map(_)) {
        n.kind = Kind::Map(Vec::new());
    }
    let Kind::Map(entries) = &mut n.kind else { return };
    let idx = match entries.iter().position(|(k, _)| &k.text == first) {
        Some(i) => i,
        None => {
            let key = Node { line: FROM_ENV, kind: Kind::Str(first.clone()), text: first.clone() };
            entries.push((key, Node { line: FROM_ENV, kind: Kind::Null, text: String::new() }));
            entries.len() - 1
        }
    };
    if rest.is_empty() {
        entries[idx].1 = v;
    } else {
        set(&mut entries[idx].1, rest, v);
    }
}

fn map_node(line: usize) -> Node {
    Node { line, kind: Kind::Map(Vec::new()), text: String::new() }
}

fn take(n: &mut Node, key: &str) -> Option<Node> {
    let Kind::Map(entries) = &mut n.kind else { return None };
    let i = entries.iter().position(|(k, _)| k.text == key)?;
    Some(entries.remove(i).1)
}

struct Out {
    file: String,
    text: String,
    secrets: bool,
}

impl Out {
    fn origin(&self, n: &Node, key: &str) -> String {
        match n.line {
            FROM_DEFAULTS => format!("{key}: OpenTAXII's default"),
            FROM_ENV => format!("{key}: from the environment"),
            line => format!("{key}: {}:{line}", self.file),
        }
    }

    fn section(&mut self, title: &str) {
        let _ = write!(self.text, "\n#--- {title}\n");
    }

    fn comment(&mut self, text: &str) {
        for line in text.lines() {
            let _ = writeln!(self.text, "# {line}");
        }
    }

    /// `key = value` under a comment naming the source. Values that the taxiid.conf parser
    /// would misread are quoted, or left commented out when no quoting works.
    fn key(&mut self, n: &Node, source: &str, key: &str, value: &str) {
        self.comment(&self.origin(n, source));
        let needs_quotes = value.contains(['#', '"', '\'']) || value.trim() != value;
        // The taxiid.conf reader strips one pair of outer quotes, and takes `#` as a comment
        // unless an odd number of quote characters precedes it.
        let line = if !needs_quotes {
            format!("{key} = {value}")
        } else if !(value.contains('#') && value.contains(['"', '\''])) {
            format!("{key} = \"{value}\"")
        } else {
            self.comment("the value mixes quotes and `#`, which taxiid.conf cannot express; set it by hand:");
            format!("#{key} = {value}")
        };
        let _ = writeln!(self.text, "{line}");
    }

    /// A value of the wrong type: said in a comment, no key written.
    fn bad(&mut self, n: &Node, source: &str, want: &str) {
        let shown = if n.text.is_empty() { n.describe().to_string() } else { format!("`{}`", n.text) };
        self.comment(&format!("{}: {shown} is not {want}; not converted", self.origin(n, source)));
    }

    fn boolean(&mut self, n: Option<Node>, source: &str, key: &str) {
        let Some(n) = n else { return };
        match n.kind {
            Kind::Bool(b) => self.key(&n, source, key, if b { "yes" } else { "no" }),
            _ => self.bad(&n, source, "a boolean"),
        }
    }

    fn text_key(&mut self, n: Option<Node>, source: &str, key: &str) {
        let Some(n) = n else { return };
        match &n.kind {
            Kind::Str(s) => {
                let s = s.clone();
                self.key(&n, source, key, &s)
            }
            Kind::Null => {}
            _ => self.bad(&n, source, "text"),
        }
    }

    fn convert(&mut self, mut cfg: Node) {
        // Top-level TAXII 1 options are moved under taxii1 (dropped when taxii1 is null).
        let taxii1_null = cfg.get("taxii1").is_some_and(|n| n.kind == Kind::Null);
        for key in LEGACY_TAXII1 {
            if let Some(v) = take(&mut cfg, key) {
                if taxii1_null {
                    self.comment(&format!(
                        "{}: dropped, as OpenTAXII drops it when taxii1 is null",
                        self.origin(&v, key)
                    ));
                } else {
                    // Merged into taxii1 as OpenTAXII does.
                    let mut moved = map_node(v.line);
                    set(&mut moved, &[key.to_string()], v);
                    let mut t1 = cfg.get("taxii1").cloned().unwrap_or_else(|| map_node(FROM_DEFAULTS));
                    merge(&mut t1, moved);
                    set(&mut cfg, &["taxii1".to_string()], t1);
                }
            }
        }

        self.section("listening and addresses");
        self.comment("OpenTAXII's listening address came from gunicorn (--bind), not from this file:");
        self.text.push_str("#listen = 127.0.0.1:9000\n");
        if let Some(d) = take(&mut cfg, "domain") {
            match &d.kind {
                Kind::Str(s) if s.contains("://") => {
                    let s = s.clone();
                    self.key(&d, "domain", "domain", &s)
                }
                Kind::Str(s) if !s.is_empty() => {
                    let s = format!("http://{s}");
                    self.comment(
                        "OpenTAXII prefixed http:// or https:// from each service's protocol binding;",
                    );
                    self.comment("check the scheme: https:// if clients reach taxiid through TLS.");
                    self.key(&d, "domain", "domain", &s);
                }
                _ => self.bad(&d, "domain", "host:port"),
            }
        }
        self.section("HTTP and authentication");
        self.boolean(take(&mut cfg, "support_basic_auth"), "support_basic_auth", "auth.support_basic_auth");
        if let Some(n) = take(&mut cfg, "return_server_error_details") {
            self.comment("OpenTAXII's own handler for this crashed, so its clients got bare HTML 500s;");
            self.comment("taxiid puts the error message into 500 responses when it is yes.");
            self.boolean(Some(n), "return_server_error_details", "http.return_server_error_details");
        }
        let auth_db = self.auth_api(take(&mut cfg, "auth_api"));
        self.section("TAXII 1");
        self.taxii1(take(&mut cfg, "taxii1"), auth_db.as_deref());
        self.section("TAXII 2.1");
        self.taxii2(take(&mut cfg, "taxii2"), auth_db.as_deref());
        self.section("logging");
        self.logging(take(&mut cfg, "logging"));
        if let Some(rest) = cfg.entries().filter(|e| !e.is_empty()) {
            self.section("options OpenTAXII does not know either");
            for (k, v) in rest {
                self.comment(&format!(
                    "{}: ignored (OpenTAXII ignores it with a warning)",
                    self.origin(v, &k.text)
                ));
            }
        }
    }

    /// Returns the database URL (without password) so the other backends can be compared.
    fn auth_api(&mut self, n: Option<Node>) -> Option<String> {
        let mut n = n?;
        self.section("database and accounts");
        if let Some(c) = take(&mut n, "class")
            && c.kind != Kind::Str("opentaxii.auth.sqldb.SQLDatabaseAPI".into())
        {
            self.comment(&format!(
                "{}: `{}` is a custom backend; taxiid has no plug-ins and keeps accounts in the `accounts` table",
                self.origin(&c, "auth_api.class"),
                c.text
            ));
        }
        let mut params = take(&mut n, "parameters")?;
        let url =
            self.db_connection(take(&mut params, "db_connection"), "auth_api.parameters.db_connection", true);
        if let Some(c) = take(&mut params, "create_tables") {
            self.comment(&format!(
                "{}: `taxiid migrate` (or serve --migrate) creates and updates the schema instead",
                self.origin(&c, "auth_api.parameters.create_tables")
            ));
        }
        if let Some(s) = take(&mut params, "secret") {
            let src = "auth_api.parameters.secret";
            match &s.kind {
                Kind::Str(v) if v == "SECRET-STRING-NEEDS-TO-BE-CHANGED" => {
                    self.comment(&format!(
                        "{}: OpenTAXII's placeholder, which taxiid refuses.",
                        self.origin(&s, src)
                    ));
                    self.comment("Generate a secret (tokens OpenTAXII issued will stop working), e.g.:");
                    self.comment("  head -c 32 /dev/urandom | base64 > /etc/taxiid/jwt-secret");
                    self.text.push_str("#auth.secret_file = /etc/taxiid/jwt-secret\n");
                }
                Kind::Str(v) if self.secrets => {
                    let v = v.clone();
                    self.comment("the same secret keeps tokens valid across OpenTAXII and taxiid; prefer auth.secret_file");
                    self.key(&s, src, "auth.secret", &v);
                }
                Kind::Str(_) => {
                    self.comment(&format!(
                        "{}: not printed (--include-secrets prints it).",
                        self.origin(&s, src)
                    ));
                    self.comment("Write it to a file only taxiid can read, so that tokens stay valid across both servers:");
                    self.text.push_str("#auth.secret_file = /etc/taxiid/jwt-secret\n");
                }
                _ => self.bad(&s, src, "text"),
            }
        }
        if let Some(t) = take(&mut params, "token_ttl_secs") {
            let src = "auth_api.parameters.token_ttl_secs";
            match t.kind {
                Kind::Int(secs) if secs > 0 => {
                    self.comment(&format!(
                        "OpenTAXII applied token_ttl_secs as minutes, so its tokens lived {} s; taxiid reads seconds.",
                        secs * 60
                    ));
                    self.comment(&format!(
                        "Set auth.token_ttl = {}s to keep OpenTAXII's lifetime.",
                        secs * 60
                    ));
                    self.key(&t, src, "auth.token_ttl", &format!("{secs}s"));
                }
                _ => self.bad(&t, src, "a positive number of seconds"),
            }
        }
        self.engine_options(params, "auth_api.parameters", true);
        url
    }

    /// `db_connection` → `database.url` (when `write`), with the password held back unless
    /// `--include-secrets`. Returns the URL without password.
    fn db_connection(&mut self, n: Option<Node>, src: &str, write: bool) -> Option<String> {
        let n = n?;
        let Kind::Str(url) = &n.kind else {
            self.bad(&n, src, "a database URL");
            return None;
        };
        let Some((scheme, rest)) = url.split_once("://") else {
            self.bad(&n, src, "a database URL");
            return None;
        };
        if !(scheme == "postgresql" || scheme == "postgres" || scheme.starts_with("postgresql+")) {
            self.comment(&format!(
                "{}: `{scheme}` database; taxiid needs PostgreSQL. Move the data into PostgreSQL first.",
                self.origin(&n, src)
            ));
            return None;
        }
        // user:password@host → user@host unless secrets are wanted.
        let end = rest.find(['/', '?']).unwrap_or(rest.len());
        let (authority, tail) = rest.split_at(end);
        let (userinfo, hostport) = match authority.rsplit_once('@') {
            Some((u, h)) => (Some(u), h),
            None => (None, authority),
        };
        let (user, password) = match userinfo.map(|u| u.split_once(':')) {
            Some(Some((u, p))) => (Some(u), Some(p)),
            Some(None) => (userinfo, None),
            None => (None, None),
        };
        let host = format!("{hostport}{tail}");
        let clean = format!("postgresql://{}{host}", user.map(|u| format!("{u}@")).unwrap_or_default());
        if write {
            if let Some(pw) = password
                && self.secrets
            {
                let full = format!("postgresql://{}:{pw}@{host}", user.unwrap_or_default());
                self.key(&n, src, "database.url", &full);
            } else {
                self.key(&n, src, "database.url", &clean);
            }
            if password.is_some() && !self.secrets {
                self.comment("the URL's password is not printed: put it in a file only taxiid can read:");
                self.text.push_str("#database.password_file = /etc/taxiid/db-password\n");
            }
        }
        Some(clean)
    }

    fn engine_options(&mut self, params: Node, prefix: &str, pool: bool) {
        for (k, v) in params.entries().unwrap_or_default() {
            let src = format!("{prefix}.{}", k.text);
            if pool && k.text == "pool_size" {
                match v.kind {
                    Kind::Int(n) if n > 0 => {
                        self.comment(
                            "SQLAlchemy's pool was per gunicorn worker; taxiid has one pool per process",
                        );
                        self.key(v, &src, "database.pool_size", &n.to_string());
                    }
                    _ => self.bad(v, &src, "a positive integer"),
                }
            } else {
                self.comment(&format!(
                    "{}: an SQLAlchemy engine option; no equivalent",
                    self.origin(v, &src)
                ));
            }
        }
    }

    fn other_database(&mut self, persistence: Option<Node>, what: &str, auth_db: Option<&str>) {
        let Some(mut p) = persistence.filter(|p| p.kind != Kind::Null) else { return };
        if let Some(c) = take(&mut p, "class")
            && !matches!(&c.kind, Kind::Str(s) if s.starts_with("opentaxii.persistence.sqldb."))
        {
            self.comment(&format!(
                "{}: `{}` is a custom backend; taxiid has none",
                self.origin(&c, "class"),
                c.text
            ));
        }
        let Some(mut params) = take(&mut p, "parameters") else { return };
        let src = format!("{what}.persistence_api.parameters.db_connection");
        let db = self.db_connection(take(&mut params, "db_connection"), &src, false);
        match (db, auth_db) {
            (Some(d), Some(a)) if d == a => {}
            (Some(d), _) => {
                self.comment(&format!("{src}: {d}"));
                self.comment(
                    "is not the auth_api database; taxiid keeps everything in database.url: move these",
                );
                self.comment("tables into that database before switching.");
            }
            _ => {}
        }
        take(&mut params, "create_tables");
        self.engine_options(params, &format!("{what}.persistence_api.parameters"), false);
    }

    fn taxii1(&mut self, n: Option<Node>, auth_db: Option<&str>) {
        let Some(mut n) = n.filter(|n| n.kind != Kind::Null) else {
            self.comment("TAXII 1 was disabled (taxii1: null). taxiid serves the TAXII 1 services of the");
            self.comment("`services` table; with no rows there it serves none.");
            return;
        };
        self.other_database(take(&mut n, "persistence_api"), "taxii1", auth_db);
        self.boolean(
            take(&mut n, "save_raw_inbox_messages"),
            "taxii1.save_raw_inbox_messages",
            "taxii1.save_raw_inbox_messages",
        );
        self.boolean(
            take(&mut n, "count_blocks_in_poll_responses"),
            "taxii1.count_blocks_in_poll_responses",
            "taxii1.count_blocks_in_poll_responses",
        );
        if let Some(s) = take(&mut n, "unauthorized_status") {
            let src = "taxii1.unauthorized_status";
            match &s.kind {
                Kind::Str(v)
                    if ["UNAUTHORIZED", "DENIED", "FAILURE"].contains(&v.to_uppercase().as_str()) =>
                {
                    let v = v.to_uppercase();
                    self.key(&s, src, "taxii1.unauthorized_status", &v)
                }
                _ => self.bad(&s, src, "UNAUTHORIZED, DENIED or FAILURE (taxiid's choices)"),
            }
        }
        if let Some(x) = take(&mut n, "xml_parser_supports_huge_tree") {
            self.comment(&format!(
                "{}: no equivalent; taxiid's XML reader limits nesting, not size (http.max_body_bytes does)",
                self.origin(&x, "taxii1.xml_parser_supports_huge_tree")
            ));
        }
        if let Some(h) = take(&mut n, "hooks").filter(|h| h.kind != Kind::Null) {
            self.comment(&format!(
                "{}: `{}` not converted; taxiid loads no Python hooks (signal handlers)",
                self.origin(&h, "taxii1.hooks"),
                h.text
            ));
        }
        self.unknown(&n, "taxii1");
    }

    fn taxii2(&mut self, n: Option<Node>, auth_db: Option<&str>) {
        let Some(mut n) = n.filter(|n| n.kind != Kind::Null) else {
            self.comment("TAXII 2 was disabled (taxii2 empty, OpenTAXII 0.9.3's default). taxiid always");
            self.comment("serves /taxii2/; without API roots it lists none.");
            return;
        };
        self.other_database(take(&mut n, "persistence_api"), "taxii2", auth_db);
        self.text_key(take(&mut n, "title"), "taxii2.title", "taxii2.title");
        self.text_key(take(&mut n, "description"), "taxii2.description", "taxii2.description");
        self.text_key(take(&mut n, "contact"), "taxii2.contact", "taxii2.contact");
        self.boolean(take(&mut n, "public_discovery"), "taxii2.public_discovery", "taxii2.public_discovery");
        if let Some(m) = take(&mut n, "max_content_length") {
            match m.kind {
                Kind::Int(b) if b > 0 => {
                    self.key(&m, "taxii2.max_content_length", "taxii2.max_content_length", &b.to_string())
                }
                _ => self.bad(&m, "taxii2.max_content_length", "a positive number of bytes"),
            }
        }
        if let Some(a) = take(&mut n, "allow_custom_properties") {
            self.comment(&format!(
                "{}: no equivalent; taxiid stores objects as posted and never refuses custom properties",
                self.origin(&a, "taxii2.allow_custom_properties")
            ));
        }
        self.unknown(&n, "taxii2");
    }

    fn logging(&mut self, n: Option<Node>) {
        let Some(n) = n else { return };
        for (k, v) in n.entries().unwrap_or_default() {
            let src = format!("logging.{}", k.text);
            let level = match v.text.to_lowercase().as_str() {
                "debug" => Some("debug"),
                "info" => Some("info"),
                "warning" | "warn" => Some("warn"),
                "error" | "critical" | "fatal" => Some("error"),
                _ => None,
            };
            match (k.text.as_str(), level) {
                ("opentaxii", Some(l)) => self.key(v, &src, "log.level", l),
                ("opentaxii", None) => self.bad(v, &src, "a log level"),
                _ => self.comment(&format!("{}: taxiid has one log level (log.level)", self.origin(v, &src))),
            }
        }
    }

    fn unknown(&mut self, n: &Node, section: &str) {
        for (k, v) in n.entries().unwrap_or_default() {
            let src = format!("{section}.{}", k.text);
            self.comment(&format!("{}: ignored (OpenTAXII ignores it with a warning)", self.origin(v, &src)));
        }
    }
}
