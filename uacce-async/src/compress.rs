//! One-shot compression and decompression of deflate, zlib and gzip streams.
//!
//! On a device a request is one block-mode ZIP job (32 KiB window) whose input and output each fit one flat buffer
//! (8 MiB); larger requests, and outputs that outgrow 8 MiB, run on the CPU backend. The zlib/gzip header of a
//! decompression is parsed in software and the device inflates the body.

use bytes::{Bytes, BytesMut};
use uacce_soft::zip::InflateError;
use uacce_sys::qm::zip::{self, HwBuffers, QcType, ZipMode, ZipOutcome, ZipRequest, ZipWindow};
use uacce_sys::qm::{QmVersion, Sqe};

use crate::accel::Accel;
use crate::error::{Error, Result};
use crate::gzip_header;
use crate::job::{Job, Step, addr};
use crate::lane::{Buffers, Class, JobOutput, Scratch};
use crate::pool::ClassPool;
use crate::stats::Family;
use crate::types::Format;

/// The largest flat buffer one ZIP BD takes.
const MAX_FLAT: usize = zip::MAX_FLAT_LEN as usize;

/// zlib's `deflateBound` plus room for the zlib/gzip header and trailer.
pub(crate) fn compress_bound(n: usize) -> usize {
    n + (n >> 12) + (n >> 14) + (n >> 25) + 13 + 18
}

/// The SQE of a one-shot ZIP job (block mode, 32 KiB window) over `hw`.
fn block_sqe(format: Format, hw: HwBuffers, tag: u32, version: QmVersion) -> Sqe {
    let req = ZipRequest {
        alg: format.zip_alg(),
        buffers: hw,
        tag,
        window: ZipWindow::W32K,
        mode: ZipMode::Block,
    };
    zip::encode(&req, version)
}

/// Compress `data` into one stream.
struct CompressJob {
    format: Format,
    /// Deflate level on the CPU.
    level: u32,
    data: Bytes,
    /// Output room of the next device attempt.
    cap: usize,
}

impl Job for CompressJob {
    type Output = Bytes;
    const CLASS: Class = Class::ZipCompress;
    const FAMILY: Family = Family::Compress;

    fn size(&self) -> usize {
        self.data.len()
    }

    fn fits(&self, _: &ClassPool) -> bool {
        self.data.len() <= MAX_FLAT
    }

    fn buffers(&mut self, _: QmVersion) -> Result<Buffers> {
        let header = self.format.zip_alg().header();
        let mut output = BytesMut::zeroed(self.cap);
        output[..header.len()].copy_from_slice(header);
        Ok(Buffers {
            input: Some(self.data.clone()),
            output: Some(output),
            keep: None,
        })
    }

    fn sqe(&self, tag: u32, _: &mut Scratch, bufs: &Buffers, version: QmVersion) -> Result<Sqe> {
        let (input, output) = (bufs.input(), bufs.output());
        let hw = HwBuffers::from_user(
            self.format.zip_alg(),
            QcType::Compress,
            true,
            addr(input),
            input.len() as u32,
            addr(output),
            output.len() as u32,
        )
        .map_err(|e| Error::Device(e.to_string()))?;
        Ok(block_sqe(self.format, hw, tag, version))
    }

    fn complete(&mut self, out: JobOutput, _: QmVersion) -> Result<Step<Bytes>> {
        let c = zip::read_result(&out.sqe);
        Ok(match c.outcome() {
            ZipOutcome::Ok | ZipOutcome::StreamEnd => {
                let (_, produced) = c.user_lengths(QcType::Compress);
                let mut output = out.into_output();
                output.truncate(produced as usize);
                Step::Done(output.freeze())
            }
            ZipOutcome::DstTooSmall if self.cap < MAX_FLAT => {
                self.cap = (self.cap * 2).min(MAX_FLAT);
                Step::Again
            }
            ZipOutcome::DstTooSmall => Step::Cpu,
            ZipOutcome::Error(s) => {
                return Err(Error::Device(format!("compression failed, status {s:?}")));
            }
        })
    }

    fn cpu(self) -> Result<Bytes> {
        Ok(Bytes::from(uacce_soft::zip::compress(
            self.format.wrapper(),
            self.level,
            &self.data,
        )))
    }
}

/// The gzip magic: what a member after another starts with.
const GZIP_MAGIC: [u8; 2] = [0x1F, 0x8B];

/// True if `rest` (what follows a gzip member) starts another member.
fn next_member(format: Format, rest: &[u8]) -> bool {
    format == Format::Gzip && rest.starts_with(&GZIP_MAGIC)
}

