//! `absences_<year>.csv`: one row per agent at 31/12 (with their employer at
//! 31/12) and motif with at least one arrêt in the year, drawn from its own
//! PRNG stream.
//!
//! Each agent has a personal frailty (log-normal, mean 1) shared by the
//! motifs. In order, each motif can only use the days the previous ones left
//! within the agent's days of presence (from the month of hire for the
//! year's hires):
//! - longue maladie and longue durée: rare, steeply rising with age, mostly
//!   running the whole year (arrêts begun in earlier years count);
//! - maternité (16 weeks, 26 for a third child) or paternité (25 days) by sex
//!   and age, the leave straddling the year boundaries at random;
//! - accident de service (more in technique C, incendie et secours, police),
//!   accident de trajet, maladie professionnelle (long, rising with age);
//! - maladie ordinaire: a Poisson number of arrêts whose rate rises with age,
//!   lower for contractuels, catégorie A and small employers; most arrêts are
//!   short, some last months;
//! - autre: a few short ones.
//!
//! Calibration (Relyens/Sofaxis panoramas of absences in territorial
//! employers, DGAFP annual report): at full scale about 34 days per agent at
//! 31/12, 9.3% of the agents' calendar days (≈ 10.5% for titulaires, whom
//! the Relyens rate of 9.6-9.7% covers, and of Σ ETPR × 365), a little less
//! in a small-scale run whose employers are smaller; maladie ordinaire ≈ 55%
//! of the days, longue maladie and longue durée ≈ 27%, accidents and maladie
//! professionnelle ≈ 15%, maternité and autre the rest; 45% of the agents
//! with no absence at all; under-35s ≈ 19 days, 55 and over ≈ 50 days.
//! Absence grows with the employer's size (×0.6 under 10 agents, ×1.1 from
//! 350: 15 days per agent in communes under 1,000 inhabitants, 30 above
//! 50,000, DGCL 2017).

use super::write::header;
use cdg_shared::catalogue;
use std::io;
use std::path::Path;

use chrono::Datelike;
use rand::Rng;

use cdg_shared::codes::MOTIFS_ABSENCE;

use super::accidents::{Exposure, Injury, Who};
use super::formats::{days_in_year, first_of_month};
use super::params::{CAT_A, CAT_B, CAT_C, F_IS, F_TECH};
use super::sampling::{SynthRng, chance, exponential, normal, unit};
use super::write::{Year, push_id, push_int, writer};

// Motif indices in `MOTIFS_ABSENCE`.
const MO: usize = 0;
const LM: usize = 1;
const LD: usize = 2;
const AS: usize = 3;
const TRAJET: usize = 4;
const MP: usize = 5;
const MAT: usize = 6;
const AUTRE: usize = 7;
const NM: usize = 8;

/// Spread (σ of the log) of the personal frailty.
const FRAILTY_SIGMA: f64 = 0.55;
/// Maladie ordinaire: yearly arrêts of a 45-year-old titulaire of frailty 1.
const MO_RATE: f64 = 0.88;
/// Share of long maladie ordinaire arrêts at 45 (the others last days).
const MO_LONG: f64 = 0.2;
/// Longue maladie and longue durée: yearly probability at 45.
const LM_RATE: f64 = 0.02;
const LD_RATE: f64 = 0.01;
/// Accident de service, de trajet, maladie professionnelle: yearly
/// probability at 45 (before the filière risk).
const AS_RATE: f64 = 0.055;
const TRAJET_RATE: f64 = 0.006;
const MP_RATE: f64 = 0.0065;
/// Frequency factor by statut (titulaire, stagiaire, contractuels).
const STATUT_FACTOR: [f64; 4] = [1.0, 0.8, 0.8, 0.55];

/// What the draws depend on.
struct Person {
    age: i32,
    woman: bool,
    statut: u8,
    categorie: u8,
    filiere: u8,
    /// The employer's headcount.
    size: u32,
    /// Days of presence in the year (to 31/12).
    exposure: u32,
    days_year: u32,
}

/// A Poisson draw (Knuth), for a small mean.
fn poisson(rng: &mut SynthRng, mean: f64) -> u32 {
    let limit = (-mean.min(30.0)).exp();
    let mut k = 0;
    let mut p = unit(rng);
    while p > limit && k < 60 {
        k += 1;
        p *= unit(rng);
    }
    k
}

