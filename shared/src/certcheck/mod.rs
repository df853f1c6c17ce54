//! Checks a certificate file against the federation's identity scheme and says what its holder
//! would be authorized to do: what an IT team runs on the certificate its PKI issued before
//! installing it (`cdg-node check-certificate`, `cdg check-certificate`).
//!
//! The checks are the ones the running members make: one `urn:cdg-hdf:` URI SAN, the extended
//! key usage of the role, the chain to the CA bundle (with webpki, as rustls does), the host
//! name the coordinator dials, the private key that goes with it, the deny list; and for
//! signers (directors, nodes), the chain from the leaf alone, as signed decisions carry it.

use std::fmt;
use std::path::{Path, PathBuf};

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use x509_parser::extensions::GeneralName;
use x509_parser::prelude::{ParsedExtension, X509Certificate};

use crate::identity::{Principal, Role};
use crate::revocation::{self, Revocation};
use crate::signing::{Signer, TrustedSigners};
use crate::tls::TlsFiles;

/// Days of validity left under which the check warns.
const RENEW_WITHIN_DAYS: i64 = 30;

/// What to check a certificate against. Only `cert` is required.
#[derive(Debug, Clone, Default)]
pub struct CheckOptions {
    /// The certificate file (PEM: leaf first, then any intermediates).
    pub cert: PathBuf,
    /// The CA bundle the other members trust.
    pub ca: Option<PathBuf>,
    /// The private key installed with the certificate.
    pub key: Option<PathBuf>,
    /// The host name peers dial (server certificates).
    pub host: Option<String>,
    /// The deny list of the member's configuration.
    pub revoked: Revocation,
    /// The identity the certificate must carry (e.g. the node of the configured CDG).
    pub expected: Option<Principal>,
}

/// The findings: facts about the certificate, what its holder may do, and what is wrong.
#[derive(Debug, Clone, Default)]
pub struct CertReport {
    pub facts: Vec<(&'static str, String)>,
    pub principal: Option<Principal>,
    pub problems: Vec<String>,
    pub warnings: Vec<String>,
}

impl CertReport {
    /// True when nothing would stop the certificate from working.
    pub fn is_usable(&self) -> bool {
        self.problems.is_empty()
    }

