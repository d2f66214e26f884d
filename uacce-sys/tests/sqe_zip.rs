//! ZIP SQE codec tests: hand-derived golden SQEs (hisi-qm-protocol.md §6, §11), encode→decode round trips, strict
//! decode on random bytes, result write/read.

use uacce_sys::qm::zip::*;
use uacce_sys::qm::{QmVersion, SQE_SIZE, Sqe};

use uacce_testkit::{Rng, golden};

// ---------------------------------------------------------------------------------------------------------------------
// Golden SQEs. Each expected byte was written by hand from the protocol document's tables, not by running encode().
// ---------------------------------------------------------------------------------------------------------------------

/// §6.8 worked example: zlib block compress, hw v2, flat, SVA.
#[test]
fn golden_zlib_block_compress_v2() {
    let src = 0x0000_7F12_3456_0000;
    let dst = 0x0000_7F12_3457_0000;
    let b = HwBuffers::from_user(
        ZipAlg::Zlib,
        QcType::Compress,
        true,
        src,
        0x1000,
        dst,
        0x2000,
    )
    .unwrap();
    let req = ZipRequest {
        alg: ZipAlg::Zlib,
        buffers: b,
        tag: 0x1234_5678,
        window: ZipWindow::W32K,
        mode: ZipMode::Block,
    };
    let expected = golden(&[
        // dw4 (byte 16) input_data_length = src_len 0x1000 (§6.2 row dw4, §6.8 "dw4 src_len")
        (16, &[0x00, 0x10, 0x00, 0x00]),
        // dw7 (byte 28) = 0x0A000000: stream_new bit 27 | flush bit 25, type 0 (§6.3 dw7 flags, §6.8)
        (28, &[0x00, 0x00, 0x00, 0x0A]),
        // dw9 (byte 36) = req type 0x02 zlib (§6.1) | window code 4 (32K) << 12 (§6.3) = 0x4002
        (36, &[0x02, 0x40, 0x00, 0x00]),
        // dw13 (byte 52) tag for SQE type 0 (§6.2 row 13, §6.8)
        (52, &[0x78, 0x56, 0x34, 0x12]),
        // dw14 (byte 56) dest_avail_out = dst_len - 2 = 0x1FFE (§6.4 flat rule, §6.8)
        (56, &[0xFE, 0x1F, 0x00, 0x00]),
        // dw18/19 (byte 72) source address low/high (§6.2, §6.8)
        (72, &[0x00, 0x00, 0x56, 0x34, 0x12, 0x7F, 0x00, 0x00]),
        // dw20/21 (byte 80) destination = dst + 2 (§6.4, §6.8)
        (80, &[0x02, 0x00, 0x57, 0x34, 0x12, 0x7F, 0x00, 0x00]),
    ]);
    assert!(req.validate().is_ok());
    assert_eq!(encode(&req, QmVersion::V2), expected);
    let v = decode(&expected).unwrap();
    assert_eq!(v.request(), req);
    assert_eq!(v.sqe_type, ZipSqeType::Type0);
}

/// §6.8 last paragraph: the same request on hw v3 (type 3, tag in dw26).
#[test]
fn golden_zlib_block_compress_v3() {
    let src = 0x0000_7F12_3456_0000;
    let dst = 0x0000_7F12_3457_0000;
    let b = HwBuffers::from_user(
        ZipAlg::Zlib,
        QcType::Compress,
        true,
        src,
        0x1000,
        dst,
        0x2000,
    )
    .unwrap();
    let req = ZipRequest {
        alg: ZipAlg::Zlib,
        buffers: b,
        tag: 0x1234_5678,
        window: ZipWindow::W32K,
        mode: ZipMode::Block,
    };
    let expected = golden(&[
        (16, &[0x00, 0x10, 0x00, 0x00]), // dw4 src_len (§6.8)
        // dw7 = 0x3A000000: type 3 in bits 28..31 + new|flush (§6.3 "+0x30000000 for type 3", §6.8)
        (28, &[0x00, 0x00, 0x00, 0x3A]),
        (36, &[0x02, 0x40, 0x00, 0x00]), // dw9 zlib | 32K window (§6.1, §6.3)
        (56, &[0xFE, 0x1F, 0x00, 0x00]), // dw14 dst_len - 2 (§6.4)
        (72, &[0x00, 0x00, 0x56, 0x34, 0x12, 0x7F, 0x00, 0x00]), // dw18/19 src
        (80, &[0x02, 0x00, 0x57, 0x34, 0x12, 0x7F, 0x00, 0x00]), // dw20/21 dst + 2
        // dw26 (byte 104) tag for SQE type 3; dw13 stays 0 (§6.2 rows 13 and 26)
        (104, &[0x78, 0x56, 0x34, 0x12]),
    ]);
    assert_eq!(encode(&req, QmVersion::V3), expected);
    assert_eq!(decode(&expected).unwrap().request(), req);
    assert_eq!(read_tag(&expected, ZipSqeType::Type3), 0x1234_5678);
}

