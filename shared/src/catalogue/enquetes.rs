//! The observatory's own surveys (enquêtes flash): each survey, its questions and each
//! question's answer codes are declared here, and the `enquetes` dataset holds the coded
//! answers, one per respondent employer and question.
//!
//! A survey file whose survey, question or answer code is not declared here sends its row to
//! quarantine, naming the code. Free-text answers are never imported: the dataset has no
//! column for them, so a comment column in the file is reported as ignored and never stored.
//! A cell needs at least [`MIN_RESPONDENTS`] respondent employers, whatever the node's policy
//! for employers says: a survey's answers are an employer's own statements.
//!
//! Adding a survey is adding it to [`SURVEYS`] and its questions to [`QUESTIONS`]; the code
//! lists and the import's rules follow (the catalogue's version and digest change with them).

use super::metiers::FAMILLES_METIERS;
use super::rh::{EMPLOYER_DIMENSIONS, EMPLOYEUR_ID, YEAR};
use super::{
    ANNEE, ColumnType as T, Dataset, EMPLOYER_JOIN, EMPLOYEUR_REF, Rule, Unit, code_dim, col,
};

/// Respondent employers a cell of a survey's answers needs at least.
pub const MIN_RESPONDENTS: u32 = 11;

/// A survey of the observatory.
#[derive(Debug, Clone, Copy)]
pub struct Survey {
    pub code: &'static str,
    pub title: &'static str,
    /// The codes of its questions, each declared in [`QUESTIONS`].
    pub questions: &'static [&'static str],
}

/// A question and its answer codes.
#[derive(Debug, Clone, Copy)]
pub struct Question {
    /// `<survey>.<question>`, unique over all surveys.
    pub code: &'static str,
    pub text: &'static str,
    pub answers: &'static [&'static str],
}

const OUI_NON_NSP: &[&str] = &["oui", "non", "ne sait pas"];

pub const SURVEYS: &[Survey] = &[
    Survey {
        code: "recrutement",
        title: "Enquête flash sur les recrutements et les difficultés à recruter",
        questions: &[
            "recrutement.difficultes",
            "recrutement.famille_difficile",
            "recrutement.intention",
        ],
    },
    Survey {
        code: "teletravail",
        title: "Enquête flash sur le télétravail",
        questions: &["teletravail.ouvert", "teletravail.jours_max"],
    },
];

pub const QUESTIONS: &[Question] = &[
    Question {
        code: "recrutement.difficultes",
        text: "Avez-vous rencontré des difficultés de recrutement dans l'année ?",
        answers: &["oui, fortes", "oui, modérées", "non", "pas de recrutement"],
    },
    Question {
        code: "recrutement.famille_difficile",
        text: "Dans quelle famille de métiers recruter a-t-il été le plus difficile ?",
        answers: &[
            FAMILLES_METIERS[0],
            FAMILLES_METIERS[1],
            FAMILLES_METIERS[2],
            FAMILLES_METIERS[3],
            FAMILLES_METIERS[4],
            FAMILLES_METIERS[5],
            "aucune",
        ],
    },
    Question {
        code: "recrutement.intention",
        text: "Prévoyez-vous de recruter l'année prochaine ?",
        answers: OUI_NON_NSP,
    },
    Question {
        code: "teletravail.ouvert",
        text: "Le télétravail est-il ouvert à vos agents ?",
        answers: &["oui", "non", "en projet"],
    },
    Question {
        code: "teletravail.jours_max",
        text: "Combien de jours de télétravail par semaine au plus ?",
        answers: &["1", "2", "3 ou plus", "sans objet"],
    },
];

const NS: usize = SURVEYS.len();
const NQ: usize = QUESTIONS.len();
/// Distinct answer codes over all questions: a wrong number stops the build.
const NR: usize = 18;

const SURVEY_CODES: [&str; NS] = {
    let mut out = [""; NS];
    let mut i = 0;
    while i < NS {
        out[i] = SURVEYS[i].code;
        i += 1;
    }
    out
};

