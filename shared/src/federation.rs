//! Who belongs to the federation and who may do what in it: the member CDGs and the
//! coordinator's identity (convention, Art. 1 and 3), and the one check every service makes of
//! an authenticated caller.
//!
//! TLS proves that a certificate chains to the federation CA; that alone is not enough. A CA
//! that issues one wrong certificate, or a member CDG's own sub-CA, must not open every node:
//! so every request's identity must belong to a member CDG ([`Federation::member`], checked for
//! every RPC by the server's guard), and each operation names the identities it accepts
//! ([`Federation::require`]): a node obeys only the configured coordinator, the coordinator
//! accepts regional studies only from the chef de file's chargé.e de mission.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::cdg::Cdg;
use crate::identity::{Principal, Role};

/// The federation as a node or the coordinator is configured to see it (`[federation]`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Federation {
    /// The member CDGs, by département code. Default: the five of Hauts-de-France.
    pub members: Vec<Cdg>,
    /// The coordinator's identity URI: the only caller a node answers queries for. Default:
    /// `urn:cdg-hdf:coordinator:59` (CDG 59 is the Centre Coordonnateur, Art. 3).
    #[serde(with = "uri")]
    pub coordinator: Principal,
}

impl Default for Federation {
    fn default() -> Self {
        Federation {
            members: Cdg::ALL.to_vec(),
            coordinator: Principal::new(Role::Coordinator, Cdg::Nord),
        }
    }
}

/// Who an operation accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Exactly this identity.
    Only(Principal),
    /// This role, held for any member CDG.
    AnyMember(Role),
}

impl fmt::Display for Access {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Access::Only(p) => f.write_str(&p.uri()),
            Access::AnyMember(role) => write!(f, "urn:cdg-hdf:{role}:<a member CDG>"),
        }
    }
}

/// A caller refused: what was asked, which identities are accepted, and the one presented.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error(
        "{} is not a member of this federation (members: {}): every identity must belong to \
         one of the federation's CDGs (the [federation] members of this server's configuration)",
        presented.uri(),
        codes(members)
    )]
    NotAMember {
        presented: Principal,
        members: Vec<Cdg>,
    },
    #[error(
        "{what} is reserved to {}; the certificate presented is {}",
        expected.iter().map(Access::to_string).collect::<Vec<_>>().join(" or "),
        presented.uri()
    )]
    NotAllowed {
        what: &'static str,
        expected: Vec<Access>,
        presented: Principal,
    },
    #[error(
        "{what}: {} is the departmental referent of CDG {}, who writes, runs and reads the \
         studies of departement {} alone; this study asks departements {}. A study of several \
         departements is the regional charge.e de mission's",
        presented.uri(),
        presented.cdg.code(),
        presented.cdg.code(),
        codes(departements)
    )]
    OutsideTerritory {
        what: &'static str,
        presented: Principal,
        departements: Vec<Cdg>,
    },
}

fn codes(members: &[Cdg]) -> String {
    members
        .iter()
        .map(|c| c.code())
        .collect::<Vec<_>>()
        .join(", ")
}

impl Federation {
    /// The chef de file's chargé.e de mission: the only one who submits and runs regional
    /// studies (Art. 1 and 3).
    pub fn regional_analyst(&self) -> Principal {
        Principal::new(Role::ChargeDeMission, self.coordinator.cdg)
    }

    /// Refuses `caller` unless it may write, run and read a study of `departements`: the chef de
    /// file's chargé.e de mission any study, a CDG's référent a study of its own département
    /// alone (Art. 1 and 5: each CDG stays the referent of its territory).
    pub fn require_author(
        &self,
        caller: Principal,
        departements: &[Cdg],
        what: &'static str,
    ) -> Result<(), Refusal> {
        self.member(caller)?;
        if caller == self.regional_analyst() {
            return Ok(());
        }
        if caller.role != Role::Referent {
            return Err(Refusal::NotAllowed {
                what,
                expected: vec![
                    Access::Only(self.regional_analyst()),
                    Access::AnyMember(Role::Referent),
                ],
                presented: caller,
            });
        }
        if departements == [caller.cdg] {
            Ok(())
        } else {
            Err(Refusal::OutsideTerritory {
                what,
                presented: caller,
                departements: departements.to_vec(),
            })
        }
    }

    /// Whether `cdg` is a member.
    pub fn is_member(&self, cdg: Cdg) -> bool {
        self.members.contains(&cdg)
    }

    /// Refuses an identity held for a CDG outside the federation, whatever its role.
    pub fn member(&self, caller: Principal) -> Result<(), Refusal> {
        if self.is_member(caller.cdg) {
            Ok(())
        } else {
            Err(Refusal::NotAMember {
                presented: caller,
                members: self.members.clone(),
            })
        }
    }

    /// Refuses `caller` unless it is a member and one of `expected` accepts it.
    pub fn require(
        &self,
        caller: Principal,
        expected: &[Access],
        what: &'static str,
    ) -> Result<(), Refusal> {
        self.member(caller)?;
        let accepted = expected.iter().any(|access| match *access {
            Access::Only(p) => p == caller,
            Access::AnyMember(role) => role == caller.role,
        });
        if accepted {
            Ok(())
        } else {
            Err(Refusal::NotAllowed {
                what,
                expected: expected.to_vec(),
                presented: caller,
            })
        }
    }

