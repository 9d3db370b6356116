//! The command line: `taxiid <command> [options]`. Parses arguments with pico-args, prints
//! usage (exit 2) on misuse, and hands each command to its module. Exit codes: 0 success,
//! 1 failure, 2 usage error.

/// Inside an admin command: an error string ends the command with exit status 1.
macro_rules! try_out {
    ($e:expr) => {
        match $e {
            Ok(v) => v,
            Err(e) => return Ok(crate::cli::admin::Outcome::Failed(e.to_string())),
        }
    };
}

mod admin;
mod blocks;
mod dev;
mod from_opentaxii;
mod serve;
pub(crate) mod sync;
mod sync_apply;
pub(crate) mod yaml;

use std::ffi::OsString;
use std::path::PathBuf;

use crate::config::{self, Config};

const USAGE: &str = "\
taxiid — TAXII 1.x and 2.1 server (OpenTAXII-compatible)

Usage: taxiid <command> [--config PATH] [options]

Commands:
  serve          run the server (--migrate: apply pending migrations first)
  migrate        create or update the database schema (OpenTAXII's tables, additive only)
  check-config   validate the configuration and print it with secrets masked
  dev            run a development server with a private PostgreSQL cluster and example data
  account        add | update | delete | list | passwd  accounts (OpenTAXII's, werkzeug hashes)
  token          print a JWT for an account (--username NAME [--ttl 1h])
  api-root       add | list | update | delete  TAXII 2.1 API roots
  collection     add | list | update | delete  TAXII 2.1 collections
  objects        delete  TAXII 2.1 object versions (--collection ID [--before T] [--type T])
  jobs           cleanup  TAXII 2.1 statuses (--older-than 24h)
  sync           apply an OpenTAXII data-config YAML (TAXII 1 services, collections, accounts)
  blocks         delete  TAXII 1 content blocks (--collection NAME [--begin T] [--end T])
  config         from-opentaxii  convert an OpenTAXII configuration file to taxiid.conf
  version        print the version
  help [command] print this help, or a command's

Every command takes --config PATH (default /etc/taxiid/taxiid.conf); the administration
commands take --json for machine-readable output.
";

fn command_help(cmd: &str) -> Option<&'static str> {
    Some(match cmd {
        "serve" => {
            "Usage: taxiid serve [--config PATH] [--migrate]\n\n\
             Runs the server with the configuration file. Refuses a database whose schema is not\n\
             current unless --migrate is given. SIGTERM/SIGINT stop it gracefully; SIGHUP\n\
             re-reads the file and applies log.level and a renewed TLS certificate. Under systemd\n\
             it reports readiness (Type=notify) and serves sockets passed by taxiid.socket when\n\
             the configuration says `listen = systemd`.\n"
        }
        "migrate" => {
            "Usage: taxiid migrate [--config PATH]\n\n\
             Creates OpenTAXII's schema where it is missing and applies taxiid's additive\n\
             migrations, in one transaction under an advisory lock. Running it again is a no-op.\n"
        }
        "check-config" => {
            "Usage: taxiid check-config [--config PATH]\n\n\
             Validates the configuration (file, TAXIID_* environment, secret files, TLS files)\n\
             and prints the effective values with secrets masked. Exit 0 when valid, 1 otherwise.\n"
        }
        "dev" => {
            "Usage: taxiid dev [--dir DIR] [--listen ADDR] [--config PATH]\n\n\
             Starts a private PostgreSQL cluster under DIR (default ./.taxiid-dev; created on the\n\
             first run, reused afterwards), migrates it, adds example data and an admin account\n\
             (its password is printed once), and serves on ADDR (default 127.0.0.1:9000).\n\
             Ctrl-C stops the server and the cluster. --config is optional here.\n"
        }
        "account" => {
            "Usage: taxiid account add USERNAME [--admin] [--permissions P] [--password-stdin | --password-file F]\n\
             \x20      taxiid account update USERNAME [--admin yes|no] [--permissions P]\n\
             \x20      taxiid account passwd USERNAME [--password-stdin | --password-file F]\n\
             \x20      taxiid account delete USERNAME\n\
             \x20      taxiid account list [--json]\n\n\
             Without --password-stdin/--password-file the password is asked for on the terminal.\n\
             P is JSON ({\"coll-a\": \"modify\", \"<uuid>\": [\"read\", \"write\"]}) or name=right pairs:\n\
             coll-a=modify,coll-b=read,<collection uuid>=read+write. TAXII 1 collections (by name)\n\
             take read or modify; TAXII 2.1 collections (by UUID) take read and/or write.\n\
             New hashes follow auth.password_hash (scrypt, or pbkdf2 for OpenTAXII 0.9.3).\n"
        }
        "token" => {
            "Usage: taxiid token --username NAME [--ttl DURATION] [--json]\n\nPrints a JWT signed with auth.secret\n\
             (--json: {\"token\", \"username\", \"expires\"}).\n"
        }
        "api-root" => {
            "Usage: taxiid api-root add --title T [--id UUID] [--description D] [--default] [--public]\n\
             \x20      taxiid api-root update --id UUID [--title T] [--description D] [--default yes|no] [--public yes|no]\n\
             \x20      taxiid api-root delete --id UUID\n\
             \x20      taxiid api-root list [--json]\n\nAt most one API root is the default.\n"
        }
        "collection" => {
            "Usage: taxiid collection add --title T [--api-root UUID] [--id UUID] [--alias A] [--description D] [--public] [--public-write]\n\
             \x20      taxiid collection update --id UUID [--title T] [--alias A] [--description D] [--public yes|no] [--public-write yes|no]\n\
             \x20      taxiid collection delete --id UUID\n\
             \x20      taxiid collection list [--api-root UUID] [--json]\n\n\
             --api-root defaults to the default API root. An empty --alias or --description clears it.\n"
        }
        "objects" => {
            "Usage: taxiid objects delete --collection UUID [--before TIMESTAMP] [--type TYPE] [--json]\n\n\
             Deletes TAXII 2.1 object versions added before TIMESTAMP and/or of TYPE, in batches.\n"
        }
        "jobs" => {
            "Usage: taxiid jobs cleanup [--older-than 24h] [--json]\n\nDeletes TAXII 2.1 statuses finished before then.\n"
        }
        "sync" => {
            "Usage: taxiid sync DATA_CONFIG.yml [--check] [--prune] [--json]\n\n\
             Creates and updates the TAXII 1 services, collections and accounts of an OpenTAXII\n\
             data-config file (opentaxii-sync-data's format), in one transaction, storing them as\n\
             OpenTAXII does. Each item is reported as created, updated, unchanged or kept.\n\
             \x20 --check  report what would change and change nothing\n\
             \x20 --prune  delete services, collections and accounts the file omits (a section\n\
             \x20          missing from the file is left alone); without it they are kept\n\
             Passwords are re-hashed (auth.password_hash) only when they changed; TAXII 2\n\
             permissions of existing accounts are kept. Unknown keys and bad values are errors\n\
             with their line; permissions naming unknown collections are dropped with a warning.\n"
        }
        "blocks" => {
            "Usage: taxiid blocks delete --collection NAME [--collection NAME2 ...] [--begin T] [--end T]\n\
             \x20                         [--with-messages] [--json]\n\n\
             Deletes the TAXII 1 content blocks of the collections whose timestamp label is after\n\
             --begin and at or before --end (ISO 8601, UTC when no zone is given), in batches. The\n\
             blocks leave every collection that shared them; each such collection's volume is\n\
             recounted. --with-messages also deletes the inbox messages that delivered them, once\n\
             none of their blocks remain.\n"
        }
        "config" => {
            "Usage: taxiid config from-opentaxii OPENTAXII.yml [--env] [--include-secrets]\n\n\
             Prints the taxiid.conf equivalent to an OpenTAXII configuration file (merged over\n\
             OpenTAXII's defaults; --env also applies OPENTAXII_* variables). Options without an\n\
             equivalent become comments that say why. Secrets are printed only with\n\
             --include-secrets. Needs no taxiid configuration and no database.\n"
        }
        "version" => "Usage: taxiid version\n",
        "help" => "Usage: taxiid help [command]\n",
        _ => return None,
    })
}

pub fn main() -> i32 {
    let args: Vec<OsString> = std::env::args_os().skip(1).collect();
    run(args)
}

fn usage_error(msg: &str) -> i32 {
    eprintln!("taxiid: {msg}\n\n{USAGE}");
    2
}

pub fn run(args: Vec<OsString>) -> i32 {
    let mut p = pico_args::Arguments::from_vec(args);
    if p.contains(["-h", "--help"]) {
        print!("{USAGE}");
        return 0;
    }
    let config_path: PathBuf = match p.opt_value_from_str("--config") {
        Ok(v) => v.unwrap_or_else(|| PathBuf::from(config::DEFAULT_PATH)),
        Err(e) => return usage_error(&e.to_string()),
    };
    let cmd: String = match p.subcommand() {
        Ok(Some(c)) => c,
        Ok(None) => return usage_error("no command given"),
        Err(e) => return usage_error(&e.to_string()),
    };
    let result = match cmd.as_str() {
        "version" => finish(p).map(|_| println!("taxiid {}", env!("CARGO_PKG_VERSION"))),
        "help" => {
            let topic: Option<String> = p.opt_free_from_str().unwrap_or(None);
            if let Err(code) = finish(p) {
                return code;
            }
            match topic.as_deref().map(command_help) {
                None => print!("{USAGE}"),
                Some(Some(h)) => print!("{h}"),
                Some(None) => return usage_error(&format!("no command `{}`", topic.unwrap_or_default())),
            }
            return 0;
        }
        "check-config" => {
            if let Err(code) = finish(p) {
                return code;
            }
            return check_config(&config_path);
        }
        "migrate" => {
            if let Err(code) = finish(p) {
                return code;
            }
            return report(load(&config_path, false).and_then(|cfg| serve::migrate(&cfg)));
        }
        "serve" => {
            let migrate = p.contains("--migrate");
            if let Err(code) = finish(p) {
                return code;
            }
            return report(
                load(&config_path, false).and_then(|cfg| serve::serve(cfg, migrate, &config_path)),
            );
        }
        "dev" => {
            let dir: Option<PathBuf> = match p.opt_value_from_str("--dir") {
                Ok(v) => v,
                Err(e) => return usage_error(&e.to_string()),
            };
            let listen: Option<String> = match p.opt_value_from_str("--listen") {
                Ok(v) => v,
                Err(e) => return usage_error(&e.to_string()),
            };
            if let Err(code) = finish(p) {
                return code;
            }
            let opts = dev::Options { dir: dir.unwrap_or_else(|| PathBuf::from(".taxiid-dev")), listen };
            return report(load(&config_path, true).and_then(|cfg| dev::run(cfg, opts)));
        }
        "account" | "token" | "api-root" | "collection" | "objects" | "jobs" | "sync" | "blocks" => {
            return admin_command(&cmd, &config_path, p);
        }
        "config" => {
            let mut p = p;
            return match from_opentaxii::run(&mut p) {
                Ok(code) => code,
                Err(Usage(e)) => {
                    eprintln!("taxiid config: {e}\n\n{}", command_help("config").unwrap_or(USAGE));
                    2
                }
            };
        }
        other => return usage_error(&format!("unknown command `{other}`")),
    };
    match result {
        Ok(()) => 0,
        Err(code) => code,
    }
}

/// A usage error of an administration command (exit 2).
pub struct Usage(pub String);

/// Unused arguments of an administration command.
fn finish_args(p: &mut pico_args::Arguments) -> Result<(), Usage> {
    let rest = std::mem::replace(p, pico_args::Arguments::from_vec(Vec::new())).finish();
    if rest.is_empty() {
        return Ok(());
    }
    let rest: Vec<String> = rest.iter().map(|s| s.to_string_lossy().into_owned()).collect();
    Err(Usage(format!("unexpected argument `{}`", rest.join(" "))))
}

fn admin_command(cmd: &str, config_path: &std::path::Path, mut p: pico_args::Arguments) -> i32 {
    let cfg = match Config::load(config_path, false) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("taxiid: {e}");
            return 1;
        }
    };
    crate::logging::init(log::LevelFilter::Warn.min(cfg.log_level));
    cfg.warn_ignored_env();
    let outcome = match cmd {
        "account" => admin::account(&cfg, &mut p),
        "token" => admin::token(&cfg, &mut p),
        "api-root" => admin::api_root(&cfg, &mut p),
        "collection" => admin::collection(&cfg, &mut p),
        "objects" => admin::objects(&cfg, &mut p),
        "sync" => sync::run(&cfg, &mut p),
        "blocks" => blocks::run(&cfg, &mut p),
        _ => admin::jobs(&cfg, &mut p),
    };
    match outcome {
        Ok(admin::Outcome::Done) => 0,
        Ok(admin::Outcome::Failed(e)) => {
            eprintln!("taxiid {cmd}: {e}");
            1
        }
        Err(Usage(e)) => {
            let help = command_help(cmd).unwrap_or(USAGE);
            eprintln!("taxiid {cmd}: {e}\n\n{help}");
            2
        }
    }
}