const QUESTION_CODES: [&str; NQ] = {
    let mut out = [""; NQ];
    let mut i = 0;
    while i < NQ {
        out[i] = QUESTIONS[i].code;
        i += 1;
    }
    out
};

const ANSWER_CODES: [&str; NR] = {
    let mut out = [""; NR];
    let mut n = 0;
    let mut i = 0;
    while i < NQ {
        let answers = QUESTIONS[i].answers;
        let mut j = 0;
        while j < answers.len() {
            if !crate::codes::contains(out.split_at(n).0, answers[j]) {
                out[n] = answers[j];
                n += 1;
            }
            j += 1;
        }
        i += 1;
    }
    assert!(n == NR, "NR is not the number of distinct answer codes");
    out
};

const QUESTIONS_BY_SURVEY: [(&str, &[&str]); NS] = {
    let mut out: [(&str, &[&str]); NS] = [("", &[]); NS];
    let mut i = 0;
    while i < NS {
        out[i] = (SURVEYS[i].code, SURVEYS[i].questions);
        i += 1;
    }
    out
};

const ANSWERS_BY_QUESTION: [(&str, &[&str]); NQ] = {
    let mut out: [(&str, &[&str]); NQ] = [("", &[]); NQ];
    let mut i = 0;
    while i < NQ {
        out[i] = (QUESTIONS[i].code, QUESTIONS[i].answers);
        i += 1;
    }
    out
};

/// The coded answers to the observatory's surveys.
pub const ENQUETES: Dataset = Dataset {
    name: "enquetes",
    description: "réponses codées aux enquêtes de l'observatoire, une par employeur répondant, \
                  enquête et question",
    source: "enquêtes flash de l'observatoire (export des réponses codées, sans texte libre)",
    table: "enquetes",
    columns: &[
        YEAR,
        col("enquete", T::Code(&SURVEY_CODES), "code de l'enquête"),
        EMPLOYEUR_ID,
        col(
            "question",
            T::Code(&QUESTION_CODES),
            "code de la question (déclarée pour l'enquête)",
        ),
        col(
            "reponse",
            T::Code(&ANSWER_CODES),
            "code de la réponse (déclaré pour la question)",
        ),
    ],
    rules: &[
        Rule::CodesBy {
            column: "question",
            by: "enquete",
            cases: &QUESTIONS_BY_SURVEY,
        },
        Rule::CodesBy {
            column: "reponse",
            by: "question",
            cases: &ANSWERS_BY_QUESTION,
        },
    ],
    unit: Unit::Employeur,
    unit_sql: "t.employeur_id",
    from_sql: "enquetes t",
    joins: &[EMPLOYER_JOIN],
    dimensions: &[
        ANNEE,
        code_dim("enquete", "t.enquete", &SURVEY_CODES, "enquête"),
        code_dim("question", "t.question", &QUESTION_CODES, "question"),
        code_dim("reponse", "t.reponse", &ANSWER_CODES, "réponse"),
        EMPLOYER_DIMENSIONS[0],
        EMPLOYER_DIMENSIONS[1],
    ],
    measures: &[],
    key: &["enquete", "employeur_id", "question"],
    references: &[EMPLOYEUR_REF],
    min_units: MIN_RESPONDENTS,
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_question_of_a_survey_is_declared_once() {
        for s in SURVEYS {
            for q in s.questions {
                assert!(QUESTIONS.iter().any(|x| x.code == *q), "{q}");
                assert!(q.starts_with(&format!("{}.", s.code)), "{q}");
            }
        }
        for (i, q) in QUESTIONS.iter().enumerate() {
            assert!(
                !QUESTIONS[..i].iter().any(|x| x.code == q.code),
                "{}",
                q.code
            );
            assert!(
                SURVEYS.iter().any(|s| s.questions.contains(&q.code)),
                "{} is in no survey",
                q.code
            );
        }
    }
}
