//! The certificate check on certificates a CDG's PKI might issue: right and wrong ones.

use rcgen::{
    BasicConstraints, CertificateParams, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose, SanType,
};

use super::*;
use crate::cdg::Cdg;

/// A CA that signs leaves into a folder.
struct Pki {
    dir: tempfile::TempDir,
    ca: Issuer<'static, KeyPair>,
}

/// What a leaf certificate carries.
struct Leaf {
    uri: Option<String>,
    dns: Vec<&'static str>,
    eku: Vec<ExtendedKeyUsagePurpose>,
    expired: bool,
}

impl Leaf {
    fn node62() -> Leaf {
        Leaf {
            uri: Some(Principal::new(Role::Node, Cdg::PasDeCalais).uri()),
            dns: vec!["observatoire.cdg62.fr"],
            eku: vec![ExtendedKeyUsagePurpose::ServerAuth],
            expired: false,
        }
    }

    fn director02() -> Leaf {
        Leaf {
            uri: Some(Principal::new(Role::Director, Cdg::Aisne).uri()),
            dns: vec![],
            eku: vec![ExtendedKeyUsagePurpose::ClientAuth],
            expired: false,
        }
    }
}

fn ca_params() -> CertificateParams {
    let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    ca
}

impl Pki {
    fn new() -> Pki {
        crate::tls::install_crypto_provider();
        let dir = tempfile::tempdir().unwrap();
        let key = KeyPair::generate().unwrap();
        let cert = ca_params().self_signed(&key).unwrap();
        std::fs::write(dir.path().join("ca.pem"), cert.pem()).unwrap();
        Pki {
            ca: Issuer::new(ca_params(), key),
            dir,
        }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Writes `name.pem` and `name.key`, signed by `issuer` (the CA when None).
    fn leaf(&self, name: &str, leaf: Leaf, issuer: Option<&Issuer<'_, KeyPair>>) -> CheckOptions {
        let key = KeyPair::generate().unwrap();
        let mut p = CertificateParams::new(Vec::<String>::new()).unwrap();
        for d in &leaf.dns {
            p.subject_alt_names
                .push(SanType::DnsName((*d).try_into().unwrap()));
        }
        if let Some(uri) = &leaf.uri {
            p.subject_alt_names
                .push(SanType::URI(uri.as_str().try_into().unwrap()));
        }
        p.extended_key_usages = leaf.eku;
        if leaf.expired {
            p.not_before = rcgen::date_time_ymd(2020, 1, 1);
            p.not_after = rcgen::date_time_ymd(2021, 1, 1);
        }
        let cert = p.signed_by(&key, issuer.unwrap_or(&self.ca)).unwrap();
        std::fs::write(self.path(&format!("{name}.pem")), cert.pem()).unwrap();
        std::fs::write(self.path(&format!("{name}.key")), key.serialize_pem()).unwrap();
        CheckOptions {
            cert: self.path(&format!("{name}.pem")),
            ca: Some(self.path("ca.pem")),
            key: Some(self.path(&format!("{name}.key"))),
            ..CheckOptions::default()
        }
    }
}

fn problems(opts: &CheckOptions) -> String {
    let report = check(opts).unwrap();
    report.problems.join("\n")
}

#[test]
fn a_well_issued_node_certificate_is_usable_and_says_what_it_may_do() {
    let pki = Pki::new();
    let mut opts = pki.leaf("node", Leaf::node62(), None);
    opts.host = Some("observatoire.cdg62.fr".into());
    opts.expected = Some(Principal::new(Role::Node, Cdg::PasDeCalais));
    let report = check(&opts).unwrap();
    assert!(report.is_usable(), "{report}");
    let text = report.to_string();
    for expected in [
        "urn:cdg-hdf:node:62",
        "serverAuth",
        "valid for observatoire.cdg62.fr",
        "matches",
        "serve the node of CDG 62",
        "serial:",
        "sha256:",
    ] {
        assert!(text.contains(expected), "{expected} missing from\n{text}");
    }
}

#[test]
fn each_fault_of_a_node_certificate_is_named_with_its_fix() {
    let pki = Pki::new();
    let no_uri = Leaf {
        uri: None,
        ..Leaf::node62()
    };
    assert!(problems(&pki.leaf("a", no_uri, None)).contains("URI:urn:cdg-hdf:node:62"));

    let client_only = Leaf {
        eku: vec![ExtendedKeyUsagePurpose::ClientAuth],
        ..Leaf::node62()
    };
    assert!(
        problems(&pki.leaf("b", client_only, None)).contains("needs extended key usage serverAuth")
    );

    let no_dns = Leaf {
        dns: vec![],
        ..Leaf::node62()
    };
    assert!(problems(&pki.leaf("c", no_dns, None)).contains("add the DNS name"));

    let expired = Leaf {
        expired: true,
        ..Leaf::node62()
    };
    assert!(problems(&pki.leaf("d", expired, None)).contains("expired on"));

    let mut wrong_host = pki.leaf("e", Leaf::node62(), None);
    wrong_host.host = Some("observatoire.cdg80.fr".into());
    assert!(problems(&wrong_host).contains("add DNS:observatoire.cdg80.fr"));

    let mut other_cdg = pki.leaf("f", Leaf::node62(), None);
    other_cdg.expected = Some(Principal::new(Role::Node, Cdg::Somme));
    assert!(problems(&other_cdg).contains("configured as urn:cdg-hdf:node:80"));

    let mut wrong_key = pki.leaf("g", Leaf::node62(), None);
    wrong_key.key = Some(pki.path("f.key"));
    assert!(problems(&wrong_key).contains("is not the key of the certificate"));

    let mut revoked = pki.leaf("h", Leaf::node62(), None);
    let (serial, _) = revocation::identifiers(&std::fs::read(&revoked.cert).map(pem_leaf).unwrap());
    revoked.revoked = Revocation::parse(&[serial]).unwrap();
    assert!(problems(&revoked).contains("is revoked"));

    let mut foreign = pki.leaf("i", Leaf::node62(), None);
    let other = Pki::new();
    foreign.ca = Some(other.path("ca.pem"));
    assert!(problems(&foreign).contains("does not verify against"));
}

fn pem_leaf(pem: Vec<u8>) -> Vec<u8> {
    CertificateDer::pem_slice_iter(&pem)
        .next()
        .unwrap()
        .unwrap()
        .to_vec()
}

/// A director's certificate from an intermediate CA: TLS verifies with the chain in the file,
/// but signed approvals carry the leaf alone, so the bundle must hold the intermediate.
#[test]
fn a_director_from_an_intermediate_needs_it_in_the_bundle() {
    let pki = Pki::new();
    let key = KeyPair::generate().unwrap();
    let intermediate = ca_params().signed_by(&key, &pki.ca).unwrap();
    let issuer = Issuer::new(ca_params(), key);
    let opts = pki.leaf("director", Leaf::director02(), Some(&issuer));
    let leaf = std::fs::read_to_string(&opts.cert).unwrap();
    std::fs::write(&opts.cert, leaf + &intermediate.pem()).unwrap();

    let found = problems(&opts);
    assert!(found.contains("leaf alone does not chain"), "{found}");
    assert!(!found.contains("as a TLS client"), "{found}");

    let root = std::fs::read_to_string(pki.path("ca.pem")).unwrap();
    std::fs::write(pki.path("bundle.pem"), root + &intermediate.pem()).unwrap();
    let bundled = CheckOptions {
        ca: Some(pki.path("bundle.pem")),
        ..opts
    };
    let report = check(&bundled).unwrap();
    assert!(report.is_usable(), "{report}");
    assert!(report.to_string().contains("approve, reject"), "{report}");
}

#[test]
fn unreadable_files_are_errors_that_name_them() {
    let dir = tempfile::tempdir().unwrap();
    let missing = CheckOptions {
        cert: dir.path().join("none.pem"),
        ..CheckOptions::default()
    };
    assert!(check(&missing).unwrap_err().contains("none.pem"));
    let not_pem = dir.path().join("key.pem");
    std::fs::write(
        &not_pem,
        "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
    )
    .unwrap();
    let e = check(&CheckOptions {
        cert: not_pem,
        ..CheckOptions::default()
    })
    .unwrap_err();
    assert!(e.contains("BEGIN CERTIFICATE"), "{e}");
}
