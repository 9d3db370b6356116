//! `taxiid sync` through the real binary: a data-config (the TAXII 1 checklist's §13 file)
//! lands in the rows exactly as `opentaxii-sync-data` 0.9.3 wrote them for the same file (the
//! expected strings below are copied from such a database); a second sync changes nothing;
//! `--check` writes nothing; only `--prune` deletes; errors and warnings carry file and line.

mod common;

use std::path::{Path, PathBuf};

use common::server::{BIN, scratch_dir, write_config};
use serde_json::Value;

/// The TAXII 1 checklist's §13 data-config.
const DATA_CONFIG: &str = r#"services:
  - id: discovery
    type: discovery
    address: /services/discovery
    description: Discovery service
    advertised_services: [discovery, collection_management, inbox, inbox_strict, poll, poll_auth]
    protocol_bindings:
      - urn:taxii.mitre.org:protocol:http:1.0
      - urn:taxii.mitre.org:protocol:https:1.0
  - id: collection_management
    type: collection_management
    address: /services/collection-management
    description: Collection management service
    subscription_message: Subscription handled
    protocol_bindings: [urn:taxii.mitre.org:protocol:http:1.0]
  - id: inbox
    type: inbox
    address: /services/inbox
    description: Open inbox (accepts everything, destination optional)
    destination_collection_required: no
    accept_all_content: yes
    protocol_bindings: [urn:taxii.mitre.org:protocol:http:1.0]
  - id: inbox_strict
    type: inbox
    address: /services/inbox-strict
    description: Strict inbox (STIX 1.1.1/1.2 only, destination required)
    destination_collection_required: yes
    accept_all_content: no
    supported_content: [urn:stix.mitre.org:xml:1.1.1, urn:stix.mitre.org:xml:1.2]
    protocol_bindings: [urn:taxii.mitre.org:protocol:http:1.0]
  - id: poll
    type: poll
    address: /services/poll
    description: Poll service
    max_result_size: 2
    max_result_count: 3
    protocol_bindings: [urn:taxii.mitre.org:protocol:http:1.0]
  - id: poll_auth
    type: poll
    address: /services/poll-auth
    description: Poll service requiring authentication
    authentication_required: yes
    protocol_bindings: [urn:taxii.mitre.org:protocol:http:1.0]
  - id: inbox_auth
    type: inbox
    address: /services/inbox-auth
    description: Inbox requiring authentication
    authentication_required: yes
    destination_collection_required: yes
    accept_all_content: yes
    protocol_bindings: [urn:taxii.mitre.org:protocol:http:1.0]
collections:
  - name: feed-a
    description: An open data feed
    type: DATA_FEED
    available: true
    accept_all_content: true
    service_ids: [collection_management, inbox, inbox_strict, poll, poll_auth, inbox_auth]
  - name: set-b
    description: A data set (STIX 1.1.1 only)
    type: DATA_SET
    available: true
    accept_all_content: false
    supported_content: [urn:stix.mitre.org:xml:1.1.1]
    service_ids: [collection_management, inbox, inbox_strict, poll]
  - name: stix12-feed
    description: A feed that only takes STIX 1.2
    type: DATA_FEED
    available: true
    accept_all_content: false
    supported_content: [urn:stix.mitre.org:xml:1.2]
    service_ids: [collection_management, inbox, inbox_strict, poll, poll_auth, inbox_auth]
  - name: disabled
    description: An unavailable collection
    type: DATA_FEED
    available: false
    service_ids: [collection_management, poll]
accounts:
  - username: reader
    password: reader
    permissions: {feed-a: read, stix12-feed: modify}
  - username: admin
    password: admin
    is_admin: yes
"#;

