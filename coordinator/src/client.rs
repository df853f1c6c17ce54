//! The `cdg` client's connection to the coordinator, with the identity of its user.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context;
use cdg_shared::cdg::Cdg;
use cdg_shared::identity::{Principal, Role};
use cdg_shared::proto::PROTOCOL_VERSION;
use cdg_shared::proto::v1::coordinator_service_client::CoordinatorServiceClient;
use cdg_shared::proto::v1::run_event::Event;
use cdg_shared::proto::v1::{
    AuditLogPage, AuditLogRequest, DecideStudyRequest, DiffuseStudyRequest, GetResultRequest,
    GetStudyRequest, NodeProgress, RunEvent, RunStudyRequest, SignedDecision, StudyResult,
    StudyStatus, SubmitStudyRequest, SubmitStudyResponse,
};
use cdg_shared::signing::{Decision, Signer};
use cdg_shared::study::Study;
use cdg_shared::tls::TlsFiles;
use serde::{Deserialize, Serialize};
use tonic::transport::Channel;

/// A key pair on disk.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct KeyPair {
    pub cert: PathBuf,
    pub key: PathBuf,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct NetworkNode {
    pub cdg: Cdg,
    pub address: String,
    pub cert: PathBuf,
    pub key: PathBuf,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct NetworkDirector {
    pub cdg: Cdg,
    pub cert: PathBuf,
    pub key: PathBuf,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct NetworkCoordinator {
    pub address: String,
    pub cert: PathBuf,
    pub key: PathBuf,
}

/// `network.json`: how to reach a running network and with which certificates.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Network {
    /// The federation CA certificate every member trusts.
    pub ca: PathBuf,
    /// The development CA's private key (to issue extra test certificates); absent for a
    /// production network.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_key: Option<PathBuf>,
    pub coordinator: NetworkCoordinator,
    pub nodes: Vec<NetworkNode>,
    pub directors: Vec<NetworkDirector>,
    pub charge_de_mission: KeyPair,
    /// The departmental référents (Art. 1 and 5), one per CDG.
    #[serde(default)]
    pub referents: Vec<NetworkDirector>,
}

impl Network {
    pub fn load(path: &Path) -> anyhow::Result<Network> {
        let text =
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        serde_json::from_str(&text)
            .with_context(|| format!("{} is not a network description", path.display()))
    }

    /// The certificate files of `who`: `charge-de-mission`, `director-<cdg>` or `referent-<cdg>`.
    pub fn identity(&self, who: &str) -> anyhow::Result<TlsFiles> {
        let files = |cert: &PathBuf, key: &PathBuf| TlsFiles {
            ca: self.ca.clone(),
            cert: cert.clone(),
            key: key.clone(),
        };
        if who == Role::ChargeDeMission.as_str() {
            return Ok(files(
                &self.charge_de_mission.cert,
                &self.charge_de_mission.key,
            ));
        }
        for (prefix, people) in [
            ("director-", &self.directors),
            ("referent-", &self.referents),
        ] {
            if let Some(code) = who.strip_prefix(prefix) {
                let cdg: Cdg = code.parse()?;
                if let Some(d) = people.iter().find(|d| d.cdg == cdg) {
                    return Ok(files(&d.cert, &d.key));
                }
            }
        }
        anyhow::bail!(
            "unknown identity {who:?}: expected charge-de-mission, director-<02|59|60|62|80> or \
             referent-<02|59|60|62|80>"
        )
    }
}

/// Reads a stream of run events to its end: progress to `on_progress`, the result assembled.
async fn collect(
    mut stream: tonic::Streaming<RunEvent>,
    mut on_progress: impl FnMut(&NodeProgress),
) -> Result<StudyResult, tonic::Status> {
    let mut assembler = crate::chunks::Assembler::default();
    while let Some(event) = stream.message().await? {
        match event.event {
            Some(Event::Progress(p)) => on_progress(&p),
            Some(other) => assembler.take(other).map_err(tonic::Status::data_loss)?,
            None => {}
        }
    }
    assembler.finish().ok_or_else(|| {
        tonic::Status::data_loss("the coordinator closed the stream without a result")
    })
}

/// A connected client of the coordinator.
pub struct CoordinatorClient {
    inner: CoordinatorServiceClient<Channel>,
}

impl CoordinatorClient {
    /// Connects to `url` (expecting the coordinator's identity) with `tls`.
    pub async fn connect(
        url: &str,
        tls: &TlsFiles,
        timeout: Duration,
    ) -> anyhow::Result<CoordinatorClient> {
        let endpoint = tls
            .client_endpoint(url, Principal::new(Role::Coordinator, Cdg::Nord))?
            .connect_timeout(Duration::from_secs(5))
            .timeout(timeout);
        let channel = endpoint
            .connect()
            .await
            .with_context(|| format!("cannot connect to the coordinator at {url}"))?;
        Ok(CoordinatorClient {
            inner: CoordinatorServiceClient::new(channel)
                .max_decoding_message_size(64 * 1024 * 1024),
        })
    }

    pub async fn submit(
        &mut self,
        study_toml: String,
    ) -> Result<SubmitStudyResponse, tonic::Status> {
        let req = SubmitStudyRequest {
            protocol_version: PROTOCOL_VERSION,
            study_toml,
        };
        Ok(self.inner.submit_study(req).await?.into_inner())
    }

    pub async fn run(&mut self, study_id: &str) -> Result<StudyResult, tonic::Status> {
        let req = RunStudyRequest {
            protocol_version: PROTOCOL_VERSION,
            study_id: study_id.to_string(),
        };
        Ok(self.inner.run_study(req).await?.into_inner())
    }

    /// Runs the study, handing each node's progress to `on_progress` as it comes; the result
    /// arrives in chunks and is put back together. Dropping the future cancels the run.
    pub async fn watch_run(
        &mut self,
        study_id: &str,
        on_progress: impl FnMut(&NodeProgress),
    ) -> Result<StudyResult, tonic::Status> {
        let req = RunStudyRequest {
            protocol_version: PROTOCOL_VERSION,
            study_id: study_id.to_string(),
        };
        let stream = self.inner.watch_study_run(req).await?.into_inner();
        collect(stream, on_progress).await
    }

    /// A kept result, streamed in chunks (however large it is).
    pub async fn stream_result(&mut self, study_id: &str) -> Result<StudyResult, tonic::Status> {
        let req = GetResultRequest {
            protocol_version: PROTOCOL_VERSION,
            study_id: study_id.to_string(),
        };
        let stream = self.inner.stream_result(req).await?.into_inner();
        collect(stream, |_| {}).await
    }

    pub async fn result(&mut self, study_id: &str) -> Result<StudyResult, tonic::Status> {
        let req = GetResultRequest {
            protocol_version: PROTOCOL_VERSION,
            study_id: study_id.to_string(),
        };
        Ok(self.inner.get_result(req).await?.into_inner())
    }

    /// The coordinator's audit log and checkpoints in pages, from entry `from_seq` on
    /// (directors).
    pub async fn audit_log(
        &mut self,
        from_seq: u64,
    ) -> Result<tonic::Streaming<AuditLogPage>, tonic::Status> {
        let req = AuditLogRequest {
            protocol_version: PROTOCOL_VERSION,
            from_seq,
            max_entries: 0,
        };
        Ok(self.inner.get_audit_log(req).await?.into_inner())
    }

    /// Records that a completed study's results were diffused.
    pub async fn diffuse(
        &mut self,
        study_id: &str,
        note: &str,
    ) -> Result<StudyStatus, tonic::Status> {
        let req = DiffuseStudyRequest {
            protocol_version: PROTOCOL_VERSION,
            study_id: study_id.to_string(),
            note: note.to_string(),
        };
        Ok(self.inner.diffuse_study(req).await?.into_inner())
    }

    /// A study with its decisions and state.
    pub async fn study(&mut self, study_id: &str) -> Result<StudyStatus, tonic::Status> {
        let req = GetStudyRequest {
            protocol_version: PROTOCOL_VERSION,
            study_id: study_id.to_string(),
        };
        Ok(self.inner.get_study(req).await?.into_inner())
    }

    /// The policy each node publishes, as the coordinator asks it now.
    pub async fn node_policies(
        &mut self,
    ) -> Result<Vec<cdg_shared::proto::v1::NodeDescription>, tonic::Status> {
        let req = cdg_shared::proto::v1::DescribeNodesRequest {
            protocol_version: PROTOCOL_VERSION,
        };
        Ok(self.inner.describe_nodes(req).await?.into_inner().nodes)
    }

    /// Every study, newest first.
    pub async fn studies(&mut self) -> Result<Vec<StudyStatus>, tonic::Status> {
        let req = cdg_shared::proto::v1::ListStudiesRequest {
            protocol_version: PROTOCOL_VERSION,
        };
        Ok(self.inner.list_studies(req).await?.into_inner().studies)
    }

    /// The notices mailed to the directors, newest first. Directors.
    pub async fn notices(
        &mut self,
    ) -> Result<cdg_shared::proto::v1::ListNoticesResponse, tonic::Status> {
        let req = cdg_shared::proto::v1::ListNoticesRequest {
            protocol_version: PROTOCOL_VERSION,
        };
        Ok(self.inner.list_notices(req).await?.into_inner())
    }

    /// Sends a signed decision as is (see [`CoordinatorClient::decide`] to sign one).
    pub async fn send_decision(
        &mut self,
        study_id: &str,
        decision: SignedDecision,
    ) -> Result<StudyStatus, tonic::Status> {
        let req = DecideStudyRequest {
            protocol_version: PROTOCOL_VERSION,
            study_id: study_id.to_string(),
            decision: Some(decision),
        };
        Ok(self.inner.decide_study(req).await?.into_inner())
    }

    /// Fetches the study, checks that the digest the coordinator states is that of the study's
    /// content (so one signs what one has read), signs `decision` with the key of `tls` and
    /// sends it.
    pub async fn decide(
        &mut self,
        tls: &TlsFiles,
        study_id: &str,
        decision: Decision,
        note: &str,
    ) -> anyhow::Result<StudyStatus> {
        let status = self.study(study_id).await?;
        let study: Study = serde_json::from_str(&status.study_json)
            .context("the coordinator sent an unreadable study")?;
        anyhow::ensure!(
            study.digest() == status.digest,
            "the coordinator states digest {} for study {study_id}, but its content has digest {}: \
             not signing",
            status.digest,
            study.digest()
        );
        let signed = Signer::from_files(tls)?.decide(&status.digest, decision, note)?;
        Ok(self.send_decision(study_id, signed).await?)
    }
}

/// Runs a command-line tool's work on a new runtime (after the crypto provider and the logs are
/// set up) and turns its outcome into the exit code: 1 with the error, a call's failure
/// explained in plain words.
pub fn run_command<F: std::future::Future<Output = anyhow::Result<()>>>(
    work: impl FnOnce() -> F,
) -> std::process::ExitCode {
    use std::process::ExitCode;
    cdg_shared::tls::install_crypto_provider();
    cdg_shared::logging::init("warn");
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(work()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            match e.downcast_ref::<tonic::Status>() {
                Some(status) => eprintln!("error: {}", explain(status)),
                None => eprintln!("error: {e:#}"),
            }
            ExitCode::FAILURE
        }
    }
}

