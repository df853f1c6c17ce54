//! The deploy kit matches the software: example configurations load with the project's own
//! loaders, and every command of the compose file and the systemd units names a real binary,
//! subcommand and flags, with configuration keys the loaders know.

use std::path::PathBuf;

use cdg_coordinator::config::CoordinatorConfig;
use cdg_node::config::NodeConfig;
use cdg_shared::cdg::Cdg;

fn deploy() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../deploy")
}

/// Checks that `argv` (binary, subcommand, flags...) is accepted by the real binary: the
/// subcommand's help lists every flag.
fn check_command(argv: &[String], origin: &str) {
    let bin = argv[0].rsplit('/').next().unwrap();
    assert!(
        ["cdg-node", "cdg-coordinator", "cdg-certs-dev", "cdg"].contains(&bin),
        "{origin}: unknown binary {bin}"
    );
    let help = std::process::Command::new(cdg_tests::binary(bin))
        .args([argv[1].as_str(), "--help"])
        .output()
        .unwrap();
    assert!(
        help.status.success(),
        "{origin}: `{bin} {}` is not a subcommand",
        argv[1]
    );
    let help = String::from_utf8_lossy(&help.stdout);
    for flag in argv.iter().filter(|a| a.starts_with("--")) {
        assert!(
            help.contains(flag.as_str()),
            "{origin}: `{bin} {}` has no {flag}",
            argv[1]
        );
    }
}

#[test]
fn example_configurations_load_with_the_environment_overrides_of_the_compose_file() {
    let compose = std::fs::read_to_string(deploy().join("compose.yaml")).unwrap();
    // The overrides the compose file sets (CDG_NODE__TLS__CERT: /certs/node-02.pem, ...).
    let overrides: Vec<(String, String)> = compose
        .lines()
        .filter_map(|l| l.trim().split_once(": "))
        .filter(|(k, _)| k.starts_with("CDG_NODE__") || k.starts_with("CDG_COORDINATOR__"))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    assert!(overrides.len() >= 20, "{overrides:?}");
    // Each override applied as the loader would (CDG_NODE__TLS__CA is tls.ca), written into a
    // copy of the example: the loaders refuse unknown keys, so a misspelt one fails here.
    let dir = tempfile::tempdir().unwrap();
    let apply = |example: &str, prefix: &str, only: &str| {
        let mut table: toml::Table =
            toml::from_str(&std::fs::read_to_string(deploy().join(example)).unwrap()).unwrap();
        for (key, value) in overrides
            .iter()
            .filter(|(k, v)| k.starts_with(prefix) && v.contains(only))
        {
            let path: Vec<String> = key[prefix.len()..]
                .split("__")
                .map(str::to_lowercase)
                .collect();
            let mut t = &mut table;
            for part in &path[..path.len() - 1] {
                t = t.get_mut(part).and_then(toml::Value::as_table_mut).unwrap();
            }
            t.insert(path[path.len() - 1].clone(), value.clone().into());
        }
        let out = dir.path().join(example.replace('/', "-"));
        std::fs::write(&out, toml::to_string(&table).unwrap()).unwrap();
        out
    };
    for cdg in Cdg::ALL {
        let example = format!("examples/node-{}.toml", cdg.code());
        // This node's overrides: its own certificate, and the common ones.
        let path = apply(&example, "CDG_NODE__", "");
        let text = std::fs::read_to_string(&path).unwrap();
        let config = NodeConfig::load(&path).unwrap_or_else(|e| panic!("{example}: {e}\n{text}"));
        assert_eq!(config.cdg, cdg);
        assert_eq!(config.tls.ca, PathBuf::from("/certs/ca.pem"));
        assert_eq!(config.metrics_listen.map(|a| a.port()), Some(9464));
        assert!(
            compose.contains(&format!(
                "./examples/node-{}.toml:/etc/cdg-node/node.toml",
                cdg.code()
            )),
            "{example} is not mounted"
        );
    }
    let path = apply("examples/coordinator.toml", "CDG_COORDINATOR__", "");
    let config = CoordinatorConfig::load(&path).unwrap();
    assert_eq!(config.nodes.len(), 5);
    assert_eq!(config.tls.cert, PathBuf::from("/certs/coordinator.pem"));
    // Every node address the coordinator uses is a network alias of the compose file.
    for node in &config.nodes {
        let host = node
            .address
            .trim_start_matches("https://")
            .split(':')
            .next()
            .unwrap();
        assert!(compose.contains(&format!("aliases: [{host}]")), "{host}");
    }
}

