//! End-to-end tests of `generate`: what it writes on disk and when it refuses to.

use std::fs;
use std::time::SystemTime;

use cdg_certs_dev::{CA_COMMON_NAME, Error, Options, Principal, Role, generate};
use cdg_shared::cdg::Cdg;

mod common;
use common::{der_of, mode, parse, sans, unix};

#[test]
fn generated_pki_is_complete_and_correct() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("pki");
    let opts = Options {
        force: false,
        validity_days: 30,
    };
    let before = SystemTime::now();
    let layout = generate(&dir, &opts).expect("generate");
    assert!(layout.exists());
    for file in layout.all_files() {
        assert!(file.is_file(), "{} missing", file.display());
    }
    let mut listed: Vec<_> = fs::read_dir(&dir)
        .expect("read dir")
        .map(|e| e.expect("entry").path())
        .collect();
    listed.sort();
    let mut expected = layout.all_files();
    expected.sort();
    assert_eq!(listed, expected, "no temporary file left behind");
    let readme = fs::read_to_string(layout.readme()).expect("README");
    assert!(readme.contains("DEVELOPMENT") && readme.contains("NEVER USE THEM IN PRODUCTION"));

    let ca_der = der_of(&layout.ca_cert());
    let ca = parse(&ca_der);
    assert!(ca.is_ca());
    let cn = ca.subject().iter_common_name().next().expect("CA CN");
    assert_eq!(cn.as_str().expect("UTF-8 CN"), CA_COMMON_NAME);
    let ku = ca.key_usage().expect("KU").expect("CA KU present").value;
    assert!(ku.key_cert_sign() && ku.crl_sign());
    ca.verify_signature(None).expect("CA is self-signed");
    assert_eq!(mode(&layout.ca_key()), 0o600);

    let leaves = layout.leaves();
    assert_eq!(leaves.len(), 17);
    let mut serials = vec![ca.raw_serial().to_vec()];
    for leaf in &leaves {
        let der = der_of(&leaf.cert);
        let cert = parse(&der);
        let p = leaf.principal;
        assert_eq!(Principal::from_certificate_der(&der), Ok(p), "{}", p.uri());

        cert.verify_signature(Some(ca.public_key()))
            .unwrap_or_else(|e| panic!("{} not signed by the CA: {e}", p.uri()));
        assert_eq!(cert.issuer(), ca.subject());
        assert!(!cert.is_ca());
        serials.push(cert.raw_serial().to_vec());

        let (dns, ips, uris) = sans(&cert);
        assert_eq!(uris, vec![p.uri()]);
        let server = matches!(p.role, Role::Node | Role::Coordinator);
        let client = matches!(
            p.role,
            Role::Coordinator | Role::Director | Role::ChargeDeMission | Role::Referent
        );
        if server {
            // localhost, and the host name of deploy/compose.yaml's examples.
            let host = match p.role {
                Role::Coordinator => "coordinateur.cdg59.fr".to_string(),
                _ => format!("observatoire.cdg{}.fr", p.cdg.code()),
            };
            assert_eq!(dns, vec!["localhost".to_string(), host], "{}", p.uri());
            assert_eq!(ips, vec![vec![127, 0, 0, 1]], "{}", p.uri());
        } else {
            assert!(dns.is_empty() && ips.is_empty(), "{}", p.uri());
        }
        let eku = cert
            .extended_key_usage()
            .expect("EKU")
            .expect("EKU present");
        assert_eq!(eku.value.server_auth, server, "{}", p.uri());
        assert_eq!(eku.value.client_auth, client, "{}", p.uri());
        let ku = cert.key_usage().expect("KU").expect("KU present").value;
        assert!(ku.digital_signature() && !ku.key_cert_sign());

        let validity = cert.validity();
        let nb = validity.not_before.timestamp();
        assert!((unix(before) - 3600 - nb).abs() <= 5, "starts an hour ago");
        assert_eq!(validity.not_after.timestamp() - nb, 30 * 86_400);

        assert_eq!(mode(&leaf.key), 0o600, "{}", leaf.key.display());
        assert_eq!(mode(&leaf.cert) & 0o600, 0o600);
        let key_pem = fs::read_to_string(&leaf.key).expect("key");
        assert!(key_pem.starts_with("-----BEGIN PRIVATE KEY-----"), "PKCS#8");
        let key = rcgen::KeyPair::from_pem(&key_pem).expect("key parses");
        assert_eq!(
            key.public_key_raw(),
            cert.public_key().subject_public_key.data.as_ref(),
            "key matches certificate"
        );
    }
    serials.sort();
    serials.dedup();
    assert_eq!(serials.len(), 18, "serial numbers are all distinct");

    assert_eq!(
        Principal::from_certificate_der(&der_of(&layout.coordinator_cert())),
        Ok(Principal::new(Role::Coordinator, Cdg::Nord))
    );
    assert_eq!(
        Principal::from_certificate_der(&der_of(&layout.charge_de_mission_cert())),
        Ok(Principal::new(Role::ChargeDeMission, Cdg::Nord))
    );
}

