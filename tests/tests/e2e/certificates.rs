//! `check-certificate`, as an IT team runs it on the certificate its PKI issued: the real
//! binaries on the deploy kit's example configurations, pointed at real certificate files.

use std::path::{Path, PathBuf};
use std::process::Output;

use cdg_shared::cdg::Cdg;
use cdg_shared::identity::{Principal, Role};
use cdg_tests::{identity, pki};

fn run(bin: &str, args: &[&str]) -> (bool, String) {
    let Output {
        status,
        stdout,
        stderr,
    } = std::process::Command::new(cdg_tests::binary(bin))
        .arg("check-certificate")
        .args(args)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&stdout).to_string() + &String::from_utf8_lossy(&stderr);
    (status.success(), text)
}

/// The deploy kit's example `example`, its `[tls]` files replaced by `tls`, and `revoked` as
/// its deny list, written into `dir`.
fn example_with(
    dir: &Path,
    example: &str,
    tls: &cdg_shared::tls::TlsFiles,
    revoked: &[String],
) -> PathBuf {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../deploy/examples")
        .join(example);
    let mut table: toml::Table = toml::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let files = table
        .get_mut("tls")
        .and_then(toml::Value::as_table_mut)
        .unwrap();
    for (key, file) in [("ca", &tls.ca), ("cert", &tls.cert), ("key", &tls.key)] {
        files.insert(key.into(), file.display().to_string().into());
    }
    table.insert("revoked_certificates".into(), revoked.to_vec().into());
    let out = dir.join(example);
    std::fs::write(&out, toml::to_string(&table).unwrap()).unwrap();
    out
}

fn text(path: &Path) -> &str {
    path.to_str().unwrap()
}

#[test]
fn a_node_checks_its_configured_certificate_before_starting() {
    let dir = tempfile::tempdir().unwrap();
    let pki = pki(&dir.path().join("pki"));
    let node62 = identity(&pki, Principal::new(Role::Node, Cdg::PasDeCalais));

    let config = example_with(dir.path(), "node-62.toml", &node62, &[]);
    let (ok, out) = run("cdg-node", &["--config", text(&config)]);
    assert!(ok, "{out}");
    for expected in [
        "urn:cdg-hdf:node:62 (node of CDG 62)",
        "verifies against",
        "matches",
        "serve the node of CDG 62 (Pas-de-Calais)",
        "Usable: no problem found.",
    ] {
        assert!(out.contains(expected), "{expected} missing from\n{out}");
    }

    // The certificate of another CDG's node, installed by mistake.
    let node80 = identity(&pki, Principal::new(Role::Node, Cdg::Somme));
    let config = example_with(dir.path(), "node-62.toml", &node80, &[]);
    let (ok, out) = run("cdg-node", &["--config", text(&config)]);
    assert!(!ok, "{out}");
    assert!(
        out.contains("configured as urn:cdg-hdf:node:62") && out.contains("is not usable"),
        "{out}"
    );

    // Its own certificate, on the configuration's deny list.
    let der = cdg_tests::pki::leaf_der(&node62.cert);
    let (serial, _) = cdg_shared::revocation::identifiers(&der);
    let config = example_with(dir.path(), "node-62.toml", &node62, &[serial]);
    let (ok, out) = run("cdg-node", &["--config", text(&config)]);
    assert!(!ok, "{out}");
    assert!(out.contains("is revoked"), "{out}");

    // A file named on the command line overrides the configured one.
    let director = identity(&pki, Principal::new(Role::Director, Cdg::PasDeCalais));
    let config = example_with(dir.path(), "node-62.toml", &node62, &[]);
    let (ok, out) = run(
        "cdg-node",
        &[text(&director.cert), "--config", text(&config)],
    );
    assert!(!ok, "{out}");
    assert!(out.contains("urn:cdg-hdf:director:62"), "{out}");
}

#[test]
fn a_coordinator_certificate_from_an_intermediate_ca_checks_out() {
    let dir = tempfile::tempdir().unwrap();
    let pki = pki(&dir.path().join("pki"));
    let tls = cdg_tests::pki::from_intermediate(&pki, dir.path());

    let (ok, out) = run(
        "cdg",
        &[
            text(&tls.cert),
            "--ca",
            text(&tls.ca),
            "--key",
            text(&tls.key),
            "--host",
            "coordinateur.cdg59.fr",
        ],
    );
    assert!(ok, "{out}");
    for expected in [
        "the leaf and 1 intermediate(s)",
        "as a TLS server and client",
        "valid for coordinateur.cdg59.fr",
        "call every node",
    ] {
        assert!(out.contains(expected), "{expected} missing from\n{out}");
    }

    let config = example_with(dir.path(), "coordinator.toml", &tls, &[]);
    let (ok, out) = run("cdg-coordinator", &["--config", text(&config)]);
    assert!(ok, "{out}");

    // Without the CA bundle's root, the chain does not verify, and the command says how to fix it.
    let other = pki_of_another_federation(dir.path());
    let (ok, out) = run("cdg", &[text(&tls.cert), "--ca", text(&other)]);
    assert!(!ok, "{out}");
    assert!(out.contains("does not verify against"), "{out}");
}

fn pki_of_another_federation(dir: &Path) -> PathBuf {
    pki(&dir.join("other")).ca_cert()
}

#[test]
fn a_missing_file_or_argument_is_a_clear_error() {
    let (ok, out) = run("cdg", &["/nonexistent/node.pem"]);
    assert!(!ok);
    assert!(out.contains("cannot read /nonexistent/node.pem"), "{out}");
    let (ok, out) = run("cdg", &[]);
    assert!(!ok);
    assert!(out.contains("name the certificate file"), "{out}");
}
