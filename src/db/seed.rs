//! Example data for `taxiid dev`: a default API root, two TAXII 2.1 collections and an admin
//! account. Idempotent: a second run adds nothing and keeps the admin's password.

use postgres::GenericClient;

use super::DbError;
use crate::auth::password;

pub struct Seeded {
    /// The admin password, only when the account was created by this run.
    pub admin_password: Option<String>,
    pub api_root: String,
    pub collections: Vec<(String, String)>,
}

pub fn example_data(client: &mut impl GenericClient) -> Result<Seeded, DbError> {
    let mut tx = client.transaction()?;
    let root: String = match tx
        .query_opt(r#"SELECT id::text FROM public.opentaxii_api_root WHERE "default" LIMIT 1"#, &[])?
    {
        Some(row) => row.get(0),
        None => tx
            .query_one(
                r#"INSERT INTO public.opentaxii_api_root (id, "default", title, description, is_public)
                   VALUES (gen_random_uuid(), true, $1, $2, false) RETURNING id::text"#,
                &[&"Default API root", &"Example API root created by taxiid dev"],
            )?
            .get(0),
    };
    let examples = [("Indicators", "indicators", false, false), ("Public feed", "public", true, false)];
    for (title, alias, public, public_write) in examples {
        tx.execute(
            "INSERT INTO public.opentaxii_collection (id, api_root_id, title, description, alias, is_public, is_public_write)
             SELECT gen_random_uuid(), $1::text::uuid, $2::text, $3::text, $4::text, $5, $6
             WHERE NOT EXISTS (SELECT 1 FROM public.opentaxii_collection WHERE api_root_id = $1::text::uuid AND alias = $4::text)",
            &[&root, &title, &format!("Example collection `{alias}`"), &alias, &public, &public_write],
        )?;
    }
    let collections = tx
        .query(
            "SELECT id::text, title FROM public.opentaxii_collection WHERE api_root_id = $1::text::uuid ORDER BY title",
            &[&root],
        )?
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    let exists = tx.query_opt("SELECT 1 FROM public.accounts WHERE username = 'admin'", &[])?.is_some();
    let admin_password = if exists {
        None
    } else {
        let pw = password::random_token(20);
        tx.execute(
            "INSERT INTO public.accounts (username, password_hash, is_admin, _permissions) VALUES ('admin', $1, true, '{}')",
            &[&password::hash(&pw, password::Scheme::Scrypt)],
        )?;
        Some(pw)
    };
    tx.commit()?;
    Ok(Seeded { admin_password, api_root: root, collections })
}