/// Decompress the stream (gzip: the member) at the start of `data`, of at most `limit` output bytes. Its output is
/// the decompressed data and the input bytes taken; what follows is the caller's to judge.
struct DecompressJob {
    format: Format,
    data: Bytes,
    limit: usize,
    /// On the CPU, also decode the gzip members that follow (one trip to the blocking pool for all of them); a
    /// device attempt always decodes one member (one block-mode BD ends at the first member's trailer).
    all_members: bool,
    /// First device output room, if the caller has a better guess than 4× the input (the previous member's
    /// output: BGZF members are many and small, and 4× the rest of the file would be a large buffer per member).
    /// Never from a length field of the input.
    first_cap: Option<usize>,
    /// Length of the zlib/gzip header, parsed in software before the first device attempt.
    header: Option<usize>,
    /// Output room of the next device attempt.
    cap: usize,
}

impl DecompressJob {
    /// The most output a device attempt is given.
    fn ceiling(&self) -> usize {
        self.limit.min(MAX_FLAT)
    }

    fn body_len(&self) -> usize {
        self.data.len() - self.header.unwrap_or(0)
    }
}

impl Job for DecompressJob {
    type Output = (Bytes, usize);
    const CLASS: Class = Class::ZipDecompress;
    const FAMILY: Family = Family::Decompress;

    fn size(&self) -> usize {
        self.data.len()
    }

    /// The device's error status on an inflate job reads as corrupt input; the CPU redoes it (and says so too if the
    /// input is corrupt), as a device that fails a good stream must not fail the caller's job.
    fn device_failed(&self, e: &Error) -> bool {
        matches!(
            e,
            Error::Device(_)
                | Error::CorruptData(_)
                | Error::QueueReset
                | Error::DeviceRemoved
                | Error::Timeout(_)
                | Error::NoDevice { .. }
        )
    }

    fn fits(&self, _: &ClassPool) -> bool {
        self.data.len() <= MAX_FLAT
    }

    fn buffers(&mut self, _: QmVersion) -> Result<Buffers> {
        let hdr = match self.header {
            Some(h) => h,
            None => {
                let hdr = gzip_header::complete_header_len(self.format, &self.data)?;
                self.header = Some(hdr);
                // First guess at the output size: 4× the deflate body, within [4 KiB, the limit], growing 4× per
                // attempt. Never the gzip trailer's ISIZE: a length field of the input is not trusted to size a
                // buffer (a patched ISIZE would make a 25-byte input allocate megabytes).
                let ceiling = self.ceiling().max(1);
                self.cap = self
                    .first_cap
                    .unwrap_or_else(|| self.body_len().saturating_mul(4))
                    .clamp(4096.min(ceiling), ceiling);
                hdr
            }
        };
        debug_assert!(hdr <= self.data.len());
        Ok(Buffers {
            input: Some(self.data.clone()),
            output: Some(BytesMut::zeroed(self.cap)),
            keep: None,
        })
    }

    fn sqe(&self, tag: u32, _: &mut Scratch, bufs: &Buffers, version: QmVersion) -> Result<Sqe> {
        let body = &bufs.input()[self.header.unwrap_or(0)..];
        let output = bufs.output();
        let hw = HwBuffers {
            src_addr: addr(body),
            src_len: body.len() as u32,
            dst_addr: addr(output),
            dst_avail: output.len() as u32,
        };
        Ok(block_sqe(self.format, hw, tag, version))
    }

    fn complete(&mut self, out: JobOutput, _: QmVersion) -> Result<Step<(Bytes, usize)>> {
        let c = zip::read_result(&out.sqe);
        let body_len = self.body_len();
        Ok(match c.outcome() {
            // The output room is at least one byte even for a limit of 0: the limit itself is checked here.
            ZipOutcome::Ok | ZipOutcome::StreamEnd if c.produced as usize > self.limit => {
                return Err(Error::OutputLimit { limit: self.limit });
            }
            ZipOutcome::Ok | ZipOutcome::StreamEnd => {
                if c.consumed as usize > body_len {
                    return Err(Error::Device(
                        "the device reports more input consumed than it was given".into(),
                    ));
                }
                let mut output = out.into_output();
                output.truncate(c.produced as usize);
                Step::Done((
                    output.freeze(),
                    self.header.unwrap_or(0) + c.consumed as usize,
                ))
            }
            ZipOutcome::DstTooSmall if self.cap < self.ceiling() => {
                self.cap = self.cap.saturating_mul(4).min(self.ceiling());
                Step::Again
            }
            ZipOutcome::DstTooSmall if self.limit > MAX_FLAT => Step::Cpu,
            ZipOutcome::DstTooSmall => return Err(Error::OutputLimit { limit: self.limit }),
            ZipOutcome::Error(s) => {
                return Err(Error::CorruptData(format!(
                    "the device rejected the stream (status {s:?})"
                )));
            }
        })
    }

