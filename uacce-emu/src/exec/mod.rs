//! Job execution: decode an SQE strictly, do the work on the buffers it names, write the results back into it.

use uacce_sys::qm::{QmVersion, Sqe};

use crate::DeviceKind;

/// What executing one SQE produced.
pub(crate) struct Outcome {
    /// False if the SQE now carries an error status.
    pub ok: bool,
    /// Input bytes the job processed (for the bandwidth service model).
    pub bytes: u64,
}

/// Per-device execution state (ZIP stream contexts live here).
pub(crate) struct ExecState {
    kind: DeviceKind,
    #[allow(dead_code)]
    zip_level: u32,
}

impl ExecState {
    pub fn new(kind: DeviceKind, zip_level: u32) -> Self {
        Self { kind, zip_level }
    }

    pub fn execute(&self, _version: QmVersion, _qc_type: u16, _sqe: &mut Sqe) -> Outcome {
        match self.kind {
            DeviceKind::Null => Outcome { ok: true, bytes: 0 },
            DeviceKind::Zip | DeviceKind::Sec => Outcome {
                ok: false,
                bytes: 0,
            },
        }
    }
}

/// Write an injected error status into an SQE.
pub(crate) fn inject_error(_kind: DeviceKind, _version: QmVersion, _sqe: &mut Sqe) {}