/// Columns padded to their widest cell.
pub fn table(header: &[&str], rows: Vec<Vec<String>>) -> String {
    let mut width: Vec<usize> = header.iter().map(|h| h.len()).collect();
    for r in &rows {
        for (i, c) in r.iter().enumerate() {
            width[i] = width[i].max(c.chars().count());
        }
    }
    let mut out = String::new();
    let line = |cells: Vec<String>, out: &mut String| {
        let padded: Vec<String> =
            cells.iter().enumerate().map(|(i, c)| format!("{c:<w$}", w = width[i])).collect();
        out.push_str(padded.join("  ").trim_end());
        out.push('\n');
    };
    line(header.iter().map(|h| h.to_string()).collect(), &mut out);
    for r in rows {
        line(r, &mut out);
    }
    out
}

/// Unused arguments are a usage error.
fn finish(p: pico_args::Arguments) -> Result<(), i32> {
    let rest = p.finish();
    if rest.is_empty() {
        return Ok(());
    }
    let rest: Vec<String> = rest.iter().map(|s| s.to_string_lossy().into_owned()).collect();
    Err(usage_error(&format!("unexpected argument `{}`", rest.join(" "))))
}

fn load(path: &std::path::Path, allow_missing: bool) -> Result<Config, String> {
    let cfg = Config::load(path, allow_missing)?;
    crate::logging::init(cfg.log_level);
    cfg.warn_ignored_env();
    Ok(cfg)
}

fn report(r: Result<(), String>) -> i32 {
    match r {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("taxiid: {e}");
            1
        }
    }
}

fn check_config(path: &std::path::Path) -> i32 {
    let cfg = match Config::load(path, false) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("taxiid: configuration invalid: {e}");
            return 1;
        }
    };
    if let (Some(cert), Some(key)) = (&cfg.tls_certificate, &cfg.tls_private_key)
        && let Err(e) = crate::http::tls::server_config(cert, key)
    {
        eprintln!("taxiid: configuration invalid: {e}");
        return 1;
    }
    cfg.ignored_env_warnings().for_each(|w| eprintln!("taxiid: warning: {w}"));
    print!("# effective configuration of {}\n{}", path.display(), cfg.render());
    eprintln!("taxiid: configuration valid");
    0
}