    fn cpu(self) -> Result<(Bytes, usize)> {
        let err = |e| match e {
            InflateError::Corrupt(m) => Error::CorruptData(m),
            InflateError::OutputLimit { limit } => Error::OutputLimit { limit },
        };
        let wrapper = self.format.wrapper();
        let (mut out, mut pos) =
            uacce_soft::zip::decompress_prefix(wrapper, &self.data, self.limit).map_err(err)?;
        while self.all_members && next_member(self.format, &self.data[pos..]) {
            // The limit holds across members: each gets what the ones before it left.
            let (more, used) = uacce_soft::zip::decompress_prefix(
                wrapper,
                &self.data[pos..],
                self.limit - out.len(),
            )
            .map_err(|e| match e {
                InflateError::OutputLimit { .. } => Error::OutputLimit { limit: self.limit },
                e => err(e),
            })?;
            out.extend_from_slice(&more);
            pos += used;
        }
        Ok((Bytes::from(out), pos))
    }
}

impl Accel {
    /// Compress `data` into one `format` stream.
    ///
    /// Inputs above the hardware's 8 MiB flat-buffer limit run on the CPU backend.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), uacce_async::Error> {
    /// use uacce_async::{Accel, Backend, Format};
    /// let accel = Accel::builder().backend(Backend::Emulated).build().await?;
    /// let text = "to be or not to be, ".repeat(100);
    /// let zlib = accel.compress(Format::Zlib, text.clone()).await?;
    /// assert!(zlib.len() < text.len() / 10);
    /// assert_eq!(accel.decompress(Format::Zlib, zlib).await?, text.as_bytes());
    /// # Ok(()) }
    /// ```
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: the call changes no state of the [`Accel`](crate::Accel), so dropping the future only abandons
    /// the job. A job already on a device keeps its buffers until the device completes it (then they are freed); a
    /// CPU job not yet started is skipped, one already running finishes on its pool thread. The call can simply be
    /// made again.
    pub async fn compress(&self, format: Format, data: impl Into<Bytes>) -> Result<Bytes> {
        let data: Bytes = data.into();
        let job = CompressJob {
            format,
            level: self.inner.config.cpu_level,
            cap: compress_bound(data.len()).min(MAX_FLAT),
            data,
        };
        self.inner.execute(job).await
    }

    /// Decompress one `format` stream; the output may not exceed the configured `max_decompressed`.
    ///
    /// gzip input may hold several members one after another (`gzip -c a > x; gzip -c b >> x`, pigz, BGZF as
    /// `bgzip` writes it): all of them are decoded and their outputs joined, as `gzip -dc` and flate2's
    /// `MultiGzDecoder` do, with the limit counting the whole output. [`Accel::decompress_first_member`] stops after
    /// the first. Bytes after the last member that do not start another member are [`Error::CorruptData`]
    /// ("trailing data"): `gzip -dc` warns "trailing garbage ignored" and exits with status 2; this crate refuses
    /// rather than return data with a warning nobody sees.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), uacce_async::Error> {
    /// use uacce_async::{Accel, Backend, Error, Format};
    /// let accel = Accel::builder().backend(Backend::Emulated).build().await?;
    /// let gz = accel.compress(Format::Gzip, &b"hello hello hello"[..]).await?;
    /// assert_eq!(&accel.decompress(Format::Gzip, gz.clone()).await?[..], b"hello hello hello");
    /// // Two members, as `gzip -c a > x; gzip -c b >> x` writes them.
    /// let two = [&gz[..], &accel.compress(Format::Gzip, &b", bye"[..]).await?[..]].concat();
    /// assert_eq!(&accel.decompress(Format::Gzip, two).await?[..], b"hello hello hello, bye");
    /// // A damaged stream is an error, never wrong data.
    /// let mut bad = gz.to_vec();
    /// let last = bad.len() - 1;
    /// bad[last] ^= 0xff; // the length in the gzip trailer
    /// assert!(matches!(accel.decompress(Format::Gzip, bad).await, Err(Error::CorruptData(_))));
    /// # Ok(()) }
    /// ```
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: the call changes no state of the [`Accel`](crate::Accel), so dropping the future only abandons
    /// the job. A job already on a device keeps its buffers until the device completes it (then they are freed); a
    /// CPU job not yet started is skipped, one already running finishes on its pool thread. The call can simply be
    /// made again.
    pub async fn decompress(&self, format: Format, data: impl Into<Bytes>) -> Result<Bytes> {
        self.decompress_with_limit(format, data, self.inner.config.max_decompressed)
            .await
    }

