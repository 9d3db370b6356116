//! Administration commands: `account`, `token`, `api-root`, `collection`, `objects delete`,
//! `jobs cleanup`. Human-readable tables by default, `--json` for scripts. Passwords come from a
//! no-echo prompt, `--password-stdin` or `--password-file`, never from the command line.

use std::io::{BufRead, IsTerminal, Write};
use std::time::Duration;

use pico_args::Arguments;
use serde_json::{Value, json};
use signal_hook::consts::{SIGHUP, SIGINT, SIGQUIT, SIGTERM};

use super::{Usage, table};
use crate::auth::password;
use crate::config::{self, Config};
use crate::db::{self, Db, admin, taxii2 as q};
use crate::timefmt;

pub(super) fn connect(cfg: &Config) -> Result<db::Conn, String> {
    let db = Db::open(&cfg.database)?;
    db.wait_until_up(cfg.database.startup_wait.min(Duration::from_secs(10)))?;
    db.get().map_err(|e| e.to_string())
}

fn opt<T: std::str::FromStr>(p: &mut Arguments, name: &'static str) -> Result<Option<T>, Usage>
where
    T::Err: std::fmt::Display,
{
    p.opt_value_from_str(name).map_err(|e| Usage(e.to_string()))
}

fn free(p: &mut Arguments, what: &str) -> Result<String, Usage> {
    p.opt_free_from_str::<String>()
        .map_err(|e| Usage(e.to_string()))?
        .ok_or_else(|| Usage(format!("missing {what}")))
}

fn yes_no(v: Option<String>, name: &str) -> Result<Option<bool>, Usage> {
    v.map(|v| config::parse_bool(&v).map_err(|e| Usage(format!("{name}: {e}")))).transpose()
}

/// An empty string clears an optional text field.
fn clearable(v: &Option<String>) -> Option<Option<&str>> {
    v.as_ref().map(|s| if s.is_empty() { None } else { Some(s.as_str()) })
}

pub enum Outcome {
    Done,
    Failed(String),
}

pub(super) fn print(json_out: bool, value: Value, human: String) {
    if json_out {
        println!("{value}");
    } else {
        print!("{human}");
    }
}

fn read_password(p: &mut Arguments) -> Result<Result<String, String>, Usage> {
    let stdin = p.contains("--password-stdin");
    let file: Option<String> = opt(p, "--password-file")?;
    Ok((|| {
        let pw = if let Some(f) = file {
            std::fs::read_to_string(&f)
                .map_err(|e| format!("{f}: {e}"))?
                .trim_end_matches(['\r', '\n'])
                .to_string()
        } else if stdin {
            let mut line = String::new();
            std::io::stdin().lock().read_line(&mut line).map_err(|e| e.to_string())?;
            line.trim_end_matches(['\r', '\n']).to_string()
        } else {
            prompt_password()?
        };
        if pw.is_empty() {
            return Err("the password is empty".into());
        }
        Ok(pw)
    })())
}

/// Reads a password from the terminal with echo off (through `stty`, no libc needed).
fn prompt_password() -> Result<String, String> {
    if !std::io::stdin().is_terminal() {
        return Err("no terminal to ask for a password: use --password-stdin or --password-file".into());
    }
    let stty = |arg: &str| {
        std::process::Command::new("stty").arg(arg).stdin(std::fs::File::open("/dev/tty")?).status()
    };
    let ask = |label: &str| -> Result<String, String> {
        eprint!("{label}");
        let _ = std::io::stderr().flush();
        let mut line = String::new();
        std::io::stdin().lock().read_line(&mut line).map_err(|e| e.to_string())?;
        eprintln!();
        Ok(line.trim_end_matches(['\r', '\n']).to_string())
    };
    // Ctrl-C (or a kill) while echo is off would leave the operator's terminal silent: a
    // signal turns echo back on before exiting as the signal would have.
    let mut signals = signal_hook::iterator::Signals::new([SIGINT, SIGTERM, SIGHUP, SIGQUIT])
        .map_err(|e| format!("signals: {e}"))?;
    let on_signal = signals.handle();
    let watcher = std::thread::spawn(move || {
        if let Some(sig) = signals.forever().next() {
            let _ = stty("echo");
            eprintln!();
            std::process::exit(128 + sig);
        }
    });
    stty("-echo").map_err(|e| format!("stty: {e}"))?;
    let first = ask("Password: ");
    let second = ask("Repeat password: ");
    let _ = stty("echo");
    on_signal.close();
    let _ = watcher.join();
    let (first, second) = (first?, second?);
    if first != second {
        return Err("the passwords differ".into());
    }
    Ok(first)
}

/// `--permissions`: a JSON object, or `name=read,name2=modify,<uuid>=read+write`. TAXII 1
/// collection names take `read`/`modify`; TAXII 2 collection UUIDs take read and/or write.
pub fn parse_permissions(v: &str) -> Result<String, String> {
    let map: serde_json::Map<String, Value> = if v.trim_start().starts_with('{') {
        serde_json::from_str(v).map_err(|e| format!("--permissions: {e}"))?
    } else {
        let mut m = serde_json::Map::new();
        for item in v.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            let (k, r) = item.split_once('=').ok_or(format!("--permissions: `{item}` is not name=right"))?;
            let value = if q::is_uuid(k) {
                json!(r.split('+').map(str::trim).collect::<Vec<_>>())
            } else {
                json!(r.trim())
            };
            m.insert(k.trim().to_string(), value);
        }
        m
    };
    for (k, v) in &map {
        match v {
            Value::String(s) if s == "read" || s == "modify" => {}
            Value::Array(list)
                if q::is_uuid(k) && !list.is_empty() && list.iter().all(|x| x == "read" || x == "write") => {}
            _ if q::is_uuid(k) => {
                return Err(format!("--permissions: `{k}` (a TAXII 2 collection) takes read and/or write"));
            }
            _ => return Err(format!("--permissions: `{k}` (a TAXII 1 collection) takes read or modify")),
        }
    }
    Ok(Value::Object(map).to_string())
}