/// Days of a leave of `len` days starting at a random day relative to
/// 1 January (so it may straddle either year boundary), within the days of
/// presence.
fn straddling(rng: &mut SynthRng, p: &Person, len: u32) -> u32 {
    let start = rng.random_range(0..p.days_year + len - 1) as i64 - i64::from(len) + 1;
    let end = start + i64::from(len);
    let from = i64::from(p.days_year - p.exposure);
    (end.min(i64::from(p.days_year)) - start.max(from)).max(0) as u32
}

/// Accident risk by filière and catégorie.
fn accident_risk(p: &Person) -> f64 {
    let by_filiere = match p.filiere {
        F_TECH => 1.5,
        F_IS => 1.6,
        8 => 1.3,         // police municipale
        0 => 0.45,        // administrative
        4 | 6 | 7 => 1.1, // médico-sociale, sociale, animation
        _ => 0.8,
    };
    let by_categorie = match p.categorie {
        CAT_A => 0.35,
        CAT_B => 0.6,
        _ => 1.1,
    };
    by_filiere * by_categorie
}

/// The arrêts and days of one agent by motif (`(0, 0)` when none).
fn draw(rng: &mut SynthRng, p: &Person) -> [(u32, u32); NM] {
    let mut out = [(0u32, 0u32); NM];
    let frailty = (FRAILTY_SIGMA * normal(rng) - FRAILTY_SIGMA * FRAILTY_SIGMA / 2.0).exp();
    let a = f64::from(p.age - 45);
    let present = f64::from(p.exposure) / f64::from(p.days_year);
    let statut = STATUT_FACTOR[usize::from(p.statut).min(3)];
    let size = match p.size {
        0..=9 => 0.6,
        10..=49 => 0.8,
        50..=349 => 0.95,
        _ => 1.1,
    };
    let mut left = p.exposure;
    let mut take = |out: &mut [(u32, u32); NM], motif: usize, arrets: u32, days: u32| {
        let days = days.min(left);
        if days > 0 && arrets > 0 {
            out[motif] = (arrets.min(days), days);
            left -= days;
        }
    };

    // Long illnesses: the whole year when begun earlier (60%), else from a day of the year.
    for (motif, rate, slope) in [(LM, LM_RATE, 0.06), (LD, LD_RATE, 0.05)] {
        let prob = rate * (slope * a).exp() * frailty.sqrt() * statut.sqrt() * present;
        if chance(rng, prob.min(0.5)) {
            let days = if chance(rng, 0.6) {
                p.exposure
            } else {
                rng.random_range(1..=p.exposure.max(1))
            };
            take(&mut out, motif, 1 + u32::from(chance(rng, 0.05)), days);
        }
    }

    // Maternité (16 weeks, 26 for a third child) or paternité (25 days).
    let band = ((p.age - 20) / 5).clamp(-1, 5);
    let (prob, len) = if p.woman {
        const W: [f64; 6] = [0.03, 0.08, 0.10, 0.05, 0.012, 0.0];
        let len = if chance(rng, 0.15) { 182 } else { 112 };
        (W.get(band as usize).copied().unwrap_or(0.0), len)
    } else {
        const H: [f64; 6] = [0.01, 0.05, 0.07, 0.04, 0.015, 0.003];
        (H.get(band as usize).copied().unwrap_or(0.0), 25)
    };
    if band >= 0 && chance(rng, prob) {
        let days = straddling(rng, p, len);
        take(&mut out, MAT, 1, days);
    }

    // Accidents and maladie professionnelle.
    let risk = accident_risk(p) * statut * size * frailty.sqrt() * present;
    if chance(rng, (AS_RATE * (0.01 * a).exp() * risk).min(0.5)) {
        let n = 1 + u32::from(chance(rng, 0.1));
        let days: f64 = (0..n).map(|_| 1.0 + exponential(rng, 60.0)).sum();
        take(&mut out, AS, n, days as u32);
    }
    if chance(rng, TRAJET_RATE * present) {
        let days = 1.0 + exponential(rng, 30.0);
        take(&mut out, TRAJET, 1, days as u32);
    }
    if chance(rng, (MP_RATE * (0.05 * a).exp() * risk).min(0.5)) {
        let days = if chance(rng, 0.4) {
            p.exposure
        } else {
            (1.0 + exponential(rng, 120.0)) as u32
        };
        take(&mut out, MP, 1, days);
    }

    // Maladie ordinaire.
    let by_categorie = match p.categorie {
        CAT_A => 0.7,
        CAT_B => 0.85,
        CAT_C => 1.05,
        _ => 1.0,
    };
    let rate = MO_RATE * frailty * (0.015 * a).exp() * statut * size * by_categorie * present;
    let n = poisson(rng, rate);
    if n > 0 {
        let p_long = (MO_LONG * (0.03 * a).exp()).min(0.5);
        let days: f64 = (0..n)
            .map(|_| {
                if chance(rng, p_long) {
                    21.0 + exponential(rng, 70.0)
                } else {
                    1.0 + exponential(rng, 5.0)
                }
            })
            .sum();
        take(&mut out, MO, n, days.min(400.0) as u32);
    }

    if chance(rng, 0.02 * present) {
        let days = 1.0 + exponential(rng, 6.0);
        take(&mut out, AUTRE, 1, days as u32);
    }
    out
}

