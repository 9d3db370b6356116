//! Add Objects (`POST …/objects/`): an envelope or a STIX bundle, each object validated on its
//! own (an invalid one becomes a status failure, never a rejection of the rest, up to
//! [`MAX_FAILURES`] of them), storage and status in one transaction, and 202 only after the
//! commit.

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
    // Checked without building anything, then walked in place: a map of the envelope and a
    // box per element of `objects` cost 20 to 500 times the body for hostile shapes (100,000
    // numbers in `objects`: 98 MiB for 200 kB, tests/hostile_documents.rs).
    let body: &RawValue = serde_json::from_slice(&req.body)
        .map_err(|e| Error::Status(422, format!("the body is not JSON: {e}")))?;
    let (mut objects, mut repeated) = (None, false);
    stix::for_each_member(body.get(), |m| {
        if m.key == "objects" {
            repeated |= objects.replace(m.value).is_some();
        }
        true
    })
    .ok_or_else(|| status(422, "the body is not a JSON object"))?;
    // serde_json's map kept the last of two `objects`: refuse them, as duplicate members
    // within objects, so that no two readers of one envelope see different lists.
    if repeated {
        return Err(status(422, "the body has more than one `objects` member"));
    }
    let objects = objects.ok_or_else(|| status(422, "the body has no `objects` list"))?;
    let elements = stix::elements(objects).ok_or_else(|| status(422, "`objects` is not a list"))?;
    let (mut valid, mut failures, mut count) = (Vec::new(), Vec::<Detail>::new(), 0usize);
    for el in elements {
        count += 1;
        match stix::check(el) {
            Checked::Valid(o) => valid.push(o),
            Checked::Invalid(id, version, message) => {
                if failures.len() == MAX_FAILURES {
                    let first = &failures[0].message;
                    let m = format!(
                        "more than {MAX_FAILURES} objects are invalid, none was stored; the first: {first}"
                    );
                    return Err(Error::Status(422, m));
                }
                let version =
                    version.and_then(|v| timefmt::parse_rfc3339(&v)).map(timefmt::to_db).or(Some(requested));
                failures.push(Detail {
                    stix_id: storable(&id, STIX_ID_CHARS),
                    version,
                    message: storable(&message, usize::MAX),
                    status: "failure",
                });
            }
        }
    }
    if count == 0 {
        return Err(status(422, "`objects` is empty"));
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

/// Invalid objects listed in one status at most. Each costs about a kilobyte (detail row,
/// status entry) however small it was posted, so `objects` of 100,000 numbers took 98 MiB
/// for a 200 kB body (tests/hostile_documents.rs). Past this the envelope is refused,
/// nothing stored.
pub const MAX_FAILURES: usize = 1000;

/// `opentaxii_job_detail.stix_id` is `varchar(100)`.
const STIX_ID_CHARS: usize = 100;

/// Client text made storable in a status detail: PostgreSQL refuses NUL in text and ids
/// longer than the column, and either made one invalid object a 500 for the whole envelope
/// (tests/hostile_documents.rs). The status then shows the id without NULs, cut at 100
/// characters.
fn storable(s: &str, max_chars: usize) -> String {
    s.chars().filter(|&c| c != '\0').take(max_chars).collect()
}