pub fn account(cfg: &Config, p: &mut Arguments) -> Result<Outcome, Usage> {
    let action = free(p, "action (add, update, delete, list, passwd)")?;
    let json_out = p.contains("--json");
    let scheme = cfg.auth.password_hash;
    match action.as_str() {
        "list" => {
            super::finish_args(p)?;
            let mut c = try_out!(connect(cfg));
            let rows = try_out!(admin::accounts(&mut *c).map_err(|e| e.to_string()));
            let value: Vec<Value> = rows
                .iter()
                .map(|a| {
                    let perms: Value = serde_json::from_str(&a.permissions).unwrap_or(json!({}));
                    json!({"id": a.id, "username": a.username, "is_admin": a.is_admin, "permissions": perms})
                })
                .collect();
            let lines = rows
                .iter()
                .map(|a| vec![a.id.to_string(), a.username.clone(), yes(a.is_admin), a.permissions.clone()])
                .collect();
            print(json_out, json!(value), table(&["ID", "USERNAME", "ADMIN", "PERMISSIONS"], lines));
            Ok(Outcome::Done)
        }
        "add" | "update" | "passwd" | "delete" => {
            let admin_flag = match action.as_str() {
                "add" => Some(p.contains("--admin")),
                "update" => yes_no(opt(p, "--admin")?, "--admin")?,
                _ => None,
            };
            let perms: Option<String> =
                if matches!(action.as_str(), "add" | "update") { opt(p, "--permissions")? } else { None };
            let password =
                if matches!(action.as_str(), "add" | "passwd") { Some(read_password(p)?) } else { None };
            let username = free(p, "USERNAME")?;
            super::finish_args(p)?;
            let perms = try_out!(perms.map(|v| parse_permissions(&v)).transpose());
            let hash = match password {
                Some(pw) => Some(password::hash(&try_out!(pw), scheme)),
                None => None,
            };
            let mut c = try_out!(connect(cfg));
            let result = match action.as_str() {
                "add" => admin::add_account(
                    &mut *c,
                    &username,
                    hash.as_deref().unwrap_or_default(),
                    admin_flag.unwrap_or(false),
                    perms.as_deref().unwrap_or("{}"),
                )
                .map(|id| Some(format!("account {username} created (id {id})"))),
                "delete" => admin::delete_account(&mut *c, &username)
                    .map(|ok| ok.then(|| format!("account {username} deleted"))),
                _ => admin::update_account(&mut *c, &username, hash.as_deref(), admin_flag, perms.as_deref())
                    .map(|ok| ok.then(|| format!("account {username} updated"))),
            };
            match result {
                Ok(Some(msg)) => {
                    print(json_out, json!({"ok": true, "username": username}), format!("{msg}\n"));
                    Ok(Outcome::Done)
                }
                Ok(None) => Ok(Outcome::Failed(format!("no account named {username}"))),
                Err(e) => Ok(Outcome::Failed(e.to_string())),
            }
        }
        other => Err(Usage(format!("unknown account action `{other}`"))),
    }
}

