//! Sites in network namespaces of their own, joined to the test's (root) namespace by one link
//! each, that a test slows down, makes lossy or cuts: the network between the coordinator and
//! the nodes. `tc netem` shapes the link where the kernel has it; elsewhere the link is a pair of
//! tun devices joined by the test's own [`Wire`]. Each test prints which.
//!
//! Addresses are 10.201.N.1 (root side) and 10.201.N.2 (the node) on link `cdgtN`, which joins
//! only these two: nothing is routed anywhere else. Namespaces are named after the test process
//! (`cdgt-<pid>-<k>`) and deleted when dropped; those of a test process that died are deleted
//! by the next one.

mod wire;

use std::net::Ipv4Addr;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, Once, OnceLock};
use std::time::Duration;

use nix::libc;

pub use wire::Wire;

/// Set to `require` (as `.ci/run` does) to fail, instead of skipping, where namespaces cannot
/// be created or the network cannot be emulated.
pub const REQUIRE: &str = "CDG_NETNS_TESTS";

/// Prefix of every namespace and interface the tests create.
const PREFIX: &str = "cdgt";
/// Links `cdgt1` to `cdgt250`, on 10.201.1.0/30 to 10.201.250.0/30.
const LINKS: std::ops::RangeInclusive<u8> = 1..=250;

/// How this machine emulates latency, loss and partitions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Emulation {
    /// `tc netem` on both ends of a veth pair.
    Netem,
    /// No netem in this kernel (`tc` said why): tun devices joined by the test's [`Wire`].
    Wire { netem: String },
}

impl std::fmt::Display for Emulation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Emulation::Netem => f.write_str(
                "veth pairs; latency and loss by `tc netem` on both ends; a partition is \
                 `netem loss 100%` on both ends until it heals",
            ),
            Emulation::Wire { netem } => write!(
                f,
                "no netem in this kernel ({netem}): each link is two tun devices joined by the \
                 test's userspace wire, which holds every packet for the latency, drops the lost \
                 ones at random, and drops them all during a partition"
            ),
        }
    }
}

/// The namespaces of this machine and how their links are shaped.
pub struct Network {
    pub emulation: Emulation,
}

impl Network {
    /// The network of this machine, after printing how it is emulated; or `None`, after
    /// printing `SKIPPED: ...` and why, where namespaces cannot be created (no privileges, no
    /// `ip`) or the network cannot be emulated. With `CDG_NETNS_TESTS=require`, that panics.
    pub fn or_skip() -> Option<Network> {
        static FOUND: OnceLock<Result<Emulation, String>> = OnceLock::new();
        match FOUND.get_or_init(detect) {
            Ok(emulation) => {
                eprintln!("network emulation: {emulation}");
                Some(Network {
                    emulation: emulation.clone(),
                })
            }
            Err(why) => {
                let line = format!("SKIPPED: {why}");
                if std::env::var(REQUIRE).as_deref() == Ok("require") {
                    panic!("{line} ({REQUIRE}=require: this machine must run the network tests)");
                }
                eprintln!("{line}");
                None
            }
        }
    }

    /// A new site with a clear link; must be called on a Tokio runtime (the wire runs there).
    pub fn site(&self) -> Site {
        let namespace = Namespace::create().unwrap_or_else(|e| panic!("{e}"));
        for n in LINKS {
            let made = match self.emulation {
                Emulation::Netem => veth(&namespace, n),
                Emulation::Wire { .. } => tun_pair(&namespace, n).map(|w| w.map(Link::Wire)),
            };
            match made {
                Ok(Some(link)) => {
                    return Site {
                        address: node_address(n),
                        link,
                        namespace,
                    };
                }
                Ok(None) => continue,
                Err(e) => panic!("creating the link of {}: {e}", namespace.name),
            }
        }
        panic!("links {PREFIX}1 to {PREFIX}250 all exist: delete those of dead test processes")
    }
}

/// Which emulation works here, trying it in a namespace of its own.
fn detect() -> Result<Emulation, String> {
    let probe =
        Namespace::create().map_err(|e| format!("cannot create network namespaces: {e}"))?;
    probe
        .ip(&["link", "set", "lo", "up"])
        .map_err(|e| format!("cannot use network namespaces: {e}"))?;
    let netem = run(
        "tc",
        &[
            "-n",
            &probe.name,
            "qdisc",
            "add",
            "dev",
            "lo",
            "root",
            "netem",
            "delay",
            "1ms",
        ],
    );
    let Err(netem) = netem else {
        return Ok(Emulation::Netem);
    };
    let name = format!("{PREFIX}p{}", std::process::id());
    wire::tun(&name).map_err(|e| {
        format!(
            "cannot emulate the network: no netem in this kernel ({netem}) and no tun device \
             ({e}; /dev/net/tun needs CONFIG_TUN)"
        )
    })?;
    Ok(Emulation::Wire { netem })
}

