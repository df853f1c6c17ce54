//! The `cdg-dev demo` command, run as a user would: separate processes, real ports, real files.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use cdg_tests::binary;

#[test]
fn demo_runs_a_study_end_to_end_and_exits_zero() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(binary("cdg-dev"))
        .args(["demo", "--workdir"])
        .arg(dir.path())
        .args(["--scale", "0.05", "--years", "2023-2024"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "demo failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for expected in [
        "Pyramide des âges",
        "Effectifs au 31/12/2024 par catégorie et filière",
        "Part des contractuels",
        "Hauts-de-France",
        "network stopped",
    ] {
        assert!(
            stdout.contains(expected),
            "missing {expected:?} in:\n{stdout}"
        );
    }
    assert_eq!(stdout.matches("a répondu").count(), 5, "{stdout}");
    // The nodes' logs are plain text a log reader can grep: one line per answer, no colours.
    let log = std::fs::read_to_string(dir.path().join("logs/node-62.log")).unwrap();
    assert!(log.contains("query answered"), "{log}");
    assert!(
        !log.contains('\u{1b}'),
        "terminal colours in a log file:\n{log}"
    );
    // Running it again reuses the certificates instead of overwriting them.
    let ca = std::fs::read(dir.path().join("certs/ca.pem")).unwrap();
    let again = Command::new(binary("cdg-dev"))
        .args(["demo", "--workdir"])
        .arg(dir.path())
        .args(["--scale", "0.05", "--years", "2024"])
        .output()
        .unwrap();
    assert!(
        again.status.success(),
        "{}",
        String::from_utf8_lossy(&again.stderr)
    );
    assert_eq!(std::fs::read(dir.path().join("certs/ca.pem")).unwrap(), ca);
}