#[test]
fn never_overwrites_without_force_and_replaces_with_it() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let layout = generate(tmp.path(), &Options::default()).expect("first generate");
    let snapshot: Vec<(std::path::PathBuf, Vec<u8>)> = layout
        .all_files()
        .into_iter()
        .map(|f| {
            let bytes = fs::read(&f).expect("read");
            (f, bytes)
        })
        .collect();

    let err = generate(tmp.path(), &Options::default()).expect_err("second generate refused");
    match &err {
        Error::AlreadyExists { dir, files } => {
            assert_eq!(dir, tmp.path());
            assert_eq!(files, &layout.all_files());
        }
        other => panic!("expected AlreadyExists, got {other:?}"),
    }
    let msg = err.to_string();
    assert!(
        msg.contains("ca.key") && msg.contains("use --force"),
        "{msg}"
    );
    for (file, bytes) in &snapshot {
        assert_eq!(
            &fs::read(file).expect("read"),
            bytes,
            "{} changed",
            file.display()
        );
    }

    let forced = Options {
        force: true,
        ..Options::default()
    };
    generate(tmp.path(), &forced).expect("forced generate");
    for (file, bytes) in &snapshot {
        if file.extension().is_some_and(|e| e == "pem" || e == "key") {
            assert_ne!(
                &fs::read(file).expect("read"),
                bytes,
                "{} kept",
                file.display()
            );
        }
    }
    let ca_der = der_of(&layout.ca_cert());
    let ca = parse(&ca_der);
    let node = der_of(&layout.node_cert(Cdg::Somme));
    parse(&node)
        .verify_signature(Some(ca.public_key()))
        .expect("replaced leaves are signed by the replaced CA");
    assert_eq!(mode(&layout.node_key(Cdg::Somme)), 0o600);
}

#[test]
fn a_single_existing_file_blocks_generation() {
    let tmp = tempfile::tempdir().expect("tempdir");
    fs::write(tmp.path().join("director-62.key"), b"precious").expect("write");
    let err = generate(tmp.path(), &Options::default()).expect_err("refused");
    assert!(
        matches!(&err, Error::AlreadyExists { files, .. } if files.len() == 1),
        "{err:?}"
    );
    assert_eq!(fs::read_dir(tmp.path()).expect("dir").count(), 1);
    assert_eq!(
        fs::read(tmp.path().join("director-62.key")).expect("read"),
        b"precious"
    );
}

#[test]
fn separate_generations_have_separate_cas() {
    let (a, b) = (
        tempfile::tempdir().expect("a"),
        tempfile::tempdir().expect("b"),
    );
    let la = generate(a.path(), &Options::default()).expect("a");
    let lb = generate(b.path(), &Options::default()).expect("b");
    assert_ne!(der_of(&la.ca_cert()), der_of(&lb.ca_cert()));
    assert_ne!(
        fs::read(la.ca_key()).expect("a key"),
        fs::read(lb.ca_key()).expect("b key")
    );
    let ca_b_der = der_of(&lb.ca_cert());
    let node_a = der_of(&la.node_cert(Cdg::Nord));
    assert!(
        parse(&node_a)
            .verify_signature(Some(parse(&ca_b_der).public_key()))
            .is_err(),
        "a node of PKI A does not verify against CA B"
    );
}

#[test]
fn zero_days_is_rejected() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let opts = Options {
        force: false,
        validity_days: 0,
    };
    assert!(matches!(
        generate(&tmp.path().join("x"), &opts),
        Err(Error::InvalidValidity(_))
    ));
    assert!(!tmp.path().join("x").exists(), "nothing created");
}