/// A node's network namespace and its link to the root namespace.
pub struct Site {
    /// The node's address, inside the namespace.
    pub address: Ipv4Addr,
    link: Link,
    namespace: Namespace,
}

enum Link {
    Veth {
        host: String,
        node: String,
        /// Latency and loss, restored when a partition heals.
        shape: Mutex<(Duration, u32)>,
    },
    Wire(Wire),
}

impl Site {
    /// `program` run inside the site's namespace.
    pub fn command(&self, program: &Path) -> Command {
        let mut command = Command::new("ip");
        command
            .args(["netns", "exec", &self.namespace.name])
            .arg(program);
        command
    }

    /// Every packet held `latency` and `loss_percent` % of them lost, each way.
    pub fn slow_down(&self, latency: Duration, loss_percent: u32) {
        match &self.link {
            Link::Wire(wire) => wire.set(latency, loss_percent),
            Link::Veth { shape, .. } => {
                *shape.lock().expect("the link's shape") = (latency, loss_percent);
                self.netem(&netem_shape(latency, loss_percent));
            }
        }
    }

    /// A partition: every packet lost, both ways, until [`Site::heal`].
    pub fn cut(&self) {
        match &self.link {
            Link::Wire(wire) => wire.cut(true),
            Link::Veth { .. } => self.netem(&["loss".into(), "100%".into()]),
        }
    }

    /// The end of a partition: the link is as it was before.
    pub fn heal(&self) {
        match &self.link {
            Link::Wire(wire) => wire.cut(false),
            Link::Veth { shape, .. } => {
                let (latency, loss) = *shape.lock().expect("the link's shape");
                self.netem(&netem_shape(latency, loss));
            }
        }
    }

    /// What the link did to packets, for the test's output.
    pub fn counters(&self) -> String {
        match &self.link {
            Link::Wire(wire) => {
                let (carried, dropped) = wire.counts();
                format!("the wire carried {carried} packets and dropped {dropped}")
            }
            Link::Veth { host, node, .. } => {
                let root = run("tc", &["-s", "qdisc", "show", "dev", host]);
                let inside = self.namespace.tc(&["-s", "qdisc", "show", "dev", node]);
                format!(
                    "netem, root side: {}; node side: {}",
                    root.unwrap_or_else(|e| e).trim(),
                    inside.unwrap_or_else(|e| e).trim()
                )
            }
        }
    }

    /// `tc qdisc replace ... root netem <args>` on both ends of the veth pair.
    fn netem(&self, args: &[String]) {
        let Link::Veth { host, node, .. } = &self.link else {
            unreachable!("netem shapes veth pairs only")
        };
        for (device, inside) in [(host, false), (node, true)] {
            let mut all = vec!["qdisc", "replace", "dev", device, "root", "netem"];
            all.extend(args.iter().map(String::as_str));
            let done = if inside {
                self.namespace.tc(&all)
            } else {
                run("tc", &all)
            };
            done.unwrap_or_else(|e| panic!("shaping {device}: {e}"));
        }
    }
}

fn netem_shape(latency: Duration, loss_percent: u32) -> Vec<String> {
    vec![
        "delay".into(),
        format!("{}us", latency.as_micros()),
        "loss".into(),
        format!("{loss_percent}%"),
    ]
}

fn host_address(n: u8) -> Ipv4Addr {
    Ipv4Addr::new(10, 201, n, 1)
}

fn node_address(n: u8) -> Ipv4Addr {
    Ipv4Addr::new(10, 201, n, 2)
}

