//! `concours_<year>.xlsx`: the concours and examens professionnels sessions
//! the CDG organised in the year, one row per session and voie, as an XLSX
//! workbook (header in row 1 of the first sheet). Drawn from their own PRNG
//! stream.
//!
//! - Which sessions: the catégorie C concours are organised by every CDG for
//!   its département, adjoint administratif, adjoint technique, agent de
//!   maîtrise and ATSEM every year, the others every other year; the B and A
//!   concours (and the catégorie C ones with few posts) are organised for
//!   the whole region by one CDG in turn, every other year. The A+ cadres
//!   (CNFPT) and the sapeurs-pompiers (national) are not organised by the
//!   CDGs. That makes two to three dozen rows a year per CDG.
//! - Posts: per 10,000 agents served (the CDG's own agents, or the region's
//!   for a regional session), split 55/30/15 between the externe, interne
//!   and troisième voie. An examen professionnel opens no post
//!   (`postes_ouverts` = 0) and admits 25-50% of the present candidates.
//! - Candidates: inscrits per post by cadre (under 2 for infirmiers and
//!   médecins, over 10 for the office and library cadres; fewer for the
//!   interne and troisième voie); 55-65% of the inscrits are present at the
//!   first épreuve; the jury fills the posts (admis = postes, 80-100% for one
//!   session in five), never admitting more than the present candidates.
//! - Reçus-collés: the lauréats of a concours go on a liste d'aptitude. About
//!   two thirds are recruited within a year (more where candidates are
//!   scarce: infirmiers, médecins; fewer for the office cadres), a few leave
//!   the list, and about half of those still waiting after one year still
//!   wait after two, so that ≈ 16 % of the lauréats are not recruited after
//!   two years (15.77 % of the 2011 attachés never hired, edile.fr, and more
//!   than 30 % in Aisne). The follow-up is given when it is known at the end
//!   of the last year generated: one year after for the sessions before it,
//!   two years after for those two years before; an examen professionnel has
//!   no liste d'aptitude, so no follow-up.

use super::write::header;
use cdg_shared::catalogue;
use std::io;
use std::path::Path;

use cdg_shared::cdg::Cdg;

use cdg_shared::codes::{CATEGORIES, FILIERES, VOIES_CONCOURS};

use super::formats::{Cell, write_xlsx};
use super::params::REGION_AGENTS;
use super::sampling::{SynthRng, binomial, chance, unit};

// Voie indices in `VOIES_CONCOURS`.
const EXTERNE: u8 = 0;
const INTERNE: u8 = 1;
const TROISIEME: u8 = 2;
const UNIQUE: u8 = 3;
const EXAMEN: u8 = 4;

/// How often and for whom a concours is organised.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// By every CDG for its département, every year.
    Yearly,
    /// By every CDG for its département, every other year.
    Local,
    /// By one CDG in turn for the region, every other year.
    Regional,
}

/// One concours of the catalogue.
#[derive(Debug, Clone, Copy)]
pub struct Concours {
    pub filiere: u8,
    pub categorie: u8,
    pub cadre: &'static str,
    pub voies: &'static [u8],
    pub scope: Scope,
    /// Posts per 10,000 agents served, per session.
    pub posts: f64,
    /// Inscrits per post at the externe voie (or the concours unique).
    pub candidates: f64,
}

const fn c(
    filiere: u8,
    categorie: u8,
    cadre: &'static str,
    voies: &'static [u8],
    scope: Scope,
    posts: f64,
    candidates: f64,
) -> Concours {
    Concours {
        filiere,
        categorie,
        cadre,
        voies,
        scope,
        posts,
        candidates,
    }
}

const ALL3: &[u8] = &[EXTERNE, INTERNE, TROISIEME];
const ALL3_EXAM: &[u8] = &[EXTERNE, INTERNE, TROISIEME, EXAMEN];
const EXT_INT: &[u8] = &[EXTERNE, INTERNE];
const ON_TITLES: &[u8] = &[UNIQUE];

