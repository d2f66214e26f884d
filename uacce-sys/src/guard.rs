//! Surviving a device removal on kernels that raise SIGBUS.
//!
//! When a uacce parent device goes away, the kernel zaps the queues' mappings. What a later access to them does
//! depends on the kernel (see `kmod-patch/README.md`): with the project's series and a parent that opts in to dummy
//! pages it reads all ones; on mainline, and with the series but a parent that does not opt in (hisi_qm,
//! `uacce_soft dummy_pages=0`), it raises SIGBUS, which kills the process. A user-space driver cannot avoid every
//! such access: the hang-up is reported after the queue is marked dead, but a thread may be reading the CQ or
//! writing an SQE between the zap and the moment it learns of the hang-up.
//!
//! [`install`] sets a process-wide SIGBUS handler that does in user space what the kernel's opt-in does: when the
//! faulting address lies in a registered queue mapping (every DUS and MMIO mapping a [`crate::queue::Queue`] makes
//! is registered while it lives), the whole mapping is replaced, in one `mremap`, with private anonymous memory
//! filled with ones, and the faulting access is retried on it. A queue whose memory reads all ones is a dead queue
//! for [`crate::qm::DriverRing`] (non-zero status words), so the caller's next look at the ring reports it. Stores
//! into the replacement are absorbed. [`hits`] counts the replacements.
//!
//! Any other SIGBUS goes to the handler that was installed before [`install`] (or, if there was none, to the default
//! action: the process dies as it would have). A handler installed after [`install`] replaces this one; it then
//! sees these faults itself. The handler is async-signal-safe: atomic loads, `mmap`/`mremap`/`munmap`/`sigaction`
//! and a memory fill.

use std::io;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};

use nix::libc;

/// Number of mappings that can be registered at once (a queue has two). Mappings beyond it are not guarded.
pub const MAX_GUARDED: usize = 1024;

struct Slot {
    used: AtomicBool,
    start: AtomicUsize,
    len: AtomicUsize,
}

static SLOTS: [Slot; MAX_GUARDED] = [const {
    Slot {
        used: AtomicBool::new(false),
        start: AtomicUsize::new(0),
        len: AtomicUsize::new(0),
    }
}; MAX_GUARDED];

static HITS: AtomicU64 = AtomicU64::new(0);
static PREV: OnceLock<libc::sigaction> = OnceLock::new();
static INSTALL: OnceLock<Result<(), i32>> = OnceLock::new();

/// A registered mapping; unregisters itself on drop (drop it before unmapping).
#[derive(Debug)]
pub(crate) struct Registration(usize);

impl Drop for Registration {
    fn drop(&mut self) {
        let s = &SLOTS[self.0];
        s.start.store(0, Ordering::Release);
        s.used.store(false, Ordering::Release);
    }
}

/// Register `len` bytes at `start` (a queue mapping). `None` if every slot is taken (the mapping is then not guarded).
pub(crate) fn register(start: usize, len: usize) -> Option<Registration> {
    if start == 0 || len == 0 {
        return None;
    }
    for (i, s) in SLOTS.iter().enumerate() {
        if s.used
            .compare_exchange(false, true, Ordering::AcqRel, Ordering::Relaxed)
            .is_ok()
        {
            s.len.store(len, Ordering::Release);
            s.start.store(start, Ordering::Release);
            return Some(Registration(i));
        }
    }
    None
}

/// Installs the SIGBUS handler (once per process; later calls return the first call's result). The handler that was
/// installed before is kept for the faults that are not in a queue mapping.
pub fn install() -> io::Result<()> {
    let r = INSTALL.get_or_init(|| {
        // SAFETY: an all-zero sigaction is a valid value to be overwritten by the kernel; the query (null new action)
        // changes nothing.
        let mut old: libc::sigaction = unsafe { std::mem::zeroed() };
        // SAFETY: `old` is a valid, writable sigaction; a null new action only reads the current one.
        if unsafe { libc::sigaction(libc::SIGBUS, std::ptr::null(), &mut old) } != 0 {
            return Err(io::Error::last_os_error()
                .raw_os_error()
                .unwrap_or(libc::EINVAL));
        }
        let _ = PREV.set(old);
        // SAFETY: as above, an all-zero sigaction is valid (empty mask, no flags) before the fields are set.
        let mut sa: libc::sigaction = unsafe { std::mem::zeroed() };
        sa.sa_sigaction = on_sigbus as *const () as usize;
        sa.sa_flags = libc::SA_SIGINFO | libc::SA_ONSTACK;
        // SAFETY: `sa` is a valid sigaction whose handler has the three-argument SA_SIGINFO signature and is
        // async-signal-safe; the old action was saved above.
        if unsafe { libc::sigaction(libc::SIGBUS, &sa, std::ptr::null_mut()) } != 0 {
            return Err(io::Error::last_os_error()
                .raw_os_error()
                .unwrap_or(libc::EINVAL));
        }
        Ok(())
    });
    r.map_err(io::Error::from_raw_os_error)
}

