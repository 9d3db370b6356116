//! `taxiid blocks delete` through the real binary: TAXII 1 retention by collection and time
//! window, blocks shared between collections (deleted everywhere, every volume recounted), and
//! `--with-messages` removing inbox messages only once none of their blocks remain.

mod common;

use std::path::Path;

use common::server::{BIN, write_config};
use serde_json::Value;

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

/// Collections a, b, c; blocks 1–7 on the 1st–7th of January 2024 (`(block, message,
/// collections)`), with the volumes OpenTAXII would have counted.
const BLOCKS: &[(i32, Option<i32>, &[&str])] = &[
    (1, Some(1), &["a"]),
    (2, Some(1), &["a", "b"]),
    (3, Some(2), &["a", "b", "c"]),
    (4, Some(2), &["b"]),
    (5, None, &["a"]),
    (6, Some(3), &["c"]),
    (7, Some(3), &["a"]),
];

fn setup(db: &mut postgres::Client) {
    db.batch_execute(
        "INSERT INTO services (id, type, _properties, date_created, date_updated)
             VALUES ('inbox', 'inbox', '{\"address\": \"/i\"}', now(), now());
         INSERT INTO data_collections (name, type, accept_all_content, bindings, available, volume, date_created)
             VALUES ('a', 'DATA_FEED', true, '[]', true, 0, now()), ('b', 'DATA_FEED', true, '[]', true, 0, now()),
                    ('c', 'DATA_SET', true, '[]', true, 0, now());
         INSERT INTO inbox_messages (id, message_id, original_message, content_block_count, service_id, date_created)
             VALUES (1, 'm1', '\\x00', 2, 'inbox', now()), (2, 'm2', '\\x00', 2, 'inbox', now()),
                    (3, 'm3', '\\x00', 2, 'inbox', now());",
    )
    .unwrap();
    for (id, message, collections) in BLOCKS {
        db.execute(
            "INSERT INTO content_blocks (id, timestamp_label, inbox_message_id, content, binding_id, date_created)
             VALUES ($1, '2024-01-01T00:00:00Z'::timestamptz + ($1::int - 1) * interval '1 day', $2,
                     convert_to('block ' || $1::int, 'UTF8'), 'urn:x', now())",
            &[id, message],
        )
        .unwrap();
        for c in *collections {
            db.execute(
                "INSERT INTO collection_to_content_block (collection_id, content_block_id)
                 SELECT id, $2 FROM data_collections WHERE name = $1",
                &[c, id],
            )
            .unwrap();
            db.execute("UPDATE data_collections SET volume = volume + 1 WHERE name = $1", &[c]).unwrap();
        }
    }
}

fn ids(db: &mut postgres::Client, sql: &str) -> Vec<i32> {
    db.query(sql, &[]).unwrap().iter().map(|r| r.get(0)).collect()
}

fn volumes(db: &mut postgres::Client) -> Vec<(String, i32)> {
    db.query("SELECT name, volume FROM data_collections ORDER BY name", &[])
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect()
}

fn v(pairs: &[(&str, i32)]) -> Vec<(String, i32)> {
    pairs.iter().map(|(n, v)| (n.to_string(), *v)).collect()
}

#[test]
fn deletes_a_time_window_everywhere_and_recounts_every_volume() {
    let conninfo = common::fresh_database();
    let config = write_config(&conninfo, "");
    let mut db = common::connect(&conninfo);
    setup(&mut db);
    assert_eq!(volumes(&mut db), v(&[("a", 5), ("b", 3), ("c", 2)]));

    // (2024-01-01T12:00Z, 2024-01-03] of `a`: blocks 2 and 3, which b and c shared. The date-only
    // end is midnight UTC, inclusive.
    let (code, out, err) = taxiid(
        &config,
        &["blocks", "delete", "--collection", "a", "--begin", "2024-01-01T12:00:00Z", "--end", "2024-01-03"],
    );
    assert_eq!(code, 0, "{err}");
    assert_eq!(out, "2 content blocks deleted\nvolume recounted: a = 3, b = 1, c = 1\n");
    assert_eq!(ids(&mut db, "SELECT id FROM content_blocks ORDER BY id"), [1, 4, 5, 6, 7]);
    assert_eq!(volumes(&mut db), v(&[("a", 3), ("b", 1), ("c", 1)]));
    assert_eq!(
        ids(&mut db, "SELECT id FROM inbox_messages ORDER BY id"),
        [1, 2, 3],
        "messages stay without -m"
    );

    // --with-messages: block 4 was message 2's last block, so message 2 goes too.
    let (code, out, err) =
        taxiid(&config, &["blocks", "delete", "--collection", "b", "--with-messages", "--json"]);
    assert_eq!(code, 0, "{err}");
    let j: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(j["blocks"], 1);
    assert_eq!(j["messages"], 1);
    assert_eq!(j["collections"], serde_json::json!([{"name": "b", "volume": 0}]));
    assert_eq!(ids(&mut db, "SELECT id FROM inbox_messages ORDER BY id"), [1, 3]);

    // Block 6 goes, but message 3 still delivered block 7, which stays (OpenTAXII's -m would
    // delete the message and, through the cascade, block 7 as well).
    let (code, _, err) = taxiid(
        &config,
        &[
            "blocks",
            "delete",
            "--collection",
            "c",
            "--collection",
            "b",
            "--begin",
            "2024-01-05",
            "--with-messages",
        ],
    );
    assert_eq!(code, 0, "{err}");
    assert_eq!(ids(&mut db, "SELECT id FROM content_blocks ORDER BY id"), [1, 5, 7]);
    assert_eq!(ids(&mut db, "SELECT id FROM inbox_messages ORDER BY id"), [1, 3]);
    assert_eq!(volumes(&mut db), v(&[("a", 3), ("b", 0), ("c", 0)]));

    // Nothing left in the window: a no-op.
    let (code, out, _) = taxiid(&config, &["blocks", "delete", "--collection", "c"]);
    assert_eq!((code, out.as_str()), (0, "0 content blocks deleted\n"));
}

#[test]
fn refuses_unknown_collections_and_bad_arguments() {
    let conninfo = common::fresh_database();
    let config = write_config(&conninfo, "");
    let mut db = common::connect(&conninfo);
    setup(&mut db);
    let (code, _, err) = taxiid(&config, &["blocks", "delete", "--collection", "a", "--collection", "nope"]);
    assert_eq!(code, 1);
    assert!(err.contains("no TAXII 1 collection named nope"), "{err}");
    assert_eq!(ids(&mut db, "SELECT count(*)::int FROM content_blocks"), [7], "nothing deleted");
    for args in [
        &["blocks", "delete"][..],
        &["blocks", "delete", "--collection", "a", "--begin", "yesterday"],
        &["blocks", "delete", "--collection", "a", "--begin", "2024-01-05", "--end", "2024-01-01"],
        &["blocks", "purge", "--collection", "a"],
    ] {
        let (code, _, err) = taxiid(&config, args);
        assert_eq!(code, 2, "{args:?}: {err}");
    }
}
