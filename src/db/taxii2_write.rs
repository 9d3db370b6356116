//! Writes to OpenTAXII's TAXII 2.1 tables: adding objects and recording the status (job) of
//! the request, in one transaction, so a 202 is only ever sent for committed data.
//!
//! `date_added` is strictly increasing per collection at microsecond precision: writers to
//! one collection take a transaction-scoped advisory lock and continue after the newest row,
//! so a keyset cursor never skips a row that commits later with an earlier timestamp.

use std::collections::HashMap;

use postgres::GenericClient;
use time::PrimitiveDateTime;

use super::DbError;
use super::pool::{Conn, prepared};

/// A validated object ready for storage.
pub struct NewObject {
    pub id: String,
    pub type_: String,
    pub spec_version: String,
    /// The posted object had no `spec_version` member.
    pub spec_absent: bool,
    /// `modified`, else `created`; `None` for objects with neither (SCOs).
    pub version: Option<PrimitiveDateTime>,
    /// The object minus `id`, `type`, `spec_version`, members in posted order.
    pub data: String,
}

/// A status detail as stored in `opentaxii_job_detail`.
pub struct Detail {
    pub stix_id: String,
    pub version: Option<PrimitiveDateTime>,
    pub message: String,
    /// `success`, `failure` or `pending`.
    pub status: &'static str,
}

pub struct Job {
    pub id: String,
    pub status: String,
    pub request_timestamp: Option<PrimitiveDateTime>,
    pub total: i32,
    pub success: i32,
    pub failure: i32,
    pub pending: i32,
    pub details: Vec<Detail>,
    /// `Some(Some(id))` created by an account, `Some(None)` anonymously, `None` unknown (OpenTAXII).
    pub owner: Option<Option<i32>>,
}

// Add Objects takes the collection's writer lock, then stores everything in one statement
// (STORE), which also finds the next date_added: after the lock, so that its snapshot sees
// every earlier writer. Objects without a version need two more statements under the lock:
// the next date_added and the first date_added of their ids. All are prepared once per
// connection.
const LOCK: &str = "SELECT pg_advisory_xact_lock(hashtext('taxiid.stixobject.' || $1::text))";
const NEXT_ADDED: &str = "SELECT greatest(clock_timestamp() AT TIME ZONE 'UTC',
                                          max(date_added) + interval '1 microsecond')
                          FROM public.opentaxii_stixobject WHERE collection_id = $1::text::uuid";
const FIRST_ADDED: &str = "SELECT id, min(date_added) FROM public.opentaxii_stixobject
                           WHERE collection_id = $1::text::uuid AND id = ANY($2::varchar[]) GROUP BY id";
// The objects (a re-posted version is kept as it is; date_added from $5, or when $5 is empty
// the next ones after the newest), which of them had no spec_version member, the complete
// job with its details, and its owner: one multi-row statement.
const STORE: &str = "
    WITH base AS (
        SELECT greatest(clock_timestamp() AT TIME ZONE 'UTC', max(date_added) + interval '1 microsecond') AS t
        FROM public.opentaxii_stixobject WHERE collection_id = $1::text::uuid
    ), stored AS (
        INSERT INTO public.opentaxii_stixobject
            (pk, id, collection_id, type, spec_version, date_added, version, serialized_data)
        SELECT gen_random_uuid(), u.id, $1::text::uuid, u.type, u.spec,
               coalesce(u.added, base.t + (u.n - 1) * interval '1 microsecond'), u.version, u.data::json
        FROM base, unnest($2::varchar[], $3::varchar[], $4::varchar[], $5::timestamp[], $6::timestamp[],
                          $7::text[]) WITH ORDINALITY AS u(id, type, spec, added, version, data, n)
        ON CONFLICT (collection_id, id, version) DO NOTHING
        RETURNING pk, id, version
    ), absent AS (
        INSERT INTO public.taxiid_stixobject_spec_absent (pk)
        SELECT pk FROM stored
        WHERE (id, version) IN (SELECT * FROM unnest($8::varchar[], $9::timestamp[]))
    ), job AS (
        INSERT INTO public.opentaxii_job
            (id, api_root_id, status, request_timestamp, completed_timestamp,
             total_count, success_count, failure_count, pending_count)
        VALUES (gen_random_uuid(), $10::text::uuid, 'complete', $11::timestamp,
                clock_timestamp() AT TIME ZONE 'UTC', $12::int, $13::int, $14::int, 0)
        RETURNING id
    ), details AS (
        INSERT INTO public.opentaxii_job_detail (id, job_id, stix_id, version, message, status)
        SELECT gen_random_uuid(), job.id, d.stix_id, d.version, d.message,
               d.status::public.job_detail_status_enum
        FROM job, unnest($15::varchar[], $16::timestamp[], $17::text[], $18::text[])
                  AS d(stix_id, version, message, status)
    )
    INSERT INTO public.taxiid_job_owner (job_id, account_id) SELECT id, $19::int FROM job
    RETURNING job_id::text";

