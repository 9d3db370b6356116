//! Queries on OpenTAXII's `accounts` table, as the authentication layer needs them.

use postgres::GenericClient;
use postgres::types::Type;

use super::DbError;

pub struct AccountRow {
    pub id: i32,
    pub username: String,
    pub password_hash: String,
    pub is_admin: bool,
    /// `_permissions`: JSON text as OpenTAXII stores it.
    pub permissions: String,
}

const COLUMNS: &str =
    "id, coalesce(username, ''), coalesce(password_hash, ''), coalesce(is_admin, false), _permissions";

impl AccountRow {
    /// The account in the five columns of [`COLUMNS`] starting at `first` (of a statement
    /// that may read it with other things); `None` when its id is NULL (no such account).
    pub(super) fn at(r: &postgres::Row, first: usize) -> Option<AccountRow> {
        Some(AccountRow {
            id: r.get::<_, Option<i32>>(first)?,
            username: r.get(first + 1),
            password_hash: r.get(first + 2),
            is_admin: r.get(first + 3),
            permissions: r.get(first + 4),
        })
    }
}

pub fn by_id(c: &mut impl GenericClient, id: i32) -> Result<Option<AccountRow>, DbError> {
    // Per request (bearer tokens): one round trip, typed parameters need no prepare.
    let sql = format!("SELECT {COLUMNS} FROM public.accounts WHERE id = $1");
    Ok(c.query_typed(&sql, &[(&id, Type::INT4)])?.first().and_then(|r| AccountRow::at(r, 0)))
}

pub fn by_username(c: &mut impl GenericClient, username: &str) -> Result<Option<AccountRow>, DbError> {
    let sql = format!("SELECT {COLUMNS} FROM public.accounts WHERE username = $1");
    Ok(c.query_typed(&sql, &[(&username, Type::VARCHAR)])?.first().and_then(|r| AccountRow::at(r, 0)))
}
