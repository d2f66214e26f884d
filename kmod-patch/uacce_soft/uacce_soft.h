/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * uacce_soft: user space interface of the software ZIP/SEC accelerators
 * (uapi style: only what a user space driver needs, no kernel types).
 *
 * The devices speak the HiSilicon QM v2 protocol through uacce; the QM
 * ioctls and structures are those of <misc/uacce/hisi_qm.h>. The 64-bit v2
 * doorbell value (sqn bits 0..11, cmd 12..15 (0 SQ, 1 CQ), bits 16..31 zero,
 * index 32..47, priority 48..63) reaches the device in one of two ways.
 *
 * MMIO doorbells and a kick eventfd (the fast path): the MMIO region (mmap
 * offset 0, one page, mapped with remap_pfn_range() as hisi_qm maps its
 * doorbell BAR) is a page of registers. User space stores an SQ doorbell
 * value in UACCE_SOFT_REG_SQ_DB and a CQ doorbell value in
 * UACCE_SOFT_REG_CQ_DB, and a non-zero value in UACCE_SOFT_REG_CQ_ARM to ask
 * for one completion signal (what priority 1 of a CQ doorbell does), then
 * writes 1 to the queue's kick eventfd, registered once with
 * UACCE_SOFT_CMD_SET_KICK. The kick reaches the device through the eventfd's
 * wait queue (as KVM's irqfd does), not through uacce's ioctl path, so no
 * uacce or device-wide lock is taken. A kick makes the device read the
 * registers: it applies the latest SQ and CQ doorbell values (only the
 * latest of each kind counts, as both carry an absolute index) and takes
 * and clears the arm request. Only UACCE_SOFT_REG_CQ_ARM arms: the priority
 * of the value in UACCE_SOFT_REG_CQ_DB is checked but does not. A doorbell value that does not decode for the
 * queue (another sqn or cmd, bits 16..31 set, index >= depth, priority > 1)
 * is ignored and counted in UACCE_SOFT_REG_DB_ERRORS. Kicks before
 * UACCE_CMD_START_Q or after the queue stopped are ignored.
 *
 * UACCE_SOFT_CMD_DOORBELL (the slow path): the doorbell value as an ioctl
 * argument on the queue fd. It reports a malformed doorbell (-EINVAL) or a
 * queue whose owner's mm is gone (-EIO) at once, and it is the only path
 * when the module is built against a uacce without the v3 series (no MMIO
 * region then). It goes through uacce's ioctl path, which holds the uacce
 * device's mutex: doorbells of all queues of a device serialise there.
 *
 * The device keeps its SQ head (the next SQE it fetches) and its CQ tail
 * (the next CQE it writes) in the register page; registers are
 * little-endian.
 */
#ifndef _UAPI_UACCE_SOFT_H
#define _UAPI_UACCE_SOFT_H

#include <linux/ioctl.h>
#include <linux/types.h>

/* One 64-bit v2 doorbell value */
#define UACCE_SOFT_CMD_DOORBELL		_IOW('J', 0x00, __u64)
/* An eventfd whose writes make the device read its doorbell registers; -1 unbinds */
#define UACCE_SOFT_CMD_SET_KICK		_IOW('J', 0x01, __s32)

/* Offsets of the registers in the MMIO region */
#define UACCE_SOFT_REG_SQ_HEAD		0x00	/* __u32, device */
#define UACCE_SOFT_REG_CQ_TAIL		0x04	/* __u32, device */
#define UACCE_SOFT_REG_DB_ERRORS	0x08	/* __u32, device */
#define UACCE_SOFT_REG_SQ_DB		0x10	/* __u64, user */
#define UACCE_SOFT_REG_CQ_DB		0x18	/* __u64, user */
#define UACCE_SOFT_REG_CQ_ARM		0x20	/* __u32, user; device clears */

#endif /* _UAPI_UACCE_SOFT_H */
