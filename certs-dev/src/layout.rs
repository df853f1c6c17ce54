//! Where the development PKI lives on disk.

use std::path::{Path, PathBuf};

use cdg_shared::cdg::Cdg;
use cdg_shared::identity::{Principal, Role};

/// The CDG that runs the coordinator and employs the chargé.e de mission.
pub const COORDINATOR_CDG: Cdg = Cdg::Nord;

/// File names of the development PKI inside one folder.
///
/// | file                                   | content                                    |
/// |----------------------------------------|--------------------------------------------|
/// | `ca.pem`, `ca.key`                     | federation CA                              |
/// | `node-XX.pem`, `node-XX.key`           | server certificate of CDG XX's node        |
/// | `director-XX.pem`, `director-XX.key`   | client certificate of CDG XX's director    |
/// | `coordinator.pem`, `coordinator.key`   | coordinator of CDG 59 (server and client)  |
/// | `charge-de-mission.pem`, `…key`        | chargé.e de mission of CDG 59 (client)     |
/// | `referent-XX.pem`, `referent-XX.key`   | CDG XX's departmental observatory (client) |
/// | `README.txt`                           | "development only" warning                 |
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PkiLayout {
    dir: PathBuf,
}

/// The certificate and key files of one leaf (non-CA) certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeafFiles {
    /// Whom the certificate identifies (its `urn:cdg-hdf:` URI SAN).
    pub principal: Principal,
    /// The PEM certificate.
    pub cert: PathBuf,
    /// The PKCS#8 PEM private key.
    pub key: PathBuf,
}

/// The seventeen principals `generate` issues certificates for, in file-listing order:
/// the five nodes, the five directors, the coordinator and the chargé.e de mission (both CDG 59),
/// then the five departmental référents.
pub fn federation_principals() -> Vec<Principal> {
    let mut all: Vec<Principal> = Cdg::ALL
        .into_iter()
        .map(|cdg| Principal::new(Role::Node, cdg))
        .collect();
    all.extend(
        Cdg::ALL
            .into_iter()
            .map(|cdg| Principal::new(Role::Director, cdg)),
    );
    all.push(Principal::new(Role::Coordinator, COORDINATOR_CDG));
    all.push(Principal::new(Role::ChargeDeMission, COORDINATOR_CDG));
    all.extend(
        Cdg::ALL
            .into_iter()
            .map(|cdg| Principal::new(Role::Referent, cdg)),
    );
    all
}

