//! `cdg console`: the comité technique's console, a web server on this machine's loopback that
//! acts with the user's own certificate and key, as the `cdg` command does.
//!
//! - Only this machine reaches it (127.0.0.1), and only with the one-time token of the address
//!   it prints, as notebook servers do: the first request that carries the token gets a session
//!   cookie (HttpOnly, SameSite=Strict) and the token is spent; any other request is refused.
//!   The Host header must name the console itself, so that a web page elsewhere cannot reach
//!   it through a rebound DNS name; each form carries a per-session field, checked on POST.
//! - Pages are rendered on the server, in French, with no script and nothing fetched from
//!   elsewhere: the studies (filtered by what awaits me), a study in plain French with its
//!   decisions, the results with their charts, the notices mailed, the audit logs.
//! - A director's decision is signed here, with the key that never leaves the machine, over
//!   the digest of the study the page showed. Anyone else gets the same pages without forms.

mod admission;
mod journal;
mod pages;

use std::future::IntoFuture;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context;
use axum::extract::{Form, Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use cdg_shared::cdg::Cdg;
use cdg_shared::identity::{Principal, Role};
use cdg_shared::signing::{Decision, Signer};
use cdg_shared::tls::TlsFiles;
use serde::Deserialize;

use crate::client::{CoordinatorClient, Network};

/// `cdg console`'s options.
#[derive(Debug, Clone, clap::Args)]
pub struct ConsoleArgs {
    /// Where the console listens: a loopback address only (the default port is the one the
    /// coordinator's mails link to).
    #[arg(long, default_value = "127.0.0.1:7459")]
    pub listen: SocketAddr,
    /// Print the address without opening the browser.
    #[arg(long)]
    pub no_open: bool,
}

pub(crate) struct Console {
    url: String,
    tls: TlsFiles,
    pub(crate) me: Principal,
    /// The one-time token; `None` once spent.
    token: Mutex<Option<String>>,
    session: String,
    cookie: String,
    /// The field each form carries.
    pub(crate) form_key: String,
    /// The Host headers accepted.
    hosts: Vec<String>,
    /// The nodes' addresses, from `--network`, to read their logs.
    nodes: Vec<(Cdg, String)>,
}

impl Console {
    pub(crate) fn director(&self) -> bool {
        self.me.role == Role::Director
    }

    async fn client(&self) -> Result<CoordinatorClient, Page> {
        CoordinatorClient::connect(&self.url, &self.tls, Duration::from_secs(120))
            .await
            .map_err(|e| {
                Page::error(
                    StatusCode::BAD_GATEWAY,
                    format!("Le coordinateur ne répond pas ({}) : {e:#}", self.url),
                )
            })
    }
}

/// A page, or an error shown as one.
pub(crate) struct Page {
    status: StatusCode,
    html: String,
}

impl Page {
    pub(crate) fn ok(html: String) -> Page {
        Page {
            status: StatusCode::OK,
            html,
        }
    }

    pub(crate) fn error(status: StatusCode, message: String) -> Page {
        Page {
            status,
            html: pages::error(&message),
        }
    }
}

impl IntoResponse for Page {
    fn into_response(self) -> Response {
        let mut r = (self.status, Html(self.html)).into_response();
        let h = r.headers_mut();
        // Nothing from elsewhere, no framing, no caching of signed pages.
        h.insert(
            header::CONTENT_SECURITY_POLICY,
            "default-src 'none'; style-src 'unsafe-inline'; img-src data:; form-action 'self'; frame-ancestors 'none'"
                .parse()
                .expect("a valid header"),
        );
        h.insert(
            header::CACHE_CONTROL,
            "no-store".parse().expect("a valid header"),
        );
        h.insert(
            header::REFERRER_POLICY,
            "no-referrer".parse().expect("a valid header"),
        );
        r
    }
}

impl From<tonic::Status> for Page {
    fn from(s: tonic::Status) -> Page {
        let status = match s.code() {
            tonic::Code::NotFound => StatusCode::NOT_FOUND,
            tonic::Code::PermissionDenied => StatusCode::FORBIDDEN,
            tonic::Code::InvalidArgument | tonic::Code::FailedPrecondition => {
                StatusCode::BAD_REQUEST
            }
            _ => StatusCode::BAD_GATEWAY,
        };
        Page::error(status, crate::client::explain(&s))
    }
}

#[derive(Deserialize)]
struct ListFilter {
    tout: Option<String>,
}

async fn list(State(c): State<Arc<Console>>, Query(f): Query<ListFilter>) -> Result<Page, Page> {
    let mut client = c.client().await?;
    let studies = client.studies().await?;
    Ok(Page::ok(pages::studies(&c, &studies, f.tout.is_none())))
}

async fn study(State(c): State<Arc<Console>>, Path(id): Path<String>) -> Result<Page, Page> {
    study_page(&c, &id, None).await
}

async fn study_page(c: &Console, id: &str, said: Option<String>) -> Result<Page, Page> {
    let mut client = c.client().await?;
    let status = client.study(id).await?;
    let study = crate::plain::checked_study(&status)
        .map_err(|e| Page::error(StatusCode::BAD_GATEWAY, format!("{e:#}")))?;
    let policies = client.node_policies().await.unwrap_or_default();
    Ok(Page::ok(pages::study(
        c,
        &status,
        &study,
        &policies,
        said.as_deref(),
    )))
}

#[derive(Deserialize)]
struct DecisionForm {
    decision: String,
    #[serde(default)]
    note: String,
    digest: String,
    cle: String,
}

async fn decide(
    State(c): State<Arc<Console>>,
    Path(id): Path<String>,
    Form(form): Form<DecisionForm>,
) -> Result<Page, Page> {
    if !c.director() {
        return Err(Page::error(
            StatusCode::FORBIDDEN,
            format!(
                "Seul·e un·e directeur·rice décide d'une étude ; vous êtes {}.",
                c.me.uri()
            ),
        ));
    }
    if !admission::same(&form.cle, &c.form_key) {
        return Err(Page::error(
            StatusCode::FORBIDDEN,
            "Formulaire refusé : il ne vient pas de cette console. Rechargez la page.".into(),
        ));
    }
    let decision = match form.decision.as_str() {
        "approve" => Decision::Approve,
        "reject" => Decision::Reject,
        "question" => Decision::Question,
        "arbitrate" => Decision::Arbitrate,
        other => {
            return Err(Page::error(
                StatusCode::BAD_REQUEST,
                format!(
                    "Décision inconnue : {}",
                    crate::report::format::escape(other)
                ),
            ));
        }
    };
    if decision == Decision::Question && form.note.trim().is_empty() {
        return Err(Page::error(
            StatusCode::BAD_REQUEST,
            "Une mise en question dit sa question : écrivez-la dans la note.".into(),
        ));
    }
    let mut client = c.client().await?;
    let status = client.study(&id).await?;
    crate::plain::checked_study(&status)
        .map_err(|e| Page::error(StatusCode::BAD_GATEWAY, format!("{e:#}")))?;
    if status.digest != form.digest {
        return Err(Page::error(
            StatusCode::CONFLICT,
            format!(
                "L'étude a changé depuis que la page l'a affichée (empreinte {} au lieu de {}) : rien n'est signé. Relisez-la.",
                status.digest,
                crate::report::format::escape(&form.digest)
            ),
        ));
    }
    // Signed here, with the key of this machine, over the digest shown.
    let signed = Signer::from_files(&c.tls)
        .and_then(|s| s.decide(&status.digest, decision, form.note.trim()))
        .map_err(|e| {
            Page::error(
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("Signature impossible : {e:#}"),
            )
        })?;
    client.send_decision(&id, signed).await?;
    let said = match decision {
        Decision::Approve => "Vous avez approuvé l'étude ; votre signature est enregistrée.",
        Decision::Reject => "Vous avez refusé l'étude ; votre signature est enregistrée.",
        Decision::Question => "Vous avez mis l'étude en question ; le comité technique arbitrera.",
        Decision::Arbitrate => "Votre vote d'arbitrage est enregistré.",
    };
    study_page(&c, &id, Some(said.to_string())).await
}

async fn results(State(c): State<Arc<Console>>, Path(id): Path<String>) -> Result<Page, Page> {
    let mut client = c.client().await?;
    let status = client.study(&id).await?;
    let study = crate::plain::checked_study(&status).ok();
    let result = client.stream_result(&id).await?;
    let generated = chrono::Utc::now().format("%Y-%m-%d %H:%M UTC").to_string();
    let report = crate::report::render(&result, study.as_ref(), &generated)
        .map_err(|e| Page::error(StatusCode::INTERNAL_SERVER_ERROR, format!("{e:#}")))?;
    Ok(Page::ok(pages::with_navigation(&report, &id)))
}

async fn notices(State(c): State<Arc<Console>>) -> Result<Page, Page> {
    if !c.director() {
        return Ok(Page::ok(pages::only_directors("Courriels")));
    }
    let mut client = c.client().await?;
    let n = client.notices().await?;
    Ok(Page::ok(pages::notices(&c, &n)))
}

async fn audit(State(c): State<Arc<Console>>) -> Result<Page, Page> {
    if !c.director() {
        return Ok(Page::ok(pages::only_directors("Journal d'audit")));
    }
    let client = c.client().await?;
    Ok(Page::ok(journal::page(&c, client).await))
}

/// The console's routes, behind [`admit`].
fn router(c: Arc<Console>) -> axum::Router {
    axum::Router::new()
        .route("/", get(list))
        .route("/etudes/{id}", get(study))
        .route("/etudes/{id}/decision", post(decide))
        .route("/etudes/{id}/resultats", get(results))
        .route("/courriels", get(notices))
        .route("/journal", get(audit))
        .layer(axum::middleware::from_fn_with_state(
            c.clone(),
            admission::admit,
        ))
        .with_state(c)
}

/// Binds the console and answers its address with the token; serves until `shutdown`.
pub async fn start(
    args: &ConsoleArgs,
    url: String,
    tls: TlsFiles,
    nodes: Vec<(Cdg, String)>,
) -> anyhow::Result<(
    String,
    impl std::future::Future<Output = std::io::Result<()>>,
)> {
    anyhow::ensure!(
        args.listen.ip().is_loopback(),
        "--listen {}: the console listens on this machine's loopback only (127.0.0.1), since it \
         acts with your certificate",
        args.listen
    );
    let me = tls.own_principal()?;
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| {
            format!(
                "listening on {} (another console running? pass --listen 127.0.0.1:0)",
                args.listen
            )
        })?;
    let addr = listener.local_addr()?;
    let token = admission::random_hex(24)?;
    let console = Arc::new(Console {
        url,
        tls,
        me,
        token: Mutex::new(Some(token.clone())),
        session: admission::random_hex(32)?,
        cookie: admission::cookie_name(addr.port()),
        form_key: admission::random_hex(16)?,
        hosts: vec![addr.to_string(), format!("localhost:{}", addr.port())],
        nodes,
    });
    let address = format!("http://{addr}/?jeton={token}");
    let serve = axum::serve(listener, router(console)).into_future();
    Ok((address, serve))
}

