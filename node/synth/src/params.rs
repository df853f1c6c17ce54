//! Calibration tables of the synthetic generator.
//!
//! Every table is indexed by the position of a label in the code lists of
//! [`cdg_shared::codes`]: filières in [`FILIERES`](cdg_shared::codes::FILIERES) order,
//! catégories in `A, B, C` order, statuts in
//! [`STATUTS`](cdg_shared::codes::STATUTS) order, employer types in
//! [`TYPES_EMPLOYEUR`](cdg_shared::codes::TYPES_EMPLOYEUR) order. The targets come
//! from the published figures listed in `node/synth/src/lib.rs` (Insee SIASP, DGCL,
//! DGAFP, CNFPT and FNCDG panoramas); the flow rates (exits, hires,
//! conversions) are set so that the simulated population settles on them.

use cdg_shared::cdg::Cdg;

/// Number of filières.
pub const NF: usize = 10;
/// Number of employer types.
pub const NT: usize = 16;

// Filière indices.
pub const F_TECH: u8 = 1;
pub const F_SOC: u8 = 6;
pub const F_IS: u8 = 9;

// Catégorie indices.
pub const CAT_A: u8 = 0;
pub const CAT_B: u8 = 1;
pub const CAT_C: u8 = 2;

// Statut indices.
pub const TITULAIRE: u8 = 0;
pub const STAGIAIRE: u8 = 1;
pub const CONTRACTUEL_PERMANENT: u8 = 2;
pub const CONTRACTUEL_NON_PERMANENT: u8 = 3;

// Employer type indices.
pub const T_COMMUNE: u8 = 0;
pub const T_CAISSE_ECOLES: u8 = 2;
pub const T_METROPOLE: u8 = 6;
pub const T_DEPARTEMENT: u8 = 10;
pub const T_REGION: u8 = 11;
pub const T_SDIS: u8 = 12;
pub const T_CDG: u8 = 13;

/// Regional FPT headcount (Insee 2020: 36% of 469,000 public agents).
pub const REGION_AGENTS: f64 = 169_000.0;

/// Target filière shares of the whole population (FNCDG panoramas, DGCL; médico-sociale
/// and sociale together ≈ 13%).
pub const FILIERE_TARGET: [f64; NF] =
    [0.23, 0.46, 0.04, 0.01, 0.06, 0.003, 0.07, 0.08, 0.02, 0.025];

/// Relative affinity of each employer type for each filière (rows: types,
/// columns: filières). The generator fits one multiplier per filière so that
/// the population matches [`FILIERE_TARGET`] whatever the employer mix.
pub const FILIERE_TILT: [[f64; NF]; NT] = [
    [22.0, 50.0, 5.0, 1.5, 2.0, 0.1, 6.0, 10.0, 3.5, 0.0], // commune
    [15.0, 10.0, 0.0, 0.0, 35.0, 0.5, 40.0, 5.0, 0.0, 0.0], // CCAS
    [10.0, 50.0, 0.0, 0.0, 2.0, 0.0, 15.0, 25.0, 0.0, 0.0], // caisse des écoles
    [25.0, 50.0, 6.0, 3.0, 4.0, 0.0, 4.0, 8.0, 0.0, 0.0],  // communauté de communes
    [25.0, 52.0, 8.0, 3.0, 3.0, 0.2, 3.0, 5.0, 1.0, 0.0],  // communauté d'agglomération
    [25.0, 60.0, 6.0, 2.0, 2.0, 0.2, 2.0, 3.0, 0.0, 0.0],  // communauté urbaine
    [30.0, 60.0, 5.0, 1.0, 1.0, 0.3, 1.0, 1.0, 1.0, 0.0],  // métropole
    [30.0, 55.0, 2.0, 2.0, 3.0, 0.0, 2.0, 6.0, 0.0, 0.0],  // syndicat intercommunal
    [35.0, 60.0, 2.0, 1.0, 1.0, 0.0, 0.0, 1.0, 0.0, 0.0],  // syndicat mixte
    [15.0, 10.0, 0.0, 0.0, 40.0, 0.0, 35.0, 0.0, 0.0, 0.0], // CIAS
    [30.0, 30.0, 3.0, 0.5, 14.0, 1.5, 20.0, 0.5, 0.0, 0.0], // département
    [25.0, 72.0, 2.0, 0.5, 0.2, 0.1, 0.0, 0.2, 0.0, 0.0],  // région
    [8.0, 10.0, 0.0, 0.0, 1.5, 0.5, 0.0, 0.0, 0.0, 80.0],  // SDIS
    [65.0, 10.0, 0.0, 0.0, 15.0, 1.0, 5.0, 0.0, 0.0, 0.0], // CDG
    [50.0, 50.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0],  // OPH
    [35.0, 40.0, 10.0, 5.0, 5.0, 0.5, 3.0, 2.0, 0.0, 0.0], // autre EPL
];

