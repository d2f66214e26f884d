//! Checks `uacce_sys::uapi` against the kernel's own uapi headers.
//!
//! A small C program includes `<misc/uacce/uacce.h>` and `<misc/uacce/hisi_qm.h>`, prints every value, size and
//! field offset, and is compiled with `cc` (or `$CC`) into a temporary directory. The project's eventfd bind, which
//! mainline headers lack, is checked against `_IOW` computed by the C compiler from `<linux/ioctl.h>` on an
//! identical locally declared struct; the soft device's ioctls and register offsets against the module's own header,
//! `kmod-patch/uacce_soft/uacce_soft.h`, included as it is.
//!
//! A missing compiler or missing headers make this test FAIL (never pass silently): install `gcc` and the kernel
//! uapi headers (`linux-libc-dev` on Debian).

use std::collections::HashMap;
use std::mem::{offset_of, size_of};
use std::process::Command;

use uacce_sys::uapi::*;

const C_PROGRAM: &str = r#"
#include <stdio.h>
#include <stddef.h>
#include <linux/ioctl.h>
#include <linux/types.h>
#ifndef BIT
#define BIT(x) (1UL << (x))
#endif
#include <misc/uacce/uacce.h>
#include <misc/uacce/hisi_qm.h>

/* Project additions: declared here exactly as the kernel patch / soft module declare them. */
struct uacce_eventfd { __s32 fd; __u32 flags; };
#define UACCE_EVENTFD_HANGUP (1U << 0)
#define UACCE_CMD_SET_EVENTFD _IOW('W', 4, struct uacce_eventfd)
#include "uacce_soft.h"

#define P(name, v) printf("%s %llu\n", name, (unsigned long long)(v))

int main(void) {
    P("UACCE_CMD_START_Q", UACCE_CMD_START_Q);
    P("UACCE_CMD_PUT_Q", UACCE_CMD_PUT_Q);
    P("UACCE_DEV_SVA", UACCE_DEV_SVA);
    P("UACCE_QFRT_MMIO", UACCE_QFRT_MMIO);
    P("UACCE_QFRT_DUS", UACCE_QFRT_DUS);
    P("sizeof(enum uacce_qfrt)", sizeof(enum uacce_qfrt));
    P("sizeof(struct hisi_qp_ctx)", sizeof(struct hisi_qp_ctx));
    P("alignof(struct hisi_qp_ctx)", _Alignof(struct hisi_qp_ctx));
    P("offsetof(hisi_qp_ctx, id)", offsetof(struct hisi_qp_ctx, id));
    P("offsetof(hisi_qp_ctx, qc_type)", offsetof(struct hisi_qp_ctx, qc_type));
    P("sizeof(struct hisi_qp_info)", sizeof(struct hisi_qp_info));
    P("alignof(struct hisi_qp_info)", _Alignof(struct hisi_qp_info));
    P("offsetof(hisi_qp_info, sqe_size)", offsetof(struct hisi_qp_info, sqe_size));
    P("offsetof(hisi_qp_info, sq_depth)", offsetof(struct hisi_qp_info, sq_depth));
    P("offsetof(hisi_qp_info, cq_depth)", offsetof(struct hisi_qp_info, cq_depth));
    P("offsetof(hisi_qp_info, reserved)", offsetof(struct hisi_qp_info, reserved));
    P("UACCE_CMD_QM_SET_QP_CTX", UACCE_CMD_QM_SET_QP_CTX);
    P("UACCE_CMD_QM_SET_QP_INFO", UACCE_CMD_QM_SET_QP_INFO);
    printf("HISI_QM_API_VER_BASE %s\n", HISI_QM_API_VER_BASE);
    printf("HISI_QM_API_VER2_BASE %s\n", HISI_QM_API_VER2_BASE);
    printf("HISI_QM_API_VER3_BASE %s\n", HISI_QM_API_VER3_BASE);
    P("sizeof(struct uacce_eventfd)", sizeof(struct uacce_eventfd));
    P("offsetof(uacce_eventfd, fd)", offsetof(struct uacce_eventfd, fd));
    P("offsetof(uacce_eventfd, flags)", offsetof(struct uacce_eventfd, flags));
    P("UACCE_CMD_SET_EVENTFD", UACCE_CMD_SET_EVENTFD);
    P("UACCE_EVENTFD_HANGUP", UACCE_EVENTFD_HANGUP);
    P("UACCE_SOFT_CMD_DOORBELL", UACCE_SOFT_CMD_DOORBELL);
    P("UACCE_SOFT_CMD_SET_KICK", UACCE_SOFT_CMD_SET_KICK);
    P("UACCE_SOFT_REG_SQ_HEAD", UACCE_SOFT_REG_SQ_HEAD);
    P("UACCE_SOFT_REG_CQ_TAIL", UACCE_SOFT_REG_CQ_TAIL);
    P("UACCE_SOFT_REG_DB_ERRORS", UACCE_SOFT_REG_DB_ERRORS);
    P("UACCE_SOFT_REG_SQ_DB", UACCE_SOFT_REG_SQ_DB);
    P("UACCE_SOFT_REG_CQ_DB", UACCE_SOFT_REG_CQ_DB);
    P("UACCE_SOFT_REG_CQ_ARM", UACCE_SOFT_REG_CQ_ARM);
    return 0;
}
"#;

