//! Add Objects (`POST …/objects/`): an envelope or a STIX bundle, each object validated on its
//! own (an invalid one becomes a status failure, never a rejection of the rest), storage and
//! status in one transaction, and 202 only after the commit.

use std::collections::HashMap;

use serde_json::value::RawValue;

use super::stix::{self, Checked};
use super::{Admitted, Error, discovery, json_response, status};
use crate::db::taxii2_write::{self, Detail};
use crate::http::{Request, Response};
use crate::server::Taxiid;
use crate::timefmt;

pub fn add(app: &Taxiid, adm: &mut Admitted, req: &Request) -> Result<Response, Error> {
    // Chunked bodies carry no Content-Length for admission to check.
    if req.body.len() as u64 > app.max_content_length() {
        return Err(status(413, "the request body is larger than max_content_length"));
    }
    let requested = timefmt::to_db(timefmt::now());
    let envelope: HashMap<String, Box<RawValue>> = serde_json::from_slice(&req.body)
        .map_err(|e| Error::Status(422, format!("the body is not a JSON object: {e}")))?;
    let raw_objects = envelope.get("objects").ok_or_else(|| status(422, "the body has no `objects` list"))?;
    let elements: Vec<Box<RawValue>> =
        serde_json::from_str(raw_objects.get()).map_err(|_| status(422, "`objects` is not a list"))?;
    if elements.is_empty() {
        return Err(status(422, "`objects` is empty"));
    }
    let mut valid = Vec::with_capacity(elements.len());
    let mut failures = Vec::new();
    for el in &elements {
        match stix::check(el.get()) {
            Checked::Valid(o) => valid.push(o),
            Checked::Invalid(id, version, message) => {
                let version =
                    version.and_then(|v| timefmt::parse_rfc3339(&v)).map(timefmt::to_db).or(Some(requested));
                failures.push(Detail { stix_id: id, version, message, status: "failure" });
            }
        }
    }
    let root = adm.root().id.clone();
    let collection = adm.collection().id.clone();
    let owner = adm.account.as_ref().map(|a| a.id);
    // The status comes back from the write itself: no second read of 1000 details.
    let job =
        taxii2_write::add_objects(&mut adm.conn, &root, &collection, owner, requested, &valid, failures)?;
    let job_id = &job.id;
    crate::metrics::objects_ingested(job.success.max(0) as u64);
    log::info!(
        "collection {collection}: {} objects accepted, {} refused (status {job_id})",
        job.success,
        job.failure
    );
    Ok(json_response(202, discovery::status_json(&job).to_string().into_bytes()))
}
