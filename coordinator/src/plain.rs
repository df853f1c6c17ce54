//! A study in plain French, for the directors who sign it: its purpose, its diffusion, and each
//! query as a sentence ("Nombre d'agents territoriaux au 31/12 par sexe de l'agent et tranche
//! d'âge, en 2024, dans les 5 départements"). It is written from the study's canonical encoding,
//! whose digest is checked first: what is shown is exactly what a signature covers.

use std::fmt::Write as _;

use cdg_shared::catalogue;
use cdg_shared::cdg::Cdg;
use cdg_shared::identity::{Principal, Role};
use cdg_shared::proto::v1::{NodeDescription, StudyStatus};
use cdg_shared::query::{Aggregate, AggregateQuery};
use cdg_shared::study::{Diffusion, Study};
use sha2::{Digest, Sha256};

/// "a, b et c".
fn enumerate(items: &[String]) -> String {
    match items {
        [] => String::new(),
        [one] => one.clone(),
        [rest @ .., last] => format!("{} et {last}", rest.join(", ")),
    }
}

/// "de x" or "d'x".
fn de(x: &str) -> String {
    let elide = x
        .chars()
        .next()
        .map(cdg_shared::text::unaccented)
        .is_some_and(|c| "aeiouyh".contains(c.to_ascii_lowercase()));
    if elide {
        format!("d'{x}")
    } else {
        format!("de {x}")
    }
}

/// The years of a filter: "en 2024", "de 2020 à 2024", "en 2020, 2022 et 2024".
fn years(values: &[String]) -> String {
    let mut numbers: Vec<i64> = values.iter().filter_map(|v| v.parse().ok()).collect();
    numbers.sort_unstable();
    let consecutive = numbers.windows(2).all(|w| w[1] == w[0] + 1);
    match numbers.as_slice() {
        [one] => format!("en {one}"),
        [first, .., last] if consecutive && numbers.len() == values.len() => {
            format!("de {first} à {last}")
        }
        _ => format!("en {}", enumerate(values)),
    }
}

/// Where: "dans les 5 départements", "dans le département 02 (Aisne)".
pub fn departements(cdgs: &[Cdg]) -> String {
    match cdgs {
        [one] => format!("dans le département {} ({})", one.code(), one.name()),
        _ if cdgs.len() == Cdg::ALL.len() => "dans les 5 départements".to_string(),
        _ => {
            let codes: Vec<String> = cdgs.iter().map(|c| c.code().to_string()).collect();
            format!("dans {} départements ({})", cdgs.len(), codes.join(", "))
        }
    }
}

/// A query as a sentence.
pub fn query_sentence(q: &AggregateQuery, cdgs: &[Cdg]) -> String {
    let Some(d) = catalogue::dataset(&q.dataset) else {
        return format!("{} (jeu de données inconnu du catalogue)", q.dataset);
    };
    let rows = d
        .description
        .split(',')
        .next()
        .unwrap_or(d.description)
        .trim();
    let measure_of = |column: &str| {
        d.measures
            .iter()
            .find(|m| m.name == column)
            .map_or(column.to_string(), |m| m.description.to_string())
    };
    let phrases: Vec<String> = q
        .measures
        .iter()
        .map(|m| match m.aggregate {
            Aggregate::Count => "nombre".to_string(),
            Aggregate::Sum => format!("somme {}", de(&measure_of(&m.column))),
            Aggregate::Mean => format!("moyenne {}", de(&measure_of(&m.column))),
        })
        .collect();
    let mut sentence = if phrases == ["nombre"] {
        format!("Nombre {rows}", rows = de(rows))
    } else {
        let mut s = enumerate(&phrases);
        if let Some(first) = s.get(..1) {
            s = first.to_uppercase() + &s[1..];
        }
        format!("{s} — {rows}")
    };
    let label = |name: &str| {
        d.dimensions
            .iter()
            .find(|x| x.name == name)
            .map_or(name.to_string(), |x| x.description.to_string())
    };
    if !q.group_by.is_empty() {
        let dims: Vec<String> = q.group_by.iter().map(|g| label(g)).collect();
        let _ = write!(sentence, " par {}", enumerate(&dims));
    }
    for f in &q.filters {
        if f.dimension == cdg_shared::indicator::YEAR {
            let _ = write!(sentence, ", {}", years(&f.values));
        } else {
            let _ = write!(
                sentence,
                ", {} : {}",
                label(&f.dimension),
                enumerate(&f.values)
            );
        }
    }
    let _ = write!(sentence, ", {}", departements(cdgs));
    sentence
}

/// The study of `status`, read from its encoding once that is checked against the digest the
/// directors sign.
pub fn checked_study(status: &StudyStatus) -> anyhow::Result<Study> {
    let digest = hex::encode(Sha256::digest(status.study_json.as_bytes()));
    anyhow::ensure!(
        digest == status.digest,
        "the study {} the coordinator sent does not match its digest ({} ≠ {}): do not sign it",
        status.study_id,
        digest,
        status.digest
    );
    Ok(serde_json::from_str(&status.study_json)?)
}

