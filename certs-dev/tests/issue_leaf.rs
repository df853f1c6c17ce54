//! Tests of `issue_leaf`: extra certificates signed by an existing development CA.

use std::fs;
use std::time::{Duration, SystemTime};

use cdg_certs_dev::{Error, Options, Principal, Role, Validity, generate, issue_leaf};
use cdg_shared::cdg::Cdg;

mod common;
use common::{der_of, mode, parse, unix};

#[test]
fn issue_leaf_signs_an_expired_certificate_with_the_existing_ca() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let layout = generate(&tmp.path().join("pki"), &Options::default()).expect("generate");
    let now = SystemTime::now();
    let validity = Validity {
        not_before: now - Duration::from_secs(10 * 86_400),
        not_after: now - Duration::from_secs(86_400),
    };
    let principal = Principal::new(Role::Director, Cdg::Oise);
    let (cert_path, key_path) = (
        tmp.path().join("expired.pem"),
        tmp.path().join("expired.key"),
    );
    let leaf =
        issue_leaf(layout.dir(), principal, &cert_path, &key_path, validity).expect("issue_leaf");
    assert_eq!(leaf.principal, principal);
    assert_eq!(mode(&key_path), 0o600);

    let der = der_of(&cert_path);
    let cert = parse(&der);
    assert_eq!(Principal::from_certificate_der(&der), Ok(principal));
    assert!(!cert.validity().is_valid(), "expired");
    assert_eq!(
        cert.validity().not_after.timestamp(),
        unix(validity.not_after)
    );
    let ca_der = der_of(&layout.ca_cert());
    cert.verify_signature(Some(parse(&ca_der).public_key()))
        .expect("signed by the generated CA");
    let eku = cert.extended_key_usage().expect("EKU").expect("present");
    assert!(eku.value.client_auth && !eku.value.server_auth);

    // Replacing explicitly named output files is allowed.
    let again = Validity::starting_an_hour_ago(1).expect("validity");
    issue_leaf(layout.dir(), principal, &cert_path, &key_path, again).expect("reissue");
    assert!(parse(&der_of(&cert_path)).validity().is_valid());
}

#[test]
fn issue_leaf_rejects_a_mismatched_or_missing_ca() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let a = generate(&tmp.path().join("a"), &Options::default()).expect("a");
    let b = generate(&tmp.path().join("b"), &Options::default()).expect("b");
    fs::copy(b.ca_key(), a.ca_key()).expect("swap key");
    let validity = Validity::starting_an_hour_ago(1).expect("validity");
    let p = Principal::new(Role::Node, Cdg::Aisne);
    let (out_cert, out_key) = (tmp.path().join("n.pem"), tmp.path().join("n.key"));
    let err = issue_leaf(a.dir(), p, &out_cert, &out_key, validity).expect_err("mismatch");
    assert!(
        matches!(&err, Error::BadCa { path, .. } if path == &a.ca_key()),
        "{err:?}"
    );
    assert!(!out_cert.exists() && !out_key.exists());

    let err = issue_leaf(&tmp.path().join("none"), p, &out_cert, &out_key, validity)
        .expect_err("missing CA");
    assert!(matches!(&err, Error::Read { .. }), "{err:?}");
    assert!(err.to_string().contains("ca.pem"), "{err}");

    // A leaf certificate is not a CA.
    fs::copy(b.node_cert(Cdg::Nord), b.ca_cert()).expect("replace CA cert");
    let err = issue_leaf(b.dir(), p, &out_cert, &out_key, validity).expect_err("not a CA");
    assert!(
        matches!(&err, Error::BadCa { path, .. } if path == &b.ca_cert()),
        "{err:?}"
    );
}