#[test]
fn demo_serve_describes_the_network_and_stops_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let mut demo = Command::new(binary("cdg-dev"))
        .args(["demo", "--serve", "--workdir"])
        .arg(dir.path())
        .args(["--scale", "0.05", "--years", "2024"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let network_file = dir.path().join("network.json");
    // Wait, as a user does, for the banner saying the network is up and how to stop it.
    let (lines_tx, lines) = std::sync::mpsc::channel();
    let stdout = demo.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in std::io::BufRead::lines(std::io::BufReader::new(stdout)) {
            let Ok(line) = line else { break };
            if lines_tx.send(line).is_err() {
                break;
            }
        }
    });
    let start = Instant::now();
    loop {
        match lines.recv_timeout(Duration::from_millis(500)) {
            Ok(line) if line.contains("Stop it with Ctrl-C") => break,
            Ok(_) => {}
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {}
            Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => {
                panic!("the demo exited early: {:?}", demo.wait())
            }
        }
        assert!(
            start.elapsed() < Duration::from_secs(240),
            "the demo network did not come up"
        );
    }
    let network: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&network_file).unwrap()).unwrap();
    assert_eq!(network["nodes"].as_array().unwrap().len(), 5);
    assert_eq!(network["directors"].as_array().unwrap().len(), 5);
    for key in ["ca", "ca_key", "charge_de_mission", "coordinator"] {
        assert!(!network[key].is_null(), "{key}");
    }
    for path in [
        &network["ca"],
        &network["coordinator"]["cert"],
        &network["directors"][0]["key"],
    ] {
        assert!(
            std::path::Path::new(path.as_str().unwrap()).is_file(),
            "{path}"
        );
    }
    let study_id = std::fs::read_dir(dir.path().join("coordinator/results"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path()
        .file_stem()
        .unwrap()
        .to_string_lossy()
        .into_owned();

    // A director reads the result through the running coordinator, using network.json.
    let read = Command::new(binary("cdg"))
        .arg("--network")
        .arg(&network_file)
        .args([
            "--as",
            "director-80",
            "study",
            "result",
            &study_id,
            "--format",
            "parquet",
            "--out",
        ])
        .arg(dir.path().join("export"))
        .output()
        .unwrap();
    assert!(
        read.status.success(),
        "{}",
        String::from_utf8_lossy(&read.stderr)
    );
    assert!(String::from_utf8_lossy(&read.stdout).contains("Pyramide des âges"));
    assert!(
        dir.path()
            .join("export/pyramide_des_ages.parquet")
            .is_file()
    );

    // The same result as JSON files, French Excel CSV files and one workbook.
    for format in ["json", "csv", "xlsx"] {
        let out = Command::new(binary("cdg"))
            .arg("--network")
            .arg(&network_file)
            .args(["study", "result", &study_id, "--format", format, "--out"])
            .arg(dir.path().join(format))
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    // The HTML report, from the kept result and the study (its purpose).
    let report = Command::new(binary("cdg"))
        .arg("--network")
        .arg(&network_file)
        .args(["study", "report", &study_id, "--out"])
        .arg(dir.path().join("rapport"))
        .output()
        .unwrap();
    assert!(
        report.status.success(),
        "{}",
        String::from_utf8_lossy(&report.stderr)
    );
    let page =
        std::fs::read_to_string(dir.path().join(format!("rapport/{study_id}.html"))).unwrap();
    assert!(page.contains("<svg class=\"chart\"") && page.contains("Provenance"));
    assert!(
        page.contains("Conférence régionale de l&#39;emploi"),
        "the study's purpose"
    );
    let json: serde_json::Value = serde_json::from_slice(
        &std::fs::read(dir.path().join("json/pyramide_des_ages.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(json["study_id"], study_id.as_str());
    assert!(json["rows"].as_array().unwrap().len() > 10);
    // The CSV opens in French Excel: BOM, `;`, decimal comma (the share of contractuels).
    let csv = std::fs::read_to_string(dir.path().join("csv/part_contractuels.csv")).unwrap();
    let csv = csv.strip_prefix('\u{feff}').expect("a UTF-8 BOM");
    let mut lines = csv.lines();
    let header: Vec<&str> = lines.next().unwrap().split(';').collect();
    assert_eq!(header[0], "departement", "{header:?}");
    let share = header
        .iter()
        .position(|h| *h == "moyenne_contractuel")
        .expect("the share");
    let mut read = 0;
    for line in lines {
        let fields: Vec<&str> = line.split(';').collect();
        assert_eq!(fields.len(), header.len(), "{line}");
        if !fields[share].is_empty() {
            assert!(!fields[share].contains('.'), "{line}");
            let value: f64 = fields[share].replace(',', ".").parse().unwrap();
            assert!((0.1..0.5).contains(&value), "{line}");
            read += 1;
        }
    }
    assert!(read >= 5, "a share per département and the region: {csv}");
    use calamine::Reader;
    let mut workbook: calamine::Xlsx<_> =
        calamine::open_workbook(dir.path().join(format!("xlsx/{study_id}.xlsx"))).unwrap();
    let sheets = workbook.sheet_names();
    assert_eq!(sheets[0], "Origine");
    assert!(
        sheets.contains(&"pyramide_des_ages".to_string()),
        "{sheets:?}"
    );
    // The provenance sheet speaks French and explains the marks and the sheets.
    let origin = workbook.worksheet_range("Origine").unwrap();
    let texts: Vec<String> = origin.cells().map(|(_, _, c)| c.to_string()).collect();
    for expected in [
        "a répondu",
        "Légende",
        "Pyramide des âges au 31/12/2024 (sexe × tranche d'âge)",
    ] {
        assert!(texts.iter().any(|t| t == expected), "{expected}: {texts:?}");
    }
    assert!(
        texts
            .iter()
            .any(|t| t.starts_with("s = secret statistique"))
    );
    let table = workbook.worksheet_range("pyramide_des_ages").unwrap();
    assert_eq!(table.get((0, 0)).unwrap().to_string(), "departement");
    assert!(table.height() > 10);

    directors_read_before_signing(&network_file, dir.path(), &study_id);
    audit_tools_work_on_the_running_network(&network_file, dir.path());

    let pid = nix_pid(demo.id());
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM).unwrap();
    let status = demo.wait().unwrap();
    assert!(
        status.success(),
        "demo --serve ends cleanly on SIGTERM: {status}"
    );
    for node in network["nodes"].as_array().unwrap() {
        let addr = node["address"]
            .as_str()
            .unwrap()
            .trim_start_matches("https://");
        assert!(
            std::net::TcpStream::connect(addr).is_err(),
            "node {addr} still listening after the demo stopped"
        );
    }
}

fn nix_pid(id: u32) -> nix::unistd::Pid {
    nix::unistd::Pid::from_raw(id as i32)
}

#[test]
fn demo_interrupted_while_starting_stops_every_child() {
    let dir = tempfile::tempdir().unwrap();
    let mut demo = Command::new(binary("cdg-dev"))
        .args(["demo", "--serve", "--workdir"])
        .arg(dir.path())
        .args(["--scale", "0.05", "--years", "2024"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // The first node announces its address: the network is half up, the study not yet run.
    let ready = dir.path().join("run/node-02.addr");
    let start = Instant::now();
    while !ready.is_file() {
        assert!(
            start.elapsed() < Duration::from_secs(240),
            "the first node did not come up"
        );
        assert!(demo.try_wait().unwrap().is_none(), "the demo exited early");
        std::thread::sleep(Duration::from_millis(20));
    }
    let addr = std::fs::read_to_string(&ready).unwrap();
    nix::sys::signal::kill(nix_pid(demo.id()), nix::sys::signal::Signal::SIGTERM).unwrap();
    let out = demo.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("interrupted"), "{stderr}");
    assert!(
        std::net::TcpStream::connect(addr.trim()).is_err(),
        "node {addr} still listening after the demo was interrupted"
    );
}

/// The comité technique's `cdg audit` commands, as a director runs them.
/// A new study awaits each director's decision: `study list --awaiting` shows it to them, and
/// `study show` reads it in plain French, its digest checked.
fn directors_read_before_signing(network: &std::path::Path, workdir: &std::path::Path, done: &str) {
    let cdg = |who: &str, args: &[&str]| {
        let out = Command::new(binary("cdg"))
            .arg("--network")
            .arg(network)
            .args(["--as", who, "study"])
            .args(args)
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout).into_owned()
            + &String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{args:?}: {text}");
        text
    };
    let file = workdir.join("pyramide.toml");
    let pack = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../coordinator/studies/pyramide-des-ages.toml"
    );
    std::fs::copy(pack, &file).unwrap();
    let said = cdg("charge-de-mission", &["submit", file.to_str().unwrap()]);
    let id = said
        .split_whitespace()
        .find(|w| w.starts_with("S-"))
        .unwrap_or_else(|| panic!("{said}"))
        .trim_matches(|c: char| !c.is_ascii_alphanumeric() && c != '-')
        .to_string();
    let awaiting = cdg("director-59", &["list", "--awaiting"]);
    assert!(
        awaiting.contains(&id) && awaiting.contains("← vous"),
        "{awaiting}"
    );
    assert!(
        !awaiting.contains(done),
        "the demo's study awaits nobody: {awaiting}"
    );
    let all = cdg("charge-de-mission", &["list"]);
    assert!(all.contains(&id) && all.contains(done), "{all}");
    let shown = cdg("director-59", &["show", &id]);
    for expected in [
        "Objet : Conférence régionale",
        "Diffusion : interne",
        "Nombre d'agents territoriaux au 31/12 par sexe de l'agent et tranche d'âge",
        "en 2024, dans les 5 départements",
        "Empreinte signée",
        "CDG 02 : une cellule n'est diffusée qu'avec au moins 11 agents",
        "CDG 80 : une cellule",
        "convention du",
    ] {
        assert!(shown.contains(expected), "{expected}: {shown}");
    }
}

fn audit_tools_work_on_the_running_network(network: &std::path::Path, workdir: &std::path::Path) {
    let cdg = |args: &[&str]| {
        let out = Command::new(binary("cdg"))
            .arg("--network")
            .arg(network)
            .args(["--as", "director-80", "audit"])
            .args(args)
            .output()
            .unwrap();
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned()
                + &String::from_utf8_lossy(&out.stderr),
        )
    };
    let (ok, text) = cdg(&["verify"]);
    assert!(ok && text.contains("entries verify"), "{text}");
    let (ok, text) = cdg(&["verify", "--node", "02"]);
    assert!(ok && text.contains("node of CDG 02"), "{text}");
    let (ok, text) = cdg(&["crosscheck"]);
    assert!(ok && text.contains("agree"), "{text}");
    let (ok, text) = cdg(&["list", "--kind", "study.approve"]);
    assert!(ok, "{text}");
    assert_eq!(text.lines().count(), 5, "five approvals: {text}");
    let export = workdir.join("audit.json");
    let (ok, text) = cdg(&[
        "export",
        "--format",
        "json",
        "--out",
        export.to_str().unwrap(),
    ]);
    assert!(ok, "{text}");
    let entries: Vec<serde_json::Value> =
        serde_json::from_slice(&std::fs::read(&export).unwrap()).unwrap();
    assert!(entries.iter().any(|e| e["kind"] == "study.run.completed"));

    // A copy of the log with one byte changed in entry 3: verify names it.
    let copy = workdir.join("copy.log");
    let mut bytes = std::fs::read(workdir.join("coordinator/audit.log")).unwrap();
    let third = bytes
        .iter()
        .enumerate()
        .filter(|(_, b)| **b == b'\n')
        .nth(1)
        .map(|(i, _)| i)
        .unwrap();
    let at = third + 40;
    bytes[at] = if bytes[at] == b'0' { b'1' } else { b'0' };
    std::fs::write(&copy, bytes).unwrap();
    let (ok, text) = cdg(&["verify", "--file", copy.to_str().unwrap()]);
    assert!(!ok && text.contains("line 3"), "{text}");
}
