//! Test harness: a development PKI, synthetic data loaded through the real import, nodes and a
//! coordinator served in-process on `127.0.0.1:0` with real mutual TLS, and clients holding any
//! federation identity.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use cdg_certs_dev::PkiLayout;
use cdg_coordinator::client::CoordinatorClient;
use cdg_coordinator::config::{CoordinatorConfig, NodeEntry};
use cdg_node::config::{Limits, NodeConfig, PolicyConfig};
use cdg_shared::cdg::Cdg;
use cdg_shared::identity::{Principal, Role};
use cdg_shared::proto::v1::{self, node_service_client::NodeServiceClient};
use cdg_shared::query::AggregateQuery;
use cdg_shared::signing::{Decision, Signer};
use cdg_shared::study::{Diffusion, Study, StudyQuery};
use cdg_shared::tls::TlsFiles;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tonic::transport::Channel;

/// Years the harness synthesizes.
pub const FIRST_YEAR: i32 = 2023;
pub const LAST_YEAR: i32 = 2024;
/// Small enough for fast tests, large enough for released and suppressed cells.
pub const SCALE: f64 = 0.05;
pub const SEED: u64 = 7;

/// A server running in this process; stopped when dropped.
pub struct Running {
    pub addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    handle: Option<JoinHandle<anyhow::Result<()>>>,
}

impl Running {
    pub fn url(&self) -> String {
        format!("https://{}", self.addr)
    }

    /// Stops the server and waits for it to release its files; panics with the server's own
    /// error if it failed, so a test sees why instead of a reset connection.
    pub async fn stop(mut self) {
        self.halt().await
    }

    async fn halt(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(h) = self.handle.take() {
            match h.await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => panic!("the server on {} failed: {e:#}", self.addr),
                Err(e) => panic!("the server on {} panicked: {e}", self.addr),
            }
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
    }
}

/// A loopback address free at the time of the call, for a server's metrics endpoint.
pub fn free_address() -> SocketAddr {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
    l.local_addr().expect("its address")
}

/// The response to `GET path` on a plain-HTTP endpoint (status line, headers and body).
pub async fn http_get(addr: std::net::SocketAddr, path: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    let request = format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    s.write_all(request.as_bytes()).await.unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).await.unwrap();
    out
}

/// Synthesizes a CDG's data into `dir/csv-XX` and imports it through the real import path into
/// `dir/node-XX.duckdb`. Returns the node configuration (listening on port 0) and the CSV folder.
pub fn prepare_node(dir: &Path, pki: &PkiLayout, cdg: Cdg) -> (NodeConfig, PathBuf) {
    prepare_node_at_scale(dir, pki, cdg, SCALE)
}

/// [`prepare_node`] with `scale` times the CDG's real number of agents.
pub fn prepare_node_at_scale(
    dir: &Path,
    pki: &PkiLayout,
    cdg: Cdg,
    scale: f64,
) -> (NodeConfig, PathBuf) {
    let csv_dir = dir.join(format!("csv-{}", cdg.code()));
    let spec = cdg_synth::SynthSpec {
        cdg,
        first_year: FIRST_YEAR,
        last_year: LAST_YEAR,
        seed: SEED,
        scale,
    };
    let mut files = cdg_synth::generate(&spec, &csv_dir).expect("synthesizing");
    files.sort_by_key(|f| (f.year, f.dataset != "employeurs"));
    let config = NodeConfig {
        cdg,
        listen: "127.0.0.1:0".parse().expect("address"),
        database: dir.join(format!("node-{}.duckdb", cdg.code())),
        tls: identity(pki, Principal::new(Role::Node, cdg)),
        federation: Default::default(),
        policy: PolicyConfig::default(),
        // Beside the database, where imports without a configured key look for it.
        record_key: None,
        audit_log: None,
        limits: Limits::default(),
        import: Default::default(),
        metrics_listen: None,
        revoked_certificates: Vec::new(),
    };
    // A fixed record key, so that the noise, and every test on it, is the same at each run.
    let key_path = config.record_key_path();
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    std::io::Write::write_all(
        &mut options
            .open(&key_path)
            .expect("writing the test record key"),
        TEST_RECORD_KEY.as_bytes(),
    )
    .expect("writing the test record key");
    let store = cdg_node::store::Store::open(&config.database).expect("opening the node database");
    for f in files {
        let dataset = cdg_node::catalogue::dataset(f.dataset).expect("a catalogue dataset");
        cdg_node::ingest::import_file(&store, dataset, f.year, &f.path, &Default::default())
            .expect("importing synthetic data");
    }
    (config, csv_dir)
}