/// True once [`install`] succeeded.
pub fn installed() -> bool {
    matches!(INSTALL.get(), Some(Ok(())))
}

/// How many queue mappings the handler has replaced with memory of ones (since the process started).
pub fn hits() -> u64 {
    HITS.load(Ordering::Relaxed)
}

/// Replace `len` bytes at `start` with private anonymous memory filled with ones, in one step (the filled memory is
/// moved over the target with `mremap`, so no thread sees a half-filled page). Async-signal-safe.
fn replace(start: usize, len: usize) -> bool {
    // SAFETY: a new anonymous mapping at an address the kernel picks touches nothing that exists.
    let p = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            len,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
            -1,
            0,
        )
    };
    if p == libc::MAP_FAILED {
        return false;
    }
    // SAFETY: `p` is a fresh, writable mapping of `len` bytes that nothing else knows of.
    unsafe { std::ptr::write_bytes(p.cast::<u8>(), 0xff, len) };
    // SAFETY: `start`/`len` is a registered queue mapping, which its Queue keeps mapped (and no other object
    // overlaps) until the registration is dropped; MREMAP_FIXED replaces that range with the filled pages. The
    // Queue later unmaps the same range, which then holds these pages.
    let r = unsafe {
        libc::mremap(
            p,
            len,
            len,
            libc::MREMAP_MAYMOVE | libc::MREMAP_FIXED,
            start as *mut libc::c_void,
        )
    };
    if r == libc::MAP_FAILED {
        // SAFETY: `p` is the mapping made above and still ours.
        unsafe { libc::munmap(p, len) };
        return false;
    }
    true
}

extern "C" fn on_sigbus(sig: libc::c_int, info: *mut libc::siginfo_t, ctx: *mut libc::c_void) {
    // SAFETY: for an SA_SIGINFO handler the kernel passes a valid siginfo_t that lives for the call.
    let addr = unsafe { (*info).si_addr() } as usize;
    for s in &SLOTS {
        let start = s.start.load(Ordering::Acquire);
        if start == 0 || addr < start {
            continue;
        }
        let len = s.len.load(Ordering::Acquire);
        if addr - start < len {
            if replace(start, len) {
                HITS.fetch_add(1, Ordering::Relaxed);
                return;
            }
            break;
        }
    }
    chain(sig, info, ctx);
}

