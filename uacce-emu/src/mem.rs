//! Memory the emulated device touches: the queue's DUS region (page-aligned anonymous memory, as the kernel's DUS
//! mapping is) and the job buffers named by SQEs (user virtual addresses, as with SVA hardware).

use std::io::{IoSlice, IoSliceMut};

use memmap2::MmapMut;
use nix::sys::uio::{RemoteIoVec, process_vm_readv, process_vm_writev};
use nix::unistd::Pid;
use uacce_sys::qm::DusMemory;

/// A DUS region in page-aligned, zero-filled anonymous memory.
pub struct AnonDus {
    map: MmapMut,
    ptr: *mut u8,
}

// SAFETY: the mapping is plain shared memory; all access goes through raw pointers and atomics in the ring code.
unsafe impl Send for AnonDus {}
// SAFETY: as above.
unsafe impl Sync for AnonDus {}

impl AnonDus {
    /// Map `len` bytes of zeroed anonymous memory.
    pub fn new(len: usize) -> std::io::Result<Self> {
        let mut map = MmapMut::map_anon(len)?;
        let ptr = map.as_mut_ptr();
        Ok(Self { map, ptr })
    }
}

// SAFETY: `ptr` is the start of a live page-aligned mapping of `len` bytes owned by `self.map`, which is never
// accessed through references after construction.
unsafe impl DusMemory for AnonDus {
    fn as_ptr(&self) -> *mut u8 {
        self.ptr
    }
    fn len(&self) -> usize {
        self.map.len()
    }
}

/// A job buffer the device could not access (unmapped, or a null address): the hardware equivalent is an IOMMU
/// fault, which ends the job with an error status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("device cannot access {len} bytes at {addr:#x}")]
pub struct AccessFault {
    /// Start address.
    pub addr: u64,
    /// Length.
    pub len: usize,
}

/// Access to this process's memory by address, the way a device with SVA reaches user buffers.
///
/// Reads and writes go through `process_vm_readv`/`process_vm_writev` on our own pid, so an address that is not
/// mapped gives an [`AccessFault`] (EFAULT) instead of a segmentation fault, and no Rust reference to the caller's
/// buffers is ever formed by the device.
#[derive(Debug, Clone, Copy)]
pub struct ProcMem {
    pid: Pid,
}

impl Default for ProcMem {
    fn default() -> Self {
        Self::new()
    }
}

impl ProcMem {
    /// Memory of the calling process.
    pub fn new() -> Self {
        Self { pid: Pid::this() }
    }

    fn check(addr: u64, len: usize) -> Result<usize, AccessFault> {
        let fault = AccessFault { addr, len };
        if len == 0 {
            return Ok(0);
        }
        if addr == 0 || addr.checked_add(len as u64).is_none() {
            return Err(fault);
        }
        usize::try_from(addr).map_err(|_| fault)
    }

    /// Copy `len` bytes starting at `addr` out of process memory.
    pub fn read(&self, addr: u64, len: usize) -> Result<Vec<u8>, AccessFault> {
        let base = Self::check(addr, len)?;
        let mut out = vec![0u8; len];
        let mut done = 0;
        while done < len {
            let remote = [RemoteIoVec {
                base: base + done,
                len: len - done,
            }];
            let mut local = [IoSliceMut::new(&mut out[done..])];
            match process_vm_readv(self.pid, &mut local, &remote) {
                Ok(0) | Err(_) => return Err(AccessFault { addr, len }),
                Ok(n) => done += n,
            }
        }
        Ok(out)
    }

    /// Copy `data` into process memory at `addr`.
    pub fn write(&self, addr: u64, data: &[u8]) -> Result<(), AccessFault> {
        let len = data.len();
        let base = Self::check(addr, len)?;
        let mut done = 0;
        while done < len {
            let remote = [RemoteIoVec {
                base: base + done,
                len: len - done,
            }];
            let local = [IoSlice::new(&data[done..])];
            match process_vm_writev(self.pid, &local, &remote) {
                Ok(0) | Err(_) => return Err(AccessFault { addr, len }),
                Ok(n) => done += n,
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn read_write_own_memory() {
        let mem = ProcMem::new();
        let src = vec![7u8; 10_000];
        let got = mem.read(src.as_ptr() as u64, src.len()).unwrap();
        assert_eq!(got, src);
        let mut dst = vec![0u8; 16];
        let addr = dst.as_mut_ptr() as u64;
        mem.write(addr + 4, &[1, 2, 3]).unwrap();
        assert_eq!(&dst[..8], &[0, 0, 0, 0, 1, 2, 3, 0]);
    }

    #[test]
    fn bad_addresses_fault() {
        let mem = ProcMem::new();
        assert!(mem.read(0, 4).is_err());
        assert!(mem.read(8, 4).is_err());
        assert!(mem.write(16, &[1]).is_err());
        assert!(mem.read(u64::MAX - 1, 4).is_err());
        assert_eq!(mem.read(0, 0).unwrap(), Vec::<u8>::new());
    }

    #[test]
    fn anon_dus_is_aligned_and_zeroed() {
        let dus = AnonDus::new(0x25000).unwrap();
        assert_eq!(dus.as_ptr() as usize % 4096, 0);
        assert_eq!(dus.len(), 0x25000);
        let mem = ProcMem::new();
        assert!(
            mem.read(dus.as_ptr() as u64, 64)
                .unwrap()
                .iter()
                .all(|&b| b == 0)
        );
    }
}