/// §6.8 "gzip: dw9 low byte = 3, header 10 bytes. Decompress: ... src + 2/10 and src_len − 2/10", hw v2.
#[test]
fn golden_gzip_block_decompress_v2() {
    let b = HwBuffers::from_user(
        ZipAlg::Gzip,
        QcType::Decompress,
        true,
        0x1_0000,
        100,
        0x2_0000,
        0x8000,
    )
    .unwrap();
    let req = ZipRequest {
        alg: ZipAlg::Gzip,
        buffers: b,
        tag: 7,
        window: ZipWindow::W16K,
        mode: ZipMode::Block,
    };
    let expected = golden(&[
        // dw4 = 100 - 10 = 90 = 0x5A (§6.4 decompress: length − header size)
        (16, &[0x5A, 0x00, 0x00, 0x00]),
        // dw7 = 0x0A000000 block flags, type 0 (§6.3; "Decompress: same flags" §6.8)
        (28, &[0x00, 0x00, 0x00, 0x0A]),
        // dw9 = gzip 0x03 | window code 2 (16K) << 12 = 0x2003 (§6.1, §6.3)
        (36, &[0x03, 0x20, 0x00, 0x00]),
        (52, &[0x07, 0x00, 0x00, 0x00]), // dw13 tag (type 0)
        (56, &[0x00, 0x80, 0x00, 0x00]), // dw14 dest_avail_out = 0x8000, not reduced on decompress (§6.4)
        // dw18/19 = src + 10 = 0x1000A (§6.4 "source + size")
        (72, &[0x0A, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00]),
        (80, &[0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00]), // dw20/21 dst unchanged
    ]);
    assert_eq!(encode(&req, QmVersion::V2), expected);
    assert_eq!(decode(&expected).unwrap().request(), req);
}

/// §11: raw deflate uses SQE type 3 (tag in dw26) even on v2. Also checks the 8 MiB clamp of dest_avail_out (§6.2).
#[test]
fn golden_raw_deflate_block_compress_v2() {
    let b = HwBuffers::from_user(
        ZipAlg::Deflate,
        QcType::Compress,
        true,
        0x1_0000_0000,
        0x80_0000,
        0x2_0000_1000,
        0x90_0000,
    )
    .unwrap();
    let req = ZipRequest {
        alg: ZipAlg::Deflate,
        buffers: b,
        tag: 0xDEAD_BEEF,
        window: ZipWindow::W32K,
        mode: ZipMode::Block,
    };
    let expected = golden(&[
        (16, &[0x00, 0x00, 0x80, 0x00]), // dw4 = 8 MiB, the flat maximum (§6.5 limits)
        (28, &[0x00, 0x00, 0x00, 0x3A]), // dw7 = type 3 | new | flush (§11, §6.3)
        (36, &[0x01, 0x40, 0x00, 0x00]), // dw9 = deflate 0x01 | 32K << 12 (§6.1, §6.3)
        (56, &[0x00, 0x00, 0x80, 0x00]), // dw14 = 0x900000 clamped to 8 MiB; no header for deflate (§6.2, §6.4)
        (72, &[0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00]), // dw18/19 src (high word 1)
        (80, &[0x00, 0x10, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00]), // dw20/21 dst, no header offset
        (104, &[0xEF, 0xBE, 0xAD, 0xDE]), // dw26 tag (type 3)
    ]);
    assert_eq!(encode(&req, QmVersion::V2), expected);
    assert_eq!(decode(&expected).unwrap().request(), req);
}