/// The yearly chance of an accident de service with time off, before the
/// personal frailty (what `draw` uses, for the accidents file).
fn accident_chance(p: &Person) -> f64 {
    let a = f64::from(p.age - 45);
    let present = f64::from(p.exposure) / f64::from(p.days_year);
    (AS_RATE * (0.01 * a).exp() * accident_risk(p) * present).min(0.5)
}

/// Writes `absences_<year>.csv` (rows by agent id, then motif in code list
/// order); returns the number of data rows, and what the accidents file is
/// drawn from (its accidents with time off are these absences').
pub fn write(path: &Path, y: &Year, rng: &mut SynthRng) -> io::Result<(u64, Exposure)> {
    let Year {
        year,
        code,
        pop,
        employers,
        headcount,
    } = *y;
    let mut injuries = Exposure::default();
    let mut w = writer(path)?;
    w.write_record(header(&catalogue::ABSENCES))?;
    let days_year = days_in_year(year);
    let mut order: Vec<u32> = (0..pop.slots.len() as u32).collect();
    order.sort_unstable_by_key(|&i| pop.slots[i as usize].agent);
    let mut year_buf = Vec::new();
    push_int(&mut year_buf, year.unsigned_abs().into(), 1);
    let (mut agent, mut employer, mut buf) = (Vec::new(), Vec::new(), Vec::new());
    let mut rows = 0u64;
    for &i in &order {
        let s = &pop.slots[i as usize];
        let exposure = if s.months < 12 {
            let hired = first_of_month(year, 13 - u32::from(s.months.max(1)));
            days_year - hired.ordinal0()
        } else {
            days_year
        };
        let person = Person {
            age: year - s.birth,
            woman: s.sexe == 0,
            statut: s.statut,
            categorie: s.categorie,
            filiere: s.filiere,
            size: headcount[s.employer as usize],
            exposure,
            days_year,
        };
        let drawn = draw(rng, &person);
        let who = Who {
            agent: s.agent,
            employer: employers[s.employer as usize].num,
        };
        injuries.at_risk.push((who, accident_chance(&person)));
        for (nature, motif) in [AS, TRAJET, MP].into_iter().enumerate() {
            let (arrets, days) = drawn[motif];
            if arrets > 0 {
                injuries.with_arret.push(Injury {
                    who,
                    nature,
                    arrets,
                    days,
                });
            }
        }
        if drawn.iter().all(|&(n, _)| n == 0) {
            continue;
        }
        agent.clear();
        push_id(&mut agent, b'A', code, s.agent, 7);
        employer.clear();
        push_id(
            &mut employer,
            b'E',
            code,
            employers[s.employer as usize].num,
            5,
        );
        for (motif, &(n, days)) in drawn.iter().enumerate() {
            if n == 0 {
                continue;
            }
            w.write_field(&year_buf)?;
            w.write_field(&agent)?;
            w.write_field(&employer)?;
            w.write_field(MOTIFS_ABSENCE[motif])?;
            buf.clear();
            push_int(&mut buf, n.into(), 1);
            w.write_field(&buf)?;
            buf.clear();
            push_int(&mut buf, days.into(), 1);
            w.write_field(&buf)?;
            w.write_record(None::<&[u8]>)?;
            rows += 1;
        }
    }
    w.flush()?;
    Ok((rows, injuries))
}
