//! The generated wire contract, fenced off under one stable name.
//!
//! Generated prost types stay at the edge: the rest of the code converts them into domain types
//! (see [`crate::query`]) as soon as they arrive.

/// Version of the wire protocol. Every request carries it; servers refuse any other with
/// `FAILED_PRECONDITION`.
pub const PROTOCOL_VERSION: u32 = 1;

#[allow(clippy::all, missing_docs)]
pub mod v1 {
    tonic::include_proto!("cdg.observatoire.v1");
}

/// Encoded `FileDescriptorSet` of the contract, for gRPC server reflection.
pub const FILE_DESCRIPTOR_SET: &[u8] =
    include_bytes!(concat!(env!("OUT_DIR"), "/observatoire_descriptor.bin"));

/// The metadata key of a refusal's kind, so that a client classifies a refusal without
/// reading its message (e.g. [`REFUSAL_PROTOCOL`]; a node sends the rule it refused under).
pub const REFUSAL_HEADER: &str = "cdg-refusal";
/// [`REFUSAL_HEADER`] of a request in another protocol version.
pub const REFUSAL_PROTOCOL: &str = "protocol";

/// `status` with its refusal kind in [`REFUSAL_HEADER`] (left out if it is not a valid header
/// value).
pub fn with_refusal(mut status: tonic::Status, kind: &str) -> tonic::Status {
    if let Ok(value) = kind.parse() {
        status.metadata_mut().insert(REFUSAL_HEADER, value);
    }
    status
}

/// The refusal kind a status carries, if any.
pub fn refusal(status: &tonic::Status) -> Option<&str> {
    status.metadata().get(REFUSAL_HEADER)?.to_str().ok()
}

/// Checks the protocol version a client sent.
#[allow(clippy::result_large_err)]
pub fn check_protocol_version(version: u32) -> Result<(), tonic::Status> {
    if version == PROTOCOL_VERSION {
        Ok(())
    } else {
        Err(with_refusal(
            tonic::Status::failed_precondition(format!(
                "protocol version mismatch: this server speaks version {PROTOCOL_VERSION}, the \
                 request says {version}; upgrade the older side"
            )),
            REFUSAL_PROTOCOL,
        ))
    }
}