/// Catégorie weights `[A, B, C]` by filière: police municipale and animation
/// are mostly C, médico-sociale has many A (nurses, puéricultrices), sociale
/// has the A socio-éducatif cadres since 2019. Overall ≈ A 12%, B 13%, C 75%.
pub const CATEGORIE_BY_FILIERE: [[f64; 3]; NF] = [
    [18.0, 20.0, 62.0], // administrative
    [3.5, 8.5, 88.0],   // technique
    [20.0, 30.0, 50.0], // culturelle
    [10.0, 60.0, 30.0], // sportive
    [47.0, 8.0, 45.0],  // médico-sociale
    [30.0, 70.0, 0.0],  // médico-technique
    [25.0, 5.0, 70.0],  // sociale
    [0.0, 15.0, 85.0],  // animation
    [2.0, 10.0, 88.0],  // police municipale
    [8.0, 10.0, 82.0],  // incendie et secours
];

/// Weights of the cadres d'emplois, aligned with
/// [`cdg_shared::codes::cadres_emplois`] for `(filière, catégorie)`. Special cases
/// (ATSEM only in communes, adjoints techniques des établissements
/// d'enseignement only in départements and régions) are applied by the caller.
pub fn cadre_weights(filiere: u8, categorie: u8) -> &'static [f64] {
    match (filiere, categorie) {
        (0, CAT_A) => &[95.0, 5.0],
        (1, CAT_C) => &[85.0, 15.0, 0.0],
        (1, CAT_A) => &[92.0, 8.0],
        (2, CAT_B) => &[45.0, 55.0],
        (2, CAT_A) => &[25.0, 20.0, 45.0, 10.0],
        (4, CAT_C) => &[65.0, 35.0],
        (4, CAT_A) => &[40.0, 25.0, 10.0, 12.0, 13.0],
        (6, CAT_C) => &[25.0, 75.0],
        (6, CAT_A) => &[55.0, 35.0, 10.0],
        (8, CAT_C) => &[95.0, 5.0],
        (9, CAT_C) => &[55.0, 45.0],
        (9, CAT_A) => &[75.0, 8.0, 17.0],
        _ => &[1.0],
    }
}

/// Pay premium of a cadre d'emplois over its catégorie's grid (high-end
/// cadres make the right tail of pay).
pub fn cadre_premium(cadre: &str) -> f64 {
    match cadre {
        "médecin" | "médecin et pharmacien de sapeurs-pompiers professionnels" => 1.6,
        "administrateur"
        | "ingénieur en chef"
        | "conseiller et colonel de sapeurs-pompiers professionnels" => 1.55,
        "conservateur" | "biologiste, vétérinaire et pharmacien" => 1.35,
        "directeur de police municipale" => 1.15,
        _ => 1.0,
    }
}