/// `taxiid token --username NAME [--ttl 1h]`: a JWT for automation.
pub fn token(cfg: &Config, p: &mut Arguments) -> Result<Outcome, Usage> {
    let json_out = p.contains("--json");
    let username: String = opt(p, "--username")?.ok_or_else(|| Usage("--username is required".into()))?;
    let ttl: Option<String> = opt(p, "--ttl")?;
    super::finish_args(p)?;
    let ttl = match ttl {
        Some(t) => config::parse_duration(&t).map_err(|e| Usage(format!("--ttl: {e}")))?,
        None => cfg.auth.token_ttl,
    };
    try_out!(crate::server::check_secret(cfg.auth.secret.as_deref()));
    let mut c = try_out!(connect(cfg));
    let row = try_out!(db::accounts::by_username(&mut *c, &username).map_err(|e| e.to_string()));
    let Some(row) = row else { return Ok(Outcome::Failed(format!("no account named {username}"))) };
    let auth = crate::auth::Auth::new(cfg.auth.secret.as_deref().unwrap_or_default(), false, ttl);
    let token = auth.token_for(row.id);
    let expires = timefmt::rfc3339(timefmt::now() + ttl);
    print(json_out, json!({"token": token, "username": username, "expires": expires}), format!("{token}\n"));
    Ok(Outcome::Done)
}

fn yes(b: bool) -> String {
    if b { "yes" } else { "no" }.into()
}

pub fn api_root(cfg: &Config, p: &mut Arguments) -> Result<Outcome, Usage> {
    let action = free(p, "action (add, list, update, delete)")?;
    let json_out = p.contains("--json");
    let id: Option<String> = opt(p, "--id")?;
    let title: Option<String> = opt(p, "--title")?;
    let description: Option<String> = opt(p, "--description")?;
    let (default, public) = if action == "add" {
        (Some(p.contains("--default")), Some(p.contains("--public")))
    } else {
        (yes_no(opt(p, "--default")?, "--default")?, yes_no(opt(p, "--public")?, "--public")?)
    };
    super::finish_args(p)?;
    if let Some(id) = &id
        && !q::is_uuid(id)
    {
        return Err(Usage(format!("--id: `{id}` is not a UUID")));
    }
    let fields =
        admin::RootFields { title: title.as_deref(), description: clearable(&description), default, public };
    let mut c = try_out!(connect(cfg));
    let r = match action.as_str() {
        "list" => {
            let roots = try_out!(q::api_roots(&mut *c).map_err(|e| e.to_string()));
            let value: Vec<Value> = roots
                .iter()
                .map(|r| json!({"id": r.id, "title": r.title, "description": r.description, "default": r.default, "public": r.is_public}))
                .collect();
            let lines = roots
                .iter()
                .map(|r| vec![r.id.clone(), r.title.clone(), yes(r.default), yes(r.is_public)])
                .collect();
            print(json_out, json!(value), table(&["ID", "TITLE", "DEFAULT", "PUBLIC"], lines));
            return Ok(Outcome::Done);
        }
        "add" => {
            if title.is_none() {
                return Err(Usage("--title is required".into()));
            }
            admin::add_api_root(&mut *c, id.as_deref(), &fields).map(Some)
        }
        "update" | "delete" => {
            let id = id.ok_or_else(|| Usage("--id is required".into()))?;
            let ok = if action == "update" {
                admin::update_api_root(&mut *c, &id, &fields)
            } else {
                admin::delete_api_root(&mut *c, &id)
            };
            ok.map(|found| found.then_some(id))
        }
        other => return Err(Usage(format!("unknown api-root action `{other}`"))),
    };
    done(json_out, r, &format!("api root {action}"))
}