/// Compiles and runs the C program; returns its `name value` lines as a map.
fn c_values() -> HashMap<String, String> {
    let dir = tempfile::tempdir().expect("create temp dir");
    let src = dir.path().join("uapi_check.c");
    let exe = dir.path().join("uapi_check");
    std::fs::write(&src, C_PROGRAM).expect("write C source");
    let cc = std::env::var("CC").unwrap_or_else(|_| "cc".to_owned());
    let out = match Command::new(&cc)
        .arg("-std=gnu11")
        .arg("-I")
        .arg(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../kmod-patch/uacce_soft"
        ))
        .arg("-o")
        .arg(&exe)
        .arg(&src)
        .output()
    {
        Ok(out) => out,
        Err(e) => panic!(
            "uapi header check FAILED: cannot run the C compiler `{cc}` ({e}). Install gcc (apt-get install gcc) or \
             set CC; this test must not pass without checking the kernel headers."
        ),
    };
    assert!(
        out.status.success(),
        "uapi header check FAILED: `{cc}` could not compile against <misc/uacce/uacce.h> and <misc/uacce/hisi_qm.h> \
         (install the kernel uapi headers: apt-get install linux-libc-dev).\ncompiler stderr:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let run = Command::new(&exe).output().expect("run compiled C program");
    assert!(run.status.success(), "C program failed: {run:?}");
    let text = String::from_utf8(run.stdout).expect("C output is UTF-8");
    let mut map = HashMap::new();
    for line in text.lines() {
        let (name, value) = line.rsplit_once(' ').expect("`name value` line");
        map.insert(name.to_owned(), value.to_owned());
    }
    map
}

