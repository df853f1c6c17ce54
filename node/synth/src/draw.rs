//! Drawing posts (what the job is) and people (who holds it).

use rand::Rng;

use cdg_shared::codes::{CATEGORIES, FILIERES, cadres_emplois};

use super::params::{
    AGE_BANDS, CAT_C, CATEGORIE_BY_FILIERE, F_SOC, F_TECH, FILIERE_TARGET, FILIERE_TILT, NF, NT,
    T_CAISSE_ECOLES, T_COMMUNE, T_DEPARTEMENT, T_REGION, TEMPS_PARTIEL, WOMEN_BY_FILIERE,
    WOMEN_LOGIT_SHIFT, cadre_premium, cadre_weights, temps_non_complet_rate,
};
use super::sampling::{SynthRng, chance, logistic, logit, normal, unit, weighted};

/// Agent number meaning "nobody holds this post".
pub const VACANT: u32 = 0;

/// One post of an employer and the person holding it at 31/12.
#[derive(Debug, Clone, Copy)]
pub struct Slot {
    /// Index of the employer in the employer list.
    pub employer: u32,
    /// Index in `FILIERES`.
    pub filiere: u8,
    /// Index in `CATEGORIES`.
    pub categorie: u8,
    /// Index in `cadres_emplois(filière, catégorie)`.
    pub cadre: u8,
    /// Working time of the post in % of 35 hours (100 = temps complet).
    pub quotite: u8,
    /// The person's 7-digit pseudonym number, or [`VACANT`].
    pub agent: u32,
    /// Year of birth.
    pub birth: i32,
    /// Index in `SEXES` (0 F, 1 H).
    pub sexe: u8,
    /// Index in `STATUTS`.
    pub statut: u8,
    /// Paid share of a temps partiel in % (100 = none; 80% is paid 86%).
    pub partiel: u8,
    /// Months paid in the year (less than 12 for the year's hires).
    pub months: u8,
    /// Hired or moved this year (not eligible for a mutation).
    pub touched: bool,
    /// Personal pay factor (grid position, primes, cadre premium).
    pub pay_factor: f32,
}

/// The filière distribution of each employer type, fitted so that the whole
/// population matches `FILIERE_TARGET` given the agents per type
/// (`per_type`): one multiplier per filière, adjusted by iterative
/// proportional fitting on the `FILIERE_TILT` affinities.
pub fn fit_filieres(per_type: &[f64; NT]) -> [[f64; NF]; NT] {
    let total: f64 = per_type.iter().sum();
    let mut mult = FILIERE_TARGET;
    let mut probs = [[0.0; NF]; NT];
    for _ in 0..200 {
        for t in 0..NT {
            let row: [f64; NF] = std::array::from_fn(|f| mult[f] * FILIERE_TILT[t][f]);
            let s: f64 = row.iter().sum();
            probs[t] = row.map(|x| if s > 0.0 { x / s } else { 0.0 });
        }
        for f in 0..NF {
            let marg: f64 = (0..NT).map(|t| per_type[t] * probs[t][f]).sum::<f64>() / total;
            if marg > 0.0 {
                mult[f] *= FILIERE_TARGET[f] / marg;
            }
        }
    }
    probs
}

/// Draws a vacant post at employer `employer` (type `ty`, usual headcount
/// `size`) from the fitted filière distribution of its type.
pub fn post(
    rng: &mut SynthRng,
    filieres: &[[f64; NF]; NT],
    employer: u32,
    ty: u8,
    size: u32,
) -> Slot {
    let f = weighted(rng, &filieres[usize::from(ty)]) as u8;
    let cat = weighted(rng, &CATEGORIE_BY_FILIERE[usize::from(f)]) as u8;
    let cadre = match (f, cat) {
        // Adjoints techniques des établissements d'enseignement: collèges and lycées.
        (F_TECH, CAT_C) if ty == T_DEPARTEMENT || ty == T_REGION => {
            weighted(rng, &[25.0, 8.0, 67.0])
        }
        // ATSEM: écoles maternelles of the communes.
        (F_SOC, CAT_C) if ty != T_COMMUNE && ty != T_CAISSE_ECOLES => 0,
        _ => weighted(rng, cadre_weights(f, cat)),
    } as u8;
    let quotite = if chance(rng, temps_non_complet_rate(size, ty)) {
        // 7 h to 32 h a week, as a percentage of 35 h.
        const Q: [u8; 10] = [20, 29, 34, 40, 50, 57, 69, 80, 86, 91];
        const W: [f64; 10] = [5.0, 8.0, 8.0, 10.0, 14.0, 14.0, 14.0, 12.0, 8.0, 7.0];
        Q[weighted(rng, &W)]
    } else {
        100
    };
    Slot {
        employer,
        filiere: f,
        categorie: cat,
        cadre,
        quotite,
        agent: VACANT,
        birth: 0,
        sexe: 0,
        statut: 0,
        partiel: 100,
        months: 12,
        touched: false,
        pay_factor: 1.0,
    }
}

/// The label of a slot's cadre d'emplois.
pub fn cadre_label(slot: &Slot) -> &'static str {
    cadre_of(slot.filiere, slot.categorie, slot.cadre)
}