/// Probability of being a woman by filière (before the statut shift).
pub const WOMEN_BY_FILIERE: [f64; NF] =
    [0.83, 0.43, 0.65, 0.30, 0.95, 0.75, 0.95, 0.75, 0.25, 0.08];

/// Logit shift of the probability of being a woman, by statut: contractuels
/// ≈ 70% women, titulaires ≈ 58% (CNFPT 2012).
pub const WOMEN_LOGIT_SHIFT: [f64; 4] = [-0.24, 0.0, 0.36, 0.36];

/// Share of contractuels by filière in the cross-section (overall ≈ 25%).
pub const CONTRACTUEL_BY_FILIERE: [f64; NF] =
    [0.21, 0.24, 0.30, 0.35, 0.30, 0.25, 0.25, 0.45, 0.05, 0.03];

/// Probability that a vacancy is filled by a contractuel is
/// [`CONTRACTUEL_BY_FILIERE`] times this factor (≈ half of the hires).
pub const CONTRACTUEL_HIRE_FACTOR: f64 = 2.0;

/// Among contractuel hires, the share on a non-permanent post.
pub const NON_PERMANENT_HIRE_SHARE: f64 = 0.6;

/// Among fonctionnaire hires, the share of titulaires arriving by mutation or
/// détachement (the others are stagiaires after a concours or a direct
/// recruitment); half of the mutations come from another employer of the
/// same département.
pub const MUTATION_HIRE_SHARE: f64 = 0.45;
/// Share of mutations that come from another employer of the département.
pub const INTERNAL_MUTATION_SHARE: f64 = 0.5;

/// Yearly probability of leaving for another reason than retirement, by
/// statut (mutation out, démission, disponibilité, death / end of contract).
pub const EXIT_RATE: [f64; 4] = [0.025, 0.06, 0.10, 0.25];

/// Yearly probability that a stagiaire is titularised (the rest is extended).
pub const TITULARISATION_RATE: f64 = 0.92;
/// Yearly probability that a contractuel permanent becomes stagiaire.
pub const CONTRACTUEL_TO_STAGIAIRE: f64 = 0.04;
/// Yearly probability that a non-permanent contractuel gets a permanent post.
pub const NON_PERMANENT_TO_PERMANENT: f64 = 0.10;

/// Retirement hazard at ages 55 to 67 (age reached at 31/12 of the new year);
/// everyone leaves after 67. About 3% of the agents retire each year.
pub const RETIREMENT_HAZARD: [f64; 13] = [
    0.004, 0.008, 0.02, 0.03, 0.04, 0.10, 0.16, 0.42, 0.30, 0.33, 0.40, 0.55, 0.85,
];
/// Extra retirement hazard of sapeurs-pompiers (catégorie active) from 57.
pub const SPP_EXTRA_HAZARD: f64 = 0.12;

/// Age band weights (18-24, 25-29, ..., 60-64, 65-67) for each kind of person
/// drawn: index 0 titulaires and 1 contractuels of the initial cross-section,
/// 2 contractuel hires, 3 stagiaire hires, 4 titulaires arriving by mutation.
pub const AGE_BANDS: [[f64; 10]; 5] = [
    [1.0, 4.0, 8.0, 11.0, 14.0, 16.0, 17.0, 16.0, 10.0, 1.0],
    [12.0, 13.0, 12.0, 11.0, 11.0, 11.0, 11.0, 10.0, 7.0, 2.0],
    [15.0, 16.0, 14.0, 12.0, 11.0, 10.0, 9.0, 7.0, 5.0, 1.0],
    [8.0, 17.0, 18.0, 17.0, 14.0, 11.0, 8.0, 5.0, 2.0, 0.0],
    [1.0, 8.0, 15.0, 18.0, 18.0, 16.0, 13.0, 8.0, 3.0, 0.0],
];

/// Share of temps partiel among temps complet agents, women and men.
pub const TEMPS_PARTIEL: [f64; 2] = [0.13, 0.03];

