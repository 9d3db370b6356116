//! `taxiid config from-opentaxii` through the real binary, on the OpenTAXII configuration of
//! the fixture's README: every option mapped or explained, secrets withheld unless asked for,
//! `OPENTAXII_*` variables applied with `--env`, and the output accepted by `check-config`.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::server::{BIN, scratch_dir};

const FIXTURE_README: &str =
    concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/reference/opentaxii-fixture/README.md");

/// The YAML block under "Server configuration that matches the data".
fn fixture_config() -> PathBuf {
    let readme = std::fs::read_to_string(FIXTURE_README).unwrap();
    let section = readme.split("## Server configuration that matches the data").nth(1).unwrap();
    let yaml = section.split("```yaml\n").nth(1).unwrap().split("```").next().unwrap();
    assert!(yaml.contains("auth_api:"), "{yaml}");
    write("opentaxii.yml", yaml)
}

fn write(name: &str, text: &str) -> PathBuf {
    let path = scratch_dir().join(name);
    std::fs::write(&path, text).unwrap();
    path
}

fn convert(file: &Path, args: &[&str], env: &[(&str, &str)]) -> (i32, String, String) {
    let mut cmd = Command::new(BIN);
    cmd.args(["config", "from-opentaxii"]).arg(file).args(args);
    for (k, _) in std::env::vars().filter(|(k, _)| k.starts_with("OPENTAXII_")) {
        cmd.env_remove(k);
    }
    let out = cmd.envs(env.iter().copied()).output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn has_line(out: &str, line: &str) -> bool {
    out.lines().any(|l| l == line)
}

#[test]
fn converts_the_fixture_configuration() {
    let file = fixture_config();
    let (code, out, err) = convert(&file, &[], &[]);
    assert_eq!(code, 0, "{err}");
    for line in [
        "domain = http://127.0.0.1:9000",
        "auth.support_basic_auth = yes",
        "http.return_server_error_details = no",
        "database.url = postgresql://USER@HOST:PORT/otx_fixture",
        "#auth.secret_file = /etc/taxiid/jwt-secret",
        "auth.token_ttl = 3600s",
        "taxii1.save_raw_inbox_messages = yes",
        "taxii1.count_blocks_in_poll_responses = no",
        "taxii1.unauthorized_status = UNAUTHORIZED",
        "taxii2.title = OpenTAXII fixture TAXII2 server",
        "taxii2.description = Fixture server for drop-in compatibility tests",
        "taxii2.contact = fixture@example.com",
        "taxii2.public_discovery = yes",
        "taxii2.max_content_length = 2048000",
        "log.level = info",
    ] {
        assert!(has_line(&out, line), "missing `{line}` in\n{out}");
    }
    assert!(!out.contains("fixture-secret-not-for-production"), "a secret was printed:\n{out}");
    let f = file.display().to_string();
    for comment in [
        format!("# domain: {f}:1"),
        "# check the scheme: https:// if clients reach taxiid through TLS.".to_string(),
        "# OpenTAXII applied token_ttl_secs as minutes, so its tokens lived 216000 s; taxiid reads seconds."
            .into(),
        "# auth_api.parameters.create_tables: ".into(),
        "# taxii1.xml_parser_supports_huge_tree: ".into(),
        "# taxii2.allow_custom_properties: ".into(),
        "# logging.root: OpenTAXII's default: taxiid has one log level (log.level)".into(),
    ] {
        assert!(out.contains(&comment), "missing `{comment}` in\n{out}");
    }
    // The three backends share one database: no warning about moving tables.
    assert!(!out.contains("is not the auth_api database"), "{out}");

    // With the secret, the result is a valid taxiid.conf.
    let (code, out, err) = convert(&file, &["--include-secrets"], &[]);
    assert_eq!(code, 0, "{err}");
    assert!(has_line(&out, "auth.secret = fixture-secret-not-for-production"), "{out}");
    let conf = write("taxiid.conf", &out);
    let check = Command::new(BIN).args(["check-config", "--config"]).arg(&conf).output().unwrap();
    assert!(check.status.success(), "{}\n{out}", String::from_utf8_lossy(&check.stderr));
}

#[test]
fn environment_passwords_defaults_and_disabled_protocols() {
    let file = fixture_config();
    let env = [
        ("OPENTAXII_DOMAIN", "taxii.example.org:8443"),
        ("OPENTAXII__AUTH_API__PARAMETERS__SECRET", "env-s3cret"),
    ];
    let (_, out, err) = convert(&file, &[], &env);
    assert!(has_line(&out, "domain = http://127.0.0.1:9000"), "{out}");
    assert!(err.contains("2 OPENTAXII_* environment variables were not applied"), "{err}");
    let (code, out, _) = convert(&file, &["--env", "--include-secrets"], &env);
    assert_eq!(code, 0);
    assert!(has_line(&out, "domain = http://taxii.example.org:8443"), "{out}");
    assert!(has_line(&out, "# domain: from the environment"), "{out}");
    assert!(has_line(&out, "auth.secret = env-s3cret"), "{out}");

    let other = write(
        "other.yml",
        "auth_api:\n  parameters:\n    db_connection: postgresql+psycopg2://otx:s3cret@db.example.org:5432/otx?sslmode=require\n    \
         secret: SECRET-STRING-NEEDS-TO-BE-CHANGED\n    pool_size: 5\ntaxii1: null\nfoo: 1\n",
    );
    let (code, out, err) = convert(&other, &[], &[]);
    assert_eq!(code, 0, "{err}");
    assert!(
        has_line(&out, "database.url = postgresql://otx@db.example.org:5432/otx?sslmode=require"),
        "{out}"
    );
    assert!(has_line(&out, "#database.password_file = /etc/taxiid/db-password"), "{out}");
    assert!(!out.contains("s3cret"), "{out}");
    assert!(out.contains("OpenTAXII's placeholder, which taxiid refuses"), "{out}");
    assert!(has_line(&out, "database.pool_size = 5"), "{out}");
    assert!(out.contains("TAXII 1 was disabled (taxii1: null)"), "{out}");
    assert!(out.contains("TAXII 2 was disabled"), "{out}");
    assert!(out.contains("# foo: "), "{out}");
    // OpenTAXII's defaults apply to what the file leaves out.
    assert!(has_line(&out, "domain = http://localhost:9000"), "{out}");
    assert!(has_line(&out, "# domain: OpenTAXII's default"), "{out}");

    let sqlite = write("sqlite.yml", "domain: x.example.org\n");
    let (_, out, _) = convert(&sqlite, &[], &[]);
    assert!(out.contains("`sqlite` database; taxiid needs PostgreSQL"), "{out}");

    let bad = write("bad.yml", "auth_api: [\n");
    let (code, _, err) = convert(&bad, &[], &[]);
    assert_eq!(code, 1);
    assert!(err.contains("bad.yml:"), "{err}");
    let (code, _, _) = convert(&bad, &["--bogus"], &[]);
    assert_eq!(code, 2);
}
