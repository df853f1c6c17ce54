//! Helpers shared by the integration tests.

#![allow(dead_code)]

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use x509_parser::extensions::GeneralName;
use x509_parser::prelude::{FromDer, X509Certificate};

pub fn der_of(path: &Path) -> Vec<u8> {
    let pem = fs::read(path).expect("read certificate");
    let (_, pem) = x509_parser::pem::parse_x509_pem(&pem).expect("PEM certificate");
    assert_eq!(pem.label, "CERTIFICATE");
    pem.contents
}

pub fn parse(der: &[u8]) -> X509Certificate<'_> {
    X509Certificate::from_der(der).expect("X.509 certificate").1
}

pub fn sans(cert: &X509Certificate<'_>) -> (Vec<String>, Vec<Vec<u8>>, Vec<String>) {
    let (mut dns, mut ips, mut uris) = (Vec::new(), Vec::new(), Vec::new());
    let san = cert
        .subject_alternative_name()
        .expect("valid SAN extension")
        .expect("SAN extension present");
    for name in &san.value.general_names {
        match name {
            GeneralName::DNSName(d) => dns.push(d.to_string()),
            GeneralName::IPAddress(ip) => ips.push(ip.to_vec()),
            GeneralName::URI(u) => uris.push(u.to_string()),
            other => panic!("unexpected SAN {other:?}"),
        }
    }
    (dns, ips, uris)
}

pub fn unix(t: SystemTime) -> i64 {
    t.duration_since(UNIX_EPOCH).expect("after 1970").as_secs() as i64
}

pub fn mode(path: &Path) -> u32 {
    fs::metadata(path).expect("metadata").permissions().mode() & 0o777
}