/// `services` as opentaxii-sync-data 0.9.3 stored them for `DATA_CONFIG`.
const OPENTAXII_SERVICES: &[(&str, &str, &str)] = &[
    (
        "discovery",
        "discovery",
        r#"{"address": "/services/discovery", "description": "Discovery service", "advertised_services": ["discovery", "collection_management", "inbox", "inbox_strict", "poll", "poll_auth"], "protocol_bindings": ["urn:taxii.mitre.org:protocol:http:1.0", "urn:taxii.mitre.org:protocol:https:1.0"]}"#,
    ),
    (
        "collection_management",
        "collection_management",
        r#"{"address": "/services/collection-management", "description": "Collection management service", "subscription_message": "Subscription handled", "protocol_bindings": ["urn:taxii.mitre.org:protocol:http:1.0"]}"#,
    ),
    (
        "inbox",
        "inbox",
        r#"{"address": "/services/inbox", "description": "Open inbox (accepts everything, destination optional)", "destination_collection_required": false, "accept_all_content": true, "protocol_bindings": ["urn:taxii.mitre.org:protocol:http:1.0"]}"#,
    ),
    (
        "inbox_strict",
        "inbox",
        r#"{"address": "/services/inbox-strict", "description": "Strict inbox (STIX 1.1.1/1.2 only, destination required)", "destination_collection_required": true, "accept_all_content": false, "supported_content": ["urn:stix.mitre.org:xml:1.1.1", "urn:stix.mitre.org:xml:1.2"], "protocol_bindings": ["urn:taxii.mitre.org:protocol:http:1.0"]}"#,
    ),
    (
        "poll",
        "poll",
        r#"{"address": "/services/poll", "description": "Poll service", "max_result_size": 2, "max_result_count": 3, "protocol_bindings": ["urn:taxii.mitre.org:protocol:http:1.0"]}"#,
    ),
    (
        "poll_auth",
        "poll",
        r#"{"address": "/services/poll-auth", "description": "Poll service requiring authentication", "authentication_required": true, "protocol_bindings": ["urn:taxii.mitre.org:protocol:http:1.0"]}"#,
    ),
    (
        "inbox_auth",
        "inbox",
        r#"{"address": "/services/inbox-auth", "description": "Inbox requiring authentication", "authentication_required": true, "destination_collection_required": true, "accept_all_content": true, "protocol_bindings": ["urn:taxii.mitre.org:protocol:http:1.0"]}"#,
    ),
];

/// `data_collections` (name, type, description, accept_all_content, bindings, available,
/// volume) as opentaxii-sync-data 0.9.3 stored them.
const OPENTAXII_COLLECTIONS: &[(&str, &str, &str, bool, &str, bool, i32)] = &[
    ("feed-a", "DATA_FEED", "An open data feed", true, "[]", true, 0),
    (
        "set-b",
        "DATA_SET",
        "A data set (STIX 1.1.1 only)",
        false,
        r#"[["urn:stix.mitre.org:xml:1.1.1", []]]"#,
        true,
        0,
    ),
    (
        "stix12-feed",
        "DATA_FEED",
        "A feed that only takes STIX 1.2",
        false,
        r#"[["urn:stix.mitre.org:xml:1.2", []]]"#,
        true,
        0,
    ),
    ("disabled", "DATA_FEED", "An unavailable collection", false, "[]", false, 0),
];

fn write(name: &str, text: &str) -> PathBuf {
    let path = scratch_dir().join(name);
    std::fs::write(&path, text).unwrap();
    path
}

fn taxiid(config: &Path, args: &[&str]) -> (i32, String, String) {
    let out = std::process::Command::new(BIN)
        .args(args)
        .arg("--config")
        .arg(config)
        .env_remove("JOURNAL_STREAM")
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// `sync --json` that must succeed: (name, action) pairs per kind, and stderr.
fn sync(config: &Path, file: &Path, extra: &[&str]) -> (Vec<(String, String, String)>, String) {
    let mut args = vec!["sync", file.to_str().unwrap(), "--json"];
    args.extend_from_slice(extra);
    let (code, out, err) = taxiid(config, &args);
    assert_eq!(code, 0, "sync {extra:?}: {err}");
    let v: Value = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"));
    let items = v["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            let s = |k: &str| i[k].as_str().unwrap().to_string();
            (s("kind"), s("name"), s("action"))
        })
        .collect();
    (items, err)
}