/// Link `cdgt<n>`, a veth pair into `namespace`; `None` if another test process has it.
fn veth(namespace: &Namespace, n: u8) -> Result<Option<Link>, String> {
    let (host, node) = (format!("{PREFIX}{n}"), format!("{PREFIX}{n}n"));
    let made = run(
        "ip",
        &[
            "link",
            "add",
            &host,
            "type",
            "veth",
            "peer",
            "name",
            &node,
            "netns",
            &namespace.name,
        ],
    );
    if let Err(e) = made {
        return if interface_exists(&host) {
            Ok(None)
        } else {
            Err(e)
        };
    }
    run(
        "ip",
        &[
            "addr",
            "add",
            &format!("{}/30", host_address(n)),
            "dev",
            &host,
        ],
    )?;
    run("ip", &["link", "set", &host, "up"])?;
    let inside = format!("{}/30", node_address(n));
    namespace.ip(&["addr", "add", &inside, "dev", &node])?;
    namespace.ip(&["link", "set", &node, "up"])?;
    namespace.ip(&["link", "set", "lo", "up"])?;
    Ok(Some(Link::Veth {
        host,
        node,
        shape: Mutex::new((Duration::ZERO, 0)),
    }))
}

/// Link `cdgt<n>`, a tun device here and one in `namespace`, joined by a wire; `None` if
/// another test process has it.
fn tun_pair(namespace: &Namespace, n: u8) -> Result<Option<Wire>, String> {
    let (host, node) = (format!("{PREFIX}{n}"), format!("{PREFIX}{n}n"));
    let host_end = match wire::tun(&host) {
        Ok(file) => file,
        Err(e) if e.raw_os_error() == Some(libc::EBUSY) => return Ok(None),
        Err(e) => return Err(format!("creating tun device {host}: {e}")),
    };
    let node_end = wire::tun(&node).map_err(|e| format!("creating tun device {node}: {e}"))?;
    let wire = Wire::start(host_end, node_end).map_err(|e| format!("starting the wire: {e}"))?;
    run("ip", &["link", "set", &node, "netns", &namespace.name])?;
    let (here, there) = (host_address(n).to_string(), node_address(n).to_string());
    run("ip", &["addr", "add", &here, "peer", &there, "dev", &host])?;
    run("ip", &["link", "set", &host, "up"])?;
    namespace.ip(&["addr", "add", &there, "peer", &here, "dev", &node])?;
    namespace.ip(&["link", "set", &node, "up"])?;
    namespace.ip(&["link", "set", "lo", "up"])?;
    Ok(Some(wire))
}

fn interface_exists(name: &str) -> bool {
    Path::new("/sys/class/net").join(name).exists()
}

/// A named network namespace, deleted when dropped (with the links inside it).
struct Namespace {
    name: String,
}

impl Namespace {
    fn create() -> Result<Namespace, String> {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        remove_stale();
        let k = NEXT.fetch_add(1, Ordering::SeqCst);
        let name = format!("{PREFIX}-{}-{k}", std::process::id());
        run("ip", &["netns", "add", &name])?;
        Ok(Namespace { name })
    }

    fn ip(&self, args: &[&str]) -> Result<String, String> {
        let mut all = vec!["-n", &self.name];
        all.extend_from_slice(args);
        run("ip", &all)
    }

    fn tc(&self, args: &[&str]) -> Result<String, String> {
        let mut all = vec!["-n", &self.name];
        all.extend_from_slice(args);
        run("tc", &all)
    }
}

impl Drop for Namespace {
    fn drop(&mut self) {
        if let Err(e) = run("ip", &["netns", "del", &self.name]) {
            eprintln!("leaving network namespace {}: {e}", self.name);
        }
    }
}

/// Deletes the namespaces of test processes that are gone (or of an earlier process that had
/// this one's id), after killing what they left running inside: once per process.
fn remove_stale() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let Ok(list) = run("ip", &["netns", "list"]) else {
            return;
        };
        let me = std::process::id();
        for name in list.lines().filter_map(|l| l.split_whitespace().next()) {
            let Some(pid) = name
                .strip_prefix(PREFIX)
                .and_then(|rest| rest.strip_prefix('-'))
                .and_then(|rest| rest.split('-').next())
                .and_then(|pid| pid.parse::<u32>().ok())
            else {
                continue;
            };
            if pid != me && Path::new("/proc").join(pid.to_string()).exists() {
                continue;
            }
            if let Ok(pids) = run("ip", &["netns", "pids", name]) {
                for p in pids
                    .split_whitespace()
                    .filter_map(|p| p.parse::<i32>().ok())
                {
                    let pid = nix::unistd::Pid::from_raw(p);
                    let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGKILL);
                }
            }
            eprintln!("deleting network namespace {name}, left by test process {pid}");
            let _ = run("ip", &["netns", "del", name]);
        }
    });
}

/// Runs `program args`: its standard output, or the command and what it said on failure.
fn run(program: &str, args: &[&str]) -> Result<String, String> {
    let out = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run `{program}` ({e}): install iproute2"))?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(format!(
            "`{program} {}` failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}