    fn fact(&mut self, name: &'static str, value: impl Into<String>) {
        self.facts.push((name, value.into()));
    }
}

/// Reads and checks the certificate. Errors only when the file cannot be read as PEM; every
/// other finding goes into the report.
pub fn check(opts: &CheckOptions) -> Result<CertReport, String> {
    let pem = std::fs::read(&opts.cert)
        .map_err(|e| format!("cannot read {}: {e}", opts.cert.display()))?;
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<_, _>>()
        .map_err(|e| format!("{}: not a PEM certificate file: {e}", opts.cert.display()))?;
    let Some(leaf) = chain.first() else {
        return Err(format!(
            "{} holds no PEM certificate (\"BEGIN CERTIFICATE\")",
            opts.cert.display()
        ));
    };
    let (_, cert) = x509_parser::parse_x509_certificate(leaf).map_err(|e| {
        format!(
            "{}: the certificate cannot be parsed: {e}",
            opts.cert.display()
        )
    })?;
    let mut report = CertReport::default();
    describe(&mut report, &cert, leaf, chain.len());
    check_identity(&mut report, leaf, opts.expected);
    let usage = Usage::of(&cert);
    report.fact("key usage", usage.to_string());
    let hosts = host_names(&cert);
    report.fact(
        "host names",
        if hosts.is_empty() {
            "none".to_string()
        } else {
            hosts.join(", ")
        },
    );
    if let Some(p) = report.principal {
        check_role_usage(&mut report, p.role, &usage, &hosts);
    }
    check_validity(&mut report, &cert);
    if let Err(e) = opts.revoked.check(leaf) {
        report.problems.push(format!(
            "{e} by the configuration's revoked_certificates: no member accepts it"
        ));
    }
    if let Some(ca) = &opts.ca {
        check_chain(&mut report, ca, &chain, opts.host.as_deref(), &hosts);
    } else {
        report.warnings.push(
            "chain not checked: pass --ca with the federation's CA bundle to check it".into(),
        );
    }
    if let Some(key) = &opts.key {
        check_key(&mut report, &opts.cert, key);
    }
    Ok(report)
}

fn describe(report: &mut CertReport, cert: &X509Certificate<'_>, leaf: &[u8], len: usize) {
    report.fact("subject", cert.subject().to_string());
    report.fact("issuer", cert.issuer().to_string());
    let (serial, fingerprint) = revocation::identifiers(leaf);
    report.fact("serial", serial);
    report.fact("fingerprint", fingerprint);
    report.fact(
        "file holds",
        match len {
            1 => "the leaf only".to_string(),
            n => format!("the leaf and {} intermediate(s)", n - 1),
        },
    );
}

fn check_identity(report: &mut CertReport, leaf: &[u8], expected: Option<Principal>) {
    match Principal::from_certificate_der(leaf) {
        Ok(p) => {
            report.fact("identity", format!("{} ({p})", p.uri()));
            if let Some(want) = expected
                && want != p
            {
                report.problems.push(format!(
                    "the certificate is for {} ({p}) but this member is configured as {} \
                     ({want}): install the certificate issued for {}",
                    p.uri(),
                    want.uri(),
                    want.uri()
                ));
            }
            if p.role == Role::Coordinator && p.cdg != crate::cdg::Cdg::Nord {
                report.warnings.push(format!(
                    "the coordinator is run by CDG 59, and this certificate names CDG {}",
                    p.cdg.code()
                ));
            }
            report.principal = Some(p);
        }
        Err(e) => {
            report.fact("identity", "none");
            report.problems.push(format!(
                "{e}: a certificate request for the federation names exactly one URI SAN \
                 urn:cdg-hdf:<role>:<cdg>, e.g. URI:urn:cdg-hdf:node:62"
            ));
        }
    }
}

/// The extended key usages that matter here.
struct Usage {
    /// The extension is absent: any use is allowed.
    unrestricted: bool,
    server: bool,
    client: bool,
}

impl Usage {
    fn of(cert: &X509Certificate<'_>) -> Usage {
        match cert.extended_key_usage() {
            Ok(Some(eku)) => Usage {
                unrestricted: eku.value.any,
                server: eku.value.any || eku.value.server_auth,
                client: eku.value.any || eku.value.client_auth,
            },
            _ => Usage {
                unrestricted: true,
                server: true,
                client: true,
            },
        }
    }
}

impl fmt::Display for Usage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.unrestricted {
            return f.write_str("any (no extended key usage restriction)");
        }
        let names: Vec<&str> = [(self.server, "serverAuth"), (self.client, "clientAuth")]
            .into_iter()
            .filter_map(|(on, name)| on.then_some(name))
            .collect();
        if names.is_empty() {
            f.write_str("neither serverAuth nor clientAuth")
        } else {
            f.write_str(&names.join(", "))
        }
    }
}

fn check_role_usage(report: &mut CertReport, role: Role, usage: &Usage, hosts: &[String]) {
    let (serves, calls) = role.serves_and_calls();
    if serves && !usage.server {
        report.problems.push(format!(
            "a {role} serves gRPC: its certificate needs extended key usage serverAuth"
        ));
    }
    if calls && !usage.client {
        report.problems.push(format!(
            "a {role} calls other members: its certificate needs extended key usage clientAuth"
        ));
    }
    if serves && hosts.is_empty() {
        report.problems.push(format!(
            "a {role} is dialled by name: add the DNS name its peers dial as a DNS SAN \
             (e.g. DNS:observatoire.cdg62.fr)"
        ));
    }
}

fn host_names(cert: &X509Certificate<'_>) -> Vec<String> {
    let mut names = Vec::new();
    for ext in cert.extensions() {
        if let ParsedExtension::SubjectAlternativeName(san) = ext.parsed_extension() {
            for name in &san.general_names {
                match name {
                    GeneralName::DNSName(d) => names.push(d.to_string()),
                    GeneralName::IPAddress(ip) => names.push(ip_text(ip)),
                    _ => {}
                }
            }
        }
    }
    names
}

fn ip_text(bytes: &[u8]) -> String {
    if let Ok(v4) = <[u8; 4]>::try_from(bytes) {
        return std::net::Ipv4Addr::from(v4).to_string();
    }
    if let Ok(v6) = <[u8; 16]>::try_from(bytes) {
        return std::net::Ipv6Addr::from(v6).to_string();
    }
    hex::encode(bytes)
}