/// Binds 127.0.0.1:0 and spawns `run` on it with a stop signal that `Running` fires.
pub(crate) async fn serve<F, Fut>(run: F) -> Running
where
    F: FnOnce(tokio::net::TcpListener, futures_stop::Stop) -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<()>> + Send + 'static,
{
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("binding");
    let addr = listener.local_addr().expect("address");
    let (stop, rx) = oneshot::channel();
    let handle = tokio::spawn(run(listener, futures_stop::Stop(rx)));
    Running {
        addr,
        stop: Some(stop),
        handle: Some(handle),
    }
}

pub mod netns;
pub mod pki;
pub mod process;
pub mod regional;
pub mod relay;
pub mod web;

pub use pki::{identity, pki};

mod futures_stop {
    use std::future::Future;
    use std::pin::Pin;
    use std::task::{Context, Poll};

    /// Completes when the `Running` guard asks the server to stop (or is dropped).
    pub struct Stop(pub tokio::sync::oneshot::Receiver<()>);

    impl Future for Stop {
        type Output = ();
        fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
            Pin::new(&mut self.0).poll(cx).map(|_| ())
        }
    }
}

/// The record-key secret of the tests' nodes (development only).
pub const TEST_RECORD_KEY: &str =
    "7465737473206f6e6c793a206e6f7420612072656164206b65792c2066697865";

/// The day the tests' nodes believe it is: inside the convention (2023-01-01 to 2026-12-31),
/// so the tests do not depend on the real date.
pub const TEST_TODAY: (i32, u32, u32) = (2026, 6, 15);

/// [`TEST_TODAY`] as a date.
pub fn test_today() -> chrono::NaiveDate {
    let (y, m, d) = TEST_TODAY;
    chrono::NaiveDate::from_ymd_opt(y, m, d).expect("a date")
}

/// Serves a node in-process, on [`TEST_TODAY`].
pub async fn start_node(config: NodeConfig) -> Running {
    start_node_on(config, test_today()).await
}

/// Serves a node in-process that believes today is `today`.
pub async fn start_node_on(config: NodeConfig, today: chrono::NaiveDate) -> Running {
    let clock: cdg_node::answering::Clock = std::sync::Arc::new(move || today);
    serve(|listener, stop| cdg_node::server::run_with_clock(config, listener, stop, clock)).await
}

/// Serves a coordinator in-process, knowing `nodes`.
pub async fn start_coordinator(
    dir: &Path,
    pki: &PkiLayout,
    nodes: &[(Cdg, String)],
    node_timeout_secs: u64,
) -> Running {
    start_coordinator_with(coordinator_config(dir, pki, nodes, node_timeout_secs)).await
}

/// Serves a coordinator in-process with `config`.
pub async fn start_coordinator_with(config: CoordinatorConfig) -> Running {
    serve(|listener, stop| cdg_coordinator::server::run(config, listener, stop)).await
}

/// The configuration of a coordinator knowing `nodes`, its state in `dir/coordinator`.
pub fn coordinator_config(
    dir: &Path,
    pki: &PkiLayout,
    nodes: &[(Cdg, String)],
    node_timeout_secs: u64,
) -> CoordinatorConfig {
    CoordinatorConfig {
        listen: "127.0.0.1:0".parse().expect("address"),
        state_dir: dir.join("coordinator"),
        tls: identity(pki, Principal::new(Role::Coordinator, Cdg::Nord)),
        node_timeout_secs,
        study_timeout_secs: 600,
        retries: 2,
        retry_backoff_ms: 50,
        max_message_bytes: 16 * 1024 * 1024,
        nodes: nodes
            .iter()
            .map(|(cdg, address)| NodeEntry {
                cdg: *cdg,
                address: address.clone(),
            })
            .collect(),
        metrics_listen: None,
        revoked_certificates: Vec::new(),
        federation: Default::default(),
        arbitration_votes: 3,
        mail: None,
        secure_aggregation: true,
    }
}

/// A node client presenting `tls`, expecting the node identity of `cdg`.
pub async fn node_client(
    url: &str,
    tls: &TlsFiles,
    cdg: Cdg,
) -> Result<NodeServiceClient<Channel>, tonic::transport::Error> {
    let endpoint = tls
        .client_endpoint(url, Principal::new(Role::Node, cdg))
        .expect("client endpoint")
        .connect_timeout(Duration::from_secs(5))
        .timeout(Duration::from_secs(30));
    Ok(NodeServiceClient::new(endpoint.connect().await?))
}