/// §6.3 stream mode, last BD (stateful + finish, not new) with a zero-length source: the source address fields carry
/// the destination address (§6.3 last row); context words, ISIZE and checksum are carried (§6.2 rows 15, 22/23, 28..31).
#[test]
fn golden_stream_last_zero_len_deflate_v3() {
    let state = StreamState {
        ctx_addr: 0x5000_0040,
        first: false,
        last: true,
        ctx_dw0: 0x0000_0403,
        ctx_dw1: 0x11,
        ctx_dw2: 0x22,
        isize: 0x3333,
        checksum: 0x4444_5555,
    };
    let b = HwBuffers {
        src_addr: 0,
        src_len: 0,
        dst_addr: 0x6000_0000,
        dst_avail: 0x400,
    };
    let req = ZipRequest {
        alg: ZipAlg::Deflate,
        buffers: b,
        tag: 9,
        window: ZipWindow::W4K,
        mode: ZipMode::Stream(state),
    };
    let expected = golden(&[
        // dw4 = 0 (not listed). dw7 = type 3 | stateful 0x04000000 | flush 0x02000000 = 0x36000000 (§6.3 "last BD adds
        // 0x02000000", §6.2 bits 25/26/28..31)
        (28, &[0x00, 0x00, 0x00, 0x36]),
        (36, &[0x01, 0x00, 0x00, 0x00]), // dw9 deflate, window code 0 (4K)
        (56, &[0x00, 0x04, 0x00, 0x00]), // dw14 dest_avail_out 0x400
        (60, &[0x03, 0x04, 0x00, 0x00]), // dw15 ctx_dw0 carried (§6.3 isize/checksum/ctx row)
        (72, &[0x00, 0x00, 0x00, 0x60, 0x00, 0x00, 0x00, 0x00]), // dw18/19 = dst address (zero-length rule)
        (80, &[0x00, 0x00, 0x00, 0x60, 0x00, 0x00, 0x00, 0x00]), // dw20/21 dst
        (88, &[0x40, 0x00, 0x00, 0x50, 0x00, 0x00, 0x00, 0x00]), // dw22/23 stream_ctx_addr = ctx_buf + 64
        (104, &[0x09, 0x00, 0x00, 0x00]),                        // dw26 tag
        (112, &[0x11, 0x00, 0x00, 0x00]),                        // dw28 ctx_dw1
        (116, &[0x22, 0x00, 0x00, 0x00]),                        // dw29 ctx_dw2
        (120, &[0x33, 0x33, 0x00, 0x00]),                        // dw30 isize
        (124, &[0x55, 0x55, 0x44, 0x44]),                        // dw31 checksum
    ]);
    assert_eq!(encode(&req, QmVersion::V3), expected);
    let v = decode(&expected).unwrap();
    assert!(v.flush && !v.new);
    assert_eq!(v.mode, ZipMode::Stream(state));
    assert_eq!(v.buffers.src_addr, 0x6000_0000);
}

#[test]
fn stream_first_and_middle_flags() {
    // §6.3: first BD 0x0C000000 (new + stateful + sync-flush); middle BDs 0x04000000.
    let s = StreamState {
        ctx_addr: 0x1040,
        first: true,
        ..Default::default()
    };
    let b = HwBuffers {
        src_addr: 0x1000,
        src_len: 10,
        dst_addr: 0x2000,
        dst_avail: 300,
    };
    let mut req = ZipRequest {
        alg: ZipAlg::Zlib,
        buffers: b,
        tag: 1,
        window: ZipWindow::W32K,
        mode: ZipMode::Stream(s),
    };
    assert_eq!(
        &encode(&req, QmVersion::V2)[28..32],
        &0x0C00_0000u32.to_le_bytes()
    );
    req.mode = ZipMode::Stream(StreamState { first: false, ..s });
    assert_eq!(
        &encode(&req, QmVersion::V2)[28..32],
        &0x0400_0000u32.to_le_bytes()
    );
}

// ---------------------------------------------------------------------------------------------------------------------
// Round trips
// ---------------------------------------------------------------------------------------------------------------------