    /// Decompress one `format` stream (gzip: all its members, see [`Accel::decompress`]) whose output may not
    /// exceed `limit` bytes ([`Error::OutputLimit`] otherwise, whichever member crosses it). Malformed or truncated
    /// input, a checksum mismatch or trailing data is [`Error::CorruptData`].
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), uacce_async::Error> {
    /// use uacce_async::{Accel, Backend, Error, Format};
    /// let accel = Accel::builder().backend(Backend::Emulated).build().await?;
    /// let zeros = accel.compress(Format::Deflate, vec![0u8; 1 << 20]).await?;
    /// println!("1 MiB of zeros in {} bytes", zeros.len());
    /// let err = accel.decompress_with_limit(Format::Deflate, zeros.clone(), 64 << 10).await;
    /// assert!(matches!(err, Err(Error::OutputLimit { limit: 65536 })));
    /// assert_eq!(accel.decompress_with_limit(Format::Deflate, zeros, 1 << 20).await?.len(), 1 << 20);
    /// # Ok(()) }
    /// ```
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: the call changes no state of the [`Accel`](crate::Accel), so dropping the future only abandons
    /// the job. A job already on a device keeps its buffers until the device completes it (then they are freed); a
    /// CPU job not yet started is skipped, one already running finishes on its pool thread. The call can simply be
    /// made again.
    pub async fn decompress_with_limit(
        &self,
        format: Format,
        data: impl Into<Bytes>,
        limit: usize,
    ) -> Result<Bytes> {
        let data: Bytes = data.into();
        let (out, used) = self
            .decompress_members(format, data.clone(), limit, true)
            .await?;
        if used != data.len() {
            return Err(Error::CorruptData(format!(
                "{} bytes of trailing data after the end of the stream",
                data.len() - used
            )));
        }
        Ok(out)
    }

    /// Decompress only the first stream at the start of `data` (for gzip: the first member), within the configured
    /// `max_decompressed`; returns its output and the number of input bytes it took. Whatever follows is left
    /// alone: another member, a BGZF block, or data of another kind.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), uacce_async::Error> {
    /// use uacce_async::{Accel, Backend, Format};
    /// let accel = Accel::builder().backend(Backend::Emulated).build().await?;
    /// let a = accel.compress(Format::Gzip, &b"first"[..]).await?;
    /// let b = accel.compress(Format::Gzip, &b"second"[..]).await?;
    /// let both = [&a[..], &b[..]].concat();
    /// let (out, used) = accel.decompress_first_member(Format::Gzip, both).await?;
    /// assert_eq!((&out[..], used), (&b"first"[..], a.len()));
    /// # Ok(()) }
    /// ```
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: the call changes no state of the [`Accel`](crate::Accel), so dropping the future only abandons
    /// the job. A job already on a device keeps its buffers until the device completes it (then they are freed); a
    /// CPU job not yet started is skipped, one already running finishes on its pool thread. The call can simply be
    /// made again.
    pub async fn decompress_first_member(
        &self,
        format: Format,
        data: impl Into<Bytes>,
    ) -> Result<(Bytes, usize)> {
        let limit = self.inner.config.max_decompressed;
        self.decompress_members(format, data.into(), limit, false)
            .await
    }

    /// Decode the stream at the start of `data` and, with `all` and gzip, each member that follows; returns the
    /// joined output (at most `limit` bytes in all) and the input taken.
    async fn decompress_members(
        &self,
        format: Format,
        data: Bytes,
        limit: usize,
        all: bool,
    ) -> Result<(Bytes, usize)> {
        let all = all && format == Format::Gzip;
        let job = |data: Bytes, limit: usize, first_cap: Option<usize>| DecompressJob {
            format,
            data,
            limit,
            all_members: all,
            first_cap,
            header: None,
            cap: 0,
        };
        let (first, mut pos) = self.inner.execute(job(data.clone(), limit, None)).await?;
        if !all || !next_member(format, &data[pos..]) {
            return Ok((first, pos));
        }
        // More members (a device BD ends at the first member's trailer). Each member's output is appended; the
        // buffer grows with what the members really produce, never from their ISIZE fields.
        let mut prev = first.len();
        let mut out = BytesMut::from(&first[..]);
        while next_member(format, &data[pos..]) {
            let left = limit - out.len();
            // The first guess of a member's output room is its predecessor's output (a little more), which for
            // BGZF's equal blocks is right the first time.
            let guess = Some((prev + prev / 16).max(4096));
            let (more, used) = self
                .inner
                .execute(job(data.slice(pos..), left, guess))
                .await
                .map_err(|e| match e {
                    Error::OutputLimit { .. } => Error::OutputLimit { limit },
                    e => e,
                })?;
            prev = more.len();
            out.extend_from_slice(&more);
            pos += used;
        }
        Ok((out.freeze(), pos))
    }
}