fn check_validity(report: &mut CertReport, cert: &X509Certificate<'_>) {
    let validity = cert.validity();
    let now = x509_parser::time::ASN1Time::now();
    let until = validity.not_after;
    let days_left = (until.timestamp() - now.timestamp()) / 86_400;
    report.fact(
        "valid",
        format!("{} to {until} ({days_left} days left)", validity.not_before),
    );
    if now < validity.not_before {
        report.problems.push(format!(
            "not valid yet: valid from {} (check the issuer's and this machine's clocks)",
            validity.not_before
        ));
    } else if now > until {
        report.problems.push(format!(
            "expired on {until}: renew it (see Rotation in deploy/README.md)"
        ));
    } else if days_left < RENEW_WITHIN_DAYS {
        report
            .warnings
            .push(format!("expires in {days_left} days: renew it soon"));
    }
}

fn check_chain(
    report: &mut CertReport,
    ca: &Path,
    chain: &[CertificateDer<'static>],
    host: Option<&str>,
    hosts: &[String],
) {
    let signers = match TrustedSigners::from_ca_file(ca) {
        Ok(s) => s,
        Err(e) => {
            report.problems.push(e.to_string());
            return;
        }
    };
    let Ok(leaf) = webpki::EndEntityCert::try_from(&chain[0]) else {
        report
            .problems
            .push("webpki cannot read the certificate (unsupported encoding)".into());
        return;
    };
    let role = report.principal.map(|p| p.role);
    let (serves, calls) = role.map(Role::serves_and_calls).unwrap_or((false, true));
    let verify = |usage, intermediates: &[CertificateDer<'_>]| {
        leaf.verify_for_usage(
            webpki::ALL_VERIFICATION_ALGS,
            signers.anchors(),
            intermediates,
            UnixTime::now(),
            usage,
            None,
            None,
        )
        .map(|_| ())
        .map_err(|e| format!("{e:?}"))
    };
    let mut verified = Vec::new();
    for (wanted, usage, name) in [
        (serves, webpki::KeyUsage::server_auth(), "server"),
        (calls, webpki::KeyUsage::client_auth(), "client"),
    ] {
        if !wanted {
            continue;
        }
        match verify(usage, &chain[1..]) {
            Ok(()) => verified.push(name),
            Err(e) => report.problems.push(format!(
                "the chain does not verify against {} as a TLS {name}: {e} (is the issuing \
                 CA, or its intermediate, in the bundle or after the leaf in the file?)",
                ca.display()
            )),
        }
    }
    if !verified.is_empty() {
        report.fact(
            "chain",
            format!(
                "verifies against {} as a TLS {}",
                ca.display(),
                verified.join(" and ")
            ),
        );
    }
    // Signed decisions and checkpoints carry the leaf alone: the bundle must complete it, as
    // the members verifying them check.
    if matches!(role, Some(Role::Director | Role::Node))
        && chain.len() > 1
        && let Err(e) = signers.trusted_identity_for(&chain[0], role == Some(Role::Node))
    {
        report.problems.push(format!(
            "the leaf alone does not chain to {} ({e}): signatures carry the leaf only, so \
             put the intermediate CA in every member's CA bundle",
            ca.display()
        ));
    }
    if serves {
        check_host(report, &leaf, host, hosts);
    }
}

fn check_host(
    report: &mut CertReport,
    leaf: &webpki::EndEntityCert<'_>,
    host: Option<&str>,
    hosts: &[String],
) {
    let Some(host) = host else {
        if !hosts.is_empty() {
            report.warnings.push(
                "host name not checked: pass --host with the name peers dial (the address in \
                 the coordinator's nodes list)"
                    .into(),
            );
        }
        return;
    };
    let valid = ServerName::try_from(host)
        .map_err(|e| format!("{host:?} is not a host name: {e}"))
        .and_then(|name| {
            leaf.verify_is_valid_for_subject_name(&name)
                .map_err(|_| format!("the certificate does not name {host}: add DNS:{host}"))
        });
    match valid {
        Ok(()) => report.fact("host", format!("valid for {host}")),
        Err(e) => report.problems.push(e),
    }
}

fn check_key(report: &mut CertReport, cert: &Path, key: &Path) {
    let files = TlsFiles {
        ca: PathBuf::new(),
        cert: cert.to_path_buf(),
        key: key.to_path_buf(),
    };
    match Signer::from_files(&files) {
        Ok(_) => report.fact("private key", format!("{} matches", key.display())),
        Err(e) => report.problems.push(e.to_string()),
    }
}

/// What the holder of a certificate for `p` may do, as the node and coordinator enforce it.
pub fn grants(p: Principal) -> Vec<String> {
    let c = p.cdg.code();
    match p.role {
        Role::Node => vec![
            format!(
                "serve the node of CDG {c} ({}): the coordinator dials it and accepts it only \
                 as CDG {c}'s node",
                p.cdg.name()
            ),
            "sign the checkpoints of its audit log".into(),
            "call nothing: a node is never a client".into(),
        ],
        Role::Coordinator => vec![
            "serve the coordinator to the charge.e de mission and the directors".into(),
            "call every node: Describe, GetAuditLog, and Execute for studies their own \
             director approved"
                .into(),
        ],
        Role::Director => vec![
            format!(
                "approve, reject, put in question or arbitrate the studies that ask CDG {c}; \
                 CDG {c}'s node answers only with this director's signed approval"
            ),
            "read studies, their decisions and results, and the coordinator's audit log".into(),
            "read any node's audit log".into(),
        ],
        Role::ChargeDeMission => vec![
            "submit studies, run approved ones, record their diffusion".into(),
            "read studies, their decisions and results".into(),
        ],
        Role::Referent => vec![
            format!(
                "submit and run the studies of departement {c} alone, which CDG {c}'s director \
                 approves; record their diffusion"
            ),
            format!("read the studies of departement {c}, their decisions and results"),
        ],
    }
}

impl fmt::Display for CertReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (name, value) in &self.facts {
            writeln!(f, "  {name:<12} {value}")?;
        }
        if let Some(p) = self.principal {
            writeln!(f, "\nAuthorized to:")?;
            for g in grants(p) {
                writeln!(f, "  - {g}")?;
            }
        }
        for w in &self.warnings {
            writeln!(f, "\nwarning: {w}")?;
        }
        if self.problems.is_empty() {
            writeln!(f, "\nUsable: no problem found.")
        } else {
            writeln!(f, "\nNOT usable:")?;
            for p in &self.problems {
                writeln!(f, "  - {p}")?;
            }
            Ok(())
        }
    }
}

