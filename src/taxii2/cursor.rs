//! `next` cursors: an opaque, signed keyset position. The token carries the (date_added, id,
//! version) of the last row served; its MAC also covers the endpoint, collection, object and
//! canonical filters, so a forged, garbled or foreign token, or one replayed with other
//! filters, is refused (400) instead of silently serving page one. The MAC key derives from
//! `auth.secret`, so every instance on one database honours the others' cursors. A page's
//! cost does not depend on its depth: the query continues from the key (no OFFSET).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use time::PrimitiveDateTime;

use crate::auth::{Auth, ct_eq};

pub type Key = (PrimitiveDateTime, String, PrimitiveDateTime);

const PURPOSE: &str = "taxiid taxii2 next cursor v1";
const MAC_BYTES: usize = 16;

fn micros(t: PrimitiveDateTime) -> i128 {
    t.assume_utc().unix_timestamp_nanos() / 1000
}

fn from_micros(us: i128) -> Option<PrimitiveDateTime> {
    let t = time::OffsetDateTime::from_unix_timestamp_nanos(us.checked_mul(1000)?).ok()?;
    Some(PrimitiveDateTime::new(t.date(), t.time()))
}

pub fn encode(auth: &Auth, binding: &str, key: &Key) -> String {
    let payload = format!("{}|{}|{}", micros(key.0), micros(key.2), key.1);
    let mac = auth.mac(PURPOSE, format!("{binding}\n{payload}").as_bytes());
    format!("{}.{}", URL_SAFE_NO_PAD.encode(&payload), URL_SAFE_NO_PAD.encode(&mac[..MAC_BYTES]))
}

pub fn decode(auth: &Auth, binding: &str, token: &str) -> Option<Key> {
    let (p, m) = token.split_once('.')?;
    let payload = String::from_utf8(URL_SAFE_NO_PAD.decode(p).ok()?).ok()?;
    let mac = URL_SAFE_NO_PAD.decode(m).ok()?;
    let expected = auth.mac(PURPOSE, format!("{binding}\n{payload}").as_bytes());
    if !ct_eq(&mac, &expected[..MAC_BYTES]) {
        return None;
    }
    let mut parts = payload.splitn(3, '|');
    let added = from_micros(parts.next()?.parse().ok()?)?;
    let version = from_micros(parts.next()?.parse().ok()?)?;
    Some((added, parts.next()?.to_string(), version))
}
