//! The analyst's tools before signing, run as a user would: `cdg study new` writes a study file,
//! `cdg study check` checks it offline, `cdg-dev try` runs it on a local synthetic network.

use std::process::Command;

use cdg_tests::binary;

fn cdg(args: &[&str], dir: &std::path::Path) -> (bool, String) {
    run(binary("cdg"), args, dir)
}

/// `cdg-dev`, the local synthetic network: `try` runs study files on it.
fn cdg_dev(args: &[&str], dir: &std::path::Path) -> (bool, String) {
    run(binary("cdg-dev"), args, dir)
}

fn run(program: std::path::PathBuf, args: &[&str], dir: &std::path::Path) -> (bool, String) {
    let out = Command::new(program)
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap();
    let said =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    (out.status.success(), said)
}

#[test]
fn a_new_study_is_checked_then_tried_on_synthetic_data() {
    let dir = tempfile::tempdir().unwrap();
    let (ok, said) = cdg(
        &["study", "new", "agents", "enquetes", "--out", "etude.toml"],
        dir.path(),
    );
    assert!(ok && said.contains("etude.toml written"), "{said}");
    // Never over an existing file.
    let (ok, said) = cdg(&["study", "new", "--out", "etude.toml"], dir.path());
    assert!(!ok && said.contains("an existing file is kept"), "{said}");
    // Asked of two départements only: their two directors approve it.
    let path = dir.path().join("etude.toml");
    let text = std::fs::read_to_string(&path).unwrap();
    let two = text.replace(
        "departements = [\"02\", \"59\", \"60\", \"62\", \"80\"]",
        "departements = [\"02\", \"80\"]",
    );
    assert_ne!(two, text);
    std::fs::write(&path, two).unwrap();
    let (ok, said) = cdg(&["study", "check", "etude.toml"], dir.path());
    assert!(ok && said.contains("valid for catalogue"), "{said}");

    // Small and for one year, so that it is quick; the five approvals are automatic.
    let (ok, said) = cdg_dev(
        &[
            "try",
            "etude.toml",
            "--workdir",
            "essai",
            "--scale",
            "0.05",
            "--years",
            "2024",
        ],
        dir.path(),
    );
    assert!(ok, "{said}");
    assert!(said.contains("synthetic data"), "{said}");
    assert!(
        said.contains("approved by the directors of 02, 80"),
        "{said}"
    );
    assert_eq!(said.matches("a répondu").count(), 2, "{said}");
    // Both queries' tables, by département and for the region.
    assert!(said.contains("agents par "), "{said}");
    assert!(said.contains("enquetes par enquete en 2024"), "{said}");
    assert!(said.contains("Hauts-de-France"), "{said}");

    // A broken study is named before any network starts.
    let text = std::fs::read_to_string(dir.path().join("etude.toml")).unwrap();
    std::fs::write(
        dir.path().join("faute.toml"),
        text.replace("dataset = \"agents\"", "dataset = \"Agents\""),
    )
    .unwrap();
    let (ok, said) = cdg_dev(&["try", "faute.toml", "--workdir", "faute"], dir.path());
    assert!(!ok, "{said}");
    assert!(said.contains("did you mean \"agents\"?"), "{said}");
    assert!(!dir.path().join("faute").exists(), "no network was started");
}

/// `cdg study check` names what the catalogue does not have before any connection, and passes
/// a study on every new dataset.
#[test]
fn the_client_checks_a_study_against_the_catalogue_before_submitting_it() {
    let dir = tempfile::tempdir().unwrap();
    let check = |name: &str, text: &str| {
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        let out = std::process::Command::new(cdg_tests::binary("cdg"))
            .args(["study", "check"])
            .arg(&path)
            .output()
            .unwrap();
        let said = String::from_utf8_lossy(&out.stdout).to_string()
            + &String::from_utf8_lossy(&out.stderr);
        (out.status.success(), said)
    };
    let study = |dataset: &str, by: &str, measures: &str| {
        format!(
            "title = \"t\"\npurpose = \"p\"\ndiffusion = \"interne\"\n\n[[query]]\n\
             name = \"q\"\ndataset = \"{dataset}\"\ngroup_by = [\"{by}\"]\n\
             measures = [{measures}]\nfilters = {{ annee = 2024 }}\n"
        )
    };
    for (dataset, by, measures) in [
        ("formation", "type_formation", "\"count\", \"sum(jours)\""),
        ("handicap", "metier", "\"count\""),
        (
            "handicap_employeurs",
            "tranche_effectif",
            "\"mean(obligation_atteinte)\"",
        ),
        ("enquetes", "reponse", "\"count\""),
        (
            "concours",
            "categorie",
            "\"sum(admis)\", \"sum(en_attente_deux_ans)\"",
        ),
        ("mouvements", "metier", "\"count\""),
    ] {
        let (ok, said) = check("ok.toml", &study(dataset, by, measures));
        assert!(
            ok && said.contains("valid for catalogue"),
            "{dataset}: {said}"
        );
    }
    let (ok, said) = check("bad.toml", &study("handicap", "handicap", "\"count\""));
    assert!(!ok, "{said}");
    assert!(said.contains("bad.toml would be refused"), "{said}");
    assert!(said.contains("unknown dimension \"handicap\""), "{said}");
    assert!(
        said.contains("categorie_beneficiaire"),
        "the allowed ones are listed: {said}"
    );
    let (ok, said) = check(
        "bad.toml",
        &study("enquetes", "reponse", "\"sum(reponse)\""),
    );
    assert!(!ok && said.contains("none (only count)"), "{said}");
}

/// The Conférence pack runs whole on a synthetic network: every study of
/// `coordinator/studies/`, each answered by the five nodes.
#[test]
fn the_conference_pack_runs_on_synthetic_data() {
    let dir = tempfile::tempdir().unwrap();
    let studies = concat!(env!("CARGO_MANIFEST_DIR"), "/../coordinator/studies");
    let mut files: Vec<String> = std::fs::read_dir(studies)
        .unwrap()
        .map(|e| e.unwrap().path().display().to_string())
        .collect();
    files.sort();
    let mut args = vec!["try"];
    args.extend(files.iter().map(String::as_str));
    args.extend(["--workdir", "pack", "--scale", "0.05"]);
    let (ok, said) = cdg_dev(&args, dir.path());
    assert!(ok, "{said}");
    assert!(
        said.contains(&format!("Trying {} studies", files.len())),
        "{said}"
    );
    assert_eq!(
        said.matches("study run completed").count(),
        files.len(),
        "{said}"
    );
    // Every node answers every study: no refusal, no failure.
    assert_eq!(said.matches("a répondu").count(), 5 * files.len(), "{said}");
    for title in [
        "Pyramide des âges",
        "Métiers en tension",
        "Départs à la retraite",
    ] {
        assert!(said.contains(title), "{title}: {said}");
    }
}
