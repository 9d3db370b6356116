//! The one place that formats and parses timestamps: RFC 3339 (logs, TAXII, microsecond
//! precision, always `Z`) and IMF-fixdate (HTTP `Date`).

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use time::macros::format_description;

/// `2026-11-22T10:42:18.123456Z`: TAXII 2.1 timestamps carry exactly six fraction digits here.
pub fn rfc3339(t: OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    let fmt = format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:6]Z");
    t.format(&fmt).unwrap_or_default()
}

/// Parses RFC 3339 with any offset and fraction; returns UTC. `None` also when the instant is
/// past the year 9999 in UTC: `9999-12-31T23:59:59-23:59` made `to_offset` panic, a 500 for any
/// request carrying it (tests/fuzz).
pub fn parse_rfc3339(s: &str) -> Option<OffsetDateTime> {
    OffsetDateTime::parse(s, &Rfc3339).ok()?.checked_to_offset(time::UtcOffset::UTC)
}

/// `Sun, 22 Nov 2026 10:42:18 GMT` for the HTTP `Date` header.
pub fn http_date(t: OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    let fmt = format_description!(
        "[weekday repr:short], [day] [month repr:short] [year] [hour]:[minute]:[second] GMT"
    );
    t.format(&fmt).unwrap_or_default()
}

pub fn now() -> OffsetDateTime {
    OffsetDateTime::now_utc()
}

/// The naive-UTC value stored in OpenTAXII's `timestamp without time zone` columns, truncated
/// to the microseconds PostgreSQL keeps.
pub fn to_db(t: OffsetDateTime) -> time::PrimitiveDateTime {
    let t = t.to_offset(time::UtcOffset::UTC);
    let t = t.replace_nanosecond(t.nanosecond() / 1000 * 1000).unwrap_or(t);
    time::PrimitiveDateTime::new(t.date(), t.time())
}

/// A stored naive-UTC timestamp in TAXII 2.1 form (`…SS.ffffffZ`).
pub fn from_db(t: time::PrimitiveDateTime) -> String {
    rfc3339(t.assume_utc())
}

/// A timestamp a client sent: RFC 3339 with 0–9 fraction digits and `Z` or an offset. A `+`
/// that a query string turned into a space is put back; lower-case `t`/`z` are accepted.
pub fn parse_client(s: &str) -> Option<OffsetDateTime> {
    let s = s.trim_start().replace(' ', "+").replace('t', "T").replace('z', "Z");
    if let Some(t) = parse_rfc3339(&s) {
        return Some(t);
    }
    // RFC 3339 requires seconds, but `2016-11-03T12:30Z` is what some clients send.
    let fmt = format_description!("[year]-[month]-[day]T[hour]:[minute]Z");
    time::PrimitiveDateTime::parse(&s, &fmt).ok().map(|p| p.assume_utc())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_and_parses() {
        let t = parse_client("2016-11-03T12:30:59.001Z").unwrap();
        assert_eq!(rfc3339(t), "2016-11-03T12:30:59.001000Z");
        assert_eq!(
            from_db(to_db(parse_client("2016-11-03T12:30:59.123456789Z").unwrap())),
            "2016-11-03T12:30:59.123456Z"
        );
        assert_eq!(
            rfc3339(parse_client("2016-11-03T14:30:59 02:00").unwrap()),
            "2016-11-03T12:30:59.000000Z"
        );
        assert_eq!(rfc3339(parse_client("2016-11-03T12:30:59Z").unwrap()), "2016-11-03T12:30:59.000000Z");
        assert!(parse_client("yesterday").is_none());
        assert!(parse_client("2016-13-03T12:30:59Z").is_none());
        assert_eq!(http_date(parse_client("1994-11-06T08:49:37Z").unwrap()), "Sun, 06 Nov 1994 08:49:37 GMT");
    }
}
