//! Example data for `taxiid dev`: a default API root, two TAXII 2.1 collections, TAXII 1
//! discovery, inbox, poll and collection-management services with two collections (rows as
//! OpenTAXII's data-config writes them), and an admin account. Idempotent: a second run adds
//! nothing and keeps the admin's password.

use postgres::GenericClient;

use super::DbError;
use crate::auth::password;

pub struct Seeded {
    /// The admin password, only when the account was created by this run.
    pub admin_password: Option<String>,
    pub api_root: String,
    pub collections: Vec<(String, String)>,
    /// TAXII 1 services: (type, address path).
    pub taxii1_services: Vec<(String, String)>,
    /// TAXII 1 collection names.
    pub taxii1_collections: Vec<String>,
}

const HTTP: &str = "urn:taxii.mitre.org:protocol:http:1.0";

/// (id, type, `_properties`): discovery is open, the others need an account.
fn taxii1_services() -> [(&'static str, &'static str, String); 4] {
    let all = r#""advertised_services": ["discovery", "inbox", "poll", "collection_management"]"#;
    [
        (
            "discovery",
            "discovery",
            format!(
                r#"{{"address": "/services/discovery", "description": "Discovery service", {all}, "protocol_bindings": ["{HTTP}"]}}"#
            ),
        ),
        (
            "inbox",
            "inbox",
            format!(
                r#"{{"address": "/services/inbox", "description": "Inbox service", "destination_collection_required": true, "accept_all_content": true, "authentication_required": true, "protocol_bindings": ["{HTTP}"]}}"#
            ),
        ),
        (
            "poll",
            "poll",
            format!(
                r#"{{"address": "/services/poll", "description": "Poll service", "subscription_required": false, "max_result_size": 100, "max_result_count": 10000, "authentication_required": true, "protocol_bindings": ["{HTTP}"]}}"#
            ),
        ),
        (
            "collection_management",
            "collection_management",
            format!(
                r#"{{"address": "/services/collection-management", "description": "Collection management service", "subscription_supported": true, "authentication_required": true, "protocol_bindings": ["{HTTP}"]}}"#
            ),
        ),
    ]
}

/// (name, type, description, accept_all_content, bindings JSON): a feed taking anything and
/// a STIX 1.2 feed.
const TAXII1_COLLECTIONS: [(&str, &str, &str, bool, &str); 2] = [
    ("indicators", "DATA_FEED", "Example feed that takes any content", true, "[]"),
    (
        "stix12",
        "DATA_FEED",
        "Example feed of STIX 1.2 packages",
        false,
        r#"[["urn:stix.mitre.org:xml:1.2", []]]"#,
    ),
];

fn taxii1_data(tx: &mut postgres::Transaction<'_>) -> Result<(), DbError> {
    for (id, kind, props) in taxii1_services() {
        tx.execute(
            "INSERT INTO public.services (date_created, id, type, _properties, date_updated)
             VALUES (now(), $1, $2, $3, now()) ON CONFLICT (id) DO NOTHING",
            &[&id, &kind, &props],
        )?;
    }
    for (name, kind, description, accept_all, bindings) in TAXII1_COLLECTIONS {
        tx.execute(
            "INSERT INTO public.data_collections
                 (date_created, name, type, description, accept_all_content, bindings, available, volume)
             SELECT now(), $1::text, $2::text, $3::text, $4, $5::text, true, 0
             WHERE NOT EXISTS (SELECT 1 FROM public.data_collections WHERE name = $1::text)",
            &[&name, &kind, &description, &accept_all, &bindings],
        )?;
        tx.execute(
            "INSERT INTO public.service_to_collection (service_id, collection_id)
             SELECT s.id, c.id FROM public.services s, public.data_collections c
             WHERE s.id = ANY($1) AND c.name = $2::text
             ON CONFLICT DO NOTHING",
            &[&vec!["inbox", "poll", "collection_management"], &name],
        )?;
    }
    Ok(())
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
    taxii1_data(&mut tx)?;
    let taxii1_services = taxii1_services()
        .iter()
        .map(|(_, kind, props)| {
            let address = serde_json::from_str::<serde_json::Value>(props)
                .ok()
                .and_then(|v| v["address"].as_str().map(str::to_string))
                .unwrap_or_default();
            (kind.to_string(), address)
        })
        .collect();
    let taxii1_collections = TAXII1_COLLECTIONS.iter().map(|c| c.0.to_string()).collect();
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
    Ok(Seeded { admin_password, api_root: root, collections, taxii1_services, taxii1_collections })
}