fn random_request(r: &mut Rng) -> ZipRequest {
    let alg = [ZipAlg::Deflate, ZipAlg::Zlib, ZipAlg::Gzip][r.below(3) as usize];
    let window = ZipWindow::from_code(r.below(5) as u8).unwrap();
    let src_len = if r.below(8) == 0 {
        0
    } else {
        r.below(u64::from(MAX_FLAT_LEN) + 1) as u32
    };
    let dst_avail = r.below(u64::from(MAX_FLAT_LEN) + 1) as u32;
    let buffers = HwBuffers {
        src_addr: if src_len == 0 && r.bool() {
            0
        } else {
            1 + r.below(1 << 48)
        },
        src_len,
        dst_addr: 1 + r.below(1 << 48),
        dst_avail,
    };
    let mode = if r.bool() {
        ZipMode::Block
    } else {
        ZipMode::Stream(StreamState {
            ctx_addr: 1 + r.below(1 << 48),
            first: r.bool(),
            last: r.bool(),
            ctx_dw0: r.next() as u32,
            ctx_dw1: r.next() as u32,
            ctx_dw2: r.next() as u32,
            isize: r.next() as u32,
            checksum: r.next() as u32,
        })
    };
    ZipRequest {
        alg,
        buffers,
        tag: r.next() as u32,
        window,
        mode,
    }
}

#[test]
fn round_trip_random_requests_v2_v3() {
    let mut r = Rng(0x1234_5678_9ABC_DEF1);
    for _ in 0..20_000 {
        let req = random_request(&mut r);
        assert!(req.validate().is_ok());
        for ver in [QmVersion::V2, QmVersion::V3] {
            let sqe = encode(&req, ver);
            let v = decode(&sqe).unwrap_or_else(|e| panic!("{req:?} {ver:?}: {e}"));
            let mut want = req;
            if want.buffers.src_len == 0 {
                // §6.3: a zero-length source carries the destination address.
                want.buffers.src_addr = want.buffers.dst_addr;
            }
            assert_eq!(v.request(), want);
            assert_eq!(v.sqe_type, req.alg.sqe_type(ver));
            let expect_type = if ver == QmVersion::V3 || req.alg == ZipAlg::Deflate {
                3
            } else {
                0
            };
            assert_eq!(v.sqe_type.code(), expect_type);
            assert_eq!(read_result(&sqe).tag, req.tag);
        }
    }
}

// ---------------------------------------------------------------------------------------------------------------------
// Strict decode
// ---------------------------------------------------------------------------------------------------------------------

fn valid_sqe() -> Sqe {
    let b = HwBuffers {
        src_addr: 0x1000,
        src_len: 64,
        dst_addr: 0x2000,
        dst_avail: 128,
    };
    encode(
        &ZipRequest {
            alg: ZipAlg::Zlib,
            buffers: b,
            tag: 5,
            window: ZipWindow::W32K,
            mode: ZipMode::Block,
        },
        QmVersion::V2,
    )
}

fn set32(s: &mut Sqe, dw: usize, v: u32) {
    s[dw * 4..dw * 4 + 4].copy_from_slice(&v.to_le_bytes());
}

fn get32(s: &Sqe, dw: usize) -> u32 {
    u32::from_le_bytes(s[dw * 4..dw * 4 + 4].try_into().unwrap())
}