fn done(json_out: bool, r: Result<Option<String>, db::DbError>, what: &str) -> Result<Outcome, Usage> {
    match r {
        Ok(Some(id)) => {
            print(json_out, json!({"ok": true, "id": id}), format!("{what}: {id}\n"));
            Ok(Outcome::Done)
        }
        Ok(None) => Ok(Outcome::Failed("not found".into())),
        Err(e) => Ok(Outcome::Failed(e.to_string())),
    }
}

pub fn collection(cfg: &Config, p: &mut Arguments) -> Result<Outcome, Usage> {
    let action = free(p, "action (add, list, update, delete)")?;
    let json_out = p.contains("--json");
    let root: Option<String> = opt(p, "--api-root")?;
    let id: Option<String> = opt(p, "--id")?;
    let title: Option<String> = opt(p, "--title")?;
    let alias: Option<String> = opt(p, "--alias")?;
    let description: Option<String> = opt(p, "--description")?;
    let (public, public_write) = if action == "add" {
        (Some(p.contains("--public")), Some(p.contains("--public-write")))
    } else {
        (yes_no(opt(p, "--public")?, "--public")?, yes_no(opt(p, "--public-write")?, "--public-write")?)
    };
    super::finish_args(p)?;
    let fields = admin::CollectionFields {
        title: title.as_deref(),
        description: clearable(&description),
        alias: clearable(&alias),
        public,
        public_write,
    };
    let mut c = try_out!(connect(cfg));
    let find_root = |c: &mut db::Conn| -> Result<String, String> {
        let key = root.clone().unwrap_or_else(|| "default".into());
        match q::find_api_root(&mut **c, &key).map_err(|e| e.to_string())? {
            Some(r) => Ok(r.id),
            None => Err(format!("no API root `{key}` (give --api-root UUID)")),
        }
    };
    let r = match action.as_str() {
        "list" => {
            let root = try_out!(find_root(&mut c));
            let list = try_out!(q::collections(&mut *c, &root).map_err(|e| e.to_string()));
            let counts = try_out!(admin::object_counts(&mut *c, &root).map_err(|e| e.to_string()));
            let count = |id: &str| counts.iter().find(|(i, _)| i == id).map_or(0, |(_, n)| *n);
            let value: Vec<Value> = list
                .iter()
                .map(|c| json!({"id": c.id, "title": c.title, "alias": c.alias, "description": c.description,
                                "public": c.is_public, "public_write": c.is_public_write, "objects": count(&c.id)}))
                .collect();
            let lines = list
                .iter()
                .map(|c| {
                    let alias = c.alias.clone().unwrap_or_default();
                    vec![
                        c.id.clone(),
                        c.title.clone(),
                        alias,
                        yes(c.is_public),
                        yes(c.is_public_write),
                        count(&c.id).to_string(),
                    ]
                })
                .collect();
            print(
                json_out,
                json!(value),
                table(&["ID", "TITLE", "ALIAS", "PUBLIC", "PUBLIC-WRITE", "OBJECTS"], lines),
            );
            return Ok(Outcome::Done);
        }
        "add" => {
            if title.is_none() {
                return Err(Usage("--title is required".into()));
            }
            let root = try_out!(find_root(&mut c));
            admin::add_collection(&mut *c, &root, id.as_deref(), &fields).map(Some)
        }
        "update" | "delete" => {
            let id = id.ok_or_else(|| Usage("--id is required".into()))?;
            let ok = if action == "update" {
                admin::update_collection(&mut *c, &id, &fields)
            } else {
                admin::delete_collection(&mut *c, &id)
            };
            ok.map(|found| found.then_some(id))
        }
        other => return Err(Usage(format!("unknown collection action `{other}`"))),
    };
    done(json_out, r, &format!("collection {action}"))
}

