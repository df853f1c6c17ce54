//! What the certificates contain: CA and leaf profiles, validity, serial numbers, CA loading.

use std::net::{IpAddr, Ipv4Addr};
use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use cdg_shared::identity::{Principal, Role};
use rand::TryRngCore;
use rand::rngs::OsRng;
use rcgen::string::Ia5String;
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose, PKCS_ECDSA_P256_SHA256, SanType, SerialNumber,
};
use time::OffsetDateTime;

use crate::error::Error;
use crate::layout::PkiLayout;

/// Common name of the federation CA.
pub const CA_COMMON_NAME: &str = "CDG Hauts-de-France federation CA (DEVELOPMENT ONLY)";

/// Organization of every certificate.
pub const ORGANIZATION: &str = "Observatoire regional de l'emploi territorial Hauts-de-France";

/// How far in the past certificates start, to tolerate clock skew between machines.
pub const BACKDATE: Duration = Duration::from_secs(3600);

/// The period during which a certificate is valid.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Validity {
    /// First instant of validity.
    pub not_before: SystemTime,
    /// Last instant of validity.
    pub not_after: SystemTime,
}

impl Validity {
    /// Starts one hour ago ([`BACKDATE`]) and lasts `days` days from there.
    pub fn starting_an_hour_ago(days: u32) -> Result<Self, Error> {
        if days == 0 {
            return Err(Error::InvalidValidity(
                "a certificate must be valid for at least one day".to_string(),
            ));
        }
        let too_far = || Error::InvalidValidity(format!("{days} days is too far in the future"));
        let not_before = SystemTime::now()
            .checked_sub(BACKDATE)
            .ok_or_else(too_far)?;
        let not_after = not_before
            .checked_add(Duration::from_secs(u64::from(days) * 86_400))
            .ok_or_else(too_far)?;
        Ok(Validity {
            not_before,
            not_after,
        })
    }

    fn apply(self, params: &mut CertificateParams) -> Result<(), Error> {
        if self.not_after <= self.not_before {
            return Err(Error::InvalidValidity(
                "not_after must come after not_before".to_string(),
            ));
        }
        params.not_before = to_offset(self.not_before)?;
        params.not_after = to_offset(self.not_after)?;
        Ok(())
    }
}

/// Whole seconds, without panicking on out-of-range times (unlike `From<SystemTime>`).
fn to_offset(t: SystemTime) -> Result<OffsetDateTime, Error> {
    let secs = match t.duration_since(UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_secs()).ok(),
        Err(before) => i64::try_from(before.duration().as_secs()).ok().map(|s| -s),
    };
    secs.and_then(|s| OffsetDateTime::from_unix_timestamp(s).ok())
        .ok_or_else(|| Error::InvalidValidity(format!("{t:?} cannot be written in a certificate")))
}

/// Fills `buf` from the operating system's random number generator.
pub(crate) fn random_bytes(buf: &mut [u8]) -> Result<(), Error> {
    OsRng
        .try_fill_bytes(buf)
        .map_err(|e| Error::Random(e.to_string()))
}

/// A random, positive, 128-bit serial number (RFC 5280 allows up to 20 octets).
fn random_serial() -> Result<SerialNumber, Error> {
    let mut bytes = [0u8; 16];
    random_bytes(&mut bytes)?;
    // Clear the sign bit and set the next one so that the DER encoding is always 16 octets.
    bytes[0] = (bytes[0] & 0x7f) | 0x40;
    Ok(SerialNumber::from_slice(&bytes))
}

fn new_key(what: &str) -> Result<KeyPair, Error> {
    KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256)
        .map_err(|e| Error::certificate(format!("key pair for the {what}"), e))
}

fn distinguished_name(common_name: &str) -> DistinguishedName {
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, common_name);
    dn.push(DnType::OrganizationName, ORGANIZATION);
    dn
}

/// The common name of a leaf certificate, e.g. "node CDG 59".
pub fn common_name(principal: Principal) -> String {
    format!("{} CDG {}", principal.role, principal.cdg.code())
}

/// A freshly generated federation CA: self-signed certificate (PEM) and its issuer.
pub(crate) fn new_ca(validity: Validity) -> Result<(String, Issuer<'static, KeyPair>), Error> {
    let key = new_key("federation CA")?;
    let mut params = CertificateParams::default();
    params.distinguished_name = distinguished_name(CA_COMMON_NAME);
    params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    params.serial_number = Some(random_serial()?);
    validity.apply(&mut params)?;
    let cert = params
        .self_signed(&key)
        .map_err(|e| Error::certificate("federation CA certificate", e))?;
    Ok((cert.pem(), Issuer::new(params, key)))
}