/// `study` (read by [`checked_study`] from `status`) in plain French, with its state and every
/// decision.
pub fn study_text(status: &StudyStatus, study: &Study) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "{} — {}", status.study_id, study.title);
    let _ = writeln!(out, "  Objet : {}", study.purpose);
    let diffusion = match study.diffusion {
        Diffusion::Interne => "interne : les résultats restent entre les 5 CDG".to_string(),
        Diffusion::Externe => format!(
            "EXTERNE, au-delà des 5 CDG : {}",
            study.diffusion_terms.as_deref().unwrap_or("")
        ),
    };
    let _ = writeln!(out, "  Diffusion : {diffusion}");
    let _ = writeln!(
        out,
        "  Départements : {}",
        departements(&study.departements).trim_start_matches("dans ")
    );
    if let Some(q) = study.quorum {
        let _ = writeln!(out, "  Quorum : {q} département(s) doivent répondre");
    }
    let _ = writeln!(out, "\n  Ce que l'étude demande à chaque nœud :");
    for (i, q) in study.queries.iter().enumerate() {
        let _ = writeln!(
            out,
            "  {}. {} [{}]\n     {}.",
            i + 1,
            q.title,
            q.name,
            query_sentence(&q.query, &study.departements)
        );
    }
    if !study.indicators.is_empty() {
        let _ = writeln!(
            out,
            "\n  Indicateurs calculés par le coordinateur sur les cellules diffusées :"
        );
        for i in &study.indicators {
            let _ = writeln!(out, "  - {} [{}] : {}", i.title, i.name, i.describe());
        }
    }
    let _ = writeln!(
        out,
        "\n  Empreinte signée (SHA-256 de ce qui est affiché, vérifiée) : {}",
        status.digest
    );
    out.push_str(&crate::output::render_status(status));
    out
}

/// The disclosure rules each node asked publishes, in plain French: what a study will run
/// under at each node.
pub fn policies_text(nodes: &[NodeDescription], asked: &[Cdg]) -> String {
    let mut out = String::from(
        "\n  Règles de diffusion publiées par chaque nœud (appliquées à chaque réponse) :\n",
    );
    for cdg in asked {
        let Some(n) = nodes.iter().find(|n| n.cdg == cdg.code()) else {
            let _ = writeln!(
                out,
                "  CDG {} : aucun nœud configuré au coordinateur",
                cdg.code()
            );
            continue;
        };
        let Some(p) = &n.policy else {
            let _ = writeln!(out, "  CDG {} : règles illisibles ({})", n.cdg, n.error);
            continue;
        };
        let _ = writeln!(
            out,
            "  CDG {} : une cellule n'est diffusée qu'avec au moins {} agents ou {} employeurs ; \
             un employeur n'y pèse pas plus de {} % (règle p = {} %) ; bruit de ±{} au plus sur \
             un effectif, de {} fois la plus grande contribution sur une somme ; au plus {} \
             dimensions par requête et {} cellules par jour et par analyste ; convention du {} \
             au {}",
            n.cdg,
            p.min_agents_per_cell,
            p.min_employers_per_cell,
            p.employer_dominance,
            p.dominance_p,
            p.max_noise,
            p.magnitude_noise,
            p.max_group_by,
            p.max_cells_per_analyst_per_day,
            p.convention_start,
            p.convention_end
        );
    }
    out
}

/// What a study awaits, and whether from `me` (a director's identity).
pub fn awaits(status: &StudyStatus, me: Option<Principal>) -> (String, bool) {
    let mine = |cdg: &str| me.is_some_and(|p| p.role == Role::Director && p.cdg.code() == cdg);
    match status.state.as_str() {
        "submitted" => {
            let pending: Vec<&str> = status
                .departements
                .iter()
                .filter(|d| d.decision == "pending")
                .map(|d| d.cdg.as_str())
                .collect();
            if pending.is_empty() {
                ("rejetée : ne sera pas exécutée partout".to_string(), false)
            } else {
                let who: Vec<String> = pending.iter().map(|c| format!("CDG {c}")).collect();
                (
                    format!("décision des directeurs : {}", who.join(", ")),
                    pending.iter().any(|c| mine(c)),
                )
            }
        }
        "in question" => (
            format!(
                "arbitrage du comité technique : {} vote(s) sur {} (cdg study arbitrate)",
                status.arbitration_votes.len(),
                status.arbitration_needed
            ),
            me.is_some_and(|p| {
                p.role == Role::Director && !status.arbitration_votes.contains(&p.uri())
            }),
        ),
        "approved" => ("exécution (chargé.e de mission)".to_string(), false),
        "completed" => (
            "diffusion des résultats (chargé.e de mission)".to_string(),
            false,
        ),
        "running" => ("fin de l'exécution en cours".to_string(), false),
        _ => ("rien".to_string(), false),
    }
}

