//! Who may do what at the coordinator: each operation names the identities it accepts, and a
//! study's authors are the chef de file's chargé.e de mission or the référent of its one
//! département.

use cdg_shared::federation::Access;
use cdg_shared::identity::{Principal, Role};

use crate::coordinator::Coordinator;
use crate::error::Result;
use crate::study::Study;

/// Any member CDG's director.
pub(crate) const DIRECTORS: Access = Access::AnyMember(Role::Director);
/// Any member CDG's departmental référent (each then limited to its own département's studies).
pub(crate) const REFERENTS: Access = Access::AnyMember(Role::Referent);

impl Coordinator {
    /// Refuses `caller` unless it is a member identity that `expected` accepts.
    pub(crate) fn require(
        &self,
        caller: Principal,
        expected: &[Access],
        what: &'static str,
    ) -> Result<()> {
        Ok(self.federation.require(caller, expected, what)?)
    }

    /// The chef de file's chargé.e de mission, who submits, runs and diffuses regional studies.
    pub(crate) fn analyst(&self) -> Access {
        Access::Only(self.federation.regional_analyst())
    }

    /// Refuses `caller` unless it writes, runs and diffuses `study`: the chargé.e de mission,
    /// or the référent of the study's one département.
    pub(crate) fn require_author(
        &self,
        caller: Principal,
        study: &Study,
        what: &'static str,
    ) -> Result<()> {
        Ok(self
            .federation
            .require_author(caller, &study.departements, what)?)
    }

    /// Refuses `caller` unless it reads `study`: any director, or one of its authors.
    pub(crate) fn require_reader(
        &self,
        caller: Principal,
        study: &Study,
        what: &'static str,
    ) -> Result<()> {
        if caller.role == Role::Director {
            self.require(caller, &[DIRECTORS], what)
        } else {
            self.require_author(caller, study, what)
        }
    }
}
