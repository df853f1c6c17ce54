//! The five Centres de Gestion of Hauts-de-France and their départements.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// A CDG of the network, named by the code of its département.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum Cdg {
    Aisne,
    Nord,
    Oise,
    PasDeCalais,
    Somme,
}

impl Cdg {
    /// All CDGs, in département-code order.
    pub const ALL: [Cdg; 5] = [
        Cdg::Aisne,
        Cdg::Nord,
        Cdg::Oise,
        Cdg::PasDeCalais,
        Cdg::Somme,
    ];

    /// The département code: "02", "59", "60", "62", "80".
    pub fn code(self) -> &'static str {
        match self {
            Cdg::Aisne => "02",
            Cdg::Nord => "59",
            Cdg::Oise => "60",
            Cdg::PasDeCalais => "62",
            Cdg::Somme => "80",
        }
    }

    /// The département's name, as users read it.
    pub fn name(self) -> &'static str {
        match self {
            Cdg::Aisne => "Aisne",
            Cdg::Nord => "Nord",
            Cdg::Oise => "Oise",
            Cdg::PasDeCalais => "Pas-de-Calais",
            Cdg::Somme => "Somme",
        }
    }

    /// Share of the region's territorial agents (population prior, DOMAIN.md).
    pub fn agent_share(self) -> f64 {
        match self {
            Cdg::Aisne => 0.09,
            Cdg::Nord => 0.43,
            Cdg::Oise => 0.14,
            Cdg::PasDeCalais => 0.24,
            Cdg::Somme => 0.095,
        }
    }
}

impl fmt::Display for Cdg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// Error for a string that is not one of the five département codes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown CDG {0:?}: expected one of 02, 59, 60, 62, 80")]
pub struct UnknownCdg(pub String);

impl FromStr for Cdg {
    type Err = UnknownCdg;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let code = s.trim().trim_start_matches("CDG").trim_start_matches("cdg");
        Cdg::ALL
            .into_iter()
            .find(|c| c.code() == code)
            .ok_or_else(|| UnknownCdg(s.to_string()))
    }
}

impl TryFrom<String> for Cdg {
    type Error = UnknownCdg;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl From<Cdg> for String {
    fn from(c: Cdg) -> String {
        c.code().to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_codes_and_prefixed_forms() {
        assert_eq!("59".parse::<Cdg>(), Ok(Cdg::Nord));
        assert_eq!("CDG02".parse::<Cdg>(), Ok(Cdg::Aisne));
        assert!("75".parse::<Cdg>().is_err());
        let total: f64 = Cdg::ALL.iter().map(|c| c.agent_share()).sum();
        assert!((total - 0.995).abs() < 1e-9);
    }
}