/// A coordinator client presenting `tls`.
pub async fn coordinator_client(url: &str, tls: &TlsFiles) -> CoordinatorClient {
    CoordinatorClient::connect(url, tls, Duration::from_secs(120))
        .await
        .expect("connecting to the coordinator")
}

/// The coordinator's whole audit log at `url`, as read by CDG 02's director.
pub async fn audit_log_text(url: &str, pki: &PkiLayout) -> String {
    let director = identity(pki, Principal::new(Role::Director, Cdg::Aisne));
    let mut pages = coordinator_client(url, &director)
        .await
        .audit_log(1)
        .await
        .expect("a director reads the log");
    let mut log = Vec::new();
    while let Some(page) = pages.message().await.expect("a page of the log") {
        log.extend_from_slice(&page.log);
    }
    String::from_utf8(log).expect("the log is UTF-8")
}

/// The directors of `cdgs` each approve study `id` through the coordinator at `url`, signing
/// with their keys in `pki`, as `cdg study approve` does.
pub async fn approve_as_directors(url: &str, pki: &PkiLayout, id: &str, cdgs: &[Cdg]) {
    for &cdg in cdgs {
        let tls = identity(pki, Principal::new(Role::Director, cdg));
        coordinator_client(url, &tls)
            .await
            .decide(&tls, id, Decision::Approve, "test")
            .await
            .unwrap_or_else(|e| panic!("director {cdg} approving {id}: {e:#}"));
    }
}

/// One agent row of a synthetic CSV, as the tests need it.
#[derive(Debug, Clone)]
pub struct AgentRow {
    pub annee: i32,
    pub agent_id: String,
    pub statut: String,
    pub categorie: String,
    pub filiere: String,
    pub sexe: String,
    pub annee_naissance: i32,
}

/// Reads `agents_<year>.csv` directly (independently of the node), for expected values.
pub fn read_agents(csv_dir: &Path, year: i32) -> Vec<AgentRow> {
    let path = csv_dir.join(cdg_synth::file_name("agents", year));
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(b';')
        .from_path(&path)
        .expect("opening the CSV");
    let headers = reader.headers().expect("header").clone();
    let col = |name: &str| {
        headers
            .iter()
            .position(|h| h == name)
            .unwrap_or_else(|| panic!("column {name}"))
    };
    let (a, id, st, cat, fil, sx, nais) = (
        col("annee"),
        col("agent_id"),
        col("statut"),
        col("categorie"),
        col("filiere"),
        col("sexe"),
        col("annee_naissance"),
    );
    reader
        .records()
        .map(|r| {
            let r = r.expect("a CSV record");
            AgentRow {
                annee: r[a].parse().expect("annee"),
                agent_id: r[id].to_string(),
                statut: r[st].to_string(),
                categorie: r[cat].to_string(),
                filiere: r[fil].to_string(),
                sexe: r[sx].to_string(),
                annee_naissance: r[nais].parse().expect("annee_naissance"),
            }
        })
        .collect()
}

/// Counts rows per key.
pub fn count_by<K: Ord>(rows: &[AgentRow], key: impl Fn(&AgentRow) -> K) -> BTreeMap<K, i64> {
    let mut m = BTreeMap::new();
    for r in rows {
        *m.entry(key(r)).or_insert(0) += 1;
    }
    m
}

/// Folder of the release binaries (`cdg`, `cdg-node`, ...) next to the running test binary.
pub fn binary(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("test binary path");
    let dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("target profile folder");
    let path = dir.join(name);
    assert!(
        path.is_file(),
        "{} not found: build the binaries first (cargo build --release)",
        path.display()
    );
    path
}

/// One node (CDG 02) on synthetic data, with the development PKI it trusts.
pub struct OneNode {
    pub dir: tempfile::TempDir,
    pub pki: PkiLayout,
    pub config: NodeConfig,
    pub csv_dir: PathBuf,
    pub node: Running,
}

pub async fn one_node() -> OneNode {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let pki = pki(&dir.path().join("certs"));
    let (config, csv_dir) = prepare_node(dir.path(), &pki, Cdg::Aisne);
    let node = start_node(config.clone()).await;
    OneNode {
        dir,
        pki,
        config,
        csv_dir,
        node,
    }
}

impl OneNode {
    /// `q` within a study its director (CDG 02) approved.
    pub fn approved(&self, q: v1::AggregateQuery) -> v1::ExecuteRequest {
        approved(&self.pki, Cdg::Aisne, q)
    }

    /// Stops the node and serves `config` on the same files in its place, on `today`: two
    /// servers must never open one database at once.
    pub async fn relaunch(&mut self, config: NodeConfig, today: chrono::NaiveDate) {
        self.node.halt().await;
        self.node = start_node_on(config, today).await;
    }

