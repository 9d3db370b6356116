//! The second half of `taxiid sync`: compares a validated data-config (`cli::sync`) with the
//! database, reports each service, collection and account as created, updated, unchanged,
//! deleted or kept, and writes the changes in one transaction (rolled back under `--check`
//! or when the comparison finds errors, such as a collection naming an unknown service).

use std::collections::HashSet;

use serde_json::{Map, Value, json};

use super::sync::{AccountDef, CollectionDef, DataConfig, ServiceDef, python_json};
use super::table;
use super::yaml::Diag;
use crate::auth::password::{self, Scheme};
use crate::db::accounts::AccountRow;
use crate::db::{DbError, admin, sync as q, taxii2::is_uuid};

pub struct Options {
    pub prune: bool,
    pub check: bool,
    pub scheme: Scheme,
}

#[derive(Clone, Copy, PartialEq, Debug)]
pub enum Action {
    Create,
    Update,
    Unchanged,
    Delete,
    Keep,
}

impl Action {
    fn word(self, check: bool) -> &'static str {
        match (self, check) {
            (Action::Create, false) => "created",
            (Action::Create, true) => "would create",
            (Action::Update, false) => "updated",
            (Action::Update, true) => "would update",
            (Action::Delete, false) => "deleted",
            (Action::Delete, true) => "would delete",
            (Action::Unchanged, _) => "unchanged",
            (Action::Keep, _) => "kept",
        }
    }

    fn key(self) -> &'static str {
        match self {
            Action::Create => "create",
            Action::Update => "update",
            Action::Unchanged => "unchanged",
            Action::Delete => "delete",
            Action::Keep => "keep",
        }
    }
}

pub struct Item {
    pub kind: &'static str,
    pub name: String,
    pub action: Action,
    pub detail: String,
}

/// A write, in the order of execution (see `apply`).
enum Op {
    UpsertService { id: String, type_: String, props: String, new: bool },
    DeleteCollection(i32),
    UpsertCollection { def: usize, id: Option<i32>, bindings: String },
    DeleteService(String),
    RecountVolumes,
    UpsertAccount { def: usize, new: bool, rehash: bool, perms: String },
    DeleteAccount(String),
}

const KEPT: &str = "not in the file (--prune deletes it)";

fn e(err: DbError) -> String {
    err.to_string()
}

/// What the comparison decided: the report and the writes.
#[derive(Default)]
struct Plan {
    items: Vec<Item>,
    ops: Vec<Op>,
}

impl Plan {
    /// An item of the file: created, or updated with the fields that differ, or unchanged.
    fn compared(&mut self, kind: &'static str, name: &str, existed: bool, changed: Vec<String>) -> Action {
        let action = match (existed, changed.is_empty()) {
            (false, _) => Action::Create,
            (true, true) => Action::Unchanged,
            (true, false) => Action::Update,
        };
        self.items.push(Item { kind, name: name.to_string(), action, detail: changed.join(", ") });
        action
    }

    /// An item the database has and the file omits: deleted with `--prune`, else kept.
    fn omitted(&mut self, kind: &'static str, name: &str, prune: bool, detail: String) {
        let (action, detail) =
            if prune { (Action::Delete, detail) } else { (Action::Keep, KEPT.to_string()) };
        self.items.push(Item { kind, name: name.to_string(), action, detail });
    }
}

fn changed(fields: &[(&str, bool)]) -> Vec<String> {
    fields.iter().filter(|(_, c)| *c).map(|(k, _)| k.to_string()).collect()
}

