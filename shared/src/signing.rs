//! Directors' signed decisions on studies, and the coordinator's signed audit checkpoints.
//!
//! A director signs with the private key of their own certificate (ECDSA P-256 or P-384, or
//! Ed25519); the signed decision carries that certificate. Whoever verifies (the coordinator on
//! receipt, every node on every request) checks, against its own federation CA file:
//! the certificate chains to the CA and is valid now (the same check as a TLS client
//! certificate), it names a director, and the signature covers the decision, the study digest,
//! the time and the note. Which CDG the director belongs to is for the caller to compare.

use std::path::Path;
use std::sync::Arc;

use ring::rand::SystemRandom;
use ring::signature::{self, EcdsaKeyPair, Ed25519KeyPair, UnparsedPublicKey};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, UnixTime};

use crate::identity::{Principal, Role};
use crate::proto::v1::SignedDecision;
use crate::tls::TlsFiles;

/// What a director decides about a study.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Approve,
    Reject,
    /// Puts the study "in question": no run until arbitrated.
    Question,
    /// Settles a question: runs may go on.
    Arbitrate,
}

impl Decision {
    pub const ALL: [Decision; 4] = [
        Decision::Approve,
        Decision::Reject,
        Decision::Question,
        Decision::Arbitrate,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Decision::Approve => "approve",
            Decision::Reject => "reject",
            Decision::Question => "question",
            Decision::Arbitrate => "arbitrate",
        }
    }

    pub fn parse(s: &str) -> Option<Decision> {
        Decision::ALL.into_iter().find(|d| d.as_str() == s)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SigningError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: std::path::PathBuf,
        source: std::io::Error,
    },
    #[error("{0}")]
    Key(String),
    #[error(
        "unknown decision {}: expected approve, reject, question or arbitrate",
        crate::text::quote(.0)
    )]
    UnknownDecision(String),
    #[error("the signer's certificate is not trusted: {0}")]
    Untrusted(String),
    #[error("the certificate names no usable identity: {0}")]
    Identity(String),
    #[error("signed by {0}, who is not a director")]
    NotDirector(String),
    #[error("the signature does not verify with the signer's certificate")]
    BadSignature,
}

/// The bytes a decision's signature covers.
fn decision_payload(d: &SignedDecision) -> Vec<u8> {
    format!(
        "cdg-hdf/decision/v1\n{}\n{}\n{}\n{}",
        d.decision, d.study_digest, d.signed_at, d.note
    )
    .into_bytes()
}

/// A private key and its certificate, read from PEM files, able to sign.
pub struct Signer {
    certificate: Vec<u8>,
    key: SigningKey,
}

enum SigningKey {
    Ecdsa(EcdsaKeyPair),
    Ed25519(Ed25519KeyPair),
}

fn read(path: &Path) -> Result<Vec<u8>, SigningError> {
    std::fs::read(path).map_err(|source| SigningError::Read {
        path: path.to_path_buf(),
        source,
    })
}

impl Signer {
    /// The certificate (first PEM block of `tls.cert`) and PKCS#8 key of a member.
    pub fn from_files(tls: &TlsFiles) -> Result<Signer, SigningError> {
        use rustls::pki_types::pem::PemObject;
        let cert_pem = read(&tls.cert)?;
        let certificate = CertificateDer::pem_slice_iter(&cert_pem)
            .next()
            .and_then(Result::ok)
            .ok_or_else(|| {
                SigningError::Key(format!("{} holds no PEM certificate", tls.cert.display()))
            })?
            .to_vec();
        let key_pem = read(&tls.key)?;
        let pkcs8 = match PrivateKeyDer::from_pem_slice(&key_pem) {
            Ok(PrivateKeyDer::Pkcs8(k)) => k.secret_pkcs8_der().to_vec(),
            _ => {
                return Err(SigningError::Key(format!(
                    "{} is not a PKCS#8 private key (\"BEGIN PRIVATE KEY\"); convert it with \
                     `openssl pkcs8 -topk8 -nocrypt`",
                    tls.key.display()
                )));
            }
        };
        let rng = SystemRandom::new();
        let key = [
            &signature::ECDSA_P256_SHA256_ASN1_SIGNING,
            &signature::ECDSA_P384_SHA384_ASN1_SIGNING,
        ]
        .into_iter()
        .find_map(|alg| EcdsaKeyPair::from_pkcs8(alg, &pkcs8, &rng).ok())
        .map(SigningKey::Ecdsa)
        .or_else(|| {
            Ed25519KeyPair::from_pkcs8_maybe_unchecked(&pkcs8)
                .ok()
                .map(SigningKey::Ed25519)
        })
        .ok_or_else(|| {
            SigningError::Key(format!(
                "{}: unsupported key (expected ECDSA P-256/P-384 or Ed25519)",
                tls.key.display()
            ))
        })?;
        let signer = Signer { certificate, key };
        // A key that does not match its certificate would sign what nobody can verify.
        let probe = signer.sign_bytes(b"probe")?;
        verify_bytes(&signer.certificate, b"probe", &probe).map_err(|_| {
            SigningError::Key(format!(
                "{} is not the key of the certificate {}",
                tls.key.display(),
                tls.cert.display()
            ))
        })?;
        Ok(signer)
    }

