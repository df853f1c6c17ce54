//! The five Centres de Gestion of Hauts-de-France and their départements.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Every French département, each with its CDG: (code, name), in code order. The network of
/// Hauts-de-France is five of them ([`Cdg::ALL`]); the others are there so that the same code
/// serves when other regions join (and for the national-scale benchmark).
const DEPARTEMENTS: [(&str, &str); 101] = [
    ("01", "Ain"),
    ("02", "Aisne"),
    ("03", "Allier"),
    ("04", "Alpes-de-Haute-Provence"),
    ("05", "Hautes-Alpes"),
    ("06", "Alpes-Maritimes"),
    ("07", "Ardèche"),
    ("08", "Ardennes"),
    ("09", "Ariège"),
    ("10", "Aube"),
    ("11", "Aude"),
    ("12", "Aveyron"),
    ("13", "Bouches-du-Rhône"),
    ("14", "Calvados"),
    ("15", "Cantal"),
    ("16", "Charente"),
    ("17", "Charente-Maritime"),
    ("18", "Cher"),
    ("19", "Corrèze"),
    ("2A", "Corse-du-Sud"),
    ("2B", "Haute-Corse"),
    ("21", "Côte-d'Or"),
    ("22", "Côtes-d'Armor"),
    ("23", "Creuse"),
    ("24", "Dordogne"),
    ("25", "Doubs"),
    ("26", "Drôme"),
    ("27", "Eure"),
    ("28", "Eure-et-Loir"),
    ("29", "Finistère"),
    ("30", "Gard"),
    ("31", "Haute-Garonne"),
    ("32", "Gers"),
    ("33", "Gironde"),
    ("34", "Hérault"),
    ("35", "Ille-et-Vilaine"),
    ("36", "Indre"),
    ("37", "Indre-et-Loire"),
    ("38", "Isère"),
    ("39", "Jura"),
    ("40", "Landes"),
    ("41", "Loir-et-Cher"),
    ("42", "Loire"),
    ("43", "Haute-Loire"),
    ("44", "Loire-Atlantique"),
    ("45", "Loiret"),
    ("46", "Lot"),
    ("47", "Lot-et-Garonne"),
    ("48", "Lozère"),
    ("49", "Maine-et-Loire"),
    ("50", "Manche"),
    ("51", "Marne"),
    ("52", "Haute-Marne"),
    ("53", "Mayenne"),
    ("54", "Meurthe-et-Moselle"),
    ("55", "Meuse"),
    ("56", "Morbihan"),
    ("57", "Moselle"),
    ("58", "Nièvre"),
    ("59", "Nord"),
    ("60", "Oise"),
    ("61", "Orne"),
    ("62", "Pas-de-Calais"),
    ("63", "Puy-de-Dôme"),
    ("64", "Pyrénées-Atlantiques"),
    ("65", "Hautes-Pyrénées"),
    ("66", "Pyrénées-Orientales"),
    ("67", "Bas-Rhin"),
    ("68", "Haut-Rhin"),
    ("69", "Rhône"),
    ("70", "Haute-Saône"),
    ("71", "Saône-et-Loire"),
    ("72", "Sarthe"),
    ("73", "Savoie"),
    ("74", "Haute-Savoie"),
    ("75", "Paris"),
    ("76", "Seine-Maritime"),
    ("77", "Seine-et-Marne"),
    ("78", "Yvelines"),
    ("79", "Deux-Sèvres"),
    ("80", "Somme"),
    ("81", "Tarn"),
    ("82", "Tarn-et-Garonne"),
    ("83", "Var"),
    ("84", "Vaucluse"),
    ("85", "Vendée"),
    ("86", "Vienne"),
    ("87", "Haute-Vienne"),
    ("88", "Vosges"),
    ("89", "Yonne"),
    ("90", "Territoire de Belfort"),
    ("91", "Essonne"),
    ("92", "Hauts-de-Seine"),
    ("93", "Seine-Saint-Denis"),
    ("94", "Val-de-Marne"),
    ("95", "Val-d'Oise"),
    ("971", "Guadeloupe"),
    ("972", "Martinique"),
    ("973", "Guyane"),
    ("974", "La Réunion"),
    ("976", "Mayotte"),
];