/// Hand the signal to the handler that was there before, or to the default action.
fn chain(sig: libc::c_int, info: *mut libc::siginfo_t, ctx: *mut libc::c_void) {
    if let Some(prev) = PREV.get() {
        let h = prev.sa_sigaction;
        if h != libc::SIG_DFL && h != libc::SIG_IGN {
            if prev.sa_flags & libc::SA_SIGINFO != 0 {
                // SAFETY: the previous owner installed `h` with SA_SIGINFO, so it has this signature and expects
                // these arguments.
                let f: extern "C" fn(libc::c_int, *mut libc::siginfo_t, *mut libc::c_void) =
                    unsafe { std::mem::transmute(h) };
                f(sig, info, ctx);
            } else {
                // SAFETY: installed without SA_SIGINFO, `h` is a one-argument handler.
                let f: extern "C" fn(libc::c_int) = unsafe { std::mem::transmute(h) };
                f(sig);
            }
            return;
        }
    }
    // The default action: restore it; a fault then repeats and ends the process as it would have without us, a
    // signal sent by someone is raised again (it is delivered when this handler returns).
    // SAFETY: an all-zero sigaction with SIG_DFL (0) is the default action; sigaction and raise are
    // async-signal-safe; `info` is valid for the call.
    unsafe {
        let dfl: libc::sigaction = std::mem::zeroed();
        libc::sigaction(sig, &dfl, std::ptr::null_mut());
        if (*info).si_code <= 0 {
            libc::raise(sig);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use memmap2::MmapOptions;
    use std::sync::atomic::AtomicUsize;

    static PREV_SAW: AtomicUsize = AtomicUsize::new(0);
    static PAGE: AtomicUsize = AtomicUsize::new(4096);

    /// A handler installed before the guard: records the address and maps a page of zeros over it (so the access
    /// can complete).
    extern "C" fn prev_handler(
        _sig: libc::c_int,
        info: *mut libc::siginfo_t,
        _ctx: *mut libc::c_void,
    ) {
        // SAFETY: SA_SIGINFO handler: `info` is valid for the call.
        let addr = unsafe { (*info).si_addr() } as usize;
        PREV_SAW.store(addr, Ordering::SeqCst);
        let page = PAGE.load(Ordering::SeqCst);
        // SAFETY: the page holding `addr` belongs to the test's own truncated file mapping, which the test unmaps
        // afterwards; replacing it with anonymous memory is what the test expects.
        unsafe {
            libc::mmap(
                (addr & !(page - 1)) as *mut libc::c_void,
                page,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_FIXED,
                -1,
                0,
            )
        };
    }

    /// A mapping of a file that is then truncated: every access raises SIGBUS, like a zapped queue mapping.
    fn doomed_mapping(len: usize) -> (std::fs::File, memmap2::MmapRaw) {
        let f = tempfile::tempfile().unwrap();
        f.set_len(len as u64).unwrap();
        let m = MmapOptions::new().len(len).map_raw(&f).unwrap();
        f.set_len(0).unwrap();
        (f, m)
    }

    #[test]
    fn replaces_registered_mappings_and_chains_the_rest() {
        // A handler that was there before the guard
        // SAFETY: an all-zero sigaction is valid; `prev_handler` has the SA_SIGINFO signature.
        unsafe {
            let mut sa: libc::sigaction = std::mem::zeroed();
            sa.sa_sigaction = prev_handler as *const () as usize;
            sa.sa_flags = libc::SA_SIGINFO;
            assert_eq!(libc::sigaction(libc::SIGBUS, &sa, std::ptr::null_mut()), 0);
        }
        install().unwrap();
        assert!(installed());
        install().unwrap();
        let page = crate::qm::ring::page_size();
        PAGE.store(page, Ordering::SeqCst);

        // A registered mapping: the access after the "zap" reads ones, the mapping takes a store, and one hit counts
        let len = 3 * page;
        let (_f, m) = doomed_mapping(len);
        let reg = register(m.as_mut_ptr() as usize, len).unwrap();
        let before = hits();
        // SAFETY: offset page + 4 is inside the live mapping and 4-aligned; volatile: the access must happen.
        let v = unsafe { std::ptr::read_volatile(m.as_mut_ptr().add(page + 4).cast::<u32>()) };
        assert_eq!(v, u32::MAX);
        assert_eq!(hits(), before + 1);
        // SAFETY: as above; the whole range was replaced, so other pages and stores work too.
        unsafe {
            std::ptr::write_volatile(m.as_mut_ptr().add(2 * page).cast::<u32>(), 5);
            assert_eq!(
                std::ptr::read_volatile(m.as_mut_ptr().add(2 * page).cast::<u32>()),
                5
            );
            assert_eq!(std::ptr::read_volatile(m.as_mut_ptr().cast::<u8>()), 0xff);
        }
        assert_eq!(hits(), before + 1, "one fault replaces the whole mapping");
        drop(reg);

        // An unregistered mapping: the previous handler gets the fault, the guard does not count it
        let (_f2, m2) = doomed_mapping(page);
        // SAFETY: inside the live mapping; the previous handler maps a page of zeros over it.
        let v = unsafe { std::ptr::read_volatile(m2.as_mut_ptr().add(8).cast::<u32>()) };
        assert_eq!(v, 0);
        assert_eq!(
            PREV_SAW.load(Ordering::SeqCst),
            m2.as_mut_ptr() as usize + 8
        );
        assert_eq!(hits(), before + 1);
    }

    #[test]
    fn registration_slots_are_reused() {
        let regs: Vec<_> = (0..MAX_GUARDED)
            .map_while(|i| register(0x1000 * (i + 1), 8))
            .collect();
        // Other tests may hold a slot or two at the same time
        assert!(regs.len() >= MAX_GUARDED - 4);
        if regs.len() == MAX_GUARDED {
            assert!(register(0x1000, 8).is_none(), "every slot is taken");
        }
        drop(regs);
        assert!(register(0x1000, 8).is_some());
        assert!(register(0, 8).is_none() && register(0x1000, 0).is_none());
    }
}
