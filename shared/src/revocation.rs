//! Certificates the federation has revoked: a deny list in each member's configuration, by
//! serial number or by SHA-256 fingerprint, checked on every connection and every signed
//! decision. (The federation's PKI publishes no CRL distribution point that every member could
//! reach; the list is short and reviewed by the comité technique, so it lives in the config.)

use sha2::{Digest, Sha256};

/// The deny list, normalised: lowercase hex without separators.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Revocation {
    serials: Vec<String>,
    fingerprints: Vec<String>,
}

fn normalise(hex: &str) -> String {
    hex.chars()
        .filter(|c| !matches!(c, ':' | ' '))
        .collect::<String>()
        .to_ascii_lowercase()
        .trim_start_matches('0')
        .to_string()
}

impl Revocation {
    /// Parses entries `serial:0A:1B:...` or `sha256:AB12...` (as `openssl x509 -serial` and
    /// `-fingerprint -sha256` print them, colons allowed).
    pub fn parse(entries: &[String]) -> Result<Revocation, String> {
        let mut r = Revocation::default();
        for entry in entries {
            let (kind, value) = entry.split_once(':').ok_or_else(|| {
                format!("revoked certificate {entry:?}: write serial:<hex> or sha256:<hex>")
            })?;
            let hex = normalise(value);
            if hex.is_empty() || !hex.chars().all(|c| c.is_ascii_hexdigit()) {
                return Err(format!(
                    "revoked certificate {entry:?}: {value:?} is not hexadecimal"
                ));
            }
            match kind.trim().to_ascii_lowercase().as_str() {
                "serial" => r.serials.push(hex),
                "sha256" if hex.len() <= 64 => r.fingerprints.push(hex),
                "sha256" => {
                    return Err(format!(
                        "revoked certificate {entry:?}: too long for SHA-256"
                    ));
                }
                other => {
                    return Err(format!(
                        "revoked certificate {entry:?}: unknown kind {other:?}, expected serial or sha256"
                    ));
                }
            }
        }
        Ok(r)
    }

    pub fn is_empty(&self) -> bool {
        self.serials.is_empty() && self.fingerprints.is_empty()
    }

    /// Refuses `der` (a certificate) if it is on the list, saying which entry matched.
    pub fn check(&self, der: &[u8]) -> Result<(), String> {
        if self.is_empty() {
            return Ok(());
        }
        let fingerprint = normalise(&hex::encode(Sha256::digest(der)));
        if self.fingerprints.contains(&fingerprint) {
            return Err(format!("certificate sha256:{fingerprint} is revoked"));
        }
        if let Ok((_, cert)) = x509_parser::parse_x509_certificate(der) {
            let serial = normalise(&cert.raw_serial_as_string());
            if self.serials.contains(&serial) {
                return Err(format!("certificate serial {serial} is revoked"));
            }
        }
        Ok(())
    }
}

/// A certificate's serial and SHA-256 fingerprint as the deny list writes them.
pub fn identifiers(der: &[u8]) -> (String, String) {
    let fingerprint = hex::encode(Sha256::digest(der));
    let serial = x509_parser::parse_x509_certificate(der)
        .map(|(_, c)| normalise(&c.raw_serial_as_string()))
        .unwrap_or_default();
    (format!("serial:{serial}"), format!("sha256:{fingerprint}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cert() -> Vec<u8> {
        let key = rcgen::KeyPair::generate().unwrap();
        let mut params = rcgen::CertificateParams::new(vec!["x".into()]).unwrap();
        params.serial_number = Some(rcgen::SerialNumber::from_slice(&[0x0a, 0x1b, 0x2c]));
        params.self_signed(&key).unwrap().der().to_vec()
    }

    #[test]
    fn refuses_by_serial_or_fingerprint_in_any_usual_spelling() {
        let der = cert();
        let (serial, fingerprint) = identifiers(&der);
        assert_eq!(serial, "serial:a1b2c");
        for entries in [
            vec!["serial:0A:1B:2C".to_string()],
            vec![serial.clone()],
            vec![fingerprint.to_uppercase().replacen("SHA256", "sha256", 1)],
        ] {
            let r = Revocation::parse(&entries).unwrap();
            assert!(
                r.check(&der).unwrap_err().contains("revoked"),
                "{entries:?}"
            );
        }
        let other = Revocation::parse(&["serial:0A1B2D".into()]).unwrap();
        assert!(other.check(&der).is_ok());
        assert!(Revocation::default().check(&der).is_ok());
    }

    #[test]
    fn bad_entries_say_what_to_write() {
        for bad in ["0A1B", "md5:00", "serial:xyz", "sha256:"] {
            let e = Revocation::parse(&[bad.to_string()]).unwrap_err();
            assert!(e.contains(bad), "{e}");
        }
    }
}