/// A CDG of the network, named by the code of its département.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Cdg(u8);

/// The five CDGs of Hauts-de-France, by name, usable in patterns.
#[allow(non_upper_case_globals)]
impl Cdg {
    pub const Aisne: Cdg = Cdg(1);
    pub const Nord: Cdg = Cdg(59);
    pub const Oise: Cdg = Cdg(60);
    pub const PasDeCalais: Cdg = Cdg(62);
    pub const Somme: Cdg = Cdg(80);
}

/// Agents per CDG outside Hauts-de-France, as a share of the region's: about two million
/// territorial agents over a hundred départements, against 169,000 in the region.
const OTHER_AGENT_SHARE: f64 = 0.117;

impl Cdg {
    /// The five CDGs of the Hauts-de-France network, in département-code order.
    pub const ALL: [Cdg; 5] = [
        Cdg::Aisne,
        Cdg::Nord,
        Cdg::Oise,
        Cdg::PasDeCalais,
        Cdg::Somme,
    ];

    /// Every département's CDG, in code order: the national network.
    pub fn national() -> impl Iterator<Item = Cdg> {
        (0..DEPARTEMENTS.len()).map(|i| Cdg(i as u8))
    }

    /// The département code: "02", "59", "60", "62", "80" in the region; "2A", "971" elsewhere.
    pub fn code(self) -> &'static str {
        DEPARTEMENTS[usize::from(self.0)].0
    }

    /// The département's name, as users read it.
    pub fn name(self) -> &'static str {
        DEPARTEMENTS[usize::from(self.0)].1
    }

    /// Whether this CDG is one of the five of Hauts-de-France.
    pub fn in_region(self) -> bool {
        Cdg::ALL.contains(&self)
    }

    /// Agents of this CDG as a share of the region's (the départements' shares of the region's population, Insee); outside
    /// the region, an average département.
    pub fn agent_share(self) -> f64 {
        match self {
            Cdg::Aisne => 0.09,
            Cdg::Nord => 0.43,
            Cdg::Oise => 0.14,
            Cdg::PasDeCalais => 0.24,
            Cdg::Somme => 0.095,
            _ => OTHER_AGENT_SHARE,
        }
    }
}

impl fmt::Display for Cdg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// Error for a string that is not a département code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown CDG {0:?}: expected a département code, such as 02, 59, 60, 62 or 80")]
pub struct UnknownCdg(pub String);

impl FromStr for Cdg {
    type Err = UnknownCdg;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let code = s.trim().trim_start_matches("CDG").trim_start_matches("cdg");
        Cdg::national()
            .find(|c| c.code().eq_ignore_ascii_case(code))
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
        assert!("99".parse::<Cdg>().is_err());
        assert!("".parse::<Cdg>().is_err());
        assert_eq!("2a".parse::<Cdg>().map(Cdg::name), Ok("Corse-du-Sud"));
        let total: f64 = Cdg::ALL.iter().map(|c| c.agent_share()).sum();
        assert!((total - 0.995).abs() < 1e-9);
    }

    #[test]
    fn the_region_is_five_of_the_national_departements() {
        let codes: Vec<_> = Cdg::ALL.iter().map(|c| (c.code(), c.name())).collect();
        assert_eq!(
            codes,
            [
                ("02", "Aisne"),
                ("59", "Nord"),
                ("60", "Oise"),
                ("62", "Pas-de-Calais"),
                ("80", "Somme")
            ]
        );
        assert_eq!(Cdg::national().count(), 101);
        assert_eq!(Cdg::national().filter(|c| c.in_region()).count(), 5);
        let sorted: Vec<Cdg> = Cdg::national().collect();
        assert!(sorted.windows(2).all(|w| w[0] < w[1]));
    }
}