#[test]
fn decode_rejects_bad_fields() {
    let ok = valid_sqe();
    assert!(decode(&ok).is_ok());

    let mut s = ok;
    set32(&mut s, 7, 0x1A00_0000);
    assert_eq!(decode(&s), Err(ZipDecodeError::UnknownSqeType(1)));

    for (code, want) in [
        (0x04, ZipDecodeError::UnsupportedReqType(0x04)),
        (0x40, ZipDecodeError::UnsupportedReqType(0x40)),
        (0x43, ZipDecodeError::UnsupportedReqType(0x43)),
        (0x00, ZipDecodeError::UnknownReqType(0x00)),
        (0x10, ZipDecodeError::UnknownReqType(0x10)),
    ] {
        let mut s = ok;
        set32(&mut s, 9, 0x4000 | code);
        assert_eq!(decode(&s), Err(want));
    }

    let mut s = ok;
    set32(&mut s, 9, 0x4101); // deflate in a type 0 SQE
    assert_eq!(decode(&s), Err(ZipDecodeError::DeflateNeedsType3));

    let mut s = ok;
    set32(&mut s, 9, 0x4102); // buffer type 1 = SGL
    assert_eq!(decode(&s), Err(ZipDecodeError::BufferType(1)));
    set32(&mut s, 9, 0x4F02);
    assert_eq!(decode(&s), Err(ZipDecodeError::BufferType(0xF)));

    let mut s = ok;
    set32(&mut s, 9, 0x5002);
    assert_eq!(decode(&s), Err(ZipDecodeError::WindowCode(5)));

    let mut s = ok;
    set32(&mut s, 7, 0x0A00_0002);
    assert_eq!(decode(&s), Err(ZipDecodeError::SglSkipWithFlat));
    let mut s = ok;
    set32(&mut s, 8, 2);
    assert_eq!(decode(&s), Err(ZipDecodeError::SglSkipWithFlat));

    let mut s = ok;
    set32(&mut s, 4, MAX_FLAT_LEN + 1);
    assert_eq!(
        decode(&s),
        Err(ZipDecodeError::SrcTooLong(MAX_FLAT_LEN + 1))
    );
    let mut s = ok;
    set32(&mut s, 14, MAX_FLAT_LEN + 1);
    assert_eq!(
        decode(&s),
        Err(ZipDecodeError::DstTooLong(MAX_FLAT_LEN + 1))
    );

    let mut s = ok;
    set32(&mut s, 18, 0);
    assert_eq!(decode(&s), Err(ZipDecodeError::NullSrc));
    let mut s = ok;
    set32(&mut s, 20, 0);
    assert_eq!(decode(&s), Err(ZipDecodeError::NullDst));
    // null addresses with zero length are fine
    set32(&mut s, 14, 0);
    assert!(decode(&s).is_ok());

    let mut s = ok;
    set32(&mut s, 7, 0x0400_0000); // stateful without context address
    assert_eq!(decode(&s), Err(ZipDecodeError::NullContext));

    assert_eq!(
        ZipDecodeError::NullContext.status().code(),
        STATUS_INVALID_SQE
    );
}

#[test]
fn decode_never_panics_on_random_bytes() {
    let mut r = Rng(0xC0FF_EE00_1234_5679);
    let mut accepted = 0;
    for i in 0..200_000 {
        let mut s: Sqe = [0; SQE_SIZE];
        if i % 2 == 0 {
            for b in s.iter_mut() {
                *b = r.next() as u8;
            }
        } else {
            // Mutations of valid SQEs reach the deeper checks.
            s = encode(
                &random_request(&mut r),
                if r.bool() {
                    QmVersion::V2
                } else {
                    QmVersion::V3
                },
            );
            for _ in 0..1 + r.below(3) {
                let bit = r.below(1024) as usize;
                s[bit / 8] ^= 1 << (bit % 8);
            }
        }
        if decode(&s).is_ok() {
            accepted += 1;
        }
        let _ = read_result(&s);
    }
    assert!(accepted > 0);
}

// ---------------------------------------------------------------------------------------------------------------------
// Results
// ---------------------------------------------------------------------------------------------------------------------

#[test]
fn write_then_read_result() {
    let b = HwBuffers::from_user(
        ZipAlg::Gzip,
        QcType::Compress,
        true,
        0x1000,
        500,
        0x9000,
        1000,
    )
    .unwrap();
    let req = ZipRequest {
        alg: ZipAlg::Gzip,
        buffers: b,
        tag: 0xABCD,
        window: ZipWindow::W32K,
        mode: ZipMode::Block,
    };
    for ver in [QmVersion::V2, QmVersion::V3] {
        let orig = encode(&req, ver);
        let mut s = orig;
        let res = ZipResult {
            consumed: 500,
            produced: 321,
            status: ZipStatus::Ok,
            lstblk: true,
            ctx_dw0: 0x83,
            ctx_dw1: 1,
            ctx_dw2: 2,
            isize: 500,
            checksum: 0x1234_5678,
        };
        write_result(&mut s, &res);
        // Only dw0, dw1, dw3, dw15, dw28..31 change (§6.2 "written back by HW").
        for dw in 0..32 {
            if ![0, 1, 3, 15, 28, 29, 30, 31].contains(&dw) {
                assert_eq!(get32(&s, dw), get32(&orig, dw), "dw{dw} changed");
            }
        }
        assert_eq!(get32(&s, 3), 0x100);
        let c = read_result(&s);
        assert_eq!(c.tag, 0xABCD);
        assert_eq!(
            (c.consumed, c.produced, c.lstblk, c.status),
            (500, 321, true, ZipStatus::Ok)
        );
        assert_eq!(
            (c.ctx_dw0, c.ctx_dw1, c.ctx_dw2, c.isize, c.checksum),
            (0x83, 1, 2, 500, 0x1234_5678)
        );
        assert_eq!(c.ctx_st(), 3);
        assert!(c.new);
        // §6.4: gzip header (10 bytes) added to produced on compress.
        assert_eq!(c.user_lengths(QcType::Compress), (500, 331));
        assert_eq!(c.user_lengths(QcType::Decompress), (510, 321));
        assert_eq!(c.outcome(), ZipOutcome::Ok);
        // A written-back SQE is not a request any more: the strict decode refuses the hardware-written dwords.
        assert!(matches!(
            decode(&s),
            Err(uacce_sys::qm::zip::ZipDecodeError::NonZero(0))
        ));
        let next = c.next_stream_state(0x40, false);
        assert_eq!(
            (next.ctx_dw0, next.isize, next.checksum, next.first),
            (0x83, 500, 0x1234_5678, false)
        );
    }
}

