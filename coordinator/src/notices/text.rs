//! What each notice says, in French: a subject line and a plain-text body that links to the
//! console page where the director acts.

use std::fmt::Write;

use crate::state::StoredStudy;
use crate::study::Diffusion;

/// A mail's subject line and body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subject {
    pub line: String,
    pub body: String,
}

const SIGNATURE: &str = "\n--\nObservatoire régional de l'emploi territorial des Hauts-de-France\n\
     (message envoyé par le coordinateur ; la console s'ouvre avec `cdg console`)\n";

fn what(s: &StoredStudy) -> String {
    let mut out = format!(
        "« {} » ({})\nObjet : {}\n",
        s.study.title, s.id, s.study.purpose
    );
    let _ = writeln!(
        out,
        "Départements : {}",
        s.study
            .departements
            .iter()
            .map(|c| c.code())
            .collect::<Vec<_>>()
            .join(", ")
    );
    for (i, q) in s.study.queries.iter().enumerate() {
        let sentence = crate::plain::query_sentence(&q.query, &s.study.departements);
        let _ = writeln!(out, "  {}. {sentence}.", i + 1);
    }
    out
}

fn diffusion(s: &StoredStudy) -> String {
    match s.study.diffusion {
        Diffusion::Interne => "Diffusion : interne aux cinq CDG.\n".into(),
        Diffusion::Externe => format!(
            "Diffusion : EXTERNE, au-delà des cinq CDG.\nModalités prévues : {}\n",
            s.study
                .diffusion_terms
                .as_deref()
                .unwrap_or("(non précisées)")
        ),
    }
}

impl Subject {
    /// A study that asks the director's CDG awaits the director's decision.
    pub fn new_study(s: &StoredStudy, link: &str) -> Subject {
        Subject {
            line: format!(
                "[Observatoire] Étude {} à examiner : {}",
                s.id, s.study.title
            ),
            body: format!(
                "Madame la directrice, Monsieur le directeur,\n\nL'étude suivante demande les \
                 données de votre CDG et attend votre décision (approuver, refuser ou mettre en \
                 question) :\n\n{}{}\nLire l'étude et décider : {link}\n(ou : cdg study show {})\n{SIGNATURE}",
                what(s),
                diffusion(s),
                s.id
            ),
        }
    }

    /// A study diffused beyond the five CDGs, announced to the comité technique (Art. 4).
    pub fn announcement(s: &StoredStudy, link: &str) -> Subject {
        Subject {
            line: format!(
                "[Observatoire] Information du comité technique : étude externe {} ({})",
                s.id, s.study.title
            ),
            body: format!(
                "Madame la directrice, Monsieur le directeur,\n\nConformément à l'article 4 de la \
                 convention, le comité technique est informé de l'étude régionale suivante, dont \
                 les résultats seront diffusés au-delà du périmètre des cinq centres de gestion, \
                 et des modalités de diffusion prévues :\n\n{}{}\nL'étude ne sera exécutée \
                 qu'une fois chaque directeur·rice informé·e.\n\nLire l'étude : {link}\n{SIGNATURE}",
                what(s),
                diffusion(s)
            ),
        }
    }

    /// A director put the study in question: the comité technique arbitrates by vote.
    pub fn question(
        s: &StoredStudy,
        director: &str,
        note: &str,
        votes: usize,
        link: &str,
    ) -> Subject {
        Subject {
            line: format!(
                "[Observatoire] Arbitrage demandé sur l'étude {} ({})",
                s.id, s.study.title
            ),
            body: format!(
                "Madame la directrice, Monsieur le directeur,\n\n{director} a mis en question \
                 l'étude {} :\n\n  « {note} »\n\nL'étude ne peut pas être exécutée tant que le \
                 comité technique n'a pas arbitré (article 4) : {votes} directeur·rice·s doivent \
                 voter pour lever la question.\n\nLire l'étude et voter : {link}\n(ou : cdg study \
                 arbitrate {})\n{SIGNATURE}",
                s.id, s.id
            ),
        }
    }

    /// A director voted to settle the question; `settled` once the rule is met.
    pub fn vote(s: &StoredStudy, voter: &str, count: usize, needed: usize, link: &str) -> Subject {
        let state = if count >= needed {
            "La question est levée : l'étude peut être exécutée une fois approuvée.".to_string()
        } else {
            format!("{count} vote(s) sur {needed} nécessaires à ce jour.")
        };
        Subject {
            line: format!(
                "[Observatoire] Vote d'arbitrage sur l'étude {} ({count}/{needed})",
                s.id
            ),
            body: format!(
                "Madame la directrice, Monsieur le directeur,\n\n{voter} a voté pour lever la \
                 question posée sur l'étude « {} » ({}).\n{state}\n\nSuivre l'arbitrage : {link}\n{SIGNATURE}",
                s.study.title, s.id
            ),
        }
    }

    /// A run completed: its results for every director (Art. 4, restitution); `answered`, the
    /// départements that answered, when known.
    pub fn restitution(s: &StoredStudy, answered: &[String], link: &str) -> Subject {
        let answered = if answered.is_empty() {
            String::new()
        } else {
            format!("Départements ayant répondu : {}.\n", answered.join(", "))
        };
        Subject {
            line: format!(
                "[Observatoire] Résultats de l'étude {} : {}",
                s.id, s.study.title
            ),
            body: format!(
                "Madame la directrice, Monsieur le directeur,\n\nL'étude « {} » ({}) a été \
                 réalisée ; ses résultats vous sont restitués (article 4 de la convention).\n\
                 {answered}\nLire les résultats, tableaux et graphiques : {link}\n(ou : cdg study \
                 report {} --out DOSSIER)\n{SIGNATURE}",
                s.study.title, s.id, s.id
            ),
        }
    }
}