/// Every row sync may touch, as text, to prove that nothing changed.
fn snapshot(db: &mut postgres::Client) -> String {
    let mut out = String::new();
    for sql in [
        "SELECT id, type, _properties, date_updated::text FROM services ORDER BY id",
        "SELECT id::text, name, type, coalesce(description, '-'), accept_all_content::text, bindings, available::text, volume::text FROM data_collections ORDER BY id",
        "SELECT service_id, collection_id::text FROM service_to_collection ORDER BY 1, 2",
        "SELECT id::text, username, password_hash, is_admin::text, _permissions FROM accounts ORDER BY id",
    ] {
        for r in db.query(sql, &[]).unwrap() {
            let cells: Vec<String> = (0..r.len()).map(|i| r.get::<_, String>(i)).collect();
            out.push_str(&cells.join("|"));
            out.push('\n');
        }
    }
    out
}

fn all(items: &[(String, String, String)], action: &str) -> bool {
    items.iter().all(|(_, _, a)| a == action)
}

#[test]
fn sync_writes_rows_as_opentaxii_and_a_second_sync_changes_nothing() {
    let conninfo = common::fresh_database();
    let config = write_config(&conninfo, "auth.password_hash = pbkdf2\n");
    let file = write("data-config.yml", DATA_CONFIG);
    let (items, _) = sync(&config, &file, &[]);
    assert_eq!(items.len(), 13);
    assert!(all(&items, "create"), "{items:?}");

    let mut db = common::connect(&conninfo);
    let services: Vec<(String, String, String)> = db
        .query("SELECT id, type, _properties FROM services ORDER BY date_created", &[])
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect();
    let want: Vec<(String, String, String)> =
        OPENTAXII_SERVICES.iter().map(|(a, b, c)| (a.to_string(), b.to_string(), c.to_string())).collect();
    assert_eq!(services, want);
    let stamped: i64 = db
        .query_one(
            "SELECT count(*) FROM services WHERE date_created IS NOT NULL AND date_updated IS NOT NULL",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(stamped, 7);

    let collections: Vec<(String, String, String, bool, String, bool, i32)> = db
        .query(
            "SELECT name, type, description, accept_all_content, bindings, available, volume FROM data_collections
             WHERE date_created IS NOT NULL ORDER BY id",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3), r.get(4), r.get(5), r.get(6)))
        .collect();
    let want: Vec<_> = OPENTAXII_COLLECTIONS
        .iter()
        .map(|c| (c.0.to_string(), c.1.to_string(), c.2.to_string(), c.3, c.4.to_string(), c.5, c.6))
        .collect();
    assert_eq!(collections, want);
    let links: Vec<String> = db
        .query(
            "SELECT c.name || '<' || string_agg(l.service_id, ',' ORDER BY l.service_id) FROM service_to_collection l
             JOIN data_collections c ON c.id = l.collection_id GROUP BY c.name ORDER BY c.name",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(
        links,
        [
            "disabled<collection_management,poll",
            "feed-a<collection_management,inbox,inbox_auth,inbox_strict,poll,poll_auth",
            "set-b<collection_management,inbox,inbox_strict,poll",
            "stix12-feed<collection_management,inbox,inbox_auth,inbox_strict,poll,poll_auth",
        ]
    );

    let accounts: Vec<(String, String, bool, String)> = db
        .query("SELECT username, password_hash, is_admin, _permissions FROM accounts ORDER BY id", &[])
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3)))
        .collect();
    assert_eq!(accounts[0].0, "reader");
    assert!(accounts[0].1.starts_with("pbkdf2:sha256:600000$"), "{}", accounts[0].1);
    assert!(taxiid::auth::password::verify(&accounts[0].1, "reader"));
    assert_eq!(
        (accounts[0].2, accounts[0].3.as_str()),
        (false, r#"{"feed-a": "read", "stix12-feed": "modify"}"#)
    );
    assert_eq!((accounts[1].0.as_str(), accounts[1].2, accounts[1].3.as_str()), ("admin", true, "{}"));
    assert!(taxiid::auth::password::verify(&accounts[1].1, "admin"));

    // Second sync: nothing to do, not even a new password hash.
    let before = snapshot(&mut db);
    let (items, err) = sync(&config, &file, &[]);
    assert!(all(&items, "unchanged"), "{items:?}");
    assert!(!err.contains("warning"), "{err}");
    assert_eq!(snapshot(&mut db), before);
    let (code, out, _) = taxiid(&config, &["sync", file.to_str().unwrap()]);
    assert_eq!(code, 0);
    assert!(out.starts_with("KIND        NAME                   ACTION"), "{out}");
    assert!(out.contains("\naccount     reader                 unchanged\n"), "{out}");
    assert!(out.ends_with("no changes: 13 unchanged\n"), "{out}");
}