#[test]
fn compose_and_systemd_commands_name_real_binaries_and_flags() {
    let compose = std::fs::read_to_string(deploy().join("compose.yaml")).unwrap();
    let mut checked = 0;
    for line in compose.lines().map(str::trim) {
        let Some(list) = line.strip_prefix("command: [") else {
            continue;
        };
        let argv: Vec<String> = list
            .trim_end_matches(']')
            .split(", ")
            .map(|a| a.trim_matches('"').to_string())
            .collect();
        if argv[0] == "sh" {
            // One-shots: the certificates (`cdg-certs-dev generate`), the data loads
            // (`cdg-node synth`, `cdg-node import-dir`): every command of the script.
            let script = argv.last().unwrap();
            let commands = script
                .split([';', '&', '|'])
                .map(|c| {
                    c.trim()
                        .trim_start_matches("then ")
                        .trim_start_matches("else ")
                })
                .filter(|c| c.starts_with("cdg"));
            for command in commands {
                let argv: Vec<String> = command
                    .split(' ')
                    .filter(|a| !a.starts_with('>'))
                    .map(str::to_string)
                    .collect();
                check_command(&argv, "compose.yaml");
                checked += 1;
            }
        } else {
            check_command(&argv, "compose.yaml");
            checked += 1;
        }
    }
    assert_eq!(
        checked, 5,
        "certs, synth and import-dir of the loads, node and coordinator commands"
    );
    for unit in ["cdg-node.service", "cdg-coordinator.service"] {
        let text = std::fs::read_to_string(deploy().join("systemd").join(unit)).unwrap();
        let commands: Vec<&str> = text
            .lines()
            .filter_map(|l| l.split_once('='))
            .filter(|(key, _)| key.starts_with("Exec"))
            .map(|(_, command)| command)
            .collect();
        assert_eq!(commands.len(), 2, "{unit}: check-certificate, then serve");
        for exec in commands {
            let argv: Vec<String> = exec.split(' ').map(str::to_string).collect();
            check_command(&argv, unit);
        }
        for required in [
            "ProtectSystem=strict",
            "ReadWritePaths=/var/lib/",
            "User=",
            "Restart=",
        ] {
            assert!(text.contains(required), "{unit}: no {required}");
        }
    }
}

#[test]
fn the_image_keeps_build_output_and_keys_out_and_checks_its_own_health() {
    let ignore = std::fs::read_to_string(deploy().join("../.dockerignore")).unwrap();
    for kept_out in [
        "target/",
        "demo-network/",
        "**/*.key",
        "**/*.pem",
        "**/*.duckdb",
    ] {
        assert!(
            ignore.lines().any(|l| l == kept_out),
            ".dockerignore lacks {kept_out}"
        );
    }
    let dockerfile = std::fs::read_to_string(deploy().join("Dockerfile")).unwrap();
    let check = dockerfile
        .lines()
        .skip_while(|l| !l.starts_with("HEALTHCHECK"))
        .nth(1)
        .expect("a HEALTHCHECK with its command on the next line");
    // The probe asks the management endpoint the compose file opens on every server.
    assert!(check.contains("http://127.0.0.1:9464/health"), "{check}");
    let compose = std::fs::read_to_string(deploy().join("compose.yaml")).unwrap();
    let listens = compose.matches("METRICS_LISTEN: 0.0.0.0:9464").count();
    assert_eq!(listens, 6, "five nodes and the coordinator open it");
}
