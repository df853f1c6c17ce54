//! The federation's identity scheme.
//!
//! Every certificate of the federation carries exactly one URI subject alternative name of the form
//! `urn:cdg-hdf:<role>:<cdg>`, for instance `urn:cdg-hdf:node:62` or `urn:cdg-hdf:director:02`.
//! TLS proves the certificate chains to the federation CA; this module turns the proven certificate
//! into a [`Principal`] on which authorization decisions are made.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::cdg::Cdg;

/// Prefix of every identity URI.
pub const URI_PREFIX: &str = "urn:cdg-hdf:";

/// What a certificate holder is allowed to be in the federation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Role {
    /// A CDG's node (server certificate).
    Node,
    /// The coordinator run by CDG 59 (client and server certificate).
    Coordinator,
    /// A CDG's director (DGS), member of the comité technique (client certificate).
    Director,
    /// The chargé.e de mission at CDG 59 who writes and runs studies (client certificate).
    ChargeDeMission,
    /// A CDG's departmental observatory (Art. 1 and 5): writes and runs the studies of its own
    /// département alone, which its own director approves (client certificate).
    Referent,
}

impl Role {
    pub const ALL: [Role; 5] = [
        Role::Node,
        Role::Coordinator,
        Role::Director,
        Role::ChargeDeMission,
        Role::Referent,
    ];

    /// The role's spelling in identity URIs and messages.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Node => "node",
            Role::Coordinator => "coordinator",
            Role::Director => "director",
            Role::ChargeDeMission => "charge-de-mission",
            Role::Referent => "referent",
        }
    }

    /// Whether a certificate for the role serves gRPC (needs serverAuth and a host name) and
    /// whether it calls (needs clientAuth).
    pub fn serves_and_calls(self) -> (bool, bool) {
        match self {
            Role::Node => (true, false),
            Role::Coordinator => (true, true),
            Role::Director | Role::ChargeDeMission | Role::Referent => (false, true),
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = IdentityError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Role::ALL
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| IdentityError::UnknownRole(s.to_string()))
    }
}

/// An authenticated member of the federation: a role held for a CDG.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Principal {
    pub role: Role,
    pub cdg: Cdg,
}

impl Principal {
    pub fn new(role: Role, cdg: Cdg) -> Self {
        Principal { role, cdg }
    }

    /// The URI SAN that a certificate for this principal carries.
    pub fn uri(&self) -> String {
        format!("{URI_PREFIX}{}:{}", self.role, self.cdg.code())
    }

    /// Parses `urn:cdg-hdf:<role>:<cdg>`.
    pub fn from_uri(uri: &str) -> Result<Self, IdentityError> {
        let rest = uri
            .strip_prefix(URI_PREFIX)
            .ok_or_else(|| IdentityError::NotAFederationUri(uri.to_string()))?;
        let (role, cdg) = rest
            .split_once(':')
            .ok_or_else(|| IdentityError::NotAFederationUri(uri.to_string()))?;
        let role: Role = role.parse()?;
        let cdg: Cdg = cdg
            .parse()
            .map_err(|_| IdentityError::UnknownCdg(cdg.to_string()))?;
        Ok(Principal { role, cdg })
    }

    /// Reads the principal from a DER-encoded X.509 certificate: exactly one federation URI SAN.
    pub fn from_certificate_der(der: &[u8]) -> Result<Self, IdentityError> {
        let (_, cert) = x509_parser::parse_x509_certificate(der)
            .map_err(|e| IdentityError::BadCertificate(e.to_string()))?;
        let mut found = Vec::new();
        if let Ok(Some(san)) = cert.subject_alternative_name() {
            for name in &san.value.general_names {
                if let x509_parser::extensions::GeneralName::URI(uri) = name
                    && uri.starts_with(URI_PREFIX)
                {
                    found.push(Principal::from_uri(uri)?);
                }
            }
        }
        match found.as_slice() {
            [one] => Ok(*one),
            [] => Err(IdentityError::NoIdentity),
            _ => Err(IdentityError::SeveralIdentities(found.len())),
        }
    }
}

impl fmt::Display for Principal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} of CDG {}", self.role, self.cdg.code())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdentityError {
    #[error("{0:?} is not a federation identity: expected urn:cdg-hdf:<role>:<cdg>")]
    NotAFederationUri(String),
    #[error(
        "unknown role {0:?}: expected node, coordinator, director, charge-de-mission or referent"
    )]
    UnknownRole(String),
    #[error("unknown CDG {0:?} in identity: expected 02, 59, 60, 62 or 80")]
    UnknownCdg(String),
    #[error("certificate cannot be parsed: {0}")]
    BadCertificate(String),
    #[error("certificate carries no urn:cdg-hdf: URI subject alternative name")]
    NoIdentity,
    #[error("certificate carries {0} federation identities; exactly one is allowed")]
    SeveralIdentities(usize),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uri_round_trip() {
        for role in Role::ALL {
            for cdg in Cdg::ALL {
                let p = Principal::new(role, cdg);
                assert_eq!(Principal::from_uri(&p.uri()), Ok(p));
            }
        }
        assert_eq!(
            Principal::new(Role::ChargeDeMission, Cdg::Nord).uri(),
            "urn:cdg-hdf:charge-de-mission:59"
        );
    }

    #[test]
    fn rejects_foreign_and_malformed_uris() {
        assert!(matches!(
            Principal::from_uri("spiffe://x/y"),
            Err(IdentityError::NotAFederationUri(_))
        ));
        assert!(matches!(
            Principal::from_uri("urn:cdg-hdf:admin:59"),
            Err(IdentityError::UnknownRole(_))
        ));
        assert!(matches!(
            Principal::from_uri("urn:cdg-hdf:node:99"),
            Err(IdentityError::UnknownCdg(_))
        ));
    }
}
