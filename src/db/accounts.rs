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

fn row(r: &postgres::Row) -> AccountRow {
    AccountRow {
        id: r.get(0),
        username: r.get(1),
        password_hash: r.get(2),
        is_admin: r.get(3),
        permissions: r.get(4),
    }
}

pub fn by_id(c: &mut impl GenericClient, id: i32) -> Result<Option<AccountRow>, DbError> {
    // Per request (bearer tokens): one round trip, typed parameters need no prepare.
    let sql = format!("SELECT {COLUMNS} FROM public.accounts WHERE id = $1");
    Ok(c.query_typed(&sql, &[(&id, Type::INT4)])?.first().map(row))
}

pub fn by_username(c: &mut impl GenericClient, username: &str) -> Result<Option<AccountRow>, DbError> {
    let sql = format!("SELECT {COLUMNS} FROM public.accounts WHERE username = $1");
    Ok(c.query_typed(&sql, &[(&username, Type::VARCHAR)])?.first().map(row))
}
