//! `offres_<year>.csv`: the job offers (déclarations de vacance) published in
//! the year, in the emploi-territorial export format: Windows-1252, `;`,
//! CRLF, dates `JJ/MM/AAAA`. Drawn from their own PRNG stream.
//!
//! - Volume: 11.5 offers per 100 agents (228,262 offers in France in 2023
//!   for 1.98 M agents), ±3%.
//! - Each offer is a post of the 31/12 population drawn with weights A 1.6,
//!   B 1.3, C 0.9 (A and B are over-represented in offers; more than 6
//!   nominations in 10 are C), twice as likely for a post filled during the
//!   year and for a post at temps non complet (they turn over more; 2 in 10
//!   nominations are not at temps complet): the offer takes the post's
//!   employer, filière, catégorie and temps de travail, and a métier of that
//!   filière ([`offer_metiers`]).
//! - Publication month: peaks in July and October; the deadline is a month
//!   later (or 3 to 9 weeks); each republication adds 3 weeks; the employer
//!   decides 3 to 30 days after the last deadline. An offer whose decision
//!   falls after 31/12 is still `publiée`; 3% are `annulée`.
//! - Among decided offers, 83% are `pourvue` (74% for the métiers in
//!   tension, 87% for the others); 80% are open to contractuels, and 51% of
//!   the nominations are contractuels.

use super::write::header;
use cdg_shared::catalogue;
use chrono::{Months, NaiveDate};
use rand::Rng;

use cdg_shared::codes::{
    CATEGORIES, FILIERES, METIERS, NATURES_OFFRE, OUI_NON, STATUTS_OFFRE, TEMPS_TRAVAIL,
    TYPES_NOMINATION,
};

use super::emploi::{PROFILES, offer_metiers};
use super::employers::Employer;
use super::formats::{days_in_month, first_of_month, memory_csv, push_date_fr, write_windows_1252};
use super::params::T_COMMUNE;
use super::population::Population;
use super::sampling::{SynthRng, chance, unit, weighted};
use super::write::{push_id, push_int, push_row_id};

use std::io;
use std::path::Path;

/// Offers per agent and year.
pub const OFFERS_PER_AGENT: f64 = 0.115;
/// Weight of a post in the draw of offers, by catégorie (A, B, C).
const CATEGORIE_WEIGHT: [f64; 3] = [1.6, 1.3, 0.9];
/// Publication weights of the months, January to December.
const PUBLICATION_MONTHS: [f64; 12] =
    [9.0, 8.0, 9.0, 8.0, 8.0, 9.0, 10.0, 6.0, 9.0, 10.0, 7.0, 5.0];
/// Share of offers open to contractuels.
const OPEN_TO_CONTRACTUELS: f64 = 0.8;
/// Share of contractuels among the nominations of an offer open to them
/// (0.51 of all nominations / 0.8).
const CONTRACTUEL_IF_OPEN: f64 = 0.6375;
/// Share of filled offers among decided ones, for métiers in tension or not.
const FILLED: [f64; 2] = [0.87, 0.74];
/// Share of cancelled offers.
const CANCELLED: f64 = 0.03;

// Indices in `STATUTS_OFFRE` and `TYPES_NOMINATION`.
const PUBLIEE: u8 = 0;
const POURVUE: u8 = 1;
const NON_POURVUE: u8 = 2;
const ANNULEE: u8 = 3;
const CONTRACTUEL: u8 = 4;

/// One offer.
#[derive(Debug, Clone)]
pub struct Offre {
    pub employer: u32,
    pub publication: NaiveDate,
    pub limite: NaiveDate,
    pub creation: bool,
    pub categorie: u8,
    pub filiere: u8,
    /// Index in `METIERS`.
    pub metier: u8,
    pub non_complet: bool,
    pub ouvert: bool,
    /// Index in `STATUTS_OFFRE`.
    pub statut: u8,
    pub republications: u8,
    /// Date and index in `TYPES_NOMINATION`, for a filled offer.
    pub nomination: Option<(NaiveDate, u8)>,
}

/// A day of `month` of `year`, uniform.
fn any_day(rng: &mut SynthRng, year: i32, month: u32) -> NaiveDate {
    let n = rng.random_range(0..days_in_month(year, month));
    first_of_month(year, month) + chrono::Days::new(u64::from(n))
}

