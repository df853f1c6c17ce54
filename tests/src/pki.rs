//! The development PKI of the tests, and certificates a CDG's own PKI might issue.

use std::net::IpAddr;
use std::path::Path;

use cdg_certs_dev::{PkiLayout, Validity};
use cdg_shared::cdg::Cdg;
use cdg_shared::identity::{Principal, Role};
use cdg_shared::tls::TlsFiles;

/// Installs the crypto provider (idempotent) and returns a fresh PKI in `dir`.
pub fn pki(dir: &Path) -> PkiLayout {
    cdg_shared::tls::install_crypto_provider();
    cdg_certs_dev::generate(dir, &cdg_certs_dev::Options::default())
        .expect("generating the test PKI")
}

/// The TLS files of `principal` in `pki`.
pub fn identity(pki: &PkiLayout, principal: Principal) -> TlsFiles {
    let leaf = pki.leaf(principal).expect("the PKI has this identity");
    TlsFiles {
        ca: pki.ca_cert(),
        cert: leaf.cert,
        key: leaf.key,
    }
}

/// A coordinator certificate issued by an intermediate CA that the federation CA signed; the
/// certificate file holds the leaf then the intermediate, as a CDG's PKI delivers it.
pub fn from_intermediate(pki: &PkiLayout, dir: &Path) -> TlsFiles {
    let root = federation_ca(pki);
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    params.key_usages = vec![
        rcgen::KeyUsagePurpose::KeyCertSign,
        rcgen::KeyUsagePurpose::CrlSign,
        rcgen::KeyUsagePurpose::DigitalSignature,
    ];
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "CDG 59 AC intermédiaire");
    let key = rcgen::KeyPair::generate().unwrap();
    let intermediate = params.signed_by(&key, &root).unwrap();
    let ca_dir = dir.join("intermediate");
    std::fs::create_dir_all(&ca_dir).unwrap();
    std::fs::write(ca_dir.join("ca.pem"), intermediate.pem()).unwrap();
    std::fs::write(ca_dir.join("ca.key"), key.serialize_pem()).unwrap();
    let (cert, leaf_key) = (
        dir.join("coordinator-int.pem"),
        dir.join("coordinator-int.key"),
    );
    cdg_certs_dev::issue_leaf(
        &ca_dir,
        Principal::new(Role::Coordinator, Cdg::Nord),
        &cert,
        &leaf_key,
        Validity::starting_an_hour_ago(30).unwrap(),
    )
    .unwrap();
    let chain = std::fs::read_to_string(&cert).unwrap() + &intermediate.pem();
    std::fs::write(&cert, chain).unwrap();
    TlsFiles {
        ca: pki.ca_cert(),
        cert,
        key: leaf_key,
    }
}

/// The federation CA of `pki`, to sign more certificates with.
fn federation_ca(pki: &PkiLayout) -> rcgen::Issuer<'static, rcgen::KeyPair> {
    let key = rcgen::KeyPair::from_pem(&std::fs::read_to_string(pki.ca_key()).unwrap()).unwrap();
    rcgen::Issuer::from_ca_cert_pem(&std::fs::read_to_string(pki.ca_cert()).unwrap(), key).unwrap()
}

/// The TLS files of the node of `cdg` reached at `address` (in a network namespace of its own):
/// a node certificate as the development PKI issues it, also naming that address, so that the
/// coordinator checks the node's name against its address as it does in production. Written in
/// `dir`.
pub fn node_at(pki: &PkiLayout, cdg: Cdg, address: IpAddr, dir: &Path) -> TlsFiles {
    let principal = Principal::new(Role::Node, cdg);
    let mut params = rcgen::CertificateParams::new(vec!["localhost".to_string()]).unwrap();
    params.subject_alt_names.extend([
        rcgen::SanType::IpAddress(address),
        rcgen::SanType::URI(principal.uri().as_str().try_into().unwrap()),
    ]);
    params.distinguished_name.push(
        rcgen::DnType::CommonName,
        cdg_certs_dev::common_name(principal),
    );
    params.key_usages = vec![rcgen::KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ServerAuth];
    params.use_authority_key_identifier_extension = true;
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = params.signed_by(&key, &federation_ca(pki)).unwrap();
    let stem = format!("node-{}-at-{address}", cdg.code());
    let (cert_path, key_path) = (
        dir.join(format!("{stem}.pem")),
        dir.join(format!("{stem}.key")),
    );
    std::fs::write(&cert_path, cert.pem()).unwrap();
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    std::io::Write::write_all(
        &mut options.open(&key_path).unwrap(),
        key.serialize_pem().as_bytes(),
    )
    .unwrap();
    TlsFiles {
        ca: pki.ca_cert(),
        cert: cert_path,
        key: key_path,
    }
}

/// The first certificate of a PEM file, DER-encoded.
pub fn leaf_der(path: &Path) -> Vec<u8> {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject;
    CertificateDer::from_pem_file(path)
        .expect("a PEM certificate")
        .to_vec()
}

/// A certificate for any identity, signed by the federation CA itself, written in `dir`: what a
/// CA that issues one wrong certificate, or a member CDG's own sub-CA, would hand out.
pub fn signed_by_federation(pki: &PkiLayout, principal: Principal, dir: &Path) -> TlsFiles {
    let name = principal.uri().replace(':', "_");
    let (cert, key) = (
        dir.join(format!("{name}.pem")),
        dir.join(format!("{name}.key")),
    );
    cdg_certs_dev::issue_leaf(
        pki.dir(),
        principal,
        &cert,
        &key,
        Validity::starting_an_hour_ago(30).expect("a validity"),
    )
    .expect("issuing a leaf with the federation CA");
    TlsFiles {
        ca: pki.ca_cert(),
        cert,
        key,
    }
}
