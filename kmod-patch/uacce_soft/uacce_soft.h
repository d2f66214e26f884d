/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * uacce_soft: user space interface of the software ZIP/SEC accelerators
 * (uapi style: only what a user space driver needs, no kernel types).
 *
 * The devices speak the HiSilicon QM v2 protocol through uacce; the QM
 * ioctls and structures are those of <misc/uacce/hisi_qm.h>. What differs:
 *
 * UACCE_SOFT_CMD_DOORBELL: the 64-bit v2 doorbell value (sqn bits 0..11,
 * cmd 12..15 (0 SQ, 1 CQ), bits 16..31 zero, index 32..47, priority 48..63)
 * is passed through this ioctl on the queue fd instead of being written to a
 * doorbell register. The number, 'S' 0, is kept for the existing user space
 * (uacce-rs); 'S' is crowded in ioctl-number.rst, which is one reason this
 * module stays out of tree.
 *
 * The MMIO region (mmap offset 0, one page, read-only in effect) is a page
 * of device registers, mapped with remap_pfn_range() as hisi_qm maps its
 * doorbell BAR: the device keeps its SQ head (the next SQE it fetches) and
 * its CQ tail (the next CQE it writes) there, as little-endian 32-bit words.
 */
#ifndef _UAPI_UACCE_SOFT_H
#define _UAPI_UACCE_SOFT_H

#include <linux/ioctl.h>
#include <linux/types.h>

#define UACCE_SOFT_CMD_DOORBELL		_IOW('S', 0, __u64)

/* Offsets of the registers in the MMIO region */
#define UACCE_SOFT_REG_SQ_HEAD		0x0
#define UACCE_SOFT_REG_CQ_TAIL		0x4

#endif /* _UAPI_UACCE_SOFT_H */
