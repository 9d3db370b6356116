//! The descriptive TAXII 2.1 resources: discovery, API root, collections, one collection, and
//! status (the result of an Add Objects request).

use serde_json::{Map, Value, json};

use super::{Admitted, Error, json_response, status};
use crate::auth::{self, Rights};
use crate::db::taxii2::{self as q, Collection};
use crate::db::taxii2_write;
use crate::http::Response;
use crate::server::Taxiid;
use crate::timefmt;

pub const TAXII_VERSION: &str = "application/taxii+json;version=2.1";

fn root_url(app: &Taxiid, id: &str) -> String {
    match &app.config.domain {
        Some(d) => format!("{d}/taxii2/{id}/"),
        None => format!("/taxii2/{id}/"),
    }
}

fn put_opt(m: &mut Map<String, Value>, k: &str, v: &Option<String>) {
    if let Some(v) = v {
        m.insert(k.into(), Value::from(v.as_str()));
    }
}

pub fn discovery(app: &Taxiid, adm: &mut Admitted) -> Result<Response, Error> {
    let roots = q::api_roots(&mut *adm.conn)?;
    let t = &app.config.taxii2;
    let mut m = Map::new();
    m.insert("title".into(), Value::from(t.title.as_str()));
    put_opt(&mut m, "description", &t.description);
    put_opt(&mut m, "contact", &t.contact);
    if let Some(d) = roots.iter().find(|r| r.default) {
        m.insert("default".into(), Value::from(root_url(app, &d.id)));
    }
    if !roots.is_empty() {
        m.insert("api_roots".into(), roots.iter().map(|r| Value::from(root_url(app, &r.id))).collect());
    }
    Ok(json_response(200, Value::Object(m).to_string().into_bytes()))
}

pub fn api_root(app: &Taxiid, adm: &Admitted) -> Result<Response, Error> {
    let r = adm.root();
    let mut m = Map::new();
    m.insert("title".into(), Value::from(r.title.as_str()));
    put_opt(&mut m, "description", &r.description);
    m.insert("versions".into(), json!([TAXII_VERSION]));
    m.insert("max_content_length".into(), Value::from(app.max_content_length()));
    Ok(json_response(200, Value::Object(m).to_string().into_bytes()))
}

fn collection_json(adm: &mut Admitted, c: &Collection, rights: Rights) -> Result<Value, Error> {
    let mut m = Map::new();
    m.insert("id".into(), Value::from(c.id.as_str()));
    m.insert("title".into(), Value::from(c.title.as_str()));
    put_opt(&mut m, "description", &c.description);
    put_opt(&mut m, "alias", &c.alias);
    m.insert("can_read".into(), Value::from(rights.read));
    m.insert("can_write".into(), Value::from(rights.write));
    let mut media = Vec::new();
    if q::holds_spec_20(&mut *adm.conn, &c.id)? {
        media.push("application/stix+json;version=2.0");
    }
    media.push("application/stix+json;version=2.1");
    m.insert("media_types".into(), json!(media));
    Ok(Value::Object(m))
}

pub fn collections(adm: &mut Admitted) -> Result<Response, Error> {
    let root = adm.root().id.clone();
    let mut list = Vec::new();
    for c in q::collections(&mut *adm.conn, &root)? {
        let rights = auth::taxii2_rights(adm.account.as_ref(), &c.id, c.is_public, c.is_public_write);
        // Collections this caller can neither read nor write do not exist for it.
        if rights.visible() {
            list.push(collection_json(adm, &c, rights)?);
        }
    }
    let body = if list.is_empty() { json!({}) } else { json!({ "collections": list }) };
    Ok(json_response(200, body.to_string().into_bytes()))
}

pub fn collection(adm: &mut Admitted) -> Result<Response, Error> {
    let (c, rights) = adm.collection.clone().expect("admission resolved the collection");
    let body = collection_json(adm, &c, rights)?;
    Ok(json_response(200, body.to_string().into_bytes()))
}

pub fn status_resource(adm: &mut Admitted) -> Result<Response, Error> {
    let root = adm.root().id.clone();
    let job = taxii2_write::job(&mut *adm.conn, &root, &adm.params[1])?;
    let Some(job) = job else { return Err(status(404, "no such status")) };
    // Statuses belong to their creator (and admins); anonymous or OpenTAXII-made ones to
    // everyone who may see the API root.
    let readable = match (job.owner, adm.account.as_ref()) {
        (Some(Some(owner)), Some(a)) => a.is_admin || a.id == owner,
        (Some(Some(_)), None) => false,
        _ => true,
    };
    if !readable {
        return Err(status(404, "no such status"));
    }
    Ok(json_response(200, status_json(&job).to_string().into_bytes()))
}

/// The status resource; also the body of the 202 answering Add Objects.
pub fn status_json(job: &taxii2_write::Job) -> Value {
    let fallback = job.request_timestamp.map(timefmt::from_db).unwrap_or_default();
    let mut m = Map::new();
    m.insert("id".into(), Value::from(job.id.as_str()));
    m.insert("status".into(), Value::from(if job.status == "complete" { "complete" } else { "pending" }));
    if let Some(t) = job.request_timestamp {
        m.insert("request_timestamp".into(), Value::from(timefmt::from_db(t)));
    }
    m.insert("total_count".into(), Value::from(job.total));
    for (list, count, kind) in [
        ("successes", "success_count", "success"),
        ("failures", "failure_count", "failure"),
        ("pendings", "pending_count", "pending"),
    ] {
        let n = match kind {
            "success" => job.success,
            "failure" => job.failure,
            _ => job.pending,
        };
        m.insert(count.into(), Value::from(n));
        let entries: Vec<Value> = job
            .details
            .iter()
            .filter(|d| d.status == kind)
            .map(|d| {
                let mut e = Map::new();
                e.insert("id".into(), Value::from(d.stix_id.as_str()));
                e.insert(
                    "version".into(),
                    Value::from(d.version.map(timefmt::from_db).unwrap_or_else(|| fallback.clone())),
                );
                if !d.message.is_empty() {
                    e.insert("message".into(), Value::from(d.message.as_str()));
                }
                Value::Object(e)
            })
            .collect();
        // Lists must agree with their counts (taxii2-client checks); OpenTAXII's pending jobs
        // have neither, and empty lists are omitted.
        if !entries.is_empty() && entries.len() as i32 == n {
            m.insert(list.into(), Value::Array(entries));
        }
    }
    Value::Object(m)
}
