//! Job execution: decode an SQE strictly, do the work on the buffers it names, write the results back into it.

use uacce_sys::qm::{QmVersion, Sqe};

use crate::DeviceKind;
use crate::mem::ProcMem;

pub mod hpre;
pub mod sec;
pub mod zip;

/// What executing one SQE produced.
pub(crate) struct Outcome {
    /// False if the SQE now carries an error status.
    pub ok: bool,
    /// Input bytes the job processed (for the bandwidth service model).
    pub bytes: u64,
    /// Of a successful job: input bytes the device reports consumed (ZIP: dw0; SEC and HPRE: the data length).
    pub consumed: u64,
    /// Of a successful ZIP job: output bytes the device reports produced (dw1); 0 for SEC and HPRE.
    pub produced: u64,
}

/// Per-device execution state.
pub(crate) struct ExecState {
    kind: DeviceKind,
    version: QmVersion,
    mem: ProcMem,
    zip: zip::ZipEngine,
}

impl ExecState {
    pub fn new(kind: DeviceKind, version: QmVersion, zip_level: u32, max_streams: usize) -> Self {
        Self {
            kind,
            version,
            mem: ProcMem::new(),
            zip: zip::ZipEngine::new(zip_level, max_streams),
        }
    }

    pub fn release_stream(&self, ctx_addr: u64) {
        self.zip.forget(ctx_addr);
    }

    pub fn open_streams(&self) -> usize {
        self.zip.open_streams()
    }

    /// The input slots `sqe` names, with the bytes there now (the SQE trace).
    pub fn reads(&self, qc_type: u16, sqe: &Sqe) -> Vec<crate::SlotRead> {
        crate::trace::reads(self.kind, self.version, qc_type, &self.mem, sqe)
    }

    pub fn execute(&self, qc_type: u16, sqe: &mut Sqe) -> Outcome {
        match self.kind {
            DeviceKind::Null => Outcome {
                ok: true,
                bytes: 0,
                consumed: 0,
                produced: 0,
            },
            DeviceKind::Zip => self.zip.execute(qc_type, sqe, &self.mem),
            DeviceKind::Sec => sec::execute(sqe, &self.mem),
            DeviceKind::Hpre => hpre::execute(sqe, self.version, qc_type, &self.mem),
        }
    }
}

/// Write an injected error status into an SQE.
pub(crate) fn inject_error(kind: DeviceKind, _version: QmVersion, sqe: &mut Sqe) {
    match kind {
        DeviceKind::Zip => zip::inject_error(sqe),
        DeviceKind::Sec => sec::inject_error(sqe),
        DeviceKind::Hpre => hpre::inject_error(sqe),
        DeviceKind::Null => {}
    }
}