#[test]
fn rust_mirror_matches_kernel_headers() {
    let c = c_values();
    let num = |name: &str| -> u64 {
        c.get(name)
            .unwrap_or_else(|| panic!("C program printed no {name}"))
            .parse()
            .unwrap_or_else(|e| panic!("{name}: {e}"))
    };
    let text = |name: &str| -> &str {
        c.get(name)
            .unwrap_or_else(|| panic!("C program printed no {name}"))
    };

    let numbers: &[(&str, u64)] = &[
        ("UACCE_CMD_START_Q", UACCE_CMD_START_Q.into()),
        ("UACCE_CMD_PUT_Q", UACCE_CMD_PUT_Q.into()),
        ("UACCE_DEV_SVA", UACCE_DEV_SVA.into()),
        ("UACCE_QFRT_MMIO", UACCE_QFRT_MMIO.into()),
        ("UACCE_QFRT_DUS", UACCE_QFRT_DUS.into()),
        ("sizeof(enum uacce_qfrt)", size_of::<UacceQfrt>() as u64),
        ("sizeof(struct hisi_qp_ctx)", size_of::<HisiQpCtx>() as u64),
        (
            "alignof(struct hisi_qp_ctx)",
            align_of::<HisiQpCtx>() as u64,
        ),
        (
            "offsetof(hisi_qp_ctx, id)",
            offset_of!(HisiQpCtx, id) as u64,
        ),
        (
            "offsetof(hisi_qp_ctx, qc_type)",
            offset_of!(HisiQpCtx, qc_type) as u64,
        ),
        (
            "sizeof(struct hisi_qp_info)",
            size_of::<HisiQpInfo>() as u64,
        ),
        (
            "alignof(struct hisi_qp_info)",
            align_of::<HisiQpInfo>() as u64,
        ),
        (
            "offsetof(hisi_qp_info, sqe_size)",
            offset_of!(HisiQpInfo, sqe_size) as u64,
        ),
        (
            "offsetof(hisi_qp_info, sq_depth)",
            offset_of!(HisiQpInfo, sq_depth) as u64,
        ),
        (
            "offsetof(hisi_qp_info, cq_depth)",
            offset_of!(HisiQpInfo, cq_depth) as u64,
        ),
        (
            "offsetof(hisi_qp_info, reserved)",
            offset_of!(HisiQpInfo, reserved) as u64,
        ),
        ("UACCE_CMD_QM_SET_QP_CTX", UACCE_CMD_QM_SET_QP_CTX.into()),
        ("UACCE_CMD_QM_SET_QP_INFO", UACCE_CMD_QM_SET_QP_INFO.into()),
        (
            "sizeof(struct uacce_eventfd)",
            size_of::<UacceEventfd>() as u64,
        ),
        (
            "offsetof(uacce_eventfd, fd)",
            offset_of!(UacceEventfd, fd) as u64,
        ),
        (
            "offsetof(uacce_eventfd, flags)",
            offset_of!(UacceEventfd, flags) as u64,
        ),
        ("UACCE_CMD_SET_EVENTFD", UACCE_CMD_SET_EVENTFD.into()),
        ("UACCE_EVENTFD_HANGUP", UACCE_EVENTFD_HANGUP.into()),
        ("UACCE_SOFT_CMD_DOORBELL", UACCE_SOFT_CMD_DOORBELL.into()),
        ("UACCE_SOFT_CMD_SET_KICK", UACCE_SOFT_CMD_SET_KICK.into()),
        ("UACCE_SOFT_REG_SQ_HEAD", UACCE_SOFT_REG_SQ_HEAD as u64),
        ("UACCE_SOFT_REG_CQ_TAIL", UACCE_SOFT_REG_CQ_TAIL as u64),
        ("UACCE_SOFT_REG_DB_ERRORS", UACCE_SOFT_REG_DB_ERRORS as u64),
        ("UACCE_SOFT_REG_SQ_DB", UACCE_SOFT_REG_SQ_DB as u64),
        ("UACCE_SOFT_REG_CQ_DB", UACCE_SOFT_REG_CQ_DB as u64),
        ("UACCE_SOFT_REG_CQ_ARM", UACCE_SOFT_REG_CQ_ARM as u64),
    ];
    let mut mismatches = Vec::new();
    for &(name, rust) in numbers {
        let c_value = num(name);
        if c_value != rust {
            mismatches.push(format!("{name}: C {c_value:#x}, Rust {rust:#x}"));
        }
    }
    for (name, rust) in [
        ("HISI_QM_API_VER_BASE", HISI_QM_API_VER_BASE),
        ("HISI_QM_API_VER2_BASE", HISI_QM_API_VER2_BASE),
        ("HISI_QM_API_VER3_BASE", HISI_QM_API_VER3_BASE),
    ] {
        if text(name) != rust {
            mismatches.push(format!("{name}: C {:?}, Rust {rust:?}", text(name)));
        }
    }
    assert!(
        mismatches.is_empty(),
        "uapi mirror differs from the kernel headers:\n{}",
        mismatches.join("\n")
    );
    // Every line the C program printed was compared.
    assert_eq!(c.len(), numbers.len() + 3, "unchecked C output: {c:?}");
}