/// Compares and (unless `check`) writes. `Ok(None)`: errors were added to `diag`, nothing
/// changed.
pub fn apply(
    c: &mut postgres::Client,
    data: &DataConfig,
    opts: &Options,
    diag: &mut Diag,
) -> Result<Option<Vec<Item>>, String> {
    let mut tx = c.transaction().map_err(|x| e(x.into()))?;
    q::lock(&mut tx).map_err(e)?;
    let services = q::services(&mut tx).map_err(e)?;
    let collections = q::collections(&mut tx).map_err(e)?;
    let accounts = admin::accounts(&mut tx).map_err(e)?;
    let mut plan = Plan::default();
    // Names as they will be after the sync, for cross-references.
    let mut service_ids: HashSet<String> = services.iter().map(|s| s.id.clone()).collect();
    let mut collection_names: HashSet<String> = collections.iter().map(|c| c.name.clone()).collect();
    if let Some(defs) = &data.services {
        service_ids = plan_services(&mut tx, &mut plan, defs, &services, opts.prune, diag)?;
    }
    if let Some(defs) = &data.collections {
        let links = q::links(&mut tx).map_err(e)?;
        collection_names =
            plan_collections(&mut plan, defs, &collections, &links, &service_ids, opts.prune, diag);
    }
    if let Some(defs) = &data.accounts {
        plan_accounts(&mut plan, defs, &accounts, &collection_names, opts.prune, diag);
    }
    if !diag.errors.is_empty() {
        return Ok(None);
    }
    if !opts.check {
        execute(&mut tx, data, opts, plan.ops).map_err(e)?;
        tx.commit().map_err(|x| e(x.into()))?;
    }
    Ok(Some(plan.items))
}

fn plan_services(
    tx: &mut postgres::Transaction,
    plan: &mut Plan,
    defs: &[ServiceDef],
    rows: &[q::ServiceRow],
    prune: bool,
    diag: &mut Diag,
) -> Result<HashSet<String>, String> {
    let mut ids: HashSet<String> = rows.iter().map(|r| r.id.clone()).collect();
    for d in defs {
        let row = rows.iter().find(|r| r.id == d.id);
        let mut fields = changed(&[("type", row.is_some_and(|r| r.type_ != d.type_))]);
        if let Some(r) = row {
            fields.extend(changed_keys(&r.properties, &d.properties));
        }
        let action = plan.compared("service", &d.id, row.is_some(), fields);
        if action != Action::Unchanged {
            let props = python_json(&Value::Object(d.properties.clone()));
            let new = action == Action::Create;
            plan.ops.push(Op::UpsertService { id: d.id.clone(), type_: d.type_.clone(), props, new });
        }
        ids.insert(d.id.clone());
    }
    let mut lost_blocks = 0;
    for row in rows.iter().filter(|r| !defs.iter().any(|d| d.id == r.id)) {
        let mut detail = String::new();
        if prune {
            // The schema cascades a service's deletion to its inbox messages and their blocks.
            let (messages, blocks) = q::service_cascade(tx, &row.id).map_err(e)?;
            if messages > 0 {
                detail = format!(
                    "with its {messages} inbox messages and the {blocks} content blocks they delivered"
                );
            }
            lost_blocks += blocks;
            plan.ops.push(Op::DeleteService(row.id.clone()));
            ids.remove(&row.id);
        }
        plan.omitted("service", &row.id, prune, detail);
    }
    if lost_blocks > 0 {
        plan.ops.push(Op::RecountVolumes);
    }
    for (i, d) in defs.iter().enumerate() {
        for (s, line) in d.advertised.iter().filter(|(s, _)| !ids.contains(s)) {
            let msg = format!("no service `{s}` (OpenTAXII skips it too)");
            diag.warn(*line, &format!("services[{i}].advertised_services"), msg);
        }
    }
    Ok(ids)
}

