//! `demandes_<year>.parquet`: the job seekers' CVs deposited on
//! emploi-territorial in the year and validated by the CDG, written as
//! Parquet (`annee` Int32, every other column text, dates `AAAA-MM-JJ`).
//! Drawn from their own PRNG stream.
//!
//! - Volume: 1.5 CVs per offer of the year. No regional count of CVs is
//!   published; with 1.5 the ratio of offers to CVs ends on both sides of 1
//!   across métiers, as the tension indicators need: the métiers in tension
//!   (secrétaire de mairie, policier municipal, aide-soignant, infirmier...)
//!   get fewer CVs than offers, office and communication jobs several times
//!   more (the métier of a CV is drawn in proportion to the year's offers of
//!   the métier times its [`attract`](super::emploi::Profile::attract)).
//! - Candidates (13e Panorama, 2023): 67% women, half job seekers, 30%
//!   already in the fonction publique, 15% from the private sector; under 1
//!   in 4 at bac level and over 43% above it (diploma drawn given the
//!   catégorie aimed at); younger than the agents; 80% live in the CDG's
//!   département, 15% in another one of the region, 5% elsewhere; about 8%
//!   are laureates of a concours on a liste d'aptitude.

use super::write::header;
use cdg_shared::catalogue;
use std::io;
use std::path::Path;
use std::sync::Arc;

use arrow::array::{ArrayRef, Int32Array, StringArray};
use cdg_shared::cdg::Cdg;
use chrono::NaiveDate;
use rand::Rng;

use cdg_shared::codes::{
    CATEGORIES, METIERS, NIVEAUX_DIPLOME, OUI_NON, SEXES, SITUATIONS_DEMANDEUR, TRANCHES_AGE,
};

use super::emploi::{NM, PROFILES};
use super::formats::{days_in_month, first_of_month, iso, write_parquet};
use super::sampling::{SynthRng, chance, logistic, logit, unit, weighted};

/// CVs per offer.
pub const CVS_PER_OFFER: f64 = 1.5;
/// Where candidates live: the five départements, then elsewhere.
pub const DEPARTEMENTS: [&str; 6] = ["02", "59", "60", "62", "80", "autre"];
/// Logit shift of the métiers' women shares, so that 67% of CVs are women's.
const WOMEN_SHIFT: f64 = 0.15;
/// Weights of the age bands of `TRANCHES_AGE`.
const AGE_BANDS: [f64; 10] = [14.0, 16.0, 15.0, 14.0, 13.0, 11.0, 9.0, 6.0, 2.0, 0.2];
/// Deposit weights of the months, January to December.
const DEPOSIT_MONTHS: [f64; 12] = [11.0, 9.0, 9.0, 8.0, 8.0, 8.0, 8.0, 7.0, 10.0, 9.0, 7.0, 6.0];
/// Diploma weights (infra-bac ... bac+5) by catégorie aimed at (A, B, C).
const DIPLOMA: [[f64; 5]; 3] = [
    [0.0, 3.0, 10.0, 32.0, 55.0],
    [4.0, 22.0, 36.0, 26.0, 12.0],
    [45.0, 27.0, 15.0, 9.0, 4.0],
];

/// One CV.
#[derive(Debug, Clone)]
pub struct Demande {
    pub depot: NaiveDate,
    pub sexe: u8,
    pub age_band: u8,
    pub departement: u8,
    pub situation: u8,
    pub diplome: u8,
    pub metier: u8,
    pub categorie: u8,
    pub laureat: bool,
}