/// The label of cadre d'emplois number `cadre` of a filière and catégorie (by index).
pub fn cadre_of(filiere: u8, categorie: u8, cadre: u8) -> &'static str {
    let cadres = cadres_emplois(
        FILIERES[usize::from(filiere)],
        CATEGORIES[usize::from(categorie)],
    );
    cadres
        .get(usize::from(cadre))
        .or(cadres.first())
        .copied()
        .unwrap_or("")
}

/// The kind of person drawn, selecting the age profile (`AGE_BANDS` row).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Titulaire or stagiaire of the initial cross-section.
    StockFonctionnaire = 0,
    /// Contractuel of the initial cross-section.
    StockContractuel = 1,
    /// Contractuel hired this year.
    HireContractuel = 2,
    /// Stagiaire hired this year (concours or direct recruitment).
    HireStagiaire = 3,
    /// Titulaire arriving from outside by mutation or détachement.
    HireMutation = 4,
}

/// Age band bounds (inclusive) matching `AGE_BANDS`.
const BANDS: [(i32, i32); 10] = [
    (18, 24),
    (25, 29),
    (30, 34),
    (35, 39),
    (40, 44),
    (45, 49),
    (50, 54),
    (55, 59),
    (60, 64),
    (65, 67),
];

/// Puts a new person with `agent` number and `statut` on the slot, at 31/12
/// of `year`.
pub fn person(rng: &mut SynthRng, slot: &mut Slot, agent: u32, statut: u8, kind: Kind, year: i32) {
    let (lo, hi) = BANDS[weighted(rng, &AGE_BANDS[kind as usize])];
    let age = rng.random_range(lo..=hi);
    let f = usize::from(slot.filiere);
    let p_women = logistic(logit(WOMEN_BY_FILIERE[f]) + WOMEN_LOGIT_SHIFT[usize::from(statut)]);
    let sexe = u8::from(!chance(rng, p_women));
    slot.agent = agent;
    slot.birth = year - age;
    slot.sexe = sexe;
    slot.statut = statut;
    slot.partiel = if slot.quotite == 100 && chance(rng, TEMPS_PARTIEL[usize::from(sexe)]) {
        temps_partiel(rng)
    } else {
        100
    };
    slot.pay_factor = pay_factor(rng, cadre_premium(cadre_label(slot)));
}

/// A paid share of temps partiel: 80% (paid 6/7), 90% (paid 32/35), 50%, 60%, 70%.
pub fn temps_partiel(rng: &mut SynthRng) -> u8 {
    const PAID: [u8; 5] = [86, 91, 50, 60, 70];
    PAID[weighted(rng, &[60.0, 15.0, 15.0, 5.0, 5.0])]
}

/// Personal pay factor: a log-normal spread (σ = 0.12, floored) times, for
/// 6% of the people, a Pareto(2.5) bonus (responsibilities, NBI, overtime),
/// times the cadre premium.
fn pay_factor(rng: &mut SynthRng, premium: f64) -> f32 {
    let mut x = (0.12 * normal(rng)).exp().max(0.9);
    if chance(rng, 0.06) {
        let pareto = (1.0 - unit(rng)).powf(-1.0 / 2.5);
        x *= (1.0 + 0.5 * (pareto - 1.0)).min(3.0);
    }
    (x * premium) as f32
}

/// Months paid in the year of hire: hired in month m, paid 13 - m months;
/// hires peak in January and September.
pub fn hire_months(rng: &mut SynthRng) -> u8 {
    const W: [f64; 12] = [12.0, 7.0, 8.0, 8.0, 7.0, 7.0, 8.0, 7.0, 16.0, 8.0, 6.0, 6.0];
    12 - weighted(rng, &W) as u8
}

#[cfg(test)]
mod tests {
    use super::*;
    use cdg_shared::codes::cadres_emplois;

    #[test]
    fn cadre_weights_match_the_code_lists() {
        for (f, fl) in FILIERES.iter().enumerate() {
            for (c, cl) in CATEGORIES.iter().enumerate() {
                if CATEGORIE_BY_FILIERE[f][c] > 0.0 {
                    let n = cadres_emplois(fl, cl).len();
                    let w = cadre_weights(f as u8, c as u8).len();
                    assert!(n > 0, "{fl} {cl}");
                    assert_eq!(n, w, "{fl} {cl}");
                }
            }
        }
    }

    #[test]
    fn fitted_filieres_hit_targets() {
        let mut per_type = [0.0; NT];
        per_type[0] = 500.0;
        per_type[1] = 50.0;
        per_type[10] = 120.0;
        per_type[12] = 31.0;
        per_type[13] = 3.0;
        per_type[7] = 40.0;
        let probs = fit_filieres(&per_type);
        let total: f64 = per_type.iter().sum();
        for f in 0..NF {
            let m: f64 = (0..NT).map(|t| per_type[t] * probs[t][f]).sum::<f64>() / total;
            assert!((m - FILIERE_TARGET[f]).abs() < 0.002, "{f}: {m}");
        }
    }
}
