//! A userspace wire between two tun devices, for kernels without `netem`: every IP packet read
//! from one device is written to the other after a fixed delay, unless the wire drops it (at
//! random, or every packet while cut). The drops happen between the two hosts' devices, where
//! neither TCP stack sees them, as on a real link.

use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::AsRawFd;
use std::os::unix::fs::OpenOptionsExt;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::time::Duration;

use nix::libc;
use tokio::io::unix::AsyncFd;
use tokio::task::JoinHandle;
use tokio::time::Instant;

/// Opens a new layer-3 tun device named `name` (packets without any header); it disappears
/// when the file is closed. Fails with `EBUSY` if a device of that name already exists.
pub fn tun(name: &str) -> io::Result<File> {
    if name.len() >= libc::IFNAMSIZ {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{name:?} is longer than an interface name may be"),
        ));
    }
    let file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .custom_flags(libc::O_NONBLOCK)
        .open("/dev/net/tun")?;
    create_interface(&file, name)?;
    Ok(file)
}

/// `TUNSETIFF`: makes `file` the queue of a new tun interface `name` (fails if it exists).
#[allow(unsafe_code)]
fn create_interface(file: &File, name: &str) -> io::Result<()> {
    let flags = libc::IFF_TUN | libc::IFF_NO_PI | libc::IFF_TUN_EXCL;
    let mut request = libc::ifreq {
        ifr_name: [0; libc::IFNAMSIZ],
        ifr_ifru: libc::__c_anonymous_ifr_ifru {
            ifru_flags: flags as libc::c_short,
        },
    };
    for (to, from) in request.ifr_name.iter_mut().zip(name.bytes()) {
        *to = from as libc::c_char;
    }
    // SAFETY: TUNSETIFF reads one `ifreq` (and writes the chosen name back into it), which
    // lives until the call returns; the descriptor is open, owned by `file`.
    let done = unsafe { libc::ioctl(file.as_raw_fd(), libc::TUNSETIFF, &mut request) };
    if done < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

/// `file` watched by the Tokio runtime, to be read when a packet is ready.
#[allow(unsafe_code)]
fn registered(file: File) -> io::Result<AsyncFd<File>> {
    // SAFETY: the `AsyncFd` owns `file`, so its descriptor stays open and the same until the
    // `AsyncFd` is dropped; nothing here replaces the file through `get_mut`.
    unsafe { AsyncFd::register(file) }.map_err(io::Error::from)
}

/// What the wire does to packets, changed while it runs; and what it did.
#[derive(Default)]
struct Shape {
    delay_micros: AtomicU64,
    loss_percent: AtomicU32,
    cut: AtomicBool,
    carried: AtomicU64,
    dropped: AtomicU64,
}

/// Packets carried both ways between two tun devices; stops (and closes them) when dropped.
pub struct Wire {
    shape: Arc<Shape>,
    tasks: Vec<JoinHandle<()>>,
}

impl Wire {
    /// Carries packets between `a` and `b`, untouched until [`Wire::set`] or [`Wire::cut`], on
    /// the current Tokio runtime.
    pub fn start(a: File, b: File) -> io::Result<Wire> {
        let (a, b) = (Arc::new(registered(a)?), Arc::new(registered(b)?));
        let shape = Arc::new(Shape::default());
        let tasks = vec![
            tokio::spawn(carry(Arc::clone(&a), Arc::clone(&b), Arc::clone(&shape), 1)),
            tokio::spawn(carry(b, a, Arc::clone(&shape), 2)),
        ];
        Ok(Wire { shape, tasks })
    }

    /// Each packet held `delay`, and `loss_percent` % of them dropped, in each direction.
    pub fn set(&self, delay: Duration, loss_percent: u32) {
        let micros = u64::try_from(delay.as_micros()).unwrap_or(u64::MAX);
        self.shape.delay_micros.store(micros, Ordering::SeqCst);
        self.shape
            .loss_percent
            .store(loss_percent.min(100), Ordering::SeqCst);
    }

    /// While `cut`, every packet is dropped, both ways.
    pub fn cut(&self, cut: bool) {
        self.shape.cut.store(cut, Ordering::SeqCst);
    }

    /// Packets carried and packets dropped so far, both directions together.
    pub fn counts(&self) -> (u64, u64) {
        (
            self.shape.carried.load(Ordering::SeqCst),
            self.shape.dropped.load(Ordering::SeqCst),
        )
    }
}

impl Drop for Wire {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

/// Reads packets from `from` and writes each to `to` when its delay is over, in order.
async fn carry(from: Arc<AsyncFd<File>>, to: Arc<AsyncFd<File>>, shape: Arc<Shape>, salt: u64) {
    let (queue, mut due) = tokio::sync::mpsc::unbounded_channel::<(Instant, Vec<u8>)>();
    let deliver = async move {
        while let Some((at, packet)) = due.recv().await {
            tokio::time::sleep_until(at).await;
            // A device that is down or gone loses the packet, as a link would.
            let _ = to.get_ref().write(&packet);
        }
    };
    let read = async move {
        let mut random = Random::seeded(salt);
        let mut buf = vec![0u8; 1 << 16];
        loop {
            let Ok(mut ready) = from.readable().await else {
                return;
            };
            let n = match ready.try_io(|f| f.get_ref().read(&mut buf)) {
                Ok(Ok(n)) => n,
                // The device is gone: nothing more will come.
                Ok(Err(_)) => return,
                Err(_would_block) => continue,
            };
            let loss = shape.loss_percent.load(Ordering::SeqCst);
            if shape.cut.load(Ordering::SeqCst) || random.below_100() < loss {
                shape.dropped.fetch_add(1, Ordering::SeqCst);
                continue;
            }
            shape.carried.fetch_add(1, Ordering::SeqCst);
            let delay = Duration::from_micros(shape.delay_micros.load(Ordering::SeqCst));
            if queue
                .send((Instant::now() + delay, buf[..n].to_vec()))
                .is_err()
            {
                return;
            }
        }
    };
    tokio::join!(read, deliver);
}

/// xorshift64: which packets a lossy wire drops needs no better randomness.
struct Random(u64);

impl Random {
    fn seeded(salt: u64) -> Random {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos().into());
        Random((nanos ^ salt.wrapping_mul(0x9e37_79b9_7f4a_7c15)) | 1)
    }

    fn below_100(&mut self) -> u32 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % 100) as u32
    }
}
