//! Nodes and coordinators run as real processes (`cdg-node serve`, `cdg-coordinator serve`),
//! to be killed with SIGKILL, commands run as an operator runs them, and fake nodes that
//! misbehave on purpose (slow, or answering another schema).

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use cdg_node::config::{Avenant, NodeConfig};
use cdg_shared::cdg::Cdg;
use cdg_shared::identity::{Principal, Role};
use cdg_shared::proto::v1;
use cdg_shared::proto::v1::node_service_server::{NodeService, NodeServiceServer};
use tonic::{Request, Response, Status};

use crate::{Running, binary, identity};

/// A `cdg-node serve` process; killed when dropped.
pub struct NodeProcess {
    pub cdg: Cdg,
    pub url: String,
    child: Child,
}

impl NodeProcess {
    /// Writes `config` as `<dir>/node-XX.toml` (with an avenant, so that the real date stays
    /// inside the convention) and starts the node on it.
    pub fn start(dir: &Path, config: NodeConfig) -> NodeProcess {
        NodeProcess::start_with(dir, config, Command::new(binary("cdg-node")))
    }

    /// [`NodeProcess::start`] with `command` as the `cdg-node` program (in a network namespace,
    /// for instance); its arguments follow.
    pub fn start_with(dir: &Path, mut config: NodeConfig, mut command: Command) -> NodeProcess {
        config.policy.convention.avenants.push(Avenant {
            end: "2099-12-31".into(),
            reference: "tests".into(),
        });
        let code = config.cdg.code();
        let path = dir.join(format!("node-{code}.toml"));
        std::fs::write(
            &path,
            toml::to_string(&config).expect("node config as TOML"),
        )
        .expect("writing the node config");
        let ready = dir.join(format!("node-{code}.ready"));
        let _ = std::fs::remove_file(&ready);
        let child = command
            .args(["serve", "--config"])
            .arg(&path)
            .arg("--ready-file")
            .arg(&ready)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("starting cdg-node");
        let start = Instant::now();
        while !ready.is_file() {
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "cdg-node {code} did not start"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        let addr = std::fs::read_to_string(&ready).expect("ready file");
        NodeProcess {
            cdg: config.cdg,
            url: format!("https://{}", addr.trim()),
            child,
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// SIGKILL, and wait for the process to be gone.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for NodeProcess {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Starts `cdg-coordinator serve --config config` and returns it with its URL once it listens
/// (its address written to `ready`).
pub fn start_coordinator_process(config: &Path, ready: &Path) -> (Child, String) {
    let _ = std::fs::remove_file(ready);
    let child = Command::new(binary("cdg-coordinator"))
        .args(["serve", "--config"])
        .arg(config)
        .arg("--ready-file")
        .arg(ready)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("starting cdg-coordinator");
    let start = Instant::now();
    while !ready.is_file() {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "coordinator did not start"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let addr = std::fs::read_to_string(ready).expect("ready file");
    (child, format!("https://{}", addr.trim()))
}

/// Writes `config` as `<dir>/coordinator.toml` and returns its path.
pub fn write_coordinator_config(
    dir: &Path,
    config: &cdg_coordinator::config::CoordinatorConfig,
) -> std::path::PathBuf {
    let path = dir.join("coordinator.toml");
    std::fs::write(
        &path,
        toml::to_string(config).expect("coordinator config as TOML"),
    )
    .expect("writing the coordinator config");
    path
}

/// Runs the binary `name` with `args`, standard input empty (not a terminal), as an operator
/// would; returns whether it succeeded and what it printed (standard output, then error).
pub fn run_binary<S: AsRef<std::ffi::OsStr>>(
    name: &str,
    args: impl IntoIterator<Item = S>,
) -> (bool, String) {
    let out = Command::new(binary(name))
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("running {name}: {e}"));
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr),
    )
}

/// SIGTERM, and waits for a clean exit.
pub fn stop(mut child: Child) {
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .expect("signalling");
    assert!(child.wait().expect("waiting").success(), "a clean stop");
}

/// How a fake node misbehaves on Execute.
#[derive(Clone, Copy)]
pub enum Misbehaviour {
    /// Answers nothing for this long.
    Slow(Duration),
    /// Answers at once, with a table of other columns.
    OtherSchema,
    /// Answers at once, from a catalogue (version 2027.01) where every dataset is defined
    /// otherwise: a node of another release.
    OtherCatalogue,
}

/// A fake node with a real node certificate.
pub struct FakeNode {
    pub server: Running,
    /// Set when an Execute arrives.
    pub received: Arc<AtomicBool>,
    /// Set when an Execute was abandoned by its caller before it was answered.
    pub abandoned: Arc<AtomicBool>,
}

struct Fake {
    misbehaviour: Misbehaviour,
    received: Arc<AtomicBool>,
    abandoned: Arc<AtomicBool>,
}

/// Sets its flag if dropped while armed.
struct Watch(Arc<AtomicBool>, bool);

impl Drop for Watch {
    fn drop(&mut self) {
        if self.1 {
            self.0.store(true, Ordering::SeqCst);
        }
    }
}

#[tonic::async_trait]
impl NodeService for Fake {
    async fn describe(
        &self,
        _: Request<v1::DescribeRequest>,
    ) -> Result<Response<v1::DescribeResponse>, Status> {
        Err(Status::unimplemented("fake node"))
    }

    async fn execute(
        &self,
        _: Request<v1::ExecuteRequest>,
    ) -> Result<Response<v1::ExecuteResponse>, Status> {
        self.received.store(true, Ordering::SeqCst);
        match self.misbehaviour {
            Misbehaviour::Slow(pause) => {
                let mut watch = Watch(self.abandoned.clone(), true);
                tokio::time::sleep(pause).await;
                watch.1 = false;
                Err(Status::unavailable("too late anyway"))
            }
            Misbehaviour::OtherCatalogue => {
                let mut catalogue = cdg_shared::catalogue::published();
                catalogue.version = "2027.01".into();
                for d in &mut catalogue.datasets {
                    d.digest = format!("{:0>64}", &d.name);
                }
                Ok(Response::new(v1::ExecuteResponse {
                    catalogue: Some(catalogue),
                    ..Default::default()
                }))
            }
            Misbehaviour::OtherSchema => {
                let schema = Arc::new(arrow::datatypes::Schema::new(vec![
                    arrow::datatypes::Field::new("autre", arrow::datatypes::DataType::Utf8, false),
                ]));
                let batch = arrow::array::RecordBatch::try_new(
                    schema.clone(),
                    vec![Arc::new(arrow::array::StringArray::from(vec!["x"]))],
                )
                .expect("a batch");
                let arrow_ipc = cdg_shared::arrow_ipc::encode(&schema, &[batch]).expect("IPC");
                Ok(Response::new(v1::ExecuteResponse {
                    arrow_ipc,
                    catalogue: Some(cdg_shared::catalogue::published()),
                    ..Default::default()
                }))
            }
        }
    }

    type GetAuditLogStream = cdg_shared::audit::PageStream;

    async fn get_audit_log(
        &self,
        _: Request<v1::AuditLogRequest>,
    ) -> Result<Response<Self::GetAuditLogStream>, Status> {
        Err(Status::unimplemented("fake node"))
    }

    async fn secure_sum_offer(
        &self,
        _: Request<v1::SecureSumOfferRequest>,
    ) -> Result<Response<v1::SecureSumOfferResponse>, Status> {
        Err(Status::unimplemented("fake node"))
    }

    async fn secure_sum_contribute(
        &self,
        _: Request<v1::SecureSumContributeRequest>,
    ) -> Result<Response<v1::SecureSumContributeResponse>, Status> {
        Err(Status::unimplemented("fake node"))
    }
}

/// Serves a fake node of `cdg` in-process, with that node's certificate from `pki`.
pub async fn fake_node(
    pki: &cdg_certs_dev::PkiLayout,
    cdg: Cdg,
    misbehaviour: Misbehaviour,
) -> FakeNode {
    let tls = identity(pki, Principal::new(Role::Node, cdg));
    let (received, abandoned) = (Arc::default(), Arc::default());
    let service = NodeServiceServer::new(Fake {
        misbehaviour,
        received: Arc::clone(&received),
        abandoned: Arc::clone(&abandoned),
    });
    let server = serve_node(tls, service).await;
    FakeNode {
        server,
        received,
        abandoned,
    }
}

/// Serves a node service on loopback with the node certificate `tls` (fakes and relays).
pub(crate) async fn serve_node<S: NodeService>(
    tls: cdg_shared::tls::TlsFiles,
    service: NodeServiceServer<S>,
) -> Running {
    crate::serve(move |listener, stop| async move {
        let (_, mut server) =
            cdg_shared::serving::mtls_server(&tls, Default::default(), |_| Ok(()))?;
        server
            .add_service(service)
            .serve_with_incoming_shutdown(cdg_shared::serving::incoming(listener), stop)
            .await?;
        Ok(())
    })
    .await
}