/// `cdg console`: starts the console, prints its address and opens the browser on it.
pub async fn run(
    args: ConsoleArgs,
    url: String,
    tls: TlsFiles,
    network: Option<&Network>,
) -> anyhow::Result<()> {
    let nodes = network
        .map(|n| n.nodes.iter().map(|n| (n.cdg, n.address.clone())).collect())
        .unwrap_or_default();
    let me = tls.own_principal()?;
    let (address, serve) = start(&args, url, tls, nodes).await?;
    // A closed standard output (the terminal gone) must not stop the console.
    use std::io::Write;
    let mut out = std::io::stdout();
    let _ = writeln!(out, "Console de l'observatoire ({me}) : {address}");
    let _ = writeln!(out, "(adresse à usage unique ; Ctrl-C pour arrêter)");
    let opener = if args.no_open {
        None
    } else {
        match admission::open_browser(&address) {
            Ok(file) => Some(file),
            Err(e) => {
                let _ = writeln!(out, "Ouvrez cette adresse dans votre navigateur ({e:#}).");
                None
            }
        }
    };
    let outcome = tokio::select! {
        served = serve => served.context("serving the console"),
        _ = tokio::signal::ctrl_c() => Ok(()),
    };
    if let Some(file) = opener {
        let _ = std::fs::remove_file(file);
    }
    outcome
}
