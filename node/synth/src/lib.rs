//! Deterministic synthetic HR and employment data for one CDG node,
//! calibrated to published figures.
//!
//! # What it writes
//!
//! For each year of a [`SynthSpec`], twelve files, one per dataset of the
//! catalogue (header names = column names), in the load order
//! [`generate`] returns them in (a file only refers to the ones before it):
//!
//! - `employeurs_<year>.csv`: `annee;employeur_id;type_employeur;
//!   tranche_effectif;affiliation`, one row per employer. Ids are `E` + CDG
//!   code + 5 digits, stable over the years. `tranche_effectif` is the band
//!   of the employer's headcount in that year's agents file; `affiliation` is
//!   `obligatoire` under 350 fonctionnaires (titulaires and stagiaires), else
//!   the employer's fixed choice of `volontaire` or `non affilié`.
//! - `agents_<year>.csv`: `annee;agent_id;employeur_id;statut;categorie;
//!   filiere;cadre_emplois;sexe;annee_naissance;temps_travail;etpr;
//!   remuneration_brute_annuelle`, one row per agent at 31/12, sorted by
//!   agent id (the import derives `metier` from `cadre_emplois`). Ids are `A` + CDG code + 7 random digits, a pseudonym kept by
//!   the person over the years.
//! - `mouvements_<year>.csv` (`mouvements.rs`): the year's arrivals and
//!   departures made by the simulation, one row per movement, by date
//!   d'effet; a departing agent carries their statut, catégorie, filière,
//!   cadre d'emplois, sexe and year of birth at the time of the move. Ids `M` + code + year +
//!   6 digits.
//! - `absences_<year>.csv` (`absences.rs`): one row per agent at 31/12,
//!   employer and motif with at least one arrêt (`nb_arrets`,
//!   `jours_calendaires`).
//! - `accidents_<year>.csv` (`accidents.rs`, the RASSCT): one row per
//!   accident de service, de trajet or maladie professionnelle, with its days
//!   off work (0 for an accident without arrêt). Those with days are the
//!   absences' accidents, one per arrêt. Ids `X` + code + year + 6 digits.
//! - `formation_<year>.csv` (`formation.rs`): the training days of the
//!   agents at 31/12, one row per agent, type of training and body.
//! - `handicap_<year>.csv` and `handicap_employeurs_<year>.csv`
//!   (`handicap.rs`, Handitorial): the bénéficiaires de l'obligation d'emploi,
//!   one row per agent with their category, and every employer of 20 agents
//!   or more with its headcount and beneficiaries.
//! - `offres_<year>.csv` (`offres.rs`): the job offers published in the
//!   year, as the emploi-territorial export writes them: **Windows-1252**.
//!   Ids `O` + code + year + 6 digits.
//! - `demandes_<year>.parquet` (`demandes.rs`): the CVs deposited in the
//!   year, as **Parquet** (`annee` Int32, the other columns text, dates
//!   `AAAA-MM-JJ`). Ids `D` + code + year + 6 digits.
//! - `concours_<year>.xlsx` (`concours.rs`): the concours sessions the CDG
//!   organised, one row per session and voie, as an **XLSX** workbook (header
//!   in row 1 of the first sheet), with the reçus-collés follow-up of their
//!   lauréats when it is known. Ids `C` + code + year + 3 digits.
//! - `enquetes_<year>.csv` (`enquetes.rs`): the coded answers of the
//!   employers who responded to the observatory's surveys, with a free-text
//!   comment column the import ignores.
//!
//! The CSV files follow French Excel exports: `;` separator, header row,
//! decimal comma, dates `JJ/MM/AAAA`, CRLF line endings, fields quoted only
//! when needed, UTF-8 except the offers. Labels are those of
//! [`cdg_shared::codes`]. Every file passes the import's checks with no row
//! quarantined (code lists, ranges, rules, references, keys).
//!
//! # The model
//!
//! - **Employers** (`employers.rs`): per type, counts close to the real
//!   structure of each département (about 5,200 over the five CDGs; one
//!   conseil départemental, SDIS and CDG each; the région and the métropole in
//!   Nord). Agents are shared between types (conseil départemental 12%, SDIS
//!   3.1%, région 10% and métropole 3.5% in Nord, communes ≈ 60% of the rest,
//!   ...) and, within a type, by a Zipf law on rank, so most communes have
//!   fewer than 20 agents while big cities have thousands.
//! - **Posts** (`draw.rs`): each employer's posts get a filière from its type's
//!   affinities (SDIS → incendie et secours, CCAS → sociale and médico-sociale,
//!   ...), fitted by iterative proportional fitting so the whole population
//!   matches the filière targets; then a catégorie given the filière, a cadre
//!   d'emplois, and temps non complet (frequent in small employers).
//! - **People** (`population.rs`): the population starts as a cross-section
//!   ten years before the first year and is simulated year by year (burn-in),
//!   so the years written are a settled state of the dynamics. Each year
//!   everyone ages by one; agents retire (hazard rising from 60, everyone by
//!   67, ≈ 3% a year), leave for other reasons (2.5% of titulaires, 10% of
//!   permanent and 25% of non-permanent contractuels), stagiaires are
//!   titularised, some contractuels become stagiaires. Vacancies are filled
//!   by hires (about half contractuels, younger than the stock), by titulaires
//!   arriving from outside, or by the mutation of a titulaire of another
//!   employer of the département. From the first year on, the size drifts by
//!   a fraction of a percent a year.
//! - **Pay**: a catégorie grid rising with seniority, a personal log-normal
//!   factor with a Pareto tail and cadre premiums (médecins, administrateurs,
//!   ...), the point d'indice of the year, times the ETPR.
//! - **Movements**: the simulation records every retirement, other exit,
//!   mutation between two employers (a départ and an arrivée of the same
//!   agent on the same date) and hire; `mouvements.rs` gives them a motif
//!   (by statut for exits, by kind of hire for arrivals) and a date (hires in
//!   the month the agents file pays them from). Changes of statut
//!   (titularisation) are not movements.
//! - **Absences**: a personal frailty, age, statut, catégorie, filière and
//!   employer size drive each motif's probability and length, within the
//!   agent's days of presence (`absences.rs`).
//! - **Offers, CVs, concours**: offers are drawn from the posts of the
//!   31/12 population (métier from the post's filière and catégorie), CVs
//!   from the year's offers per métier and each métier's attractiveness,
//!   concours from a catalogue of the cadres the CDGs organise, by turn
//!   (`offres.rs`, `demandes.rs`, `concours.rs`, `emploi.rs`).
//!
//! # Calibration sources
//!
//! Published figures: Insee (SIASP), the DGCL's *Les collectivités locales en
//! chiffres*, the DGAFP's *Rapport annuel sur l'état de la fonction publique*,
//! the CNFPT and FNCDG panoramas of territorial employment, and the
//! Relyens/Sofaxis panoramas of absences:
//!
//! - agents: 169,000 FPT agents in Hauts-de-France split by the CDG's
//!   [`agent_share`](Cdg::agent_share); women ≈ 61% (contractuels ≈ 70%,
//!   titulaires ≈ 58%); mean age 45-46 and 55+ ≈ 20-25%; catégories C ≈ 75%,
//!   B ≈ 13.5%, A ≈ 11.5%; contractuels ≈ 25%; filières technique ≈ 46%,
//!   administrative ≈ 23%, médico-sociale + sociale ≈ 13%, animation ≈ 8%,
//!   culturelle ≈ 4%, police municipale ≈ 2%, incendie et secours ≈ 2.5%,
//!   sportive ≈ 1%, médico-technique < 0.5%. The tables are in `params.rs`;
//! - movements: retirements ≈ 3% of the agents a year, about half of
//!   the hires contractuels (51% of the 2023 nominations, FNCDG 13e Panorama);
//! - absences (Relyens/Sofaxis panoramas, DGCL): 9.5-10% of the calendar days (27-35 days per agent):
//!   ≈ 34 days per agent, 9.3% of the agents' days, 10.5% of the titulaires'
//!   (higher in Hauts-de-France's large employers); maladie ordinaire ≈ 55%
//!   of the days, longue maladie and longue durée ≈ 28%, accidents and
//!   maladies professionnelles ≈ 15% (Relyens 2021: 5.4 + 2.7 + 1.5 points of
//!   9.6%); about 45% of the agents never absent (the project's target is
//!   40-50%; Sofaxis counted 44% of the CNRACL agents it insured absent at
//!   least once in 2016, so 56% never absent);
//! - offers (FNCDG/ANDCDG 13e Panorama): 228,262 offers in 2023 for 1.98 M agents, so 11.5 per
//!   100 agents (≈ 19,000 a year in the region); 83% of the decided ones
//!   filled; 51% of the nominations contractuels; more than 6 in 10
//!   nominations in catégorie C; publication peaks in July and October;
//! - CVs (same Panorama): 67% women, half job seekers, 30% from the fonction
//!   publique, 15% from the private sector, over 43% above the bac; 1.5 per
//!   offer (no published count; see `demandes.rs`);
//! - concours: 55-65% of the inscrits present, as many laureates as posts.
//!
//! # Determinism
//!
//! One [`ChaCha8Rng`](rand_chacha::ChaCha8Rng) drives the employers, the
//! population and its dynamics. Its 32-byte key is the seed (8 bytes, little
//! endian), then the ASCII département code (2 bytes), then zeros
//! (`sampling::rng_for`). The datasets derived from the simulation
//! (mouvements, absences, offres, demandes, concours) each draw from their
//! own stream per year, keyed by the seed, the code, the dataset's name and
//! the year (`sampling::stream_for`): they never consume the main stream, so
//! adding them left the employeurs and agents files unchanged, and a change
//! in one of them changes no other file. Output order never depends on hash
//! maps; the XLSX creation date is fixed. The same spec gives byte-identical
//! files (on the same platform: pay and sizes use `exp`/`ln`/`powf` from the
//! platform's math library); another seed gives other data.

