//! longrun's connection to Temporal: where the server is, connecting a client, asking whether
//! it answers, and (for `longrun dev` and tests) a dev server run as a child process.
//!
//! Both the API (which starts and signals runs) and the worker (which runs them) take their
//! connection from here, so neither depends on the other. Nothing here knows a workflow. With
//! the `worker` feature, it also holds what longrun's worker and the bench's reference worker
//! both poll with (their slot tuner).

pub mod dev_server;

use std::time::Duration;

use temporalio_client::{Client, ClientOptions, Connection, ConnectionOptions, GrpcCompression};

/// The frontend `longrun api` and `longrun worker` use when `LONGRUN_TEMPORAL_ADDRESS` is unset.
pub const DEFAULT_ADDRESS: &str = "http://127.0.0.1:7233";

#[derive(Debug, thiserror::Error)]
pub enum TemporalError {
    #[error("invalid Temporal address {address:?}: {reason}")]
    Address { address: String, reason: String },
    #[error("cannot reach the Temporal server at {address}: {reason}")]
    Connect { address: String, reason: String },
}

/// Where the Temporal server is and which namespace to use.
#[derive(Debug, Clone)]
pub struct TemporalSettings {
    /// `http://host:port` of the frontend.
    pub address: String,
    pub namespace: String,
    /// How long the first connection may take.
    pub connect_timeout: Duration,
    /// Gzip the gRPC traffic. Off by default: on the links longrun runs over, compressing
    /// every request costs more CPU (about 9 % of a worker's) than the bytes are worth; turn
    /// it on where bandwidth costs more than CPU.
    pub gzip: bool,
}

impl TemporalSettings {
    /// Settings for `address` (or [`DEFAULT_ADDRESS`]) and `namespace`, with the connect
    /// timeout every role uses.
    pub fn new(address: Option<&str>, namespace: &str) -> Self {
        Self {
            address: address.unwrap_or(DEFAULT_ADDRESS).to_string(),
            namespace: namespace.to_string(),
            connect_timeout: Duration::from_secs(5),
            gzip: false,
        }
    }
}

/// Connects a client to the Temporal frontend.
pub async fn connect(settings: &TemporalSettings, identity: &str) -> Result<Client, TemporalError> {
    let address = || settings.address.clone();
    let url = url::Url::parse(&settings.address).map_err(|e| TemporalError::Address {
        address: address(),
        reason: e.to_string(),
    })?;
    let compression = if settings.gzip {
        GrpcCompression::Gzip
    } else {
        GrpcCompression::None
    };
    let options = ConnectionOptions::new(url)
        .identity(identity.to_string())
        .connect_timeout(settings.connect_timeout)
        .grpc_compression(compression)
        .build();
    let connection = Connection::connect(options)
        .await
        .map_err(|e| TemporalError::Connect {
            address: address(),
            reason: e.to_string(),
        })?;
    Client::new(
        connection,
        ClientOptions::new(settings.namespace.clone()).build(),
    )
    .map_err(|e| TemporalError::Connect {
        address: address(),
        reason: e.to_string(),
    })
}

/// A worker tuner with fixed slots: `workflow_slots` workflow tasks, `activity_slots`
/// activities and as many local activities at once, and one Nexus task (none are used).
#[cfg(feature = "worker")]
pub fn fixed_slots(
    workflow_slots: usize,
    activity_slots: usize,
) -> temporalio_sdk::runtime::worker_tuner::TunerHolder {
    use temporalio_sdk::runtime::worker_tuner::{FixedSizeSlotSupplier, TunerHolder};
    TunerHolder::builder()
        .workflow_task_slot_supplier(FixedSizeSlotSupplier::new(workflow_slots))
        .activity_task_slot_supplier(FixedSizeSlotSupplier::new(activity_slots))
        .local_activity_task_slot_supplier(FixedSizeSlotSupplier::new(activity_slots))
        .nexus_task_slot_supplier(FixedSizeSlotSupplier::new(1))
        .build()
}

/// Whether the Temporal frontend answers on this client's connection (readiness).
pub async fn ping(client: &Client) -> Result<(), String> {
    use temporalio_client::tonic::IntoRequest;
    use temporalio_common::protos::temporal::api::workflowservice::v1::GetSystemInfoRequest;
    client
        .connection()
        .workflow_service()
        .get_system_info(GetSystemInfoRequest::default().into_request())
        .await
        .map(|_| ())
        .map_err(|status| status.message().to_string())
}