/// The studies, one line each with what each awaits; `only_mine` keeps those awaiting `me`.
pub fn study_list(studies: &[StudyStatus], me: Option<Principal>, only_mine: bool) -> String {
    let mut out = String::new();
    for s in studies {
        let (what, mine) = awaits(s, me);
        if only_mine && !mine {
            continue;
        }
        let flag = if mine { "  ← vous" } else { "" };
        let day = s.submitted_at.get(..10).unwrap_or(&s.submitted_at);
        let _ = writeln!(
            out,
            "{}  {:<11}  {day}  {}\n    attend : {what}{flag}",
            s.study_id, s.state, s.title
        );
    }
    if out.is_empty() {
        out = if only_mine {
            "Aucune étude n'attend de décision de votre part.\n".to_string()
        } else {
            "Aucune étude.\n".to_string()
        };
    }
    out
}

/// Whether a notice was sent, or how it waits: "envoyé le …" or "en attente : 2 essai(s),
/// dernière erreur : …, prochain essai …".
pub fn notice_state(m: &cdg_shared::proto::v1::Notice) -> String {
    if !m.sent_at.is_empty() {
        return format!("envoyé le {}", m.sent_at);
    }
    let error = if m.last_error.is_empty() {
        String::new()
    } else {
        format!(", dernière erreur : {}", m.last_error)
    };
    format!(
        "en attente : {} essai(s){error}, prochain essai {}",
        m.attempts, m.next_attempt_at
    )
}

/// The notices mailed to the directors, newest first, for the terminal.
pub fn notices_text(n: &cdg_shared::proto::v1::ListNoticesResponse) -> String {
    if !n.mail_configured {
        return "Aucun courriel n'est envoyé : le coordinateur n'a pas de section [mail]. Les \
                directeurs lisent les études avec `cdg console` ou `cdg study list`.\n"
            .into();
    }
    if n.notices.is_empty() {
        return "Aucun courriel envoyé à ce jour.\n".into();
    }
    let mut out = String::new();
    for m in &n.notices {
        let state = notice_state(m);
        let _ = writeln!(
            out,
            "{} {:<14} {} CDG {} <{}> : {}\n    {}",
            m.created_at, m.kind, m.study_id, m.cdg, m.address, state, m.subject
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queries_read_as_sentences() {
        let study = Study::from_toml(
            "title = \"t\"\npurpose = \"p\"\ndiffusion = \"interne\"\n\n[[query]]\nname = \"q\"\n\
             dataset = \"agents\"\ngroup_by = [\"sexe\", \"tranche_age\"]\nmeasures = [\"count\"]\n\
             filters = { annee = 2024 }\n\n[[query]]\nname = \"r\"\ndataset = \"agents\"\n\
             group_by = [\"annee\"]\nmeasures = [\"count\", \"sum(etpr)\"]\n\
             filters = { annee = [2020, 2021, 2022], statut = \"fonctionnaire titulaire\" }\n",
        )
        .unwrap();
        let first = query_sentence(&study.queries[0].query, &study.departements);
        assert_eq!(
            first,
            "Nombre d'agents territoriaux au 31/12 par sexe de l'agent et tranche d'âge de 5 ans \
             au 31/12, en 2024, dans les 5 départements"
        );
        let second = query_sentence(&study.queries[1].query, &[Cdg::Aisne]);
        assert!(second.starts_with("Nombre et somme d"), "{second}");
        assert!(second.contains("de 2020 à 2022"), "{second}");
        assert!(
            second.ends_with("dans le département 02 (Aisne)"),
            "{second}"
        );
        assert_eq!(years(&["2020".into(), "2024".into()]), "en 2020 et 2024");
    }

    #[test]
    fn a_study_whose_encoding_does_not_match_its_digest_is_not_shown() {
        let status = StudyStatus {
            study_id: "S-1".into(),
            digest: "00".into(),
            study_json: "{}".into(),
            ..Default::default()
        };
        let e = checked_study(&status).unwrap_err().to_string();
        assert!(e.contains("do not sign it"), "{e}");
    }

    #[test]
    fn a_director_sees_what_awaits_their_signature() {
        let pending = |cdg: &str, decision: &str| cdg_shared::proto::v1::DepartementDecision {
            cdg: cdg.into(),
            decision: decision.into(),
            director: String::new(),
        };
        let status = StudyStatus {
            study_id: "S-000000000001".into(),
            title: "Pyramide".into(),
            state: "submitted".into(),
            submitted_at: "2026-12-01T10:00:00Z".into(),
            departements: vec![pending("02", "approved"), pending("59", "pending")],
            ..Default::default()
        };
        let nord = Principal::new(Role::Director, Cdg::Nord);
        let aisne = Principal::new(Role::Director, Cdg::Aisne);
        let list = study_list(std::slice::from_ref(&status), Some(nord), true);
        assert!(
            list.contains("décision des directeurs : CDG 59  ← vous"),
            "{list}"
        );
        let none = study_list(&[status], Some(aisne), true);
        assert!(none.starts_with("Aucune étude n'attend"), "{none}");
    }
}