/// Stores `objects` in `collection` and records a complete job with one success per stored or
/// already-present object and one failure per entry of `failures`; returns the job as the
/// status resource would read it (details by STIX id and version).
pub fn add_objects(
    c: &mut Conn,
    root: &str,
    collection: &str,
    owner: Option<i32>,
    requested: PrimitiveDateTime,
    objects: &[NewObject],
    failures: Vec<Detail>,
) -> Result<Job, DbError> {
    let (lock, store) = (prepared(c, LOCK)?, prepared(c, STORE)?);
    // Objects without modified/created are versioned by the first time their id was added.
    enum Plan {
        Known(Vec<PrimitiveDateTime>),
        Unknown(postgres::Statement, postgres::Statement),
    }
    let plan = match objects.iter().map(|o| o.version).collect::<Option<Vec<_>>>() {
        Some(versions) => Plan::Known(versions),
        None => Plan::Unknown(prepared(c, NEXT_ADDED)?, prepared(c, FIRST_ADDED)?),
    };
    let mut tx = c.transaction()?;
    tx.execute(&lock, &[&collection])?;
    let (added, versions) = match plan {
        Plan::Known(versions) => (Vec::new(), versions),
        Plan::Unknown(next_added, first_added_st) => {
            let base: PrimitiveDateTime = tx.query_one(&next_added, &[&collection])?.get(0);
            let ids: Vec<&str> =
                objects.iter().filter(|o| o.version.is_none()).map(|o| o.id.as_str()).collect();
            let mut first_added = HashMap::new();
            for r in tx.query(&first_added_st, &[&collection, &ids])? {
                first_added.insert(r.get::<_, String>(0), r.get::<_, PrimitiveDateTime>(1));
            }
            let added: Vec<PrimitiveDateTime> =
                (0..objects.len()).map(|i| base + time::Duration::microseconds(i as i64)).collect();
            let versions = objects
                .iter()
                .zip(&added)
                .map(|(o, a)| o.version.unwrap_or_else(|| *first_added.entry(o.id.clone()).or_insert(*a)))
                .collect();
            (added, versions)
        }
    };
    let ids: Vec<&str> = objects.iter().map(|o| o.id.as_str()).collect();
    let types: Vec<&str> = objects.iter().map(|o| o.type_.as_str()).collect();
    let specs: Vec<&str> = objects.iter().map(|o| o.spec_version.as_str()).collect();
    let data: Vec<&str> = objects.iter().map(|o| o.data.as_str()).collect();
    let (absent_ids, absent_versions): (Vec<&str>, Vec<PrimitiveDateTime>) = objects
        .iter()
        .zip(&versions)
        .filter(|(o, _)| o.spec_absent)
        .map(|(o, v)| (o.id.as_str(), *v))
        .unzip();
    let mut details: Vec<Detail> = objects
        .iter()
        .zip(&versions)
        .map(|(o, v)| Detail {
            stix_id: o.id.clone(),
            version: Some(*v),
            message: String::new(),
            status: "success",
        })
        .collect();
    details.extend(failures);
    // stix_id is varchar(100): a hostile id in a failure entry is cut to fit.
    for d in &mut details {
        if d.stix_id.chars().count() > 100 {
            d.stix_id = d.stix_id.chars().take(100).collect();
        }
    }
    let total = details.len() as i32;
    let success = details.iter().filter(|d| d.status == "success").count() as i32;
    let failure = details.iter().filter(|d| d.status == "failure").count() as i32;
    let d_ids: Vec<&str> = details.iter().map(|d| d.stix_id.as_str()).collect();
    let d_versions: Vec<Option<PrimitiveDateTime>> = details.iter().map(|d| d.version).collect();
    let d_messages: Vec<&str> = details.iter().map(|d| d.message.as_str()).collect();
    let d_statuses: Vec<&str> = details.iter().map(|d| d.status).collect();
    let job: String = tx
        .query_one(
            &store,
            &[
                &collection,
                &ids,
                &types,
                &specs,
                &added,
                &versions,
                &data,
                &absent_ids,
                &absent_versions,
                &root,
                &requested,
                &total,
                &success,
                &failure,
                &d_ids,
                &d_versions,
                &d_messages,
                &d_statuses,
                &owner,
            ],
        )?
        .get(0);
    tx.commit()?;
    details.sort_by(|a, b| (&a.stix_id, a.version).cmp(&(&b.stix_id, b.version)));
    Ok(Job {
        id: job,
        status: "complete".into(),
        request_timestamp: Some(requested),
        total,
        success,
        failure,
        pending: 0,
        details,
        owner: Some(owner),
    })
}

/// A job of `root` with its details (sorted by STIX id, as OpenTAXII lists them).
pub fn job(c: &mut impl GenericClient, root: &str, id: &str) -> Result<Option<Job>, DbError> {
    if !super::taxii2::is_uuid(id) {
        return Ok(None);
    }
    let Some(r) = c.query_opt(
        "SELECT j.id::text, coalesce(j.status::text, 'pending'), j.request_timestamp,
                coalesce(j.total_count, 0), coalesce(j.success_count, 0), coalesce(j.failure_count, 0),
                coalesce(j.pending_count, 0), o.job_id IS NOT NULL, o.account_id
         FROM public.opentaxii_job j LEFT JOIN public.taxiid_job_owner o ON o.job_id = j.id
         WHERE j.id = $1::text::uuid AND j.api_root_id = $2::text::uuid",
        &[&id, &root],
    )?
    else {
        return Ok(None);
    };
    let details = c
        .query(
            "SELECT coalesce(stix_id, ''), version, coalesce(message, ''), coalesce(status::text, 'success')
             FROM public.opentaxii_job_detail WHERE job_id = $1::text::uuid ORDER BY stix_id, version",
            &[&id],
        )?
        .iter()
        .map(|d| Detail {
            stix_id: d.get(0),
            version: d.get(1),
            message: d.get(2),
            status: match d.get::<_, String>(3).as_str() {
                "failure" => "failure",
                "pending" => "pending",
                _ => "success",
            },
        })
        .collect();
    let owned: bool = r.get(7);
    Ok(Some(Job {
        id: r.get(0),
        status: r.get(1),
        request_timestamp: r.get(2),
        total: r.get(3),
        success: r.get(4),
        failure: r.get(5),
        pending: r.get(6),
        details,
        owner: if owned { Some(r.get(8)) } else { None },
    }))
}