/// The concours organised by the CDGs (filière and catégorie indices).
#[rustfmt::skip]
pub const CATALOGUE: [Concours; 32] = [
    c(0, 2, "adjoint administratif", ALL3_EXAM, Scope::Yearly, 7.0, 14.0),
    c(1, 2, "adjoint technique", ALL3_EXAM, Scope::Yearly, 6.0, 8.0),
    c(1, 2, "agent de maîtrise", ALL3_EXAM, Scope::Yearly, 3.0, 6.0),
    c(6, 2, "ATSEM", ALL3, Scope::Yearly, 3.0, 9.0),
    c(7, 2, "adjoint d'animation", ALL3, Scope::Local, 5.0, 7.0),
    c(6, 2, "agent social", ALL3, Scope::Local, 3.0, 6.0),
    c(4, 2, "auxiliaire de puériculture", ON_TITLES, Scope::Local, 3.0, 2.5),
    c(2, 2, "adjoint du patrimoine", ALL3, Scope::Local, 1.5, 12.0),
    c(0, 1, "rédacteur", ALL3_EXAM, Scope::Regional, 6.0, 12.0),
    c(1, 1, "technicien", ALL3_EXAM, Scope::Regional, 4.0, 6.0),
    c(0, 0, "attaché", ALL3_EXAM, Scope::Regional, 3.0, 10.0),
    c(1, 0, "ingénieur", &[EXTERNE, INTERNE, EXAMEN], Scope::Regional, 1.5, 4.0),
    c(7, 1, "animateur", ALL3_EXAM, Scope::Regional, 1.5, 8.0),
    c(6, 0, "assistant socio-éducatif", ALL3, Scope::Regional, 2.5, 4.0),
    c(6, 0, "éducateur de jeunes enfants", ALL3, Scope::Regional, 2.0, 3.0),
    c(4, 0, "infirmier en soins généraux", ON_TITLES, Scope::Regional, 2.0, 1.8),
    c(4, 0, "puéricultrice", ON_TITLES, Scope::Regional, 0.8, 1.5),
    c(8, 2, "agent de police municipale", ALL3, Scope::Regional, 2.5, 5.0),
    c(8, 1, "chef de service de police municipale", ALL3, Scope::Regional, 0.5, 6.0),
    c(3, 1, "éducateur des APS", ALL3, Scope::Regional, 1.0, 7.0),
    c(2, 1, "assistant de conservation", ALL3, Scope::Regional, 0.8, 15.0),
    c(2, 1, "assistant d'enseignement artistique", ALL3, Scope::Regional, 1.0, 5.0),
    c(2, 0, "bibliothécaire", EXT_INT, Scope::Regional, 0.4, 20.0),
    c(4, 0, "psychologue", ON_TITLES, Scope::Regional, 0.4, 10.0),
    c(4, 0, "médecin", ON_TITLES, Scope::Regional, 0.3, 1.2),
    c(6, 1, "moniteur-éducateur", ALL3, Scope::Regional, 0.8, 4.0),
    c(4, 0, "cadre de santé", EXT_INT, Scope::Regional, 0.3, 2.0),
    c(3, 2, "opérateur des APS", ALL3, Scope::Regional, 0.4, 5.0),
    c(6, 0, "conseiller socio-éducatif", EXT_INT, Scope::Regional, 0.4, 4.0),
    c(5, 1, "technicien paramédical", ON_TITLES, Scope::Regional, 0.2, 3.0),
    c(8, 0, "directeur de police municipale", EXT_INT, Scope::Regional, 0.1, 8.0),
    c(2, 0, "professeur d'enseignement artistique", EXT_INT, Scope::Regional, 0.4, 6.0),
];

/// One row: a session and voie.
#[derive(Debug, Clone)]
pub struct Session {
    pub concours: usize,
    pub voie: u8,
    pub postes: u32,
    pub inscrits: u32,
    pub presents: u32,
    pub admis: u32,
    /// The reçus-collés follow-up, when known: recruited within a year, still waiting after
    /// one year, after two years.
    pub follow_up: [Option<u32>; 3],
}

/// Whether `cdg` organises concours `k` in `year`.
pub fn organises(k: usize, cdg: Cdg, year: i32) -> bool {
    let turn = (k as i32 + year).rem_euclid(2) == 0;
    match CATALOGUE[k].scope {
        Scope::Yearly => true,
        Scope::Local => turn,
        Scope::Regional => {
            let own = Cdg::ALL.iter().position(|&c| c == cdg).unwrap_or(0) as i32;
            turn && (k as i32 + year.div_euclid(2)).rem_euclid(5) == own
        }
    }
}

/// A factor uniform in `[lo, hi)`.
fn between(rng: &mut SynthRng, lo: f64, hi: f64) -> f64 {
    lo + (hi - lo) * unit(rng)
}