    /// Checks the configuration itself: members listed once, the coordinator a coordinator
    /// identity of a member CDG. The message names the key.
    pub fn validate(&self) -> Result<(), (&'static str, String)> {
        if self.members.is_empty() {
            return Err((
                "federation.members",
                "is empty: list the member CDGs, e.g. [\"02\", \"59\", \"60\", \"62\", \"80\"]"
                    .into(),
            ));
        }
        for (i, cdg) in self.members.iter().enumerate() {
            if self.members[..i].contains(cdg) {
                return Err(("federation.members", format!("lists CDG {cdg} twice")));
            }
        }
        if self.coordinator.role != Role::Coordinator {
            return Err((
                "federation.coordinator",
                format!(
                    "{} is not a coordinator identity: expected urn:cdg-hdf:coordinator:<cdg>",
                    self.coordinator.uri()
                ),
            ));
        }
        if !self.is_member(self.coordinator.cdg) {
            return Err((
                "federation.coordinator",
                format!(
                    "{} belongs to CDG {}, which is not in federation.members ({})",
                    self.coordinator.uri(),
                    self.coordinator.cdg,
                    codes(&self.members)
                ),
            ));
        }
        Ok(())
    }
}

/// A principal written as its identity URI in configuration files.
mod uri {
    use serde::{Deserialize, Deserializer, Serializer};

    use crate::identity::Principal;

    pub fn serialize<S: Serializer>(p: &Principal, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&p.uri())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Principal, D::Error> {
        let text = String::deserialize(d)?;
        Principal::from_uri(&text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(role: Role, code: &str) -> Principal {
        Principal::new(role, code.parse().unwrap())
    }

    #[test]
    fn only_the_configured_coordinator_and_members_pass() {
        let f = Federation::default();
        let coordinator = [Access::Only(f.coordinator)];
        let cases = [
            (p(Role::Coordinator, "59"), true),
            (p(Role::Coordinator, "62"), false),
            (p(Role::Coordinator, "75"), false),
            (p(Role::Director, "59"), false),
        ];
        for (caller, ok) in cases {
            assert_eq!(
                f.require(caller, &coordinator, "Execute").is_ok(),
                ok,
                "{caller}"
            );
        }
        let directors = [Access::AnyMember(Role::Director)];
        assert!(f.require(p(Role::Director, "02"), &directors, "x").is_ok());
        let outsider = f.require(p(Role::Director, "75"), &directors, "x");
        assert!(matches!(outsider, Err(Refusal::NotAMember { .. })));
    }

    #[test]
    fn a_refusal_names_the_expected_identity_and_the_one_presented() {
        let f = Federation::default();
        let e = f
            .require(
                p(Role::ChargeDeMission, "62"),
                &[Access::Only(f.regional_analyst())],
                "submitting a regional study",
            )
            .unwrap_err()
            .to_string();
        assert!(e.contains("urn:cdg-hdf:charge-de-mission:59"), "{e}");
        assert!(e.contains("urn:cdg-hdf:charge-de-mission:62"), "{e}");
        let e = f.member(p(Role::Director, "75")).unwrap_err().to_string();
        assert!(e.contains("urn:cdg-hdf:director:75") && e.contains("02, 59, 60, 62, 80"));
    }

    #[test]
    fn a_referent_authors_the_studies_of_its_own_departement_alone() {
        let f = Federation::default();
        let (aisne, somme): (Cdg, Cdg) = ("02".parse().unwrap(), "80".parse().unwrap());
        let referent = p(Role::Referent, "02");
        assert_eq!(f.require_author(referent, &[aisne], "x"), Ok(()));
        let e = f.require_author(referent, &[somme], "running a study");
        assert!(matches!(e, Err(Refusal::OutsideTerritory { .. })), "{e:?}");
        let text = e.unwrap_err().to_string();
        assert!(text.contains("urn:cdg-hdf:referent:02") && text.contains("departements 80"));
        let regional = f.require_author(referent, &[aisne, somme], "x");
        assert!(matches!(regional, Err(Refusal::OutsideTerritory { .. })));
        assert_eq!(
            f.require_author(f.regional_analyst(), &[somme], "x"),
            Ok(())
        );
        let director = f.require_author(p(Role::Director, "02"), &[aisne], "x");
        assert!(matches!(director, Err(Refusal::NotAllowed { .. })));
        let outsider = f.require_author(p(Role::Referent, "75"), &[aisne], "x");
        assert!(matches!(outsider, Err(Refusal::NotAMember { .. })));
    }

    #[test]
    fn the_configuration_is_checked() {
        let toml = "members = [\"02\", \"59\"]\ncoordinator = \"urn:cdg-hdf:coordinator:62\"";
        let f: Federation = toml::from_str(toml).unwrap();
        assert_eq!(f.validate().unwrap_err().0, "federation.coordinator");
        let toml = "coordinator = \"urn:cdg-hdf:director:59\"";
        let f: Federation = toml::from_str(toml).unwrap();
        assert_eq!(f.validate().unwrap_err().0, "federation.coordinator");
        let f: Federation = toml::from_str("members = [\"02\", \"02\"]").unwrap();
        assert!(f.validate().unwrap_err().1.contains("twice"));
        assert!(toml::from_str::<Federation>("coordinator = \"x\"").is_err());
        assert_eq!(Federation::default().validate(), Ok(()));
    }
}