    pub fn certificate(&self) -> &[u8] {
        &self.certificate
    }

    /// Signs arbitrary bytes.
    pub fn sign_bytes(&self, message: &[u8]) -> Result<Vec<u8>, SigningError> {
        match &self.key {
            SigningKey::Ecdsa(k) => k
                .sign(&SystemRandom::new(), message)
                .map(|s| s.as_ref().to_vec())
                .map_err(|_| SigningError::Key("signing failed".into())),
            SigningKey::Ed25519(k) => Ok(k.sign(message).as_ref().to_vec()),
        }
    }

    /// A signed decision on the study whose digest is `study_digest`.
    pub fn decide(
        &self,
        study_digest: &str,
        decision: Decision,
        note: &str,
    ) -> Result<SignedDecision, SigningError> {
        let mut d = SignedDecision {
            study_digest: study_digest.to_string(),
            decision: decision.as_str().to_string(),
            signed_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            note: note.to_string(),
            certificate: self.certificate.clone(),
            signature: Vec::new(),
        };
        d.signature = self.sign_bytes(&decision_payload(&d))?;
        Ok(d)
    }
}

/// Checks `signature` over `message` with the public key of `certificate` (DER).
pub fn verify_bytes(
    certificate: &[u8],
    message: &[u8],
    signature: &[u8],
) -> Result<(), SigningError> {
    let (_, cert) = x509_parser::parse_x509_certificate(certificate)
        .map_err(|e| SigningError::Identity(e.to_string()))?;
    let key = cert.public_key().subject_public_key.data.as_ref();
    let algorithms: [&'static dyn signature::VerificationAlgorithm; 3] = [
        &signature::ECDSA_P256_SHA256_ASN1,
        &signature::ECDSA_P384_SHA384_ASN1,
        &signature::ED25519,
    ];
    algorithms
        .into_iter()
        .any(|alg| {
            UnparsedPublicKey::new(alg, key)
                .verify(message, signature)
                .is_ok()
        })
        .then_some(())
        .ok_or(SigningError::BadSignature)
}

/// Checks certificates and signatures against a federation CA file.
#[derive(Clone)]
pub struct TrustedSigners {
    anchors: Arc<Vec<rustls::pki_types::TrustAnchor<'static>>>,
    /// Certificates refused although they chain to an anchor.
    revoked: Arc<crate::revocation::Revocation>,
}

impl std::fmt::Debug for TrustedSigners {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "TrustedSigners({} anchors)", self.anchors.len())
    }
}

impl TrustedSigners {
    /// Trusts the certificates chaining to the CA(s) in `ca` (PEM).
    pub fn from_ca_file(ca: &Path) -> Result<TrustedSigners, SigningError> {
        use rustls::pki_types::pem::PemObject;
        let pem = read(ca)?;
        let mut anchors = Vec::new();
        for der in CertificateDer::pem_slice_iter(&pem) {
            let der = der.map_err(|e| SigningError::Key(format!("{}: {e}", ca.display())))?;
            let anchor = webpki::anchor_from_trusted_cert(&der)
                .map_err(|e| SigningError::Key(format!("{}: {e}", ca.display())))?;
            anchors.push(anchor.to_owned());
        }
        if anchors.is_empty() {
            return Err(SigningError::Key(format!(
                "{} holds no PEM certificate",
                ca.display()
            )));
        }
        Ok(TrustedSigners {
            anchors: Arc::new(anchors),
            revoked: Arc::default(),
        })
    }

    /// Trusts no one: every decision is refused (a process that checks no approvals, such as
    /// a benchmark of what comes after them).
    pub fn none() -> TrustedSigners {
        TrustedSigners {
            anchors: Arc::default(),
            revoked: Arc::default(),
        }
    }

    /// The trust anchors of the CA file.
    pub fn anchors(&self) -> &[rustls::pki_types::TrustAnchor<'static>] {
        &self.anchors
    }

    /// The same anchors, refusing the certificates of `revoked`.
    pub fn revoking(self, revoked: Arc<crate::revocation::Revocation>) -> TrustedSigners {
        TrustedSigners { revoked, ..self }
    }

