//! The UADK-style baseline: jobs on the emulated device through the raw QM ring, one dedicated thread polling the
//! completion queues and running a callback per completion (as `wd_do_*_async` + a `wd_*_poll` thread do).

use super::*;

pub(crate) type Callback = Box<dyn FnOnce(Sqe) + Send>;
/// A job in flight: its callback and the buffers the device may touch (kept alive until the completion).
pub(crate) type InFlight = (Callback, Bytes, Option<BytesMut>);

pub(crate) struct UadkRing {
    pub(crate) ring: DriverRing,
    pub(crate) version: QmVersion,
    pub(crate) kind: DeviceKind,
    /// Declared (so dropped) before `slots`: closing the queue stops the device before the buffers of jobs still
    /// in flight are freed.
    pub(crate) _queue: uacce::emu::EmuQueue,
    pub(crate) slots: Vec<Option<InFlight>>,
    pub(crate) free: Vec<u32>,
}

pub(crate) struct Uadk {
    pub(crate) rings: Arc<[Mutex<UadkRing>; 3]>,
    pub(crate) stop: Arc<AtomicBool>,
    pub(crate) thread: Option<std::thread::JoinHandle<()>>,
}

impl Uadk {
    pub(crate) fn new(service: ServiceModel) -> Result<Self, BoxError> {
        let open = |kind: DeviceKind| -> Result<Mutex<UadkRing>, BoxError> {
            let name = match kind {
                DeviceKind::Zip => "emu_zip-uadk",
                DeviceKind::Sec => "emu_sec-uadk",
                DeviceKind::Null => "emu_null-uadk",
                DeviceKind::Hpre => "emu_hpre-uadk",
            };
            let dev = EmuDevice::new(
                EmuConfig::new(kind)
                    .name(name)
                    .version(QmVersion::V3)
                    .service(service),
            );
            let q = dev.open_queue(0)?;
            Ok(Mutex::new(UadkRing {
                ring: q.driver_ring()?,
                version: q.version(),
                kind,
                slots: Vec::new(),
                free: Vec::new(),
                _queue: q,
            }))
        };
        let rings = Arc::new([
            open(DeviceKind::Null)?,
            open(DeviceKind::Zip)?,
            open(DeviceKind::Sec)?,
        ]);
        let stop = Arc::new(AtomicBool::new(false));
        let (r2, s2) = (rings.clone(), stop.clone());
        let thread = std::thread::Builder::new()
            .name("uadk-poll".into())
            .spawn(move || {
                let mut ready: Vec<(Callback, Sqe)> = Vec::with_capacity(64);
                while !s2.load(Ordering::Relaxed) {
                    for r in r2.iter() {
                        let mut g = r.lock().unwrap_or_else(|e| e.into_inner());
                        if !g.ring.has_completion() {
                            continue;
                        }
                        let mut n = 0;
                        while let Ok(Some(c)) = g.ring.pop() {
                            n += 1;
                            let tag = match g.kind {
                                DeviceKind::Null => {
                                    u32::from_le_bytes([c.sqe[0], c.sqe[1], c.sqe[2], c.sqe[3]])
                                }
                                DeviceKind::Zip => zip::ZipSqeType::of(&c.sqe)
                                    .map_or(u32::MAX, |t| zip::read_tag(&c.sqe, t)),
                                DeviceKind::Sec => sec::read_tag(&c.sqe) as u32,
                                DeviceKind::Hpre => {
                                    uacce::sys::qm::hpre::read_result(&c.sqe).tag as u32
                                }
                            };
                            if let Some((cb, _in, _out)) =
                                g.slots.get_mut(tag as usize).and_then(Option::take)
                            {
                                g.free.push(tag);
                                ready.push((cb, c.sqe));
                            }
                        }
                        if n > 0 {
                            let _ = g.ring.ring_cq(false);
                        }
                        drop(g);
                        for (cb, sqe) in ready.drain(..) {
                            cb(sqe);
                        }
                    }
                    std::hint::spin_loop();
                }
            })?;
        Ok(Self {
            rings,
            stop,
            thread: Some(thread),
        })
    }