impl PkiLayout {
    /// A layout rooted at `dir` (nothing is read or created).
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        PkiLayout { dir: dir.into() }
    }

    /// The folder holding the files.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// `ca.pem`: the federation CA certificate, which every node and client trusts.
    pub fn ca_cert(&self) -> PathBuf {
        self.dir.join("ca.pem")
    }

    /// `ca.key`: the federation CA private key.
    pub fn ca_key(&self) -> PathBuf {
        self.dir.join("ca.key")
    }

    /// `node-XX.pem`: the server certificate of CDG `cdg`'s node.
    pub fn node_cert(&self, cdg: Cdg) -> PathBuf {
        self.dir.join(format!("node-{}.pem", cdg.code()))
    }

    /// `node-XX.key`: the private key of CDG `cdg`'s node.
    pub fn node_key(&self, cdg: Cdg) -> PathBuf {
        self.dir.join(format!("node-{}.key", cdg.code()))
    }

    /// `director-XX.pem`: the client certificate of CDG `cdg`'s director.
    pub fn director_cert(&self, cdg: Cdg) -> PathBuf {
        self.dir.join(format!("director-{}.pem", cdg.code()))
    }

    /// `director-XX.key`: the private key of CDG `cdg`'s director.
    pub fn director_key(&self, cdg: Cdg) -> PathBuf {
        self.dir.join(format!("director-{}.key", cdg.code()))
    }

    /// `coordinator.pem`: the coordinator's certificate (server and client).
    pub fn coordinator_cert(&self) -> PathBuf {
        self.dir.join("coordinator.pem")
    }

    /// `coordinator.key`: the coordinator's private key.
    pub fn coordinator_key(&self) -> PathBuf {
        self.dir.join("coordinator.key")
    }

    /// `charge-de-mission.pem`: the chargé.e de mission's client certificate.
    pub fn charge_de_mission_cert(&self) -> PathBuf {
        self.dir.join("charge-de-mission.pem")
    }

    /// `charge-de-mission.key`: the chargé.e de mission's private key.
    pub fn charge_de_mission_key(&self) -> PathBuf {
        self.dir.join("charge-de-mission.key")
    }

    /// `referent-XX.pem`: the client certificate of CDG `cdg`'s departmental référent.
    pub fn referent_cert(&self, cdg: Cdg) -> PathBuf {
        self.dir.join(format!("referent-{}.pem", cdg.code()))
    }

    /// `referent-XX.key`: the private key of CDG `cdg`'s departmental référent.
    pub fn referent_key(&self, cdg: Cdg) -> PathBuf {
        self.dir.join(format!("referent-{}.key", cdg.code()))
    }

    /// `README.txt`: the "development only" warning.
    pub fn readme(&self) -> PathBuf {
        self.dir.join("README.txt")
    }

    /// The files of `principal`'s certificate in this layout, if `generate` issues one for it
    /// (any node or director; the coordinator and chargé.e de mission of CDG 59 only).
    pub fn leaf(&self, principal: Principal) -> Option<LeafFiles> {
        let (cert, key) = match principal.role {
            Role::Node => (self.node_cert(principal.cdg), self.node_key(principal.cdg)),
            Role::Director => (
                self.director_cert(principal.cdg),
                self.director_key(principal.cdg),
            ),
            Role::Coordinator if principal.cdg == COORDINATOR_CDG => {
                (self.coordinator_cert(), self.coordinator_key())
            }
            Role::ChargeDeMission if principal.cdg == COORDINATOR_CDG => {
                (self.charge_de_mission_cert(), self.charge_de_mission_key())
            }
            Role::Referent => (
                self.referent_cert(principal.cdg),
                self.referent_key(principal.cdg),
            ),
            Role::Coordinator | Role::ChargeDeMission => return None,
        };
        Some(LeafFiles {
            principal,
            cert,
            key,
        })
    }

    /// The seventeen leaf certificates of the layout, in [`federation_principals`] order.
    pub fn leaves(&self) -> Vec<LeafFiles> {
        federation_principals()
            .into_iter()
            .filter_map(|p| self.leaf(p))
            .collect()
    }

    /// Every file `generate` writes: CA certificate and key, each leaf's certificate and key,
    /// then `README.txt`.
    pub fn all_files(&self) -> Vec<PathBuf> {
        let mut files = vec![self.ca_cert(), self.ca_key()];
        for leaf in self.leaves() {
            files.push(leaf.cert);
            files.push(leaf.key);
        }
        files.push(self.readme());
        files
    }

    /// The files of [`all_files`](Self::all_files) that are present (a dangling symbolic link
    /// counts as present: writing would replace it).
    pub fn existing_files(&self) -> Vec<PathBuf> {
        self.all_files()
            .into_iter()
            .filter(|f| f.symlink_metadata().is_ok())
            .collect()
    }

    /// True when the CA certificate exists, i.e. a PKI has been generated here.
    pub fn exists(&self) -> bool {
        self.ca_cert().exists()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_follow_the_scheme() {
        let l = PkiLayout::new("/pki");
        assert_eq!(l.node_key(Cdg::Aisne), PathBuf::from("/pki/node-02.key"));
        assert_eq!(
            l.director_cert(Cdg::Somme),
            PathBuf::from("/pki/director-80.pem")
        );
        assert_eq!(l.all_files().len(), 2 + 17 * 2 + 1);
        assert_eq!(
            l.leaf(Principal::new(Role::Coordinator, Cdg::Oise)),
            None,
            "only CDG 59 runs the coordinator"
        );
    }
}