/// A new key pair and a certificate for `principal` signed by `ca`, both PEM
/// (certificate, PKCS#8 key).
///
/// Nodes get a server certificate, the coordinator a server and client one, directors and the
/// chargé.e de mission a client one. Server certificates also name `localhost` and `127.0.0.1`.
pub(crate) fn sign_leaf(
    principal: Principal,
    validity: Validity,
    ca: &Issuer<'_, KeyPair>,
) -> Result<(String, String), Error> {
    let uri = principal.uri();
    let key = new_key(&format!("certificate for {uri}"))?;
    let (server, client) = principal.role.serves_and_calls();

    let mut params = CertificateParams::default();
    params.distinguished_name = distinguished_name(&common_name(principal));
    if server {
        // localhost for one machine; the host names of deploy/compose.yaml (the examples'
        // addresses) so that the same development PKI serves a compose network.
        let c = principal.cdg.code();
        let hosts = match principal.role {
            Role::Coordinator => vec!["localhost".to_string(), "coordinateur.cdg59.fr".into()],
            _ => vec!["localhost".to_string(), format!("observatoire.cdg{c}.fr")],
        };
        for host in hosts {
            let name = Ia5String::try_from(host.as_str())
                .map_err(|e| Error::certificate(format!("certificate for {uri}"), e))?;
            params.subject_alt_names.push(SanType::DnsName(name));
        }
        params
            .subject_alt_names
            .push(SanType::IpAddress(IpAddr::V4(Ipv4Addr::LOCALHOST)));
    }
    let uri_san = Ia5String::try_from(uri.as_str())
        .map_err(|e| Error::certificate(format!("certificate for {uri}"), e))?;
    params.subject_alt_names.push(SanType::URI(uri_san));
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    if server {
        params
            .extended_key_usages
            .push(ExtendedKeyUsagePurpose::ServerAuth);
    }
    if client {
        params
            .extended_key_usages
            .push(ExtendedKeyUsagePurpose::ClientAuth);
    }
    params.use_authority_key_identifier_extension = true;
    params.serial_number = Some(random_serial()?);
    validity.apply(&mut params)?;

    let cert = params
        .signed_by(&key, ca)
        .map_err(|e| Error::certificate(format!("certificate for {uri}"), e))?;
    Ok((cert.pem(), key.serialize_pem()))
}

fn read_to_string(path: &Path) -> Result<String, Error> {
    std::fs::read_to_string(path).map_err(|e| Error::read(path, e))
}

/// Loads the CA of `layout` (`ca.pem`, `ca.key`), checking that the certificate is a CA and
/// that the key matches it.
pub(crate) fn load_ca(layout: &PkiLayout) -> Result<Issuer<'static, KeyPair>, Error> {
    let (cert_path, key_path) = (layout.ca_cert(), layout.ca_key());
    let cert_pem = read_to_string(&cert_path)?;
    let key_pem = read_to_string(&key_path)?;
    let bad_cert = |reason: String| Error::BadCa {
        path: cert_path.clone(),
        reason,
    };

    let (_, pem) = x509_parser::pem::parse_x509_pem(cert_pem.as_bytes())
        .map_err(|e| bad_cert(format!("not a PEM certificate ({e})")))?;
    let cert = pem
        .parse_x509()
        .map_err(|e| bad_cert(format!("not an X.509 certificate ({e})")))?;
    if !cert.is_ca() {
        return Err(bad_cert(
            "certificate lacks the CA basic constraint".to_string(),
        ));
    }
    let key = KeyPair::from_pem(&key_pem).map_err(|e| Error::BadCa {
        path: key_path.clone(),
        reason: format!("not a PKCS#8 PEM private key ({e})"),
    })?;
    if cert.public_key().subject_public_key.data.as_ref() != key.public_key_raw() {
        return Err(Error::BadCa {
            path: key_path,
            reason: format!("key does not match {}", cert_path.display()),
        });
    }
    Issuer::from_ca_cert_pem(&cert_pem, key)
        .map_err(|e| bad_cert(format!("rejected by rcgen ({e})")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validity_rejects_empty_and_huge_periods() {
        assert!(matches!(
            Validity::starting_an_hour_ago(0),
            Err(Error::InvalidValidity(_))
        ));
        let mut params = CertificateParams::default();
        let huge = Validity::starting_an_hour_ago(u32::MAX);
        assert!(huge.and_then(|v| v.apply(&mut params)).is_err());
        let now = SystemTime::now();
        let backwards = Validity {
            not_before: now,
            not_after: now - Duration::from_secs(1),
        };
        assert!(matches!(
            backwards.apply(&mut params),
            Err(Error::InvalidValidity(_))
        ));
    }

    #[test]
    fn serials_are_positive_and_distinct() -> Result<(), Error> {
        let (a, b) = (random_serial()?, random_serial()?);
        assert_ne!(a, b);
        assert_eq!(a.len(), 16);
        assert!(a.to_bytes()[0] < 0x80);
        Ok(())
    }
}