    /// Submit `job` on `data`; the callback completes a oneshot that the task awaits. Checks the device's status.
    pub(crate) async fn run(&self, job: Job, data: &Bytes) -> Result<(), BoxError> {
        let (tx, rx) = tokio::sync::oneshot::channel::<Sqe>();
        let idx = match job {
            Job::Null => 0,
            Job::Gzip4k | Job::Gzip64k => 1,
            Job::Gcm4k | Job::Sha4k => 2,
        };
        {
            let mut g = self.rings[idx].lock().unwrap_or_else(|e| e.into_inner());
            let tag = match g.free.pop() {
                Some(t) => t,
                None => {
                    g.slots.push(None);
                    (g.slots.len() - 1) as u32
                }
            };
            let version = g.version;
            let (sqe, out) = match job {
                Job::Null => {
                    let mut s = [0u8; 128];
                    s[..4].copy_from_slice(&tag.to_le_bytes());
                    (s, None)
                }
                Job::Gzip4k | Job::Gzip64k => {
                    let alg = ZipAlg::Gzip;
                    let mut out = BytesMut::zeroed(data.len() + 1024);
                    out[..alg.header().len()].copy_from_slice(alg.header());
                    let buffers = HwBuffers::from_user(
                        alg,
                        QcType::Compress,
                        true,
                        data.as_ptr() as u64,
                        data.len() as u32,
                        out.as_ptr() as u64,
                        out.len() as u32,
                    )?;
                    let req = ZipRequest {
                        alg,
                        buffers,
                        tag,
                        window: ZipWindow::W32K,
                        mode: ZipMode::Block,
                    };
                    (zip::encode(&req, version), Some(out))
                }
                Job::Gcm4k => {
                    // [aad area (none) | ciphertext | tag | iv (12) | a_ivin (64)]
                    let n = data.len();
                    let mut out = BytesMut::zeroed(n + 16 + 12 + 64);
                    let nonce = next_nonce();
                    out[n + 16..n + 28].copy_from_slice(nonce.as_bytes());
                    // a_ivin holds a copy of the IV (UADK, kernel sec2; the emulator checks it).
                    out[n + 28..n + 40].copy_from_slice(nonce.as_bytes());
                    let o = out.as_ptr() as u64;
                    let op = SecOp::Aead(GcmRequest {
                        dir: CipherDir::Encrypt,
                        key_addr: KEY.as_ptr() as u64,
                        key_len: 32,
                        iv_addr: o + (n + 16) as u64,
                        aiv_addr: o + (n + 28) as u64,
                        src_addr: data.as_ptr() as u64,
                        dst_addr: o,
                        aad_len: 0,
                        payload_len: n as u32,
                        mac_addr: o + n as u64,
                        tag_len: 16,
                    });
                    let req = SecRequest {
                        op,
                        tag: u64::from(tag) as _,
                        sva_prefetch: false,
                    };
                    (sec::encode(&req, version)?, Some(out))
                }
                Job::Sha4k => {
                    let mut out = BytesMut::zeroed(64);
                    let op =
                        SecOp::Digest(req::digest(DigestAlg::Sha256, None, data, &mut out[..32]));
                    let req = SecRequest {
                        op,
                        tag: u64::from(tag) as _,
                        sva_prefetch: false,
                    };
                    (sec::encode(&req, version)?, Some(out))
                }
            };
            let cb: Callback = Box::new(move |sqe| {
                let _ = tx.send(sqe);
            });
            g.slots[tag as usize] = Some((cb, data.clone(), out));
            // SAFETY: the SQE names `data`'s and `out`'s heap storage (and the static KEY); both were just moved
            // into `g.slots[tag]` (moving a Bytes/BytesMut does not move its storage), where nothing else reads or
            // writes them, and the poll thread takes them out only after `pop` returned this tag's completion. If
            // the submit fails the slot keeps them. At teardown `UadkRing` drops `_queue` (stopping the device)
            // before `slots`.
            unsafe { g.ring.submit(&sqe) }?;
        }
        let sqe = rx
            .await
            .map_err(|_| "uadk-style poll thread dropped a job")?;
        let ok = match job {
            Job::Null => true,
            Job::Gzip4k | Job::Gzip64k => matches!(
                zip::read_result(&sqe).outcome(),
                ZipOutcome::Ok | ZipOutcome::StreamEnd
            ),
            Job::Gcm4k | Job::Sha4k => sec::read_result(&sqe).outcome() == sec::SecOutcome::Ok,
        };
        if ok {
            Ok(())
        } else {
            Err(format!("{} job failed on the device", job.name()).into())
        }
    }
}

impl Drop for Uadk {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
