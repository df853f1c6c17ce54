//! The console's pages: server-rendered HTML in French, no script, nothing fetched from
//! elsewhere, usable with the keyboard (real links, buttons and labelled fields, a visible
//! focus, a link to skip to the content).

use std::fmt::Write;

use cdg_shared::proto::v1::{ListNoticesResponse, NodeDescription, StudyStatus};
use cdg_shared::study::{Diffusion, Study};

use super::Console;
use crate::plain::{awaits, departements, query_sentence};
use crate::report::format::escape;

const STYLE: &str = include_str!("console.css");

/// A whole page: the header with the user's identity and the menu, then `body`.
pub(crate) fn layout(title: &str, who: Option<&Console>, body: &str) -> String {
    let mut h = format!(
        "<!DOCTYPE html><html lang=\"fr\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width\"><title>{} — Observatoire</title>\
         <style>{STYLE}</style></head><body><a class=\"skip\" href=\"#contenu\">Aller au contenu</a>\
         <header><p class=\"kicker\">Observatoire régional de l'emploi territorial — \
         Hauts-de-France · comité technique</p>",
        escape(title)
    );
    if let Some(c) = who {
        let role = if c.director() {
            format!("directeur·rice du CDG {}", c.me.cdg.code())
        } else {
            format!("{} (lecture seule)", c.me)
        };
        let _ = write!(
            h,
            "<nav aria-label=\"Menu\"><a href=\"/\">Ce qui m'attend</a> <a href=\"/?tout=1\">Toutes \
             les études</a> <a href=\"/courriels\">Courriels</a> <a href=\"/journal\">Journal \
             d'audit</a> <span class=\"me\">{}</span></nav>",
            escape(&role)
        );
    }
    let _ = write!(
        h,
        "</header><main id=\"contenu\"><h1>{}</h1>{body}</main></body></html>",
        escape(title)
    );
    h
}

pub(crate) fn error(message: &str) -> String {
    layout(
        "Erreur",
        None,
        &format!(
            "<p class=\"error\" role=\"alert\">{}</p><p><a href=\"/\">Retour aux études</a></p>",
            escape(message)
        ),
    )
}

pub(crate) fn only_directors(title: &str) -> String {
    layout(
        title,
        None,
        "<p>Cette page est réservée aux directeur·rice·s du comité technique.</p><p><a href=\"/\">Retour aux études</a></p>",
    )
}

fn state_fr(state: &str) -> String {
    match state {
        "submitted" => "soumise",
        "in question" => "en question",
        "approved" => "approuvée",
        "running" => "en cours",
        "completed" => "réalisée",
        "diffused" => "diffusée",
        // Anything else the coordinator sends is shown as text, never as markup.
        other => return escape(other),
    }
    .to_string()
}

/// The studies, those awaiting me first (or only them with `only_mine`).
pub(crate) fn studies(c: &Console, list: &[StudyStatus], only_mine: bool) -> String {
    let me = Some(c.me);
    let mut rows = String::new();
    let mut shown = 0;
    for s in list {
        let (what, mine) = awaits(s, me);
        if only_mine && c.director() && !mine {
            continue;
        }
        shown += 1;
        let day = escape(s.submitted_at.get(..10).unwrap_or(&s.submitted_at));
        let _ = write!(
            rows,
            "<tr{}><td><a href=\"/etudes/{id}\">{id}</a></td><td>{}</td><td>{}</td><td>{day}</td><td>{}{}</td></tr>",
            if mine { " class=\"mine\"" } else { "" },
            escape(&s.title),
            state_fr(&s.state),
            escape(&what),
            if mine {
                " <strong>← vous</strong>"
            } else {
                ""
            },
            id = escape(&s.study_id),
        );
    }
    let title = if only_mine && c.director() {
        "Ce qui m'attend"
    } else {
        "Toutes les études"
    };
    let body = if shown == 0 {
        if only_mine && c.director() {
            "<p>Aucune étude n'attend de décision de votre part. <a href=\"/?tout=1\">Voir toutes les études</a>.</p>".to_string()
        } else {
            "<p>Aucune étude.</p>".to_string()
        }
    } else {
        format!(
            "<table><caption>{shown} étude(s)</caption><thead><tr><th scope=\"col\">Étude</th>\
             <th scope=\"col\">Titre</th><th scope=\"col\">État</th><th scope=\"col\">Soumise le</th>\
             <th scope=\"col\">Attend</th></tr></thead><tbody>{rows}</tbody></table>"
        )
    };
    layout(title, Some(c), &body)
}

fn decision_fr(d: &str) -> String {
    match d {
        "approved" | "approve" => "approuvée",
        "rejected" | "reject" => "refusée",
        "pending" => "en attente",
        "question" => "mise en question",
        "arbitrate" => "vote d'arbitrage",
        // Anything else the coordinator sends is shown as text, never as markup.
        other => return escape(other),
    }
    .to_string()
}