fn plan_collections(
    plan: &mut Plan,
    defs: &[CollectionDef],
    rows: &[q::CollectionRow],
    links: &[(String, i32)],
    service_ids: &HashSet<String>,
    prune: bool,
    diag: &mut Diag,
) -> HashSet<String> {
    let mut names: HashSet<String> = rows.iter().map(|r| r.name.clone()).collect();
    for (i, d) in defs.iter().enumerate() {
        for (s, line) in d.service_ids.iter().filter(|(s, _)| !service_ids.contains(s)) {
            diag.error(*line, &format!("collections[{i}].service_ids"), format!("no service `{s}`"));
        }
        let row = rows.iter().find(|r| r.name == d.name);
        let fields = match row {
            None => Vec::new(),
            Some(r) => {
                let linked: HashSet<&str> =
                    links.iter().filter(|(_, c)| *c == r.id).map(|(s, _)| s.as_str()).collect();
                let wanted: HashSet<&str> = d.service_ids.iter().map(|(s, _)| s.as_str()).collect();
                let stored = r.bindings.as_deref().and_then(|b| serde_json::from_str::<Value>(b).ok());
                changed(&[
                    ("type", r.type_.as_deref() != Some(&d.type_)),
                    ("description", r.description != d.description),
                    ("accept_all_content", r.accept_all_content != Some(d.accept_all_content)),
                    ("supported_content", stored.as_ref() != Some(&d.bindings)),
                    ("available", r.available != Some(d.available)),
                    ("service_ids", linked != wanted),
                ])
            }
        };
        if plan.compared("collection", &d.name, row.is_some(), fields) != Action::Unchanged {
            plan.ops.push(Op::UpsertCollection {
                def: i,
                id: row.map(|r| r.id),
                bindings: python_json(&d.bindings),
            });
        }
        names.insert(d.name.clone());
    }
    for row in rows.iter().filter(|r| !defs.iter().any(|d| d.name == r.name)) {
        let detail =
            if row.volume > 0 { format!("{} content blocks unlinked", row.volume) } else { String::new() };
        if prune {
            plan.ops.push(Op::DeleteCollection(row.id));
            names.remove(&row.name);
        }
        plan.omitted("collection", &row.name, prune, detail);
    }
    names
}

fn plan_accounts(
    plan: &mut Plan,
    defs: &[AccountDef],
    rows: &[AccountRow],
    collection_names: &HashSet<String>,
    prune: bool,
    diag: &mut Diag,
) {
    for (i, d) in defs.iter().enumerate() {
        let mut perms = Map::new();
        for p in &d.permissions {
            let at = format!("accounts[{i}].permissions.{}", p.collection);
            if !collection_names.contains(&p.collection) {
                let why = if is_uuid(&p.collection) {
                    "TAXII 2 permissions are not part of the data-config (use `taxiid account update`); dropped"
                        .to_string()
                } else {
                    format!("no TAXII 1 collection named `{}`; dropped (as OpenTAXII does)", p.collection)
                };
                diag.warn(p.line, &at, why);
                continue;
            }
            match p.right.as_deref() {
                Some(r @ ("read" | "modify")) => {
                    perms.insert(p.collection.clone(), Value::String(r.into()));
                }
                _ => diag.error(p.line, &at, format!("`{}` is not read or modify", p.shown)),
            }
        }
        let row = rows.iter().find(|a| a.username == d.username);
        let stored = row.and_then(|r| serde_json::from_str::<Value>(&r.permissions).ok());
        if let Some(Value::Object(old)) = &stored {
            // TAXII 2 rights are keyed by collection UUID and set outside the data-config.
            for (k, v) in old.iter().filter(|(k, _)| is_uuid(k)) {
                perms.entry(k.clone()).or_insert(v.clone());
            }
        }
        let perms = Value::Object(perms);
        let rehash = row.is_none_or(|r| !password::verify(&r.password_hash, &d.password));
        let fields = match row {
            None => Vec::new(),
            Some(r) => changed(&[
                ("password", rehash),
                ("is_admin", r.is_admin != d.is_admin),
                ("permissions", stored.as_ref() != Some(&perms)),
            ]),
        };
        let action = plan.compared("account", &d.username, row.is_some(), fields);
        if action != Action::Unchanged {
            let new = action == Action::Create;
            plan.ops.push(Op::UpsertAccount { def: i, new, rehash, perms: python_json(&perms) });
        }
    }
    for row in rows.iter().filter(|r| !defs.iter().any(|d| d.username == r.username)) {
        if prune {
            plan.ops.push(Op::DeleteAccount(row.username.clone()));
        }
        plan.omitted("account", &row.username, prune, String::new());
    }
}