#[test]
fn outcome_classification() {
    let mut s = valid_sqe();
    let mut check = |status: ZipStatus, lstblk: bool, want: ZipOutcome| {
        write_result(
            &mut s,
            &ZipResult {
                lstblk,
                ..ZipResult::status_only(status)
            },
        );
        assert_eq!(read_result(&s).outcome(), want, "{status:?} {lstblk}");
    };
    check(ZipStatus::Ok, false, ZipOutcome::Ok);
    check(ZipStatus::NegativeCompression, false, ZipOutcome::Ok);
    check(ZipStatus::DecompEnd, false, ZipOutcome::Ok);
    check(ZipStatus::DecompEnd, true, ZipOutcome::StreamEnd);
    check(ZipStatus::DstTooSmall, false, ZipOutcome::DstTooSmall);
    check(
        ZipStatus::CrcError,
        false,
        ZipOutcome::Error(ZipStatus::CrcError),
    );
    check(
        ZipStatus::Other(STATUS_INVALID_SQE),
        false,
        ZipOutcome::Error(ZipStatus::Other(0xFF)),
    );
    for code in 0..=255u8 {
        assert_eq!(ZipStatus::from_code(code).code(), code);
    }
    assert_eq!(ZipStatus::from_code(0x12), ZipStatus::DstDifError);
    assert_eq!(ZipStatus::from_code(0x0F), ZipStatus::SrcDifError);
}

#[test]
fn header_helpers() {
    assert_eq!(ZipAlg::Zlib.header(), &[0x78, 0x9C]);
    assert_eq!(
        ZipAlg::Gzip.header(),
        &[0x1F, 0x8B, 0x08, 0, 0, 0, 0, 0, 0, 0x03]
    );
    assert_eq!(ZipAlg::Deflate.header_len(), 0);
    assert_eq!(QcType::Compress.code(), 0);
    assert_eq!(QcType::Decompress.code(), 1);
    // No header outside the first BD of a stream.
    let b = HwBuffers::from_user(
        ZipAlg::Gzip,
        QcType::Decompress,
        false,
        0x100,
        50,
        0x200,
        60,
    )
    .unwrap();
    assert_eq!(
        b,
        HwBuffers {
            src_addr: 0x100,
            src_len: 50,
            dst_addr: 0x200,
            dst_avail: 60
        }
    );
    assert_eq!(
        HwBuffers::from_user(ZipAlg::Gzip, QcType::Compress, true, 0x100, 50, 0x200, 9),
        Err(ZipEncodeError::BufferShorterThanHeader)
    );
    assert_eq!(
        HwBuffers::from_user(ZipAlg::Zlib, QcType::Decompress, true, 0x100, 1, 0x200, 9),
        Err(ZipEncodeError::BufferShorterThanHeader)
    );
    // Completion from a BD without the new bit: no header adjustment.
    let s = encode(
        &ZipRequest {
            alg: ZipAlg::Zlib,
            buffers: b,
            tag: 1,
            window: ZipWindow::W32K,
            mode: ZipMode::Stream(StreamState {
                ctx_addr: 0x40,
                ..Default::default()
            }),
        },
        QmVersion::V2,
    );
    assert_eq!(read_result(&s).user_lengths(QcType::Compress), (0, 0));
    assert_eq!(ZipWindow::W24K.bytes(), 24 * 1024);
}
