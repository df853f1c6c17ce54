//! What the tests of the console and of the directors' mail need: a real SMTP server on
//! loopback (aiosmtpd), Debian's chromium driven through chromedriver (WebDriver), and plain
//! HTTP requests written by hand.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Set to `require` (as `.ci/run` does) to fail, instead of skipping, without aiosmtpd.
pub const SMTP_REQUIRE: &str = "CDG_SMTP_TESTS";
/// Set to `require` to fail, instead of skipping, without chromium and chromedriver.
pub const BROWSER_REQUIRE: &str = "CDG_BROWSER_TESTS";

fn skip(variable: &str, why: &str) {
    let why = format!("SKIPPED: {why}");
    assert_ne!(std::env::var(variable).as_deref(), Ok("require"), "{why}");
    println!("{why}");
}

/// An SMTP server on loopback that keeps every mail it takes (`tests/smtp/sink.py`).
pub struct Smtp {
    child: Child,
    pub port: u16,
    out: PathBuf,
}

impl Smtp {
    /// Whether aiosmtpd is there; skips (or fails under `CDG_SMTP_TESTS=require`) otherwise.
    pub fn available() -> bool {
        let ok = Command::new("python3")
            .args(["-c", "import aiosmtpd"])
            .output()
            .is_ok_and(|o| o.status.success());
        if !ok {
            skip(
                SMTP_REQUIRE,
                "no aiosmtpd (python3 -m pip install aiosmtpd)",
            );
        }
        ok
    }

    /// Starts the server on `port`, writing the mails under `out`.
    pub fn start(port: u16, out: &Path) -> Smtp {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("smtp/sink.py");
        let mut child = Command::new("python3")
            .arg(script)
            .args(["--port", &port.to_string(), "--out"])
            .arg(out)
            .stdout(Stdio::piped())
            .spawn()
            .expect("python3 runs the SMTP sink");
        let mut line = String::new();
        use std::io::BufRead;
        std::io::BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        assert_eq!(line.trim(), "ready", "the SMTP sink started");
        Smtp {
            child,
            port,
            out: out.to_path_buf(),
        }
    }

    /// The mails received so far, in order.
    pub fn mails(&self) -> Vec<Mail> {
        let mut files: Vec<(u64, PathBuf)> = std::fs::read_dir(&self.out)
            .map(|d| {
                d.filter_map(|e| e.ok().map(|e| e.path()))
                    .filter_map(|p| {
                        let n = p.file_stem()?.to_str()?.parse().ok()?;
                        (p.extension()? == "json").then_some((n, p))
                    })
                    .collect()
            })
            .unwrap_or_default();
        files.sort();
        files
            .iter()
            .map(|(_, p)| serde_json::from_slice(&std::fs::read(p).unwrap()).unwrap())
            .collect()
    }

    /// Waits until `ready` holds of the mails received (two minutes at most).
    pub async fn wait_for(&self, what: &str, ready: impl Fn(&[Mail]) -> bool) -> Vec<Mail> {
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            let mails = self.mails();
            if ready(&mails) {
                return mails;
            }
            assert!(
                Instant::now() < deadline,
                "no {what} after 2 minutes: {mails:#?}"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}

impl Drop for Smtp {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One mail as the SMTP server took it.
#[derive(Debug, Clone, serde::Deserialize)]
pub struct Mail {
    pub from: String,
    pub to: Vec<String>,
    pub subject: String,
    pub body: String,
}

/// chromedriver on loopback, driving a headless chromium of its own profile.
pub struct Browser {
    driver: Child,
    pub client: fantoccini::Client,
    _profile: tempfile::TempDir,
}

impl Browser {
    /// Starts chromedriver and a browser session; `None` (skipped) without them.
    pub async fn start() -> Option<Browser> {
        let found = ["chromedriver", "chromium"].iter().all(|b| {
            Command::new(b)
                .arg("--version")
                .output()
                .is_ok_and(|o| o.status.success())
        });
        if !found {
            skip(
                BROWSER_REQUIRE,
                "no chromium and chromedriver (apt-get install chromium chromium-driver)",
            );
            return None;
        }
        let port = crate::free_address().port();
        let driver = Command::new("chromedriver")
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver runs");
        let profile = tempfile::tempdir().unwrap();
        let mut caps = serde_json::Map::new();
        caps.insert(
            "goog:chromeOptions".into(),
            serde_json::json!({"args": [
                "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--no-first-run", "--disable-background-networking", "--disable-component-update",
                "--disable-sync", format!("--user-data-dir={}", profile.path().display()),
            ]}),
        );
        let url = format!("http://127.0.0.1:{port}");
        let deadline = Instant::now() + Duration::from_secs(60);
        let client = loop {
            let connector = hyper_util::client::legacy::connect::HttpConnector::new();
            match fantoccini::ClientBuilder::new(connector)
                .capabilities(caps.clone())
                .connect(&url)
                .await
            {
                Ok(c) => break c,
                Err(e) if Instant::now() < deadline => {
                    let _ = e;
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
                Err(e) => panic!("no browser session from chromedriver: {e}"),
            }
        };
        Some(Browser {
            driver,
            client,
            _profile: profile,
        })
    }

    /// Ends the session, then the driver.
    pub async fn close(mut self) {
        let _ = self.client.clone().close().await;
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

/// A plain-HTTP request by hand: the status code and the whole response.
pub async fn http(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> (u16, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    let mut request = format!("{method} {path} HTTP/1.1\r\nConnection: close\r\n");
    if !headers.iter().any(|(k, _)| k.eq_ignore_ascii_case("host")) {
        request.push_str(&format!("Host: {addr}\r\n"));
    }
    for (k, v) in headers {
        request.push_str(&format!("{k}: {v}\r\n"));
    }
    request.push_str(&format!("Content-Length: {}\r\n\r\n{body}", body.len()));
    s.write_all(request.as_bytes()).await.unwrap();
    let mut out = Vec::new();
    s.read_to_end(&mut out).await.unwrap();
    let out = String::from_utf8_lossy(&out).into_owned();
    let code = out
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    (code, out)
}