/// `taxiid objects delete --collection ID [--before T] [--type T]` (TAXII 2.1 retention).
pub fn objects(cfg: &Config, p: &mut Arguments) -> Result<Outcome, Usage> {
    let action = free(p, "action (delete)")?;
    if action != "delete" {
        return Err(Usage(format!("unknown objects action `{action}`")));
    }
    let json_out = p.contains("--json");
    let collection: String =
        opt(p, "--collection")?.ok_or_else(|| Usage("--collection is required".into()))?;
    let before: Option<String> = opt(p, "--before")?;
    let type_: Option<String> = opt(p, "--type")?;
    super::finish_args(p)?;
    if !q::is_uuid(&collection) {
        return Err(Usage("--collection takes the collection's UUID".into()));
    }
    let before = match before {
        Some(b) => Some(timefmt::to_db(
            timefmt::parse_client(&b).ok_or_else(|| Usage(format!("--before: `{b}` is not a timestamp")))?,
        )),
        None => None,
    };
    let mut c = try_out!(connect(cfg));
    let mut total = 0u64;
    loop {
        let n = try_out!(
            admin::delete_objects_batch(&mut *c, &collection, before, type_.as_deref())
                .map_err(|e| e.to_string())
        );
        total += n;
        progress(&format!("{total} object versions deleted"));
        if n == 0 {
            break;
        }
    }
    print(json_out, json!({"ok": true, "deleted": total}), format!("{total} object versions deleted\n"));
    Ok(Outcome::Done)
}

/// `taxiid jobs cleanup [--older-than 24h]`: statuses are kept at least a day (TAXII 2.1 §4.3).
pub fn jobs(cfg: &Config, p: &mut Arguments) -> Result<Outcome, Usage> {
    let action = free(p, "action (cleanup)")?;
    if action != "cleanup" {
        return Err(Usage(format!("unknown jobs action `{action}`")));
    }
    let json_out = p.contains("--json");
    let older: Option<String> = opt(p, "--older-than")?;
    super::finish_args(p)?;
    let age = config::parse_duration(older.as_deref().unwrap_or("24h"))
        .map_err(|e| Usage(format!("--older-than: {e}")))?;
    let cutoff = timefmt::to_db(timefmt::now() - age);
    let mut c = try_out!(connect(cfg));
    let mut total = 0u64;
    loop {
        let n = try_out!(admin::delete_jobs_batch(&mut *c, cutoff).map_err(|e| e.to_string()));
        total += n;
        progress(&format!("{total} jobs removed"));
        if n == 0 {
            break;
        }
    }
    print(json_out, json!({"ok": true, "removed": total}), format!("{total} jobs removed\n"));
    Ok(Outcome::Done)
}

/// Progress on a terminal only (scripts read the final line).
pub(super) fn progress(msg: &str) {
    if std::io::stderr().is_terminal() {
        eprint!("\r{msg}");
    }
}