/// What the user of `cdg` reads when a call fails: the coordinator's own message, or, when the
/// connection itself broke (the coordinator restarted, the network was cut), a sentence that
/// says so instead of the transport's words, with those kept at the end for the IT team.
pub fn explain(status: &tonic::Status) -> String {
    if connection_broken(status) {
        return format!(
            "the connection to the coordinator was cut before its answer came (it may have \
             restarted, or the network failed). Run the same command again in a moment: a study \
             run cut short is recorded as interrupted and can be run again, and nothing the \
             coordinator had acknowledged is lost. (detail: {:?}: {})",
            status.code(),
            status.message().chars().take(300).collect::<String>()
        );
    }
    format!("{:?}: {}", status.code(), status.message())
}

/// Whether `status` reports a broken connection rather than an answer of the coordinator:
/// tonic gives those the codes below with a transport error as source, or its own fixed words
/// ("h2 protocol error", "transport error", "error reading a body") when it keeps none.
fn connection_broken(status: &tonic::Status) -> bool {
    use tonic::Code;
    if !matches!(
        status.code(),
        Code::Unknown | Code::Unavailable | Code::Internal | Code::Cancelled
    ) {
        return false;
    }
    let mut source = std::error::Error::source(status);
    while let Some(e) = source {
        if e.is::<std::io::Error>() || e.is::<tonic::transport::Error>() {
            return true;
        }
        source = e.source();
    }
    let message = status.message();
    [
        "h2 protocol error",
        "transport error",
        "error reading a body",
    ]
    .iter()
    .any(|words| message.starts_with(words))
}