/// The command-line arguments every binary's `check-certificate` takes.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct CheckArgs {
    /// The certificate file (PEM, leaf first then any intermediates).
    #[arg(value_name = "CERT")]
    pub cert: Option<PathBuf>,
    /// The federation CA bundle (PEM) to check the chain against.
    #[arg(long, value_name = "FILE")]
    pub ca: Option<PathBuf>,
    /// The private key installed with the certificate, to check that they match.
    #[arg(long, value_name = "FILE")]
    pub key: Option<PathBuf>,
    /// The host name peers dial (for a node or the coordinator), e.g. observatoire.cdg62.fr.
    #[arg(long, value_name = "NAME")]
    pub host: Option<String>,
}

/// What a member's configuration says about its own certificate.
#[derive(Debug, Clone)]
pub struct Configured {
    pub tls: TlsFiles,
    pub revoked: Revocation,
    pub expected: Principal,
}

/// Runs the check as the command line asks (the configuration filling what the arguments leave
/// out), prints the report, and fails when the certificate is not usable.
pub fn run(args: CheckArgs, configured: Option<Configured>) -> Result<(), String> {
    let mut opts = CheckOptions {
        ca: args.ca,
        key: args.key,
        host: args.host,
        ..CheckOptions::default()
    };
    match (args.cert, configured) {
        (cert, Some(c)) => {
            opts.cert = cert.unwrap_or(c.tls.cert);
            opts.ca = opts.ca.or(Some(c.tls.ca));
            opts.key = opts.key.or(Some(c.tls.key));
            opts.revoked = c.revoked;
            opts.expected = Some(c.expected);
        }
        (Some(cert), None) => opts.cert = cert,
        (None, None) => {
            return Err(
                "name the certificate file (or, on a node or the coordinator, pass \
                        --config to check the configured one)"
                    .into(),
            );
        }
    }
    let report = check(&opts)?;
    println!("Certificate {}", opts.cert.display());
    print!("{report}");
    if report.is_usable() {
        Ok(())
    } else {
        Err(format!(
            "{} is not usable as it is: see the problems above",
            opts.cert.display()
        ))
    }
}

#[cfg(test)]
mod tests;