/// Probability that a post is at temps non complet, by employer headcount.
pub fn temps_non_complet_rate(headcount: u32, ty: u8) -> f64 {
    let base: f64 = match headcount {
        0..=9 => 0.45,
        10..=49 => 0.25,
        50..=349 => 0.12,
        _ => 0.05,
    };
    if ty == T_SDIS || ty == T_REGION {
        base * 0.3
    } else {
        base
    }
}

/// Annual gross pay of a full-time agent at seniority 0 and the yearly rise
/// with seniority, by catégorie `[A, B, C]`, in euros of 2021.
pub const PAY_GRID: [(f64, f64); 3] = [(33_000.0, 800.0), (25_500.0, 420.0), (20_500.0, 230.0)];

/// Index of pay levels relative to 2021 (point d'indice: +3.5% in July 2022,
/// +1.5% in July 2023, 5 points for all in January 2024; then +1% a year).
pub fn pay_index(year: i32) -> f64 {
    match year {
        ..=2021 => 1.0 - 0.004 * f64::from(2021 - year.max(1990)),
        2022 => 1.0175,
        2023 => 1.0428,
        2024 => 1.062,
        _ => 1.062 * 1.01f64.powi((year - 2024).min(200)),
    }
}

/// Employer counts per type for a CDG at scale 1 (about 5,200 over the five
/// CDGs, Gazette Oise 2022). Communes: Aisne ~800, Somme ~770,
/// Pas-de-Calais ~890, Oise ~680, Nord ~650. One département, one SDIS and
/// one CDG each; the région and the métropole are in Nord only.
pub fn employer_counts(cdg: Cdg) -> [u32; NT] {
    match cdg {
        //             com CCAS CdE CC CA CU Mét SI  SM CIAS Dép Rég SDIS CDG OPH autre
        Cdg::Aisne => [800, 70, 5, 18, 4, 0, 0, 75, 25, 5, 1, 0, 1, 1, 1, 12],
        Cdg::Nord => [650, 190, 15, 9, 7, 1, 1, 160, 45, 4, 1, 1, 1, 1, 2, 35],
        Cdg::Oise => [680, 70, 5, 17, 4, 0, 0, 80, 25, 5, 1, 0, 1, 1, 1, 12],
        Cdg::PasDeCalais => [890, 130, 10, 19, 8, 1, 0, 100, 35, 6, 1, 0, 1, 1, 2, 22],
        Cdg::Somme => [770, 55, 5, 14, 2, 0, 0, 60, 20, 5, 1, 0, 1, 1, 1, 12],
        // Outside the region (national-scale benchmark): an average of the five.
        _ => [760, 100, 8, 15, 5, 0, 0, 95, 30, 5, 1, 0, 1, 1, 1, 18],
    }
}

/// Share of the agents in each employer type (before normalisation over the
/// types present in the CDG). Singletons: département 12%, SDIS 3.1%,
/// région 10% and métropole 3.5% (Nord), CDG 0.3%.
pub const TYPE_AGENT_SHARE: [f64; NT] = [
    0.427, 0.043, 0.007, 0.043, 0.071, 0.021, 0.035, 0.021, 0.021, 0.014, 0.12, 0.10, 0.031, 0.003,
    0.014, 0.014,
];

/// Zipf exponent of employer sizes within a type: size ∝ (rank + 2)^-s.
pub const TYPE_ZIPF: [f64; NT] = [
    1.3, 1.3, 1.0, 0.8, 0.8, 1.0, 1.0, 1.4, 1.2, 0.8, 1.0, 1.0, 1.0, 1.0, 0.8, 1.3,
];

/// Whether a type is a singleton whose share is fixed (not renormalised).
pub fn is_singleton(ty: u8) -> bool {
    matches!(ty, T_DEPARTEMENT | T_REGION | T_SDIS | T_CDG | T_METROPOLE)
}