/// A study in plain French, its decisions, the nodes' rules, and the forms of a director.
pub(crate) fn study(
    c: &Console,
    status: &StudyStatus,
    study: &Study,
    policies: &[NodeDescription],
    said: Option<&str>,
) -> String {
    let mut b = String::new();
    if let Some(said) = said {
        let _ = write!(b, "<p class=\"said\" role=\"status\">{}</p>", escape(said));
    }
    let _ = write!(
        b,
        "<dl><dt>Étude</dt><dd>{}</dd><dt>Objet</dt><dd>{}</dd><dt>État</dt><dd>{}</dd>",
        escape(&status.study_id),
        escape(&study.purpose),
        state_fr(&status.state)
    );
    let diffusion = match study.diffusion {
        Diffusion::Interne => "interne : les résultats restent entre les cinq CDG".to_string(),
        Diffusion::Externe => format!(
            "<strong>externe</strong>, au-delà des cinq CDG — modalités : {}",
            escape(
                study
                    .diffusion_terms
                    .as_deref()
                    .unwrap_or("(non précisées)")
            )
        ),
    };
    let _ = write!(b, "<dt>Diffusion</dt><dd>{diffusion}</dd>");
    let _ = write!(
        b,
        "<dt>Départements</dt><dd>{}</dd>",
        escape(departements(&study.departements).trim_start_matches("dans "))
    );
    if let Some(q) = study.quorum {
        let _ = write!(
            b,
            "<dt>Quorum</dt><dd>{q} département(s) doivent répondre</dd>"
        );
    }
    b.push_str("</dl>");
    if study.diffusion == Diffusion::Externe {
        if status.announcement_awaits.is_empty() {
            let _ = write!(
                b,
                "<p>Le comité technique a été informé de cette étude externe le {} (article 4).</p>",
                escape(&status.announced_at)
            );
        } else {
            let _ = write!(
                b,
                "<p class=\"warn\">Étude externe : elle ne sera exécutée qu'une fois chaque directeur·rice informé·e (article 4). Pas encore informé·e·s : CDG {}.</p>",
                escape(&status.announcement_awaits.join(", "))
            );
        }
    }
    b.push_str("<h2>Ce que l'étude demande à chaque nœud</h2><ol>");
    for q in &study.queries {
        let _ = write!(
            b,
            "<li><strong>{}</strong> <span class=\"meta\">[{}]</span><br>{}.</li>",
            escape(&q.title),
            escape(&q.name),
            escape(&query_sentence(&q.query, &study.departements))
        );
    }
    b.push_str("</ol>");
    if !study.indicators.is_empty() {
        b.push_str("<h2>Indicateurs calculés par le coordinateur</h2><ul>");
        for i in &study.indicators {
            let _ = write!(
                b,
                "<li><strong>{}</strong> : {}</li>",
                escape(&i.title),
                escape(&i.describe())
            );
        }
        b.push_str("</ul>");
    }
    let _ = write!(
        b,
        "<p>Empreinte signée (SHA-256 de ce qui est affiché, vérifiée par la console) : <code class=\"digest\">{}</code></p>",
        escape(&status.digest)
    );
    decisions(&mut b, status);
    if status.state == "completed" || status.state == "diffused" {
        let _ = write!(
            b,
            "<p><a href=\"/etudes/{}/resultats\">Lire les résultats, tableaux et graphiques</a></p>",
            escape(&status.study_id)
        );
        if !status.restituted_at.is_empty() {
            let _ = write!(
                b,
                "<p class=\"meta\">Résultats restitués à chaque directeur·rice le {}.</p>",
                escape(&status.restituted_at)
            );
        }
    }
    rules(&mut b, policies, study);
    if c.director() {
        forms(&mut b, c, status, study);
    } else {
        b.push_str("<p class=\"meta\">Lecture seule : seul·e·s les directeur·rice·s décident.</p>");
    }
    layout(&study.title, Some(c), &b)
}

fn decisions(b: &mut String, status: &StudyStatus) {
    b.push_str("<h2>Décisions</h2><table><thead><tr><th scope=\"col\">Département</th><th scope=\"col\">Décision</th><th scope=\"col\">Par</th></tr></thead><tbody>");
    for d in &status.departements {
        let _ = write!(
            b,
            "<tr><td>CDG {}</td><td>{}</td><td>{}</td></tr>",
            escape(&d.cdg),
            decision_fr(&d.decision),
            escape(&d.director)
        );
    }
    b.push_str("</tbody></table>");
    if status.state == "in question" {
        let _ = write!(
            b,
            "<p class=\"warn\">En question : le comité technique arbitre ; {} vote(s) sur {} nécessaires ({}).</p>",
            status.arbitration_votes.len(),
            status.arbitration_needed,
            escape(&status.arbitration_votes.join(", "))
        );
    }
    if !status.decisions.is_empty() {
        b.push_str("<h3>Signatures reçues</h3><ul>");
        for d in &status.decisions {
            let who = cdg_shared::identity::Principal::from_certificate_der(&d.certificate)
                .map(|p| p.uri())
                .unwrap_or_else(|_| "?".into());
            let _ = write!(
                b,
                "<li>{} — {} — {}{}</li>",
                escape(&d.signed_at),
                decision_fr(&d.decision),
                escape(&who),
                if d.note.is_empty() {
                    String::new()
                } else {
                    format!(" : « {} »", escape(&d.note))
                }
            );
        }
        b.push_str("</ul>");
    }
}

