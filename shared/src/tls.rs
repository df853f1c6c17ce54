//! Mutual TLS for the federation: loading PEM files, server and client configurations, and the
//! caller's [`Principal`] taken from its verified certificate.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, RootCertStore, SignatureScheme};
use serde::{Deserialize, Serialize};
use tonic::transport::{Certificate, ClientTlsConfig, Endpoint, Identity, ServerTlsConfig};

use crate::identity::Principal;
use crate::revocation::Revocation;

/// Installs the process-wide rustls crypto provider (ring). Call first thing in `main`; calling
/// it again is harmless.
pub fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// The three PEM files a federation member needs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsFiles {
    /// The federation CA certificate(s) that peers must chain to (PEM, may hold several).
    pub ca: PathBuf,
    /// This member's certificate (PEM, leaf first, then any intermediates).
    pub cert: PathBuf,
    /// This member's private key (PEM, PKCS#8).
    pub key: PathBuf,
}

#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("cannot read {what} file {path}: {source}")]
    Read {
        what: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path} holds no PEM certificate")]
    NoCertificate { path: PathBuf },
    #[error("{path}: {source}")]
    Identity {
        path: PathBuf,
        source: crate::identity::IdentityError,
    },
    #[error("TLS set-up failed: {0}")]
    Setup(String),
}

impl TlsFiles {
    /// Resolves relative paths against `base` (the folder of the configuration file).
    pub fn resolved(&self, base: &Path) -> TlsFiles {
        TlsFiles {
            ca: base.join(&self.ca),
            cert: base.join(&self.cert),
            key: base.join(&self.key),
        }
    }

    fn read(what: &'static str, path: &Path) -> Result<Vec<u8>, TlsError> {
        std::fs::read(path).map_err(|source| TlsError::Read {
            what,
            path: path.to_path_buf(),
            source,
        })
    }

    fn identity(&self) -> Result<Identity, TlsError> {
        Ok(Identity::from_pem(
            Self::read("certificate", &self.cert)?,
            Self::read("private key", &self.key)?,
        ))
    }

    /// The identity this member's own certificate claims.
    pub fn own_principal(&self) -> Result<Principal, TlsError> {
        let pem = Self::read("certificate", &self.cert)?;
        let der = pem_certificates(&pem, &self.cert)?
            .into_iter()
            .next()
            .ok_or_else(|| TlsError::NoCertificate {
                path: self.cert.clone(),
            })?;
        Principal::from_certificate_der(&der).map_err(|source| TlsError::Identity {
            path: self.cert.clone(),
            source,
        })
    }

    /// Server side: present our certificate and require a client certificate chaining to the CA.
    pub fn server_config(&self) -> Result<ServerTlsConfig, TlsError> {
        let ca = Self::read("CA certificate", &self.ca)?;
        pem_certificates(&ca, &self.ca)?;
        Ok(ServerTlsConfig::new()
            .identity(self.identity()?)
            .client_ca_root(Certificate::from_pem(ca))
            .timeout(std::time::Duration::from_secs(10)))
    }

    /// Client side: an endpoint that presents our certificate and accepts only a server whose
    /// certificate chains to the CA, matches the URL's host, and carries `expected`'s identity.
    pub fn client_endpoint(&self, url: &str, expected: Principal) -> Result<Endpoint, TlsError> {
        self.client_endpoint_revoking(url, expected, Arc::default())
    }

    /// [`TlsFiles::client_endpoint`], also refusing a server whose certificate is `revoked`.
    pub fn client_endpoint_revoking(
        &self,
        url: &str,
        expected: Principal,
        revoked: Arc<Revocation>,
    ) -> Result<Endpoint, TlsError> {
        let ca_pem = Self::read("CA certificate", &self.ca)?;
        let mut roots = RootCertStore::empty();
        for der in pem_certificates(&ca_pem, &self.ca)? {
            roots
                .add(der)
                .map_err(|e| TlsError::Setup(format!("{}: {e}", self.ca.display())))?;
        }
        let webpki = WebPkiServerVerifier::builder(Arc::new(roots))
            .build()
            .map_err(|e| TlsError::Setup(e.to_string()))?;
        let verifier = Arc::new(ExpectedIdentityVerifier {
            inner: webpki,
            expected,
            revoked,
        });
        let endpoint = Endpoint::from_shared(url.to_string())
            .map_err(|e| TlsError::Setup(format!("bad address {url:?}: {e}")))?;
        endpoint
            .tls_config_with_verifier(ClientTlsConfig::new().identity(self.identity()?), verifier)
            .map_err(|e| TlsError::Setup(e.to_string()))
    }
}

fn pem_certificates(pem: &[u8], path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    use rustls::pki_types::pem::PemObject;
    let certs: Vec<_> = CertificateDer::pem_slice_iter(pem)
        .collect::<Result<_, _>>()
        .map_err(|e| TlsError::Setup(format!("{}: {e}", path.display())))?;
    if certs.is_empty() {
        return Err(TlsError::NoCertificate {
            path: path.to_path_buf(),
        });
    }
    Ok(certs)
}

/// Verifies the server's chain with webpki, then checks the federation identity it carries.
#[derive(Debug)]
struct ExpectedIdentityVerifier {
    inner: Arc<WebPkiServerVerifier>,
    expected: Principal,
    revoked: Arc<Revocation>,
}

impl ServerCertVerifier for ExpectedIdentityVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        self.inner.verify_server_cert(
            end_entity,
            intermediates,
            server_name,
            ocsp_response,
            now,
        )?;
        self.revoked
            .check(end_entity.as_ref())
            .map_err(|e| rustls::Error::General(format!("server {e}")))?;
        match Principal::from_certificate_der(end_entity) {
            Ok(found) if found == self.expected => Ok(ServerCertVerified::assertion()),
            Ok(found) => Err(rustls::Error::General(format!(
                "server identity is {} ({}), expected {} ({})",
                found.uri(),
                found,
                self.expected.uri(),
                self.expected
            ))),
            Err(e) => Err(rustls::Error::General(format!(
                "server certificate has no usable identity: {e}"
            ))),
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.inner.supported_verify_schemes()
    }
}

/// The caller of a gRPC request, from the client certificate rustls has already verified.
/// A request without one (which tonic's TLS should never let through) is unauthenticated.
#[allow(clippy::result_large_err)]
pub fn peer_principal<T>(request: &tonic::Request<T>) -> Result<Principal, tonic::Status> {
    let certs = request
        .peer_certs()
        .ok_or_else(|| tonic::Status::unauthenticated("no client certificate presented"))?;
    let leaf = certs
        .first()
        .ok_or_else(|| tonic::Status::unauthenticated("empty client certificate chain"))?;
    Principal::from_certificate_der(leaf.as_ref())
        .map_err(|e| tonic::Status::unauthenticated(format!("client certificate not usable: {e}")))
}