mod absences;
mod accidents;
mod concours;
mod demandes;
mod draw;
mod emploi;
mod employers;
mod enquetes;
mod formation;
mod formats;
mod handicap;
mod mouvements;
mod offres;
mod params;
mod population;
mod sampling;
mod write;

#[cfg(test)]
mod test_support;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_datasets;
#[cfg(test)]
mod tests_sources;

use std::io;
use std::path::{Path, PathBuf};

use cdg_shared::cdg::Cdg;

use self::params::REGION_AGENTS;
use self::population::Population;
use self::sampling::unit;

/// Years simulated before the first year written.
const BURN_IN_YEARS: i32 = 10;
/// Cap on the agent numbers drawn over the whole run (7-digit space).
const MAX_AGENT_IDS: f64 = 5_000_000.0;

/// What to generate: one CDG, a range of years, a seed and a size factor.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SynthSpec {
    /// The CDG whose node the data are for.
    pub cdg: Cdg,
    /// First year written (inclusive).
    pub first_year: i32,
    /// Last year written (inclusive).
    pub last_year: i32,
    /// Seed of the PRNG; the same spec always gives the same files.
    pub seed: u64,
    /// Size factor: 1.0 gives the CDG's share of the region's 169,000 agents.
    pub scale: f64,
}

impl SynthSpec {
    pub fn new(cdg: Cdg, first_year: i32, last_year: i32, seed: u64, scale: f64) -> SynthSpec {
        SynthSpec {
            cdg,
            first_year,
            last_year,
            seed,
            scale,
        }
    }
}