fn rules(b: &mut String, policies: &[NodeDescription], study: &Study) {
    if policies.is_empty() {
        return;
    }
    let text = crate::plain::policies_text(policies, &study.departements);
    let _ = write!(
        b,
        "<h2>Règles de diffusion des nœuds</h2><pre>{}</pre>",
        escape(text.trim_start_matches('\n'))
    );
}

fn forms(b: &mut String, c: &Console, status: &StudyStatus, study: &Study) {
    let action = format!("/etudes/{}/decision", escape(&status.study_id));
    let hidden = format!(
        "<input type=\"hidden\" name=\"digest\" value=\"{}\"><input type=\"hidden\" name=\"cle\" value=\"{}\">",
        escape(&status.digest),
        escape(&c.form_key)
    );
    b.push_str("<h2>Votre décision</h2>");
    if status.state == "in question" {
        if status.arbitration_votes.contains(&c.me.uri()) {
            b.push_str("<p>Vous avez voté pour lever la question.</p>");
        } else {
            let _ = write!(
                b,
                "<form method=\"post\" action=\"{action}\">{hidden}<input type=\"hidden\" name=\"decision\" value=\"arbitrate\">\
                 <label for=\"note-vote\">Note (facultative)</label><textarea id=\"note-vote\" name=\"note\" rows=\"2\"></textarea>\
                 <button type=\"submit\" id=\"arbitrer\">Voter pour lever la question</button></form>"
            );
        }
    }
    let asked = study.departements.contains(&c.me.cdg);
    let _ = write!(
        b,
        "<form method=\"post\" action=\"{action}\" class=\"decide\">{hidden}\
         <label for=\"note\">Note jointe à votre signature (obligatoire pour une mise en question)</label>\
         <textarea id=\"note\" name=\"note\" rows=\"3\"></textarea><div class=\"buttons\">"
    );
    if asked {
        b.push_str("<button type=\"submit\" name=\"decision\" value=\"approve\" id=\"approuver\">Approuver et signer</button>\
                     <button type=\"submit\" name=\"decision\" value=\"reject\" id=\"refuser\">Refuser</button>");
    }
    b.push_str("<button type=\"submit\" name=\"decision\" value=\"question\" id=\"questionner\">Mettre en question</button></div>\
                <p class=\"meta\">Votre clé privée signe ici, sur cette machine ; elle n'en sort pas.</p></form>");
}

/// The report's page with the console's menu at its top.
pub(crate) fn with_navigation(report: &str, id: &str) -> String {
    let nav = format!(
        "<nav class=\"console\" aria-label=\"Console\"><a href=\"/etudes/{}\">← Retour à l'étude</a> · <a href=\"/\">Études</a></nav>",
        escape(id)
    );
    match report.find("<body>") {
        Some(at) => format!("{}{nav}{}", &report[..at + 6], &report[at + 6..]),
        None => report.to_string(),
    }
}

/// The mails to the directors, sent or waiting.
pub(crate) fn notices(c: &Console, n: &ListNoticesResponse) -> String {
    let mut b = String::new();
    if !n.mail_configured {
        b.push_str("<p>Le coordinateur n'envoie pas de courriel (pas de section <code>[mail]</code>) : les études se lisent ici.</p>");
    } else if n.notices.is_empty() {
        b.push_str("<p>Aucun courriel envoyé à ce jour.</p>");
    } else {
        b.push_str("<table><thead><tr><th scope=\"col\">Créé le</th><th scope=\"col\">Objet</th><th scope=\"col\">À</th><th scope=\"col\">État</th></tr></thead><tbody>");
        for m in &n.notices {
            let state = crate::plain::notice_state(m);
            let state = if m.sent_at.is_empty() {
                format!("<strong class=\"warn\">{}</strong>", escape(&state))
            } else {
                escape(&state)
            };
            let _ = write!(
                b,
                "<tr><td>{}</td><td><a href=\"/etudes/{}\">{}</a></td><td>CDG {} &lt;{}&gt;</td><td>{state}</td></tr>",
                escape(&m.created_at),
                escape(&m.study_id),
                escape(&m.subject),
                escape(&m.cdg),
                escape(&m.address)
            );
        }
        b.push_str("</tbody></table>");
    }
    layout("Courriels aux directeur·rice·s", Some(c), &b)
}
