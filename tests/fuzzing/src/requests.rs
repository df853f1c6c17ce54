//! The gRPC requests of both services, as their handlers take them: decoded, then converted
//! to domain values (the query, the study, the signed decisions checked against a CA) the way
//! the node and the coordinator do before any rule is applied. The first byte chooses the
//! request, the rest is its protobuf encoding.

use std::sync::OnceLock;

use cdg_shared::proto::check_protocol_version;
use cdg_shared::proto::v1;
use cdg_shared::query::AggregateQuery;
use cdg_shared::signing::TrustedSigners;
use cdg_shared::study::Study;
use prost::Message;

/// Signers trusted as a node and the coordinator trust them: a development PKI made once.
fn trusted() -> &'static TrustedSigners {
    static TRUSTED: OnceLock<(tempfile::TempDir, TrustedSigners)> = OnceLock::new();
    let (_, trusted) = TRUSTED.get_or_init(|| {
        cdg_shared::tls::install_crypto_provider();
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("a temporary folder: {e}"));
        let pki = cdg_certs_dev::generate(dir.path(), &Default::default())
            .unwrap_or_else(|e| panic!("a development PKI: {e}"));
        let trusted = TrustedSigners::from_ca_file(&pki.ca_cert())
            .unwrap_or_else(|e| panic!("the PKI's CA: {e}"));
        (dir, trusted)
    });
    trusted
}

fn decisions(signed: &[v1::SignedDecision]) {
    for d in signed {
        let _ = trusted().verify_decision(d);
    }
}

fn execute(r: v1::ExecuteRequest) {
    let _ = check_protocol_version(r.protocol_version);
    if let Some(q) = r.query {
        let _ = AggregateQuery::try_from(q);
    }
    if let Ok(study) = serde_json::from_slice::<Study>(&r.study) {
        let _ = (study.canonical() == r.study, study.digest());
    }
    decisions(&r.approvals);
}

/// One request of either service, chosen by the first byte.
pub fn requests(data: &[u8]) {
    let Some((&kind, bytes)) = data.split_first() else {
        return;
    };
    match kind % 8 {
        0 => {
            if let Ok(r) = v1::ExecuteRequest::decode(bytes) {
                execute(r);
            }
        }
        1 => {
            if let Ok(r) = v1::SubmitStudyRequest::decode(bytes) {
                let _ = Study::from_toml(&r.study_toml);
            }
        }
        2 => {
            if let Ok(r) = v1::DecideStudyRequest::decode(bytes) {
                decisions(r.decision.as_slice());
            }
        }
        3 => drop(v1::DiffuseStudyRequest::decode(bytes)),
        4 => drop(v1::RunStudyRequest::decode(bytes)),
        5 => drop(v1::GetResultRequest::decode(bytes)),
        6 => drop(v1::AuditLogRequest::decode(bytes)),
        _ => drop(v1::DescribeRequest::decode(bytes)),
    }
}