#[test]
fn check_changes_nothing_and_only_prune_deletes() {
    let conninfo = common::fresh_database();
    let config = write_config(&conninfo, "");
    let file = write("data-config.yml", DATA_CONFIG);
    sync(&config, &file, &[]);
    let mut db = common::connect(&conninfo);
    // An account made outside the file, and a TAXII 2 permission the data-config cannot express.
    db.execute(
        "INSERT INTO accounts (username, password_hash, is_admin, _permissions) VALUES ('cli-user', 'x', false, '{}')",
        &[],
    )
    .unwrap();
    let uuid = "8af002e8-c559-4a5f-943e-19f0b9c30990";
    db.execute(
        "UPDATE accounts SET _permissions = $1 WHERE username = 'reader'",
        &[&format!(r#"{{"feed-a": "read", "{uuid}": ["read", "write"]}}"#)],
    )
    .unwrap();

    // The same file without poll_auth, the `disabled` collection and the admin account; with a
    // new description and a new password.
    let edited = DATA_CONFIG
        .replace("An open data feed", "Feed A")
        .replace("password: reader", "password: reader-2")
        .replace(", poll_auth, inbox_auth]", ", inbox_auth]")
        .replace(", poll_auth]", "]");
    let cut = |text: &str, from: &str, to: &str| {
        let (a, rest) = text.split_once(from).unwrap();
        format!("{a}{}", &rest[rest.find(to).unwrap()..])
    };
    let edited = cut(&edited, "  - id: poll_auth", "  - id: inbox_auth");
    let edited = cut(&edited, "  - name: disabled", "accounts:");
    let edited = edited.split("  - username: admin").next().unwrap().to_string();
    let file2 = write("edited.yml", &edited);

    let before = snapshot(&mut db);
    let (items, _) = sync(&config, &file2, &["--check"]);
    let find = |items: &[(String, String, String)], name: &str| {
        items.iter().find(|(_, n, _)| n == name).map(|(_, _, a)| a.clone()).unwrap_or_default()
    };
    assert_eq!(find(&items, "poll_auth"), "keep");
    assert_eq!(find(&items, "feed-a"), "update");
    assert_eq!(find(&items, "stix12-feed"), "update");
    assert_eq!(find(&items, "disabled"), "keep");
    assert_eq!(find(&items, "reader"), "update");
    assert_eq!(find(&items, "admin"), "keep");
    assert_eq!(find(&items, "cli-user"), "keep");
    assert_eq!(find(&items, "inbox"), "unchanged");
    assert_eq!(snapshot(&mut db), before, "--check wrote something");
    let (code, out, _) = taxiid(&config, &["sync", file2.to_str().unwrap(), "--check"]);
    assert_eq!(code, 0);
    assert!(out.contains("would update"), "{out}");
    assert!(
        out.contains(
            "\naccount     admin                  kept          not in the file (--prune deletes it)\n"
        ),
        "{out}"
    );
    assert!(out.contains("check only, nothing was changed"), "{out}");
    assert_eq!(snapshot(&mut db), before);

    // Without --prune: updates, and what the file omits is kept (OpenTAXII deletes accounts).
    let (items, _) = sync(&config, &file2, &[]);
    assert_eq!(find(&items, "feed-a"), "update");
    let count = |db: &mut postgres::Client, sql: &str| -> i64 { db.query_one(sql, &[]).unwrap().get(0) };
    assert_eq!(count(&mut db, "SELECT count(*) FROM accounts"), 3);
    assert_eq!(count(&mut db, "SELECT count(*) FROM services"), 7);
    assert_eq!(count(&mut db, "SELECT count(*) FROM data_collections"), 4);
    assert_eq!(
        count(&mut db, "SELECT count(*) FROM service_to_collection WHERE service_id = 'poll_auth'"),
        0
    );
    let r = db
        .query_one("SELECT password_hash, _permissions FROM accounts WHERE username = 'reader'", &[])
        .unwrap();
    assert!(taxiid::auth::password::verify(&r.get::<_, String>(0), "reader-2"));
    assert!(r.get::<_, String>(0).starts_with("scrypt:32768:8:1$"));
    assert_eq!(
        r.get::<_, String>(1),
        format!(r#"{{"feed-a": "read", "stix12-feed": "modify", "{uuid}": ["read", "write"]}}"#),
        "TAXII 2 permissions survive a sync"
    );
    let description: String =
        db.query_one("SELECT description FROM data_collections WHERE name = 'feed-a'", &[]).unwrap().get(0);
    assert_eq!(description, "Feed A");

    // --prune --check reports the deletions and does none; --prune does them.
    let before = snapshot(&mut db);
    let (items, _) = sync(&config, &file2, &["--prune", "--check"]);
    for name in ["poll_auth", "disabled", "admin", "cli-user"] {
        assert_eq!(find(&items, name), "delete", "{name}: {items:?}");
    }
    assert_eq!(snapshot(&mut db), before);
    let (items, _) = sync(&config, &file2, &["--prune"]);
    assert_eq!(find(&items, "cli-user"), "delete");
    assert_eq!(count(&mut db, "SELECT count(*) FROM accounts"), 1);
    assert_eq!(count(&mut db, "SELECT count(*) FROM services"), 6);
    assert_eq!(count(&mut db, "SELECT count(*) FROM data_collections"), 3);
    let (items, _) = sync(&config, &file2, &["--prune"]);
    assert!(all(&items, "unchanged"), "{items:?}");
}

#[test]
fn absent_sections_are_left_alone_even_with_prune() {
    let conninfo = common::fresh_database();
    let config = write_config(&conninfo, "");
    sync(&config, &write("full.yml", DATA_CONFIG), &[]);
    let only_accounts = "accounts:\n  - {username: admin, password: admin, is_admin: yes}\n";
    let (items, _) = sync(&config, &write("accounts.yml", only_accounts), &["--prune"]);
    assert_eq!(items.len(), 2, "{items:?}");
    let mut db = common::connect(&conninfo);
    let n: i64 = db.query_one("SELECT count(*) FROM services", &[]).unwrap().get(0);
    assert_eq!(n, 7);
}

#[test]
fn errors_name_file_line_and_key_and_change_nothing() {
    let conninfo = common::fresh_database();
    let config = write_config(&conninfo, "");
    let text = "services:\n  - id: inbox\n    type: inbox\n    address: /i\n    adress: /x\n    \
                accept_all_content: maybe\ncollections:\n  - name: c\n    service_ids: [inbox, nope]\n";
    let file = write("bad.yml", text);
    let f = file.to_str().unwrap();
    let (code, out, err) = taxiid(&config, &["sync", f]);
    assert_eq!(code, 1, "{out}{err}");
    assert!(err.contains(&format!("{f}:5: services[0].adress: unknown key for `inbox` services")), "{err}");
    assert!(err.contains(&format!("{f}:6: services[0].accept_all_content: expected yes/no")), "{err}");
    assert!(err.contains("2 errors; nothing was changed"), "{err}");

    // Cross-references are checked against the database: still nothing written.
    let file = write("bad2.yml", &text.replace("    adress: /x\n", "").replace("maybe", "yes"));
    let f = file.to_str().unwrap();
    let (code, _, err) = taxiid(&config, &["sync", f]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains(&format!("{f}:8: collections[0].service_ids: no service `nope`")), "{err}");
    let mut db = common::connect(&conninfo);
    let n: i64 = db.query_one("SELECT count(*) FROM services", &[]).unwrap().get(0);
    assert_eq!(n, 0, "an invalid file writes nothing");

    let file = write("syntax.yml", "services:\n  - id: [\n");
    let (code, _, err) = taxiid(&config, &["sync", file.to_str().unwrap()]);
    assert_eq!(code, 1);
    assert!(err.contains("YAML syntax error"), "{err}");
    let (code, _, _) = taxiid(&config, &["sync"]);
    assert_eq!(code, 2);
}

#[test]
fn unknown_collection_permission_is_a_warning_as_in_opentaxii() {
    let conninfo = common::fresh_database();
    let config = write_config(&conninfo, "");
    let text = format!(
        "{}  - username: test\n    password: test\n    permissions: {{feed-a: modify, collection-xyz: some}}\n",
        DATA_CONFIG
    );
    let file = write("perm.yml", &text);
    let (items, err) = sync(&config, &file, &[]);
    assert_eq!(items.len(), 14);
    let line = text.lines().position(|l| l.contains("collection-xyz")).unwrap() + 1;
    let f = file.to_str().unwrap();
    assert!(
        err.contains(&format!(
            "{f}:{line}: accounts[2].permissions.collection-xyz: warning: no TAXII 1 collection named `collection-xyz`"
        )),
        "{err}"
    );
    let mut db = common::connect(&conninfo);
    let perms: String =
        db.query_one("SELECT _permissions FROM accounts WHERE username = 'test'", &[]).unwrap().get(0);
    assert_eq!(perms, r#"{"feed-a": "modify"}"#);
    // A known collection with a bad right is an error.
    let file = write("perm2.yml", &text.replace("feed-a: modify", "feed-a: write"));
    let (code, _, err) = taxiid(&config, &["sync", file.to_str().unwrap()]);
    assert_eq!(code, 1);
    assert!(err.contains("accounts[2].permissions.feed-a: `write` is not read or modify"), "{err}");
}

#[test]
fn pruning_a_service_reports_its_cascade_and_recounts_volumes() {
    let conninfo = common::fresh_database();
    let config = write_config(&conninfo, "");
    sync(&config, &write("full.yml", DATA_CONFIG), &[]);
    let mut db = common::connect(&conninfo);
    // A block delivered through `inbox`; the schema deletes it with the service's messages.
    db.batch_execute(
        "INSERT INTO inbox_messages (id, message_id, original_message, service_id) VALUES (1, 'm', '\\x00', 'inbox');
         INSERT INTO content_blocks (id, inbox_message_id, content, timestamp_label) VALUES (1, 1, '\\x00', now());
         INSERT INTO collection_to_content_block SELECT id, 1 FROM data_collections WHERE name = 'feed-a';
         UPDATE data_collections SET volume = 1 WHERE name = 'feed-a';",
    )
    .unwrap();
    let edited = DATA_CONFIG.replace("collection_management, inbox, ", "collection_management, ");
    let (a, rest) = edited.split_once("  - id: inbox\n").unwrap();
    let edited = format!("{a}{}", &rest[rest.find("  - id: inbox_strict").unwrap()..]);
    let file = write("no-inbox.yml", &edited);
    let (code, out, err) = taxiid(&config, &["sync", file.to_str().unwrap(), "--prune", "--check"]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("would delete  with its 1 inbox messages and the 1 content blocks they delivered"),
        "{out}"
    );
    sync(&config, &file, &["--prune"]);
    let volume: i32 =
        db.query_one("SELECT volume FROM data_collections WHERE name = 'feed-a'", &[]).unwrap().get(0);
    let blocks: i64 = db.query_one("SELECT count(*) FROM content_blocks", &[]).unwrap().get(0);
    assert_eq!((volume, blocks), (0, 0));
}