/// Draws the CVs of `year` given the year's offers per métier.
pub fn generate(
    rng: &mut SynthRng,
    year: i32,
    cdg: Cdg,
    offers_by_metier: &[u32; NM],
) -> Vec<Demande> {
    let offers: u32 = offers_by_metier.iter().sum();
    let n = (CVS_PER_OFFER * f64::from(offers) * (0.95 + 0.1 * unit(rng))).round() as usize;
    let metier_w: Vec<f64> = (0..NM)
        .map(|m| (f64::from(offers_by_metier[m]) + 0.5) * PROFILES[m].attract)
        .collect();
    // Residence: the CDG's département, the other four by size, elsewhere.
    let own = Cdg::ALL.iter().position(|&c| c == cdg).unwrap_or(0);
    let others: f64 = Cdg::ALL
        .iter()
        .filter(|&&c| c != cdg)
        .map(|c| c.agent_share())
        .sum();
    let mut residence: Vec<f64> = Cdg::ALL
        .iter()
        .map(|c| 0.15 * c.agent_share() / others)
        .collect();
    residence[own] = 0.80;
    residence.push(0.05);

    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        let metier = weighted(rng, &metier_w);
        let profile = PROFILES[metier];
        let woman = chance(rng, logistic(logit(profile.women) + WOMEN_SHIFT));
        let age_band = weighted(rng, &AGE_BANDS);
        let situation = match age_band {
            0 => weighted(rng, &[55.0, 10.0, 12.0, 18.0, 5.0]),
            7.. => weighted(rng, &[55.0, 30.0, 10.0, 0.0, 5.0]),
            _ => weighted(rng, &[49.0, 33.0, 15.0, 1.0, 2.0]),
        };
        let categorie = weighted(rng, &profile.categories);
        let diplome = weighted(rng, &DIPLOMA[categorie]);
        let mut p_laureat = if situation == 1 { 0.14 } else { 0.04 };
        if categorie < 2 {
            p_laureat *= 1.5;
        }
        let month = weighted(rng, &DEPOSIT_MONTHS) as u32 + 1;
        let day = rng.random_range(0..days_in_month(year, month));
        out.push(Demande {
            depot: first_of_month(year, month) + chrono::Days::new(u64::from(day)),
            sexe: u8::from(!woman),
            age_band: age_band as u8,
            departement: weighted(rng, &residence) as u8,
            situation: situation as u8,
            diplome: diplome as u8,
            metier: metier as u8,
            categorie: categorie as u8,
            laureat: chance(rng, p_laureat),
        });
    }
    out.sort_by_key(|d| d.depot);
    out
}

/// Writes `demandes_<year>.parquet` (ids `D` + CDG code + year + a 6-digit
/// number in deposit order); returns the number of rows.
pub fn write(path: &Path, year: i32, code: &str, demandes: &[Demande]) -> io::Result<u64> {
    let text = |f: &dyn Fn(usize, &Demande) -> String| -> ArrayRef {
        Arc::new(StringArray::from_iter_values(
            demandes.iter().enumerate().map(|(i, d)| f(i, d)),
        ))
    };
    let label = |list: &'static [&'static str], f: fn(&Demande) -> u8| -> ArrayRef {
        Arc::new(StringArray::from_iter_values(
            demandes.iter().map(|d| list[usize::from(f(d))]),
        ))
    };
    let columns: Vec<(&'static str, ArrayRef)> = vec![
        (
            "annee",
            Arc::new(Int32Array::from(vec![year; demandes.len()])),
        ),
        (
            "demande_id",
            text(&|i, _| format!("D{code}{year}{:06}", i + 1)),
        ),
        ("date_depot", text(&|_, d| iso(d.depot))),
        ("sexe", label(SEXES, |d| d.sexe)),
        ("tranche_age", label(TRANCHES_AGE, |d| d.age_band)),
        (
            "departement_residence",
            label(&DEPARTEMENTS, |d| d.departement),
        ),
        ("situation", label(SITUATIONS_DEMANDEUR, |d| d.situation)),
        ("niveau_diplome", label(NIVEAUX_DIPLOME, |d| d.diplome)),
        ("metier", label(METIERS, |d| d.metier)),
        ("categorie_visee", label(CATEGORIES, |d| d.categorie)),
        ("laureat_concours", label(OUI_NON, |d| u8::from(!d.laureat))),
    ];
    debug_assert!(columns.iter().map(|c| c.0).eq(header(&catalogue::DEMANDES)));
    write_parquet(path, columns)?;
    Ok(demandes.len() as u64)
}