/// Draws the sessions `cdg` organises in `year` for `agents` agents of its
/// own (at the spec's scale, which also scales the region), with the
/// follow-up of their lauréats as known at the end of `known_until`.
pub fn generate(
    rng: &mut SynthRng,
    year: i32,
    cdg: Cdg,
    (agents, scale): (f64, f64),
    known_until: i32,
) -> Vec<Session> {
    let mut out = Vec::new();
    for (k, conc) in CATALOGUE.iter().enumerate() {
        if !organises(k, cdg, year) {
            continue;
        }
        let served = if conc.scope == Scope::Regional {
            REGION_AGENTS * scale
        } else {
            agents
        };
        let posts = conc.posts * served / 10_000.0 * between(rng, 0.8, 1.2);
        for &voie in conc.voies {
            let (share, per_post) = match voie {
                EXTERNE => (0.55, conc.candidates),
                INTERNE => (0.30, (conc.candidates * 0.4).max(1.5)),
                TROISIEME => (0.15, (conc.candidates * 0.6).max(1.5)),
                _ => (1.0, conc.candidates),
            };
            let presence = between(rng, 0.55, 0.65);
            let session = if voie == EXAMEN {
                // Grade promotions: candidates among the cadre's agents, no post opened.
                let inscrits = (posts * 3.0 * between(rng, 0.7, 1.4)).round().max(2.0) as u32;
                let presents = (f64::from(inscrits) * presence).round().max(1.0) as u32;
                let admis = (f64::from(presents) * between(rng, 0.25, 0.5)).round() as u32;
                (0, inscrits, presents, admis)
            } else {
                let postes = (posts * share).round().max(1.0) as u32;
                let inscrits = (f64::from(postes) * per_post * between(rng, 0.7, 1.4))
                    .round()
                    .max(2.0) as u32;
                let presents = (f64::from(inscrits) * presence).round().max(1.0) as u32;
                let filled = if chance(rng, 0.2) {
                    (f64::from(postes) * between(rng, 0.8, 1.0)).round() as u32
                } else {
                    postes
                };
                (postes, inscrits, presents, filled.min(presents))
            };
            let (postes, inscrits, presents, admis) = session;
            out.push(Session {
                concours: k,
                voie,
                postes,
                inscrits,
                presents,
                admis,
                follow_up: [None; 3],
            });
        }
    }
    // Drawn after every session, so that the sessions do not depend on it.
    for s in &mut out {
        if s.voie != EXAMEN {
            let drawn = follow_up(rng, CATALOGUE[s.concours].candidates, s.admis);
            let known = [year + 1, year + 1, year + 2];
            s.follow_up = std::array::from_fn(|i| (known[i] <= known_until).then_some(drawn[i]));
        }
    }
    out
}

/// The follow-up of `admis` lauréats of a concours with `candidates` inscrits
/// per post: recruited within a year, waiting after one year, after two.
fn follow_up(rng: &mut SynthRng, candidates: f64, admis: u32) -> [u32; 3] {
    // Scarce candidates are recruited faster.
    let p_recruited = (0.7 - 0.015 * candidates).clamp(0.45, 0.8);
    let recruited = binomial(rng, admis, p_recruited);
    let left_list = binomial(rng, admis - recruited, 0.05);
    let waiting = admis - recruited - left_list;
    let still = binomial(rng, waiting, 0.5);
    [recruited, waiting, still]
}

/// Writes `concours_<year>.xlsx` (ids `C` + CDG code + year + a 3-digit
/// number); returns the number of data rows.
pub fn write(path: &Path, year: i32, code: &str, sessions: &[Session]) -> io::Result<u64> {
    let rows: Vec<Vec<Cell>> = sessions
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let conc = &CATALOGUE[s.concours];
            let text = |t: &str| Cell::Text(t.to_string());
            let follow = |n: Option<u32>| n.map_or(Cell::Empty, |n| Cell::Number(f64::from(n)));
            vec![
                Cell::Number(f64::from(year)),
                Cell::Text(format!("C{code}{year}{:03}", i + 1)),
                text(conc.cadre),
                text(FILIERES[usize::from(conc.filiere)]),
                text(CATEGORIES[usize::from(conc.categorie)]),
                text(VOIES_CONCOURS[usize::from(s.voie)]),
                Cell::Number(f64::from(s.postes)),
                Cell::Number(f64::from(s.inscrits)),
                Cell::Number(f64::from(s.presents)),
                Cell::Number(f64::from(s.admis)),
                follow(s.follow_up[0]),
                follow(s.follow_up[1]),
                follow(s.follow_up[2]),
            ]
        })
        .collect();
    write_xlsx(
        path,
        "concours",
        &header(&catalogue::CONCOURS),
        &rows,
        year + 1,
    )?;
    Ok(sessions.len() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use cdg_shared::codes::cadres_emplois;

    #[test]
    fn catalogue_matches_the_code_lists() {
        for conc in CATALOGUE {
            let f = FILIERES[usize::from(conc.filiere)];
            let c = CATEGORIES[usize::from(conc.categorie)];
            assert!(
                cadres_emplois(f, c).contains(&conc.cadre),
                "{f} {c} {}",
                conc.cadre
            );
            assert!(
                conc.voies
                    .iter()
                    .all(|&v| usize::from(v) < VOIES_CONCOURS.len())
            );
        }
    }

    #[test]
    fn every_regional_session_has_one_organiser() {
        for year in 2020..2030 {
            for (k, conc) in CATALOGUE.iter().enumerate() {
                let n = Cdg::ALL.iter().filter(|&&c| organises(k, c, year)).count();
                let expected = match conc.scope {
                    Scope::Yearly => 5,
                    Scope::Local => 5 * usize::from((k as i32 + year) % 2 == 0),
                    Scope::Regional => usize::from((k as i32 + year) % 2 == 0),
                };
                assert_eq!(n, expected, "{k} {year}");
            }
        }
    }
}