/// Runs the writes: service upserts, collection deletes and upserts with their links, service
/// deletes (and a volume recount when their cascade removed blocks), then accounts.
fn execute(
    tx: &mut postgres::Transaction,
    data: &DataConfig,
    opts: &Options,
    ops: Vec<Op>,
) -> Result<(), DbError> {
    let phase = |op: &Op| match op {
        Op::UpsertService { .. } => 0,
        Op::DeleteCollection(_) => 1,
        Op::UpsertCollection { .. } => 2,
        Op::DeleteService(_) => 3,
        Op::RecountVolumes => 4,
        Op::UpsertAccount { .. } | Op::DeleteAccount(_) => 5,
    };
    let mut ops = ops;
    ops.sort_by_key(phase);
    let collections = data.collections.as_deref().unwrap_or_default();
    let accounts = data.accounts.as_deref().unwrap_or_default();
    for op in ops {
        match op {
            Op::UpsertService { id, type_, props, new: true } => q::insert_service(tx, &id, &type_, &props)?,
            Op::UpsertService { id, type_, props, new: false } => q::update_service(tx, &id, &type_, &props)?,
            Op::DeleteCollection(id) => q::delete_collection(tx, id)?,
            Op::UpsertCollection { def, id, bindings } => {
                let d = &collections[def];
                let f = q::CollectionFields {
                    name: &d.name,
                    type_: &d.type_,
                    description: d.description.as_deref(),
                    accept_all_content: d.accept_all_content,
                    bindings: &bindings,
                    available: d.available,
                };
                let id = match id {
                    Some(id) => {
                        q::update_collection(tx, id, &f)?;
                        id
                    }
                    None => q::insert_collection(tx, &f)?,
                };
                let mut services: Vec<String> = Vec::new();
                for (s, _) in &d.service_ids {
                    if !services.contains(s) {
                        services.push(s.clone());
                    }
                }
                q::set_links(tx, id, &services)?;
            }
            Op::DeleteService(id) => q::delete_service(tx, &id)?,
            Op::RecountVolumes => {
                q::recount_all_volumes(tx)?;
            }
            Op::UpsertAccount { def, new, rehash, perms } => {
                let d = &accounts[def];
                let hash = rehash.then(|| password::hash(&d.password, opts.scheme));
                if new {
                    admin::add_account(
                        tx,
                        &d.username,
                        hash.as_deref().unwrap_or_default(),
                        d.is_admin,
                        &perms,
                    )?;
                } else {
                    admin::update_account(tx, &d.username, hash.as_deref(), Some(d.is_admin), Some(&perms))?;
                }
            }
            Op::DeleteAccount(username) => {
                admin::delete_account(tx, &username)?;
            }
        }
    }
    Ok(())
}

/// Property keys that differ between the stored `_properties` and the file's.
fn changed_keys(stored: &str, wanted: &Map<String, Value>) -> Vec<String> {
    let Ok(Value::Object(old)) = serde_json::from_str::<Value>(stored) else {
        return vec!["properties".into()];
    };
    let mut out: Vec<String> =
        wanted.iter().filter(|(k, v)| old.get(*k) != Some(v)).map(|(k, _)| k.clone()).collect();
    out.extend(old.keys().filter(|k| !wanted.contains_key(*k)).cloned());
    out
}

pub fn print_report(items: &[Item], diag: &Diag, check: bool, prune: bool, json_out: bool) {
    if json_out {
        let list: Vec<Value> = items
            .iter()
            .map(|i| json!({"kind": i.kind, "name": i.name, "action": i.action.key(), "detail": i.detail}))
            .collect();
        println!("{}", json!({"check": check, "prune": prune, "items": list, "warnings": diag.warnings}));
        return;
    }
    let rows = items
        .iter()
        .map(|i| vec![i.kind.to_string(), i.name.clone(), i.action.word(check).to_string(), i.detail.clone()])
        .collect();
    print!("{}", table(&["KIND", "NAME", "ACTION", "DETAIL"], rows));
    let mut counts: Vec<String> = Vec::new();
    for a in [Action::Create, Action::Update, Action::Delete, Action::Unchanged, Action::Keep] {
        let n = items.iter().filter(|i| i.action == a).count();
        if n > 0 {
            counts.push(format!("{n} {}", a.word(check)));
        }
    }
    let changes = items.iter().any(|i| matches!(i.action, Action::Create | Action::Update | Action::Delete));
    let summary = if counts.is_empty() { "nothing in the file".to_string() } else { counts.join(", ") };
    match (check, changes) {
        (true, _) => println!("check only, nothing was changed: {summary}"),
        (false, true) => println!("sync done: {summary}"),
        (false, false) => println!("no changes: {summary}"),
    }
}