/// Draws the offers published in `year` from the 31/12 population.
pub fn generate(
    rng: &mut SynthRng,
    year: i32,
    pop: &Population,
    employers: &[Employer],
    headcount: &[u32],
) -> Vec<Offre> {
    let mut cumulative = Vec::with_capacity(pop.slots.len());
    let mut total = 0.0;
    for s in &pop.slots {
        let turnover = if s.touched { 2.0 } else { 1.0 };
        let non_complet = if s.quotite < 100 { 2.0 } else { 1.0 };
        total += CATEGORIE_WEIGHT[usize::from(s.categorie).min(2)] * turnover * non_complet;
        cumulative.push(total);
    }
    let n =
        (OFFERS_PER_AGENT * pop.slots.len() as f64 * (0.97 + 0.06 * unit(rng))).round() as usize;
    let end = NaiveDate::from_ymd_opt(year, 12, 31).expect("valid year");
    let mut offers = Vec::with_capacity(n);
    for _ in 0..n {
        let x = unit(rng) * total;
        let i = cumulative
            .partition_point(|&c| c <= x)
            .min(pop.slots.len() - 1);
        let s = &pop.slots[i];
        let e = s.employer as usize;
        let small = employers[e].ty == T_COMMUNE && headcount[e] < 20;
        let list = offer_metiers(s.filiere, s.categorie, small);
        let w: Vec<f64> = list.iter().map(|&(_, w)| w).collect();
        let metier = list[weighted(rng, &w)].0;
        let tension = PROFILES[usize::from(metier)].tension;

        let month = weighted(rng, &PUBLICATION_MONTHS) as u32 + 1;
        let publication = any_day(rng, year, month);
        let limite = if chance(rng, 0.7) {
            publication + Months::new(1)
        } else {
            publication + chrono::Days::new(rng.random_range(21..=60))
        };
        let ouvert = chance(rng, OPEN_TO_CONTRACTUELS);
        let cancelled = chance(rng, CANCELLED);
        let filled = chance(rng, FILLED[usize::from(tension)]);
        // Republications: more for unfilled offers and métiers in tension.
        let weights: [f64; 4] = match (filled, tension) {
            (true, false) => [80.0, 14.0, 5.0, 1.0],
            (true, true) => [65.0, 22.0, 10.0, 3.0],
            (false, false) => [45.0, 30.0, 15.0, 10.0],
            (false, true) => [35.0, 30.0, 20.0, 15.0],
        };
        let mut republications = weighted(rng, &weights) as u8;
        if republications == 3 {
            republications += rng.random_range(0..=3);
        }
        let decision =
            limite + chrono::Days::new(21 * u64::from(republications) + rng.random_range(3..=30));
        let (statut, nomination) = if cancelled {
            (ANNULEE, None)
        } else if decision > end {
            (PUBLIEE, None)
        } else if filled {
            let ty = if ouvert && chance(rng, CONTRACTUEL_IF_OPEN) {
                CONTRACTUEL
            } else {
                // Lauréat de concours, mutation, détachement, intégration directe.
                weighted(rng, &[30.0, 45.0, 15.0, 10.0]) as u8
            };
            (POURVUE, Some((decision, ty)))
        } else {
            (NON_POURVUE, None)
        };
        offers.push(Offre {
            employer: s.employer,
            publication,
            limite,
            creation: chance(rng, 0.12),
            categorie: s.categorie,
            filiere: s.filiere,
            metier,
            non_complet: s.quotite < 100,
            ouvert,
            statut,
            republications,
            nomination,
        });
    }
    offers.sort_by_key(|o| o.publication);
    offers
}

/// Writes `offres_<year>.csv` in Windows-1252 (ids `O` + CDG code + year + a
/// 6-digit number in publication order); returns the number of data rows.
pub fn write(
    path: &Path,
    year: i32,
    code: &str,
    offers: &[Offre],
    employers: &[Employer],
) -> io::Result<u64> {
    let mut w = memory_csv();
    w.write_record(header(&catalogue::OFFRES))?;
    let mut year_buf = Vec::new();
    push_int(&mut year_buf, year.unsigned_abs().into(), 1);
    let mut buf = Vec::with_capacity(32);
    for (n, o) in offers.iter().enumerate() {
        w.write_field(&year_buf)?;
        buf.clear();
        push_row_id(&mut buf, b'O', code, &year_buf, n);
        w.write_field(&buf)?;
        buf.clear();
        push_id(&mut buf, b'E', code, employers[o.employer as usize].num, 5);
        w.write_field(&buf)?;
        for d in [o.publication, o.limite] {
            buf.clear();
            push_date_fr(&mut buf, d);
            w.write_field(&buf)?;
        }
        w.write_field(NATURES_OFFRE[usize::from(!o.creation)])?;
        w.write_field(CATEGORIES[usize::from(o.categorie)])?;
        w.write_field(FILIERES[usize::from(o.filiere)])?;
        w.write_field(METIERS[usize::from(o.metier)])?;
        w.write_field(TEMPS_TRAVAIL[usize::from(o.non_complet)])?;
        w.write_field(OUI_NON[usize::from(!o.ouvert)])?;
        w.write_field(STATUTS_OFFRE[usize::from(o.statut)])?;
        buf.clear();
        push_int(&mut buf, o.republications.into(), 1);
        w.write_field(&buf)?;
        match o.nomination {
            Some((d, ty)) => {
                buf.clear();
                push_date_fr(&mut buf, d);
                w.write_field(&buf)?;
                w.write_field(TYPES_NOMINATION[usize::from(ty)])?;
            }
            None => {
                w.write_field("")?;
                w.write_field("")?;
            }
        }
        w.write_record(None::<&[u8]>)?;
    }
    write_windows_1252(path, w)?;
    Ok(offers.len() as u64)
}
