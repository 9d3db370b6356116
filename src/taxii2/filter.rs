//! TAXII 2.1 query parameters: `limit`, `next`, `added_after` and `match[…]`, validated into a
//! `db::taxii2::ObjectQuery`. Malformed values are 400; unknown parameters and unknown match
//! fields are ignored (checklist items 6, 36–41).

use super::{Error, status};
use crate::db::taxii2::{ObjectQuery, Versions};
use crate::router;
use crate::timefmt;

/// Parameters after validation, before the cursor is applied.
pub struct Params {
    pub limit: i64,
    pub next: Option<String>,
    pub query: ObjectQuery,
    /// The filters in canonical form: a `next` cursor is only valid with the same ones.
    pub canonical: String,
}

/// Which parameters an endpoint honours (the others are ignored).
#[derive(Clone, Copy)]
pub struct Allowed {
    pub id_type: bool,
    pub version: bool,
    pub paging: bool,
    /// `match[version]` when the request has none: `last` for reads, `all` for DELETE.
    pub default_all: bool,
}

pub fn parse(query: &str, allowed: Allowed, max_page: u32) -> Result<Params, Error> {
    let pairs = router::query_pairs(query).map_err(|m| status(400, m))?;
    let mut seen: Vec<&str> = Vec::new();
    let mut limit = i64::from(max_page);
    let mut next = None;
    let mut q = ObjectQuery::default();
    let mut versions: Option<Versions> = None;
    for (k, v) in &pairs {
        let name = k.as_str();
        let known = matches!(
            name,
            "limit"
                | "next"
                | "added_after"
                | "match[id]"
                | "match[type]"
                | "match[version]"
                | "match[spec_version]"
        );
        if !known {
            continue;
        }
        if seen.contains(&name) {
            return Err(Error::Status(400, format!("`{name}` given more than once")));
        }
        seen.push(name);
        match name {
            "limit" if allowed.paging => {
                let digits = v.trim();
                // Any positive integer is a valid request, however large: clamp it.
                let n: i64 = match digits.parse() {
                    Ok(n) => n,
                    Err(_) if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) => i64::MAX,
                    Err(_) => return Err(status(400, "`limit` must be a positive integer")),
                };
                if n < 1 {
                    return Err(status(400, "`limit` must be a positive integer"));
                }
                limit = n.min(i64::from(max_page));
            }
            "next" if allowed.paging => {
                if v.is_empty() {
                    return Err(status(400, "`next` is empty"));
                }
                next = Some(v.clone());
            }
            "added_after" => {
                if v.contains(',') {
                    return Err(status(400, "`added_after` takes one timestamp"));
                }
                let t = timefmt::parse_client(v)
                    .ok_or_else(|| status(400, "`added_after` is not an RFC 3339 timestamp"))?;
                q.added_after = Some(timefmt::to_db(t));
            }
            "match[id]" if allowed.id_type => q.ids = Some(list(name, v)?),
            "match[type]" if allowed.id_type => q.types = Some(list(name, v)?),
            "match[spec_version]" => q.spec_versions = Some(list(name, v)?),
            "match[version]" if allowed.version => versions = Some(parse_versions(v)?),
            _ => {}
        }
    }
    let default = if allowed.default_all {
        Versions { all: true, ..Versions::default() }
    } else {
        Versions { last: true, ..Versions::default() }
    };
    q.versions = versions.unwrap_or(default);
    q.limit = limit;
    let canonical = canonical(&q);
    Ok(Params { limit, next, query: q, canonical })
}

/// Comma-separated values; empty entries and duplicates are malformed.
fn list(name: &str, v: &str) -> Result<Vec<String>, Error> {
    let items: Vec<String> = v.split(',').map(|s| s.trim().to_string()).collect();
    if items.iter().any(String::is_empty) {
        return Err(Error::Status(400, format!("`{name}` has an empty value")));
    }
    Ok(items)
}

fn parse_versions(v: &str) -> Result<Versions, Error> {
    let mut out = Versions::default();
    let items = list("match[version]", v)?;
    for (i, item) in items.iter().enumerate() {
        if items[..i].contains(item) {
            return Err(Error::Status(400, format!("`match[version]` lists `{item}` twice")));
        }
        match item.as_str() {
            "all" => out.all = true,
            "first" => out.first = true,
            "last" => out.last = true,
            ts => {
                let t = timefmt::parse_client(ts).ok_or_else(|| {
                    Error::Status(400, format!("`match[version]`: `{ts}` is not a timestamp"))
                })?;
                let t = timefmt::to_db(t);
                if out.at.contains(&t) {
                    return Err(Error::Status(400, format!("`match[version]` lists `{ts}` twice")));
                }
                out.at.push(t);
            }
        }
    }
    if out.all && items.len() > 1 {
        return Err(status(400, "`match[version]=all` cannot be combined with other values"));
    }
    Ok(out)
}

fn canonical(q: &ObjectQuery) -> String {
    let join = |v: &Option<Vec<String>>| v.as_ref().map(|v| v.join(",")).unwrap_or_else(|| "-".into());
    let at: Vec<String> = q.versions.at.iter().map(|t| timefmt::from_db(*t)).collect();
    format!(
        "aa={};id={};type={};sv={};v={}{}{}{}",
        q.added_after.map(timefmt::from_db).unwrap_or_else(|| "-".into()),
        join(&q.ids),
        join(&q.types),
        join(&q.spec_versions),
        if q.versions.all { "all," } else { "" },
        if q.versions.first { "first," } else { "" },
        if q.versions.last { "last," } else { "" },
        at.join(",")
    )
}