/// One file written by [`generate`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SynthFile {
    /// The catalogue dataset: one of [`DATASETS`].
    pub dataset: &'static str,
    /// The year of the data (situation at 31/12).
    pub year: i32,
    /// Where the file was written.
    pub path: PathBuf,
    /// Data rows (header excluded).
    pub rows: u64,
}

/// The datasets written for each year, in load order.
pub const DATASETS: [&str; 12] = [
    "employeurs",
    "agents",
    "mouvements",
    "absences",
    "accidents",
    "formation",
    "handicap",
    "handicap_employeurs",
    "offres",
    "demandes",
    "concours",
    "enquetes",
];

/// The file name of a dataset's year: `file_name("agents", 2024)` is
/// `"agents_2024.csv"`, `demandes` are `.parquet` and `concours` `.xlsx`.
pub fn file_name(dataset: &str, year: i32) -> String {
    let ext = match dataset {
        "demandes" => "parquet",
        "concours" => "xlsx",
        _ => "csv",
    };
    format!("{dataset}_{year}.{ext}")
}

/// Generates the files of `spec` into `out_dir` (created if missing): for
/// each year, one file per dataset of [`DATASETS`], returned in that order
/// (the order an import must follow).
///
/// Fails with `InvalidInput` for an empty or implausible year range, or a
/// scale that gives fewer than 100 agents or more than the 7-digit agent ids
/// can hold; otherwise only on I/O errors.
pub fn generate(spec: &SynthSpec, out_dir: &Path) -> io::Result<Vec<SynthFile>> {
    let invalid = |msg: String| io::Error::new(io::ErrorKind::InvalidInput, msg);
    if spec.first_year > spec.last_year
        || spec.first_year < 1950
        || spec.last_year > 2100
        || spec.last_year - spec.first_year > 50
    {
        return Err(invalid(format!(
            "synthetic data years {}..={} must be a range of at most 50 years within 1950..=2100",
            spec.first_year, spec.last_year
        )));
    }
    let agents = REGION_AGENTS * spec.cdg.agent_share() * spec.scale;
    let steps = f64::from(BURN_IN_YEARS + spec.last_year - spec.first_year);
    if !agents.is_finite() || agents < 100.0 || agents * (1.5 + 0.3 * steps) > MAX_AGENT_IDS {
        return Err(invalid(format!(
            "scale {} gives {agents:.0} agents for CDG {}: out of range",
            spec.scale,
            spec.cdg.code()
        )));
    }
    std::fs::create_dir_all(out_dir)?;

    let mut rng = sampling::rng_for(spec.seed, spec.cdg);
    let target = agents.round() as usize;
    let employers = employers::build(spec.cdg, target as u64, spec.scale, &mut rng);
    let start = spec.first_year - BURN_IN_YEARS;
    let mut pop = Population::new(&employers, start, &mut rng);
    for year in start + 1..=spec.first_year {
        pop.advance(year, target, &mut rng);
    }
    // Yearly size drift: a CDG trend in [-0.4%, +0.6%] plus ±0.2% noise.
    let trend = -0.004 + 0.01 * unit(&mut rng);
    let code = spec.cdg.code();
    let mut files = Vec::new();
    for year in spec.first_year..=spec.last_year {
        if year > spec.first_year {
            let growth = trend - 0.002 + 0.004 * unit(&mut rng);
            let size = (pop.slots.len() as f64 * (1.0 + growth)).round() as usize;
            pop.advance(year, size, &mut rng);
        }
        let (headcount, fonctionnaires) = pop.headcounts(employers.len());
        let mut push = |dataset: &'static str, path: PathBuf, rows: u64| {
            files.push(SynthFile {
                dataset,
                year,
                path,
                rows,
            });
        };
        let path = out_dir.join(file_name("employeurs", year));
        let rows = write::employers(&path, year, code, &employers, &headcount, &fonctionnaires)?;
        push("employeurs", path, rows);
        let path = out_dir.join(file_name("agents", year));
        let rows = write::agents(&path, year, code, &pop, &employers)?;
        push("agents", path, rows);

        // The derived datasets: each from its own stream, never the main one.
        let stream = |tag: &str| sampling::stream_for(spec.seed, spec.cdg, tag, year);
        let path = out_dir.join(file_name("mouvements", year));
        let rows = mouvements::write(
            &path,
            year,
            code,
            &pop.moves,
            &employers,
            &mut stream("mouvements"),
        )?;
        push("mouvements", path, rows);
        let path = out_dir.join(file_name("absences", year));
        let y = write::Year {
            year,
            code,
            pop: &pop,
            employers: &employers,
            headcount: &headcount,
        };
        let (rows, exposure) = absences::write(&path, &y, &mut stream("absences"))?;
        push("absences", path, rows);
        let path = out_dir.join(file_name("accidents", year));
        let rows = accidents::write(&path, year, code, &exposure, &mut stream("accidents"))?;
        push("accidents", path, rows);
        let path = out_dir.join(file_name("formation", year));
        let rows = formation::write(&path, &y, &mut stream("formation"))?;
        push("formation", path, rows);
        let (path, path_employers) = (
            out_dir.join(file_name("handicap", year)),
            out_dir.join(file_name("handicap_employeurs", year)),
        );
        let (rows, rows_employers) =
            handicap::write((&path, &path_employers), &y, &mut stream("handicap"))?;
        push("handicap", path, rows);
        push("handicap_employeurs", path_employers, rows_employers);
        let offers = offres::generate(&mut stream("offres"), year, &pop, &employers, &headcount);
        let path = out_dir.join(file_name("offres", year));
        let rows = offres::write(&path, year, code, &offers, &employers)?;
        push("offres", path, rows);
        let mut by_metier = [0u32; emploi::NM];
        for o in &offers {
            by_metier[usize::from(o.metier)] += 1;
        }
        let cvs = demandes::generate(&mut stream("demandes"), year, spec.cdg, &by_metier);
        let path = out_dir.join(file_name("demandes", year));
        let rows = demandes::write(&path, year, code, &cvs)?;
        push("demandes", path, rows);
        let sessions = concours::generate(
            &mut stream("concours"),
            year,
            spec.cdg,
            (pop.slots.len() as f64, spec.scale),
            spec.last_year,
        );
        let path = out_dir.join(file_name("concours", year));
        let rows = concours::write(&path, year, code, &sessions)?;
        push("concours", path, rows);
        let path = out_dir.join(file_name("enquetes", year));
        let rows = enquetes::write(&path, &y, &mut stream("enquetes"))?;
        push("enquetes", path, rows);
    }
    Ok(files)
}