    /// Stops the node, runs `offline` with its configuration and data folder (an import needs
    /// the database to itself), and starts it again on the same files.
    pub async fn restart(mut self, offline: impl FnOnce(&NodeConfig, &Path)) -> OneNode {
        self.node.halt().await;
        offline(&self.config, &self.csv_dir);
        self.node = start_node(self.config.clone()).await;
        self
    }
}

/// A count query on `dataset` grouped by `group_by`.
pub fn query(dataset: &str, group_by: &[&str]) -> v1::AggregateQuery {
    v1::AggregateQuery {
        dataset: dataset.into(),
        group_by: group_by.iter().map(|s| s.to_string()).collect(),
        measures: vec![v1::Measure {
            aggregate: v1::Aggregate::Count as i32,
            column: String::new(),
        }],
        filters: vec![],
    }
}

/// A request for `q` with no study and no approval: what a node must refuse, or reject as
/// malformed first.
pub fn execute(q: v1::AggregateQuery) -> v1::ExecuteRequest {
    v1::ExecuteRequest {
        protocol_version: cdg_shared::proto::PROTOCOL_VERSION,
        query: Some(q),
        study_id: "S-test".into(),
        query_name: "q".into(),
        analyst: String::new(),
        study: Vec::new(),
        approvals: Vec::new(),
    }
}

/// A one-query study asking `cdg` for `q` (None when `q` is not a well-formed query).
pub fn study_of(cdg: Cdg, q: &v1::AggregateQuery) -> Option<Study> {
    let query = AggregateQuery::try_from(q.clone()).ok()?;
    Some(Study {
        title: "étude de test".into(),
        purpose: "tests".into(),
        diffusion: Diffusion::Interne,
        diffusion_terms: None,
        departements: vec![cdg],
        quorum: None,
        indicators: Vec::new(),
        queries: vec![StudyQuery {
            name: "q".into(),
            title: "q".into(),
            query,
        }],
    })
}

/// `director`'s signed approval of `study`, with the keys in `pki`.
pub fn approval(pki: &PkiLayout, director: Principal, study: &Study) -> v1::SignedDecision {
    Signer::from_files(&identity(pki, director))
        .expect("the director's keys")
        .decide(&study.digest(), Decision::Approve, "")
        .expect("signing")
}

/// `q` as the coordinator sends it: within a one-query study approved by the director of
/// `cdg` (a malformed `q` goes without, for the node to reject as such).
pub fn approved(pki: &PkiLayout, cdg: Cdg, q: v1::AggregateQuery) -> v1::ExecuteRequest {
    let mut request = execute(q.clone());
    if let Some(study) = study_of(cdg, &q) {
        request.approvals = vec![approval(pki, Principal::new(Role::Director, cdg), &study)];
        request.study = study.canonical();
    }
    request
}

/// A client of the node of `n` with the identity of `principal`.
pub async fn as_role(n: &OneNode, principal: Principal) -> NodeServiceClient<Channel> {
    node_client(&n.node.url(), &identity(&n.pki, principal), Cdg::Aisne)
        .await
        .expect("mTLS connection")
}

/// The node's `Describe` answer.
pub async fn describe(c: &mut NodeServiceClient<Channel>) -> v1::DescribeResponse {
    c.describe(v1::DescribeRequest {
        protocol_version: cdg_shared::proto::PROTOCOL_VERSION,
    })
    .await
    .expect("a description")
    .into_inner()
}

/// A filter on `dimension` keeping `values`.
pub fn filter(dimension: &str, values: &[&str]) -> v1::Filter {
    v1::Filter {
        dimension: dimension.into(),
        values: values.iter().map(|v| v.to_string()).collect(),
    }
}

/// `q` with `filters` instead of its own.
pub fn with_filters(mut q: v1::AggregateQuery, filters: Vec<v1::Filter>) -> v1::AggregateQuery {
    q.filters = filters;
    q
}

/// The Arrow IPC answer to `q`, asked as the coordinator.
pub async fn answer(n: &OneNode, q: v1::AggregateQuery) -> Vec<u8> {
    let mut c = as_role(n, Principal::new(Role::Coordinator, Cdg::Nord)).await;
    c.execute(n.approved(q))
        .await
        .expect("an answer")
        .into_inner()
        .arrow_ipc
}

/// A filter on the last synthetic year.
pub fn year_filter() -> Vec<v1::Filter> {
    vec![filter("annee", &[&LAST_YEAR.to_string()])]
}