    /// The identity of a certificate that chains to the CA, is valid now, and may be used for
    /// client authentication (directors and the coordinator) or, if `servers_too`, for server
    /// authentication (nodes, which sign their audit checkpoints).
    pub fn trusted_identity_for(
        &self,
        certificate: &[u8],
        servers_too: bool,
    ) -> Result<Principal, SigningError> {
        self.revoked
            .check(certificate)
            .map_err(SigningError::Untrusted)?;
        let der = CertificateDer::from(certificate.to_vec());
        let cert = webpki::EndEntityCert::try_from(&der)
            .map_err(|e| SigningError::Untrusted(e.to_string()))?;
        let now = UnixTime::now();
        let verify = |usage| {
            cert.verify_for_usage(
                webpki::ALL_VERIFICATION_ALGS,
                &self.anchors,
                &[],
                now,
                usage,
                None,
                None,
            )
            .map(|_| ())
        };
        let client = verify(webpki::KeyUsage::client_auth());
        let result = match client {
            Err(_) if servers_too => verify(webpki::KeyUsage::server_auth()),
            other => other,
        };
        result.map_err(|e| SigningError::Untrusted(format!("{e:?}")))?;
        Principal::from_certificate_der(certificate)
            .map_err(|e| SigningError::Identity(e.to_string()))
    }

    /// [`TrustedSigners::trusted_identity_for`] a client certificate.
    pub fn trusted_identity(&self, certificate: &[u8]) -> Result<Principal, SigningError> {
        self.trusted_identity_for(certificate, false)
    }

    /// Verifies a decision: trusted director certificate and valid signature. Returns the
    /// director and the decision; comparing the digest and the CDG is the caller's part.
    pub fn verify_decision(
        &self,
        d: &SignedDecision,
    ) -> Result<(Principal, Decision), SigningError> {
        let decision = Decision::parse(&d.decision)
            .ok_or_else(|| SigningError::UnknownDecision(d.decision.clone()))?;
        let signer = self.trusted_identity(&d.certificate)?;
        if signer.role != Role::Director {
            return Err(SigningError::NotDirector(signer.uri()));
        }
        verify_bytes(&d.certificate, &decision_payload(d), &d.signature)?;
        Ok((signer, decision))
    }
}

/// A CA and one director (CDG 62) certificate in `dir`, made with rcgen directly.
#[cfg(test)]
pub(crate) fn test_director(dir: &Path) -> TlsFiles {
    use crate::cdg::Cdg;
    use rcgen::{
        BasicConstraints, CertificateParams, ExtendedKeyUsagePurpose, IsCa, Issuer,
        KeyPair as RcKey, SanType,
    };
    let ca_key = RcKey::generate().unwrap();
    let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca_cert = ca.self_signed(&ca_key).unwrap();
    std::fs::write(dir.join("ca.pem"), ca_cert.pem()).unwrap();
    let key = RcKey::generate().unwrap();
    let mut p = CertificateParams::new(Vec::<String>::new()).unwrap();
    let uri = Principal::new(Role::Director, Cdg::PasDeCalais).uri();
    p.subject_alt_names = vec![SanType::URI(
        rcgen::string::Ia5String::try_from(uri.as_str()).unwrap(),
    )];
    p.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    let cert = p.signed_by(&key, &Issuer::new(ca, ca_key)).unwrap();
    std::fs::write(dir.join("d.pem"), cert.pem()).unwrap();
    std::fs::write(dir.join("d.key"), key.serialize_pem()).unwrap();
    TlsFiles {
        ca: dir.join("ca.pem"),
        cert: dir.join("d.pem"),
        key: dir.join("d.key"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cdg::Cdg;

    #[test]
    fn a_decision_verifies_and_any_change_breaks_it() {
        crate::tls::install_crypto_provider();
        let dir = tempfile::tempdir().unwrap();
        let files = test_director(dir.path());
        let signer = Signer::from_files(&files).unwrap();
        let trusted = TrustedSigners::from_ca_file(&files.ca).unwrap();
        let d = signer.decide("ab12", Decision::Approve, "ok").unwrap();
        let (who, decision) = trusted.verify_decision(&d).unwrap();
        assert_eq!(who, Principal::new(Role::Director, Cdg::PasDeCalais));
        assert_eq!(decision, Decision::Approve);
        for tamper in [
            |d: &mut SignedDecision| d.study_digest = "ab13".into(),
            |d: &mut SignedDecision| d.decision = "reject".into(),
            |d: &mut SignedDecision| d.note = "ok!".into(),
            |d: &mut SignedDecision| d.signed_at = "2020-01-01T00:00:00Z".into(),
        ] {
            let mut t = d.clone();
            tamper(&mut t);
            assert!(matches!(
                trusted.verify_decision(&t),
                Err(SigningError::BadSignature)
            ));
        }
        let mut t = d.clone();
        t.decision = "veto".into();
        assert!(matches!(
            trusted.verify_decision(&t),
            Err(SigningError::UnknownDecision(_))
        ));
        // Another federation's CA does not vouch for this director.
        let other = tempfile::tempdir().unwrap();
        let other_files = test_director(other.path());
        let strangers = TrustedSigners::from_ca_file(&other_files.ca).unwrap();
        assert!(matches!(
            strangers.verify_decision(&d),
            Err(SigningError::Untrusted(_))
        ));
    }
}
