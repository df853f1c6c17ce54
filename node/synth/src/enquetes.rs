//! `enquetes_<year>.csv`: the coded answers of the employers who responded to
//! the observatory's surveys of the year, from their own PRNG stream, with a
//! free-text `commentaire` column as the survey tool exports it (the import
//! ignores it: free text is never stored).
//!
//! Every survey of the catalogue runs every year. An employer responds with a
//! chance rising with its size (a quarter of the smallest, three quarters of
//! the largest) and then answers every question. Answers:
//! - recrutement: small employers often did not recruit; among the others,
//!   difficulties are common, most in the techniques and social families;
//!   49.2 % intend to recruit the next year (HoRHizons barometer 2022, via
//!   Acteurs publics);
//! - télétravail: open more often in large employers, mostly one or two days.
//!
//! The other shares are assumptions, to be set from the first real surveys.

use std::io;
use std::path::Path;

use super::sampling::{SynthRng, chance, weighted};
use super::write::{Year, header, push_id, writer, year_digits};
use cdg_shared::catalogue::{self, QUESTIONS, SURVEYS};

/// A free-text comment some respondents leave (never imported).
const COMMENTS: [&str; 3] = [
    "Difficultés sur les postes d'agents d'entretien et d'ATSEM",
    "Peu de candidats qualifiés, délais de recrutement longs",
    "",
];

/// The weights of a question's answers (in its declared order) for an
/// employer of `size` agents, given the answers it gave before (in order).
fn weights(question: &str, size: u32, before: &[usize]) -> Vec<f64> {
    let big = (f64::from(size.max(1)).ln() / 1000f64.ln()).min(1.0);
    match question {
        "recrutement.difficultes" if size < 5 => vec![0.15, 0.2, 0.25, 0.4],
        "recrutement.difficultes" => vec![0.35, 0.35, 0.25, 0.05],
        // No difficulty: no family.
        "recrutement.famille_difficile" if before.first().is_some_and(|&a| a >= 2) => {
            vec![0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0]
        }
        "recrutement.famille_difficile" => vec![0.15, 0.25, 0.15, 0.1, 0.3, 0.05, 0.0],
        "recrutement.intention" => vec![0.492, 0.308, 0.2],
        "teletravail.ouvert" => vec![0.2 + 0.6 * big, 0.7 - 0.6 * big, 0.1],
        "teletravail.jours_max" if before.first() == Some(&0) => vec![0.4, 0.45, 0.15, 0.0],
        "teletravail.jours_max" => vec![0.0, 0.0, 0.0, 1.0],
        _ => vec![
            1.0;
            QUESTIONS
                .iter()
                .find(|q| q.code == question)
                .map_or(1, |q| q.answers.len())
        ],
    }
}

/// Writes `enquetes_<year>.csv` (by survey, then employer number) and returns
/// the number of data rows.
pub fn write(path: &Path, y: &Year, rng: &mut SynthRng) -> io::Result<u64> {
    let Year {
        year,
        code,
        employers,
        headcount,
        ..
    } = *y;
    let mut w = writer(path)?;
    let mut head = header(&catalogue::ENQUETES);
    head.push("commentaire");
    w.write_record(&head)?;
    let year_buf = year_digits(year);
    let mut order: Vec<usize> = (0..employers.len()).collect();
    order.sort_unstable_by_key(|&e| employers[e].num);
    let mut buf = Vec::new();
    let mut rows = 0;
    for survey in SURVEYS {
        for &e in &order {
            let size = headcount[e];
            let big = (f64::from(size.max(1)).ln() / 1000f64.ln()).min(1.0);
            if !chance(rng, 0.25 + 0.5 * big) {
                continue;
            }
            let mut before = Vec::new();
            for question in survey.questions {
                let declared = QUESTIONS.iter().find(|q| q.code == *question);
                let Some(q) = declared else { continue };
                let answer = weighted(rng, &weights(q.code, size, &before));
                before.push(answer);
                w.write_field(&year_buf)?;
                w.write_field(survey.code)?;
                buf.clear();
                push_id(&mut buf, b'E', code, employers[e].num, 5);
                w.write_field(&buf)?;
                w.write_field(q.code)?;
                w.write_field(q.answers[answer])?;
                let comment = if chance(rng, 0.1) {
                    weighted(rng, &[1.0, 1.0, 0.0])
                } else {
                    2
                };
                w.write_field(COMMENTS[comment])?;
                w.write_record(None::<&[u8]>)?;
                rows += 1;
            }
        }
    }
    w.flush()?;
    Ok(rows)
}
