// SPDX-License-Identifier: GPL-2.0
/*
 * uacce_soft: software ZIP, SEC and HPRE accelerators behind uacce.
 *
 * The devices speak the HiSilicon QM ring protocol (hw v2; the HPRE device
 * v3, whose ECC queues need it) to user space: the same DUS layout (SQ, CQ,
 * status page), the same QM ioctls and the same SQE, CQE and doorbell
 * formats. They differ from the hardware in three ways:
 *  - the api is "soft_qm_v2" ("soft_qm_v3" for HPRE), so nobody mistakes
 *    them for real hardware;
 *  - the MMIO region is one page of registers (uacce_soft.h), mapped with
 *    remap_pfn_range() as hisi_qm maps its BAR (VM_PFNMAP); a doorbell
 *    stored there is noticed when user space writes to the queue's kick
 *    eventfd (see struct soft_kick), or it comes through the
 *    UACCE_SOFT_CMD_DOORBELL ioctl;
 *  - flags is 0 (no SVA): SQEs carry user virtual addresses of the process
 *    that opened the queue, which a worker accesses with kthread_use_mm().
 *
 * Jobs run in a workqueue with the kernel's zlib and crypto API. A completion
 * is signalled with uacce_wake_up() only when the consumer armed the
 * interrupt with a CQ doorbell of priority 1; the arm is one-shot. If CQEs
 * past the consumer's head are already posted when it arms, the signal fires
 * at once (the uacce-emu emulator does the same).
 *
 * Error reporting never uses kernel warnings: an SQE the device cannot run
 * gets an error status written into it (ZIP dw3, SEC byte 114, HPRE dw0
 * etype/etype1) and completes normally.
 */

#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <crypto/aead.h>
#include <crypto/aes.h>
#include <crypto/curve25519.h>
#include <crypto/ecdh.h>
#include <crypto/hash.h>
#include <crypto/internal/ecc.h>
#include <crypto/md5.h>
#include <crypto/sha1.h>
#include <crypto/sha2.h>
#include <crypto/skcipher.h>
#include <crypto/sm3.h>
#include <linux/crc32.h>
#include <linux/eventfd.h>
#include <linux/file.h>
#include <linux/kthread.h>
#include <linux/mm.h>
#include <linux/mmu_notifier.h>
#include <linux/module.h>
#include <linux/mpi.h>
#include <linux/platform_device.h>
#include <linux/poll.h>
#include <linux/sched/mm.h>
#include <linux/scatterlist.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <linux/uacce.h>
#include <linux/vmalloc.h>
#include <linux/workqueue.h>
#include <linux/zlib.h>
#include <linux/zutil.h>
#include <uapi/misc/uacce/hisi_qm.h>
#include <linux/unaligned.h>

#include "uacce_soft.h"

#ifndef UACCE_CMD_SET_EVENTFD
/*
 * Built against uacce without the eventfd series (for the harness' unpatched
 * boot): only tasks sleeping in poll() can be woken.
 */
static void uacce_wake_up(struct uacce_queue *q)
{
	wake_up_interruptible(&q->wait);
}
#endif

#ifdef UACCE_EVENTFD_HANGUP
/*
 * uacce with the v3 series: it zaps the mappings before it puts the queues,
 * so the MMIO page, which remap_pfn_range() maps without a page reference,
 * is never freed while mapped; and it offers the dummy-page opt-in.
 */
#define SOFT_HAVE_MMIO		1
#else
#define SOFT_HAVE_MMIO		0
#endif

#define SOFT_API		"soft_qm_v2"
#define SOFT_API_V3		"soft_qm_v3"	/* the HPRE device */
#define SOFT_SQE_SIZE		128		/* the largest SQE */
#define HPRE_SQE_SIZE		64
#define SOFT_CQE_SIZE		16
#define SOFT_MAX_DEPTH		32768

/* v2 doorbell fields */
#define DB_SQN(v)		((u32)(v) & 0xfff)
#define DB_CMD(v)		(((u32)(v) >> 12) & 0xf)
#define DB_RAND(v)		(((u32)(v) >> 16) & 0xffff)
#define DB_INDEX(v)		((u32)((v) >> 32) & 0xffff)
#define DB_PRIO(v)		((u32)((v) >> 48) & 0xffff)
#define DB_CMD_SQ		0
#define DB_CMD_CQ		1

/* ZIP SQE, dword indexes */
#define ZIP_DW_CONSUMED		0
#define ZIP_DW_PRODUCED		1
#define ZIP_DW_STATUS		3
#define ZIP_DW_IN_LEN		4
#define ZIP_DW_FLAGS		7
#define ZIP_DW_REQ		9
#define ZIP_DW_AVAIL_OUT	14
#define ZIP_DW_SRC_L		18
#define ZIP_DW_SRC_H		19
#define ZIP_DW_DST_L		20
#define ZIP_DW_DST_H		21
#define ZIP_DW_CTX0		15
#define ZIP_DW_CTX1		28
#define ZIP_DW_CTX2		29
#define ZIP_DW_ISIZE		30
#define ZIP_DW_CHECKSUM		31
#define ZIP_DW_CTX_ADDR_L	22
#define ZIP_DW_CTX_ADDR_H	23
#define ZIP_FLUSH_FINISH	BIT(25)
#define ZIP_STREAM_MODE		BIT(26)
#define ZIP_STREAM_NEW		BIT(27)
#define ZIP_LSTBLK		BIT(8)
#define ZIP_MAX_STREAMS		16
#define ZIP_REQ_DEFLATE		1
#define ZIP_REQ_ZLIB		2
#define ZIP_REQ_GZIP		3
#define ZIP_MAX_LEN		(8U << 20)
/*
 * Status codes, as the uacce-emu emulator writes them. 0x0d (negative
 * compression, a success), 0x0e (output buffer too small) and 0x10 (CRC
 * error) are the hardware's. The hardware has no documented code for the
 * others: 0x11 malformed or truncated deflate data, 0x1f a buffer the device
 * cannot access, 0xff an SQE it does not accept (any status other than 0x00,
 * 0x0d and 0x13 is an error to UADK and to the Rust driver).
 */
#define ZIP_ST_OK		0x00
#define ZIP_ST_NEGATIVE		0x0d
#define ZIP_ST_DST_SHORT	0x0e
#define ZIP_ST_CRC		0x10
#define ZIP_ST_END		0x13
#define ZIP_ST_BAD_DATA		0x11
#define ZIP_ST_FAULT		0x1f
#define ZIP_ST_INVALID		0xff

/*
 * SEC BD type 2 (hisi-qm-protocol.md section 7.1), byte offsets. Decoded as
 * strictly as uacce-sys's qm::sec::decode, which the uacce-emu emulator uses
 * (uacce-emu/src/exec/FIELDS.md lists why each field is used or checked).
 */
#define SEC_TYPE2		2
#define SEC_OFF_SDS		1	/* seq 0, de 1..2, scene 3..6, src type 7 */
#define SEC_OFF_SDM		2	/* src type 0..1, dst type 2..4, mac 5..7 */
#define SEC_OFF_AI_APD		5	/* ai_gen 0..1, a_pad 2..3 */
#define SEC_OFF_INVALID		7	/* bit 7 */
#define SEC_OFF_MAC_KEY_ALG	8	/* mac_len 0..4, a_key_len 5..10, a_alg */
#define SEC_OFF_MODE_KEY	12	/* icv 0..5, width 6..8, key 9..11, mode */
#define SEC_OFF_C_ALG		14
#define SEC_OFF_A_LEN		16
#define SEC_OFF_C_LEN		20
#define SEC_OFF_AUTH_OFF	24
#define SEC_OFF_CIPHER_OFF	26
#define SEC_OFF_LONG_LEN	48
#define SEC_OFF_A_IVIN		56
#define SEC_OFF_A_KEY		64
#define SEC_OFF_MAC		72
#define SEC_OFF_C_IVIN		80
#define SEC_OFF_C_KEY		88
#define SEC_OFF_SRC		96
#define SEC_OFF_DST		104
#define SEC_OFF_DONE		112
#define SEC_OFF_ERROR		114
#define SEC_CIPHER_ENC		1
#define SEC_CIPHER_DEC		2
#define SEC_AUTH_CALC		1
#define SEC_ALG_AES		2
#define SEC_ALG_SM4		3
#define SEC_MODE_ECB		0
#define SEC_MODE_CBC		1
#define SEC_MODE_CCM		5
#define SEC_MODE_GCM		6
#define SEC_MODE_XTS		7
#define SEC_A_ALG_CMAC		0x21
#define SEC_CCM_MAX_AAD		65279	/* UADK MAX_CCM_AAD_LEN */
#define SEC_AI_GEN_IVIN		1	/* a_ivin holds the state (= mac_addr) */
#define SEC_APD_NOPAD		1
#define SEC_MAX_LEN		0xfffe00
#define SEC_HASH_MAX_BLOCK	128
#define SEC_HASH_MAX_STATE	64
#define SEC_FLAG_CIPHER		2
#define SEC_FLAG_AEAD		3
#define SEC_ICV_ERR		2
/*
 * error_type values, as the uacce-emu emulator writes them (the hardware's are
 * undocumented): a buffer the device cannot access, a valid BD the kernel's
 * crypto API cannot compute here (SHA-512/224, SHA-512/256, a hash or cipher
 * whose module is missing), a BD that does not decode.
 */
#define SEC_ERR_FAULT		0x02
#define SEC_ERR_UNSUPPORTED	0x03
#define SEC_ERR_INVALID		0xff

enum soft_kind {
	SOFT_ZIP,
	SOFT_SEC,
	SOFT_HPRE,
};

static unsigned int devices = 1;
module_param(devices, uint, 0444);
MODULE_PARM_DESC(devices, "Number of ZIP, of SEC and of HPRE devices (default 1 each)");

static unsigned int queues = 16;
module_param(queues, uint, 0444);
MODULE_PARM_DESC(queues, "Queues per device (default 16)");

static unsigned int depth = 1024;
module_param(depth, uint, 0444);
MODULE_PARM_DESC(depth, "SQ and CQ depth (default 1024, as the hardware)");

static bool dummy_pages = true;
module_param(dummy_pages, bool, 0444);
MODULE_PARM_DESC(dummy_pages,
		 "After removal, accesses to a queue's mappings read pages of ones (default) instead of raising SIGBUS");

static struct workqueue_struct *soft_wq;
static LIST_HEAD(soft_devs);
static DEFINE_MUTEX(soft_devs_lock);

struct soft_dev {
	struct list_head node;
	struct platform_device *pdev;
	struct uacce_device *uacce;
	enum soft_kind kind;
	bool removing;			/* set under @lock before the drain */
	bool hold;			/* the "hold" parameter: no jobs run */
	struct mutex lock;		/* protects the fields below */
	unsigned long *used;
	unsigned int nr_used;
	struct list_head ctxs;		/* the queues' contexts */
};

/*
 * One notifier per mm with open queues (mmu_notifier_get()): registering a
 * notifier per open took mm_take_all_locks() every time. @ctxs lists the
 * queue contexts of that mm, so that release can stop them all.
 */
struct soft_mm {
	struct mmu_notifier mn;
	spinlock_t lock;		/* protects ctxs */
	struct list_head ctxs;
};

/*
 * One open queue. Stopping clears @running (under @lock); the worker checks
 * it before it takes a job and before it writes a completion, so it never
 * touches the uacce queue once stop_queue() has returned. stop_queue() also
 * waits until the job the worker is running, if any, is finished (@busy), so
 * that after PUT_Q or close() the device no longer writes to user memory, as
 * the hardware drains a queue on stop.
 *
 * uacce_remove() calls stop_queue() with q->mutex held, while the worker
 * may be waiting for the mmap_lock in a page fault and a concurrent mmap()
 * of the queue takes q->mutex under the mmap_lock. So before it calls
 * uacce_remove(), the device stops and drains all of its queues without any
 * uacce lock held (soft_dev_drain()) and refuses to start them again: the
 * wait in stop_queue() then has nothing to wait for. The context is
 * reference counted (the worker holds a reference while it is queued or
 * running).
 */
struct soft_ctx {
	struct kref ref;
	enum soft_kind kind;
	u16 qid;
	u16 depth;
	u16 qc_type;
	u32 sqe_size;			/* 128, HPRE 64 */
	void *dus;
	size_t dus_size;
	struct mm_struct *mm;
	struct soft_mm *smm;		/* the notifier of @mm */
	struct list_head mm_node;	/* in smm->ctxs */
	struct list_head dev_node;	/* in soft_dev->ctxs */
	struct list_head drain_node;	/* soft_dev_drain()'s list */
	struct page *mmio;		/* the register page */
	struct work_struct work;
	struct work_struct db_work;	/* reads the doorbell registers */

	struct mutex kick_lock;		/* protects @kick and @kick_closed */
	struct soft_kick *kick;
	bool kick_closed;		/* stopped or put: no more binds */
	void *zws;			/* zlib workspace, worker only */
	struct list_head streams;	/* ZIP stream mode, worker only */
	unsigned int nr_streams;

	wait_queue_head_t idle;		/* woken when @busy goes false */

	spinlock_t lock;		/* protects the fields below */
	struct uacce_queue *uq;
	bool running;
	bool held;			/* the device holds its jobs */
	bool busy;			/* the worker is running a job */
	bool mm_dead;
	bool armed;
	u16 sq_head;			/* next SQE the device fetches */
	u16 sq_tail;			/* from the last SQ doorbell */
	u16 cq_head;			/* from the last CQ doorbell */
	u16 cq_tail;			/* next CQE the device writes */
	u8 cq_phase;
	u64 last_sq_db;			/* register values last read */
	u64 last_cq_db;
	u32 db_errors;
	u32 posted;			/* CQEs posted, for is_q_updated() */
	u32 seen;
};

static u32 soft_sqe_size(enum soft_kind kind)
{
	return kind == SOFT_HPRE ? HPRE_SQE_SIZE : SOFT_SQE_SIZE;
}

static size_t soft_dus_size(u32 sqe_size, unsigned int d)
{
	return PAGE_ALIGN((size_t)sqe_size * d + (size_t)SOFT_CQE_SIZE * d) +
	       PAGE_SIZE;
}

static void zip_streams_free(struct soft_ctx *ctx);

static void soft_ctx_free(struct kref *ref)
{
	struct soft_ctx *ctx = container_of(ref, struct soft_ctx, ref);

	zip_streams_free(ctx);
	vfree(ctx->zws);
	vfree(ctx->dus);
	if (ctx->mmio)
		__free_page(ctx->mmio);
	if (ctx->mm)
		mmdrop(ctx->mm);
	kfree(ctx);
}

static void soft_ctx_put(struct soft_ctx *ctx)
{
	kref_put(&ctx->ref, soft_ctx_free);
}

static void soft_mn_release(struct mmu_notifier *mn, struct mm_struct *mm)
{
	struct soft_mm *smm = container_of(mn, struct soft_mm, mn);
	struct soft_ctx *ctx;

	/* The owner's address space is going away: stop its queues */
	spin_lock(&smm->lock);
	list_for_each_entry(ctx, &smm->ctxs, mm_node) {
		spin_lock(&ctx->lock);
		ctx->mm_dead = true;
		ctx->running = false;
		spin_unlock(&ctx->lock);
	}
	spin_unlock(&smm->lock);
}

static struct mmu_notifier *soft_mn_alloc(struct mm_struct *mm)
{
	struct soft_mm *smm = kzalloc(sizeof(*smm), GFP_KERNEL);

	if (!smm)
		return ERR_PTR(-ENOMEM);
	spin_lock_init(&smm->lock);
	INIT_LIST_HEAD(&smm->ctxs);
	return &smm->mn;
}

static void soft_mn_free(struct mmu_notifier *mn)
{
	kfree(container_of(mn, struct soft_mm, mn));
}

static const struct mmu_notifier_ops soft_mn_ops = {
	.release = soft_mn_release,
	.alloc_notifier = soft_mn_alloc,
	.free_notifier = soft_mn_free,
};

/* ----------------------------------------------------------------- ZIP -- */

static u32 sqe_dw(const u8 *sqe, unsigned int dw)
{
	return get_unaligned_le32(sqe + 4 * dw);
}

static void sqe_set_dw(u8 *sqe, unsigned int dw, u32 val)
{
	put_unaligned_le32(val, sqe + 4 * dw);
}

static int soft_zws(struct soft_ctx *ctx)
{
	size_t sz;

	if (ctx->zws)
		return 0;
	sz = max_t(size_t, zlib_deflate_workspacesize(MAX_WBITS, 8),
		   zlib_inflate_workspacesize());
	ctx->zws = vzalloc(sz);
	return ctx->zws ? 0 : -ENOMEM;
}

static unsigned int zip_trailer_len(u32 req)
{
	return req == ZIP_REQ_ZLIB ? 4 : req == ZIP_REQ_GZIP ? 8 : 0;
}

static void zip_trailer(u32 req, const u8 *in, u32 len, u8 *out)
{
	if (req == ZIP_REQ_ZLIB) {
		put_unaligned_be32(zlib_adler32(1, in, len), out);
	} else if (req == ZIP_REQ_GZIP) {
		put_unaligned_le32(crc32_le(~0U, in, len) ^ ~0U, out);
		put_unaligned_le32(len, out + 4);
	}
}

struct zip_res {
	u32 status;
	u32 consumed;
	u32 produced;
	u32 isize;
	u32 checksum;
};

/* dw31 in block mode: zlib Adler-32, gzip CRC-32, deflate 0 (plain values) */
static u32 zip_checksum(u32 req, const u8 *data, u32 len)
{
	if (req == ZIP_REQ_ZLIB)
		return zlib_adler32(1, data, len);
	if (req == ZIP_REQ_GZIP)
		return crc32_le(~0U, data, len) ^ ~0U;
	return 0;
}

static void zip_compress(struct soft_ctx *ctx, u32 req, const u8 *in,
			 u32 in_len, u8 *out, u32 avail, struct zip_res *res)
{
	unsigned int tl = zip_trailer_len(req);
	struct z_stream_s strm = { .workspace = ctx->zws };
	int ret;

	res->status = ZIP_ST_DST_SHORT;
	if (avail < tl)
		return;
	if (zlib_deflateInit2(&strm, Z_DEFAULT_COMPRESSION, Z_DEFLATED,
			      -MAX_WBITS, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
		res->status = ZIP_ST_INVALID;
		return;
	}
	strm.next_in = in;
	strm.avail_in = in_len;
	strm.next_out = out;
	strm.avail_out = avail - tl;
	ret = zlib_deflate(&strm, Z_FINISH);
	zlib_deflateEnd(&strm);
	if (ret != Z_STREAM_END)
		return;
	zip_trailer(req, in, in_len, out + strm.total_out);
	res->consumed = in_len;
	res->produced = strm.total_out + tl;
	res->isize = in_len;
	res->checksum = zip_checksum(req, in, in_len);
	res->status = in_len && res->produced >= in_len ? ZIP_ST_NEGATIVE :
							  ZIP_ST_OK;
}

static void zip_decompress(struct soft_ctx *ctx, u32 req, const u8 *in,
			   u32 in_len, u8 *out, u32 avail, struct zip_res *res)
{
	unsigned int tl = zip_trailer_len(req);
	struct z_stream_s strm = { .workspace = ctx->zws };
	u8 trailer[8];
	u32 used;
	int ret;

	res->status = ZIP_ST_INVALID;
	if (zlib_inflateInit2(&strm, -MAX_WBITS) != Z_OK)
		return;
	strm.next_in = in;
	strm.avail_in = in_len;
	strm.next_out = out;
	strm.avail_out = avail;
	ret = zlib_inflate(&strm, Z_FINISH);
	zlib_inflateEnd(&strm);
	if (ret != Z_STREAM_END) {
		/* Out of room before the end: the output is too small */
		if ((ret == Z_OK || ret == Z_BUF_ERROR) && !strm.avail_out)
			res->status = ZIP_ST_DST_SHORT;
		else
			res->status = ZIP_ST_BAD_DATA;
		return;
	}
	used = strm.total_in;
	res->status = ZIP_ST_BAD_DATA;
	if (in_len - used < tl)
		return;
	zip_trailer(req, out, strm.total_out, trailer);
	res->status = ZIP_ST_CRC;
	if (memcmp(trailer, in + used, tl))
		return;
	res->consumed = used + tl;
	res->produced = strm.total_out;
	res->isize = strm.total_out;
	res->checksum = zip_checksum(req, out, strm.total_out);
	res->status = ZIP_ST_OK;
}

/*
 * Stream mode (dw7 bit 26), with the conventions of uacce-emu: the codec
 * state lives in the queue, keyed by the stream context address (dw22/23;
 * the hardware keeps it in the context buffer), created by a BD with "new"
 * (bit 27). Compress consumes all input of each BD (Z_SYNC_FLUSH, or
 * Z_FINISH plus the trailer when dw7 bit 25 is set) and hands out the output
 * as dest_avail_out allows; lstblk marks the BD whose output completed the
 * stream. Decompress consumes what fits the output; the end of the stream
 * (trailer checked) is status 0x13 with lstblk. dw30/dw31 carry the running
 * ISIZE and plain checksum; the context words are 0.
 */
struct zip_stream {
	struct list_head node;
	u64 key;
	u32 req;
	bool finished;			/* compress: Z_FINISH done */
	bool inflated;			/* decompress: deflate data ended */
	struct z_stream_s strm;
	u32 crc, adler, isize;
	u8 *pend;			/* compress output not handed out */
	size_t pend_len, pend_cap;
	u8 trailer[8];
	unsigned int tlen;
};

static void zip_stream_free(struct soft_ctx *ctx, struct zip_stream *s)
{
	list_del(&s->node);
	ctx->nr_streams--;
	vfree(s->strm.workspace);
	kvfree(s->pend);
	kfree(s);
}

static void zip_streams_free(struct soft_ctx *ctx)
{
	struct zip_stream *s, *n;

	if (!ctx->streams.next)
		return;
	list_for_each_entry_safe(s, n, &ctx->streams, node)
		zip_stream_free(ctx, s);
}

static struct zip_stream *zip_stream_find(struct soft_ctx *ctx, u64 key)
{
	struct zip_stream *s;

	list_for_each_entry(s, &ctx->streams, node)
		if (s->key == key)
			return s;
	return NULL;
}

static struct zip_stream *zip_stream_new(struct soft_ctx *ctx, u64 key,
					 u32 req)
{
	struct zip_stream *s = zip_stream_find(ctx, key);
	size_t ws;
	int ret;

	if (s)
		zip_stream_free(ctx, s);
	/* A stream abandoned by its owner: drop the oldest */
	if (ctx->nr_streams >= ZIP_MAX_STREAMS)
		zip_stream_free(ctx, list_first_entry(&ctx->streams,
						      struct zip_stream, node));
	s = kzalloc(sizeof(*s), GFP_KERNEL);
	if (!s)
		return NULL;
	ws = ctx->qc_type == 0 ? zlib_deflate_workspacesize(MAX_WBITS, 8) :
				 zlib_inflate_workspacesize();
	s->strm.workspace = vzalloc(ws);
	if (!s->strm.workspace) {
		kfree(s);
		return NULL;
	}
	if (ctx->qc_type == 0)
		ret = zlib_deflateInit2(&s->strm, Z_DEFAULT_COMPRESSION,
					Z_DEFLATED, -MAX_WBITS, 8,
					Z_DEFAULT_STRATEGY);
	else
		ret = zlib_inflateInit2(&s->strm, -MAX_WBITS);
	if (ret != Z_OK) {
		vfree(s->strm.workspace);
		kfree(s);
		return NULL;
	}
	s->key = key;
	s->req = req;
	s->adler = 1;
	list_add_tail(&s->node, &ctx->streams);
	ctx->nr_streams++;
	return s;
}

static void zip_stream_sum(struct zip_stream *s, const u8 *data, u32 len)
{
	s->crc = crc32_le(s->crc ^ ~0U, data, len) ^ ~0U;
	s->adler = zlib_adler32(s->adler, data, len);
	s->isize += len;
}

/* The trailer of the data summed so far (zlib Adler-32 BE, gzip CRC LE + ISIZE LE) */
static void zip_stream_trailer(struct zip_stream *s, u8 *out)
{
	if (s->req == ZIP_REQ_ZLIB) {
		put_unaligned_be32(s->adler, out);
	} else if (s->req == ZIP_REQ_GZIP) {
		put_unaligned_le32(s->crc, out);
		put_unaligned_le32(s->isize, out + 4);
	}
}

static int zip_pend_reserve(struct zip_stream *s, size_t more)
{
	size_t cap;
	u8 *p;

	if (s->pend_cap - s->pend_len >= more)
		return 0;
	cap = max(s->pend_cap * 2, s->pend_len + more);
	p = kvmalloc(cap, GFP_KERNEL);
	if (!p)
		return -ENOMEM;
	if (s->pend_len)
		memcpy(p, s->pend, s->pend_len);
	kvfree(s->pend);
	s->pend = p;
	s->pend_cap = cap;
	return 0;
}

/* Deflate all of @in into the pending output; 0 or the status to report */
static u32 zip_stream_deflate(struct zip_stream *s, const u8 *in, u32 in_len,
			      bool last)
{
	int flush = last ? Z_FINISH : Z_SYNC_FLUSH;
	int ret;

	s->strm.next_in = in;
	s->strm.avail_in = in_len;
	for (;;) {
		if (zip_pend_reserve(s, 16384))
			return ZIP_ST_INVALID;
		s->strm.next_out = s->pend + s->pend_len;
		s->strm.avail_out = s->pend_cap - s->pend_len;
		ret = zlib_deflate(&s->strm, flush);
		s->pend_len = s->strm.next_out - s->pend;
		if (ret == Z_STREAM_END)
			return 0;
		if (ret != Z_OK && ret != Z_BUF_ERROR)
			return ZIP_ST_INVALID;
		/* A sync flush is complete with all input in and room left */
		if (!last && !s->strm.avail_in && s->strm.avail_out)
			return 0;
	}
}

static void zip_stream_run(struct soft_ctx *ctx, u8 *sqe, u32 req, u32 flags)
{
	u32 in_len = sqe_dw(sqe, ZIP_DW_IN_LEN);
	u32 avail = min(sqe_dw(sqe, ZIP_DW_AVAIL_OUT), ZIP_MAX_LEN);
	u64 src = sqe_dw(sqe, ZIP_DW_SRC_L) |
		  (u64)sqe_dw(sqe, ZIP_DW_SRC_H) << 32;
	u64 dst = sqe_dw(sqe, ZIP_DW_DST_L) |
		  (u64)sqe_dw(sqe, ZIP_DW_DST_H) << 32;
	u64 key = sqe_dw(sqe, ZIP_DW_CTX_ADDR_L) |
		  (u64)sqe_dw(sqe, ZIP_DW_CTX_ADDR_H) << 32;
	bool last = flags & ZIP_FLUSH_FINISH;
	unsigned int tl = zip_trailer_len(req);
	u32 status = ZIP_ST_INVALID, consumed = 0, produced = 0;
	struct zip_stream *s = NULL;
	bool done = false;
	u8 *in = NULL, *out = NULL;
	int ret;

	if (!key || in_len > ZIP_MAX_LEN)
		goto out;
	s = flags & ZIP_STREAM_NEW ? zip_stream_new(ctx, key, req) :
				     zip_stream_find(ctx, key);
	if (!s || s->req != req) {
		s = NULL;
		goto out;
	}
	in = kvmalloc(max(in_len, 1U), GFP_KERNEL);
	if (!in)
		goto drop;
	status = ZIP_ST_FAULT;
	if (copy_from_user(in, u64_to_user_ptr(src), in_len))
		goto drop;

	if (ctx->qc_type == 0) {
		status = ZIP_ST_INVALID;
		if (s->finished && in_len)
			goto drop;
		if (!s->finished) {
			zip_stream_sum(s, in, in_len);
			status = zip_stream_deflate(s, in, in_len, last);
			if (status)
				goto drop;
			if (last) {
				s->finished = true;
				if (zip_pend_reserve(s, tl))
					goto drop;
				zip_stream_trailer(s, s->pend + s->pend_len);
				s->pend_len += tl;
			}
		}
		consumed = in_len;
		produced = min_t(size_t, s->pend_len, avail);
		status = ZIP_ST_FAULT;
		if (copy_to_user(u64_to_user_ptr(dst), s->pend, produced))
			goto drop;
		memmove(s->pend, s->pend + produced, s->pend_len - produced);
		s->pend_len -= produced;
		done = s->finished && !s->pend_len;
		status = ZIP_ST_OK;
	} else {
		status = ZIP_ST_INVALID;
		out = kvmalloc(max(avail, 1U), GFP_KERNEL);
		if (!out)
			goto drop;
		if (!s->inflated) {
			s->strm.next_in = in;
			s->strm.avail_in = in_len;
			s->strm.next_out = out;
			s->strm.avail_out = avail;
			ret = zlib_inflate(&s->strm, Z_SYNC_FLUSH);
			consumed = in_len - s->strm.avail_in;
			produced = avail - s->strm.avail_out;
			status = ZIP_ST_BAD_DATA;
			if (ret == Z_STREAM_END)
				s->inflated = true;
			else if (ret != Z_OK && ret != Z_BUF_ERROR)
				goto drop;
			zip_stream_sum(s, out, produced);
		}
		if (s->inflated) {
			unsigned int take = min(tl - s->tlen, in_len - consumed);

			memcpy(s->trailer + s->tlen, in + consumed, take);
			s->tlen += take;
			consumed += take;
		}
		done = s->inflated && s->tlen == tl;
		if (done) {
			u8 expect[8];

			zip_stream_trailer(s, expect);
			status = ZIP_ST_CRC;
			if (memcmp(expect, s->trailer, tl))
				goto drop;
		}
		status = ZIP_ST_FAULT;
		if (copy_to_user(u64_to_user_ptr(dst), out, produced))
			goto drop;
		status = done ? ZIP_ST_END : ZIP_ST_OK;
	}
	goto out;
drop:
	/* An error ends the stream */
	zip_stream_free(ctx, s);
	s = NULL;
	consumed = 0;
	produced = 0;
	done = false;
out:
	kvfree(in);
	kvfree(out);
	sqe_set_dw(sqe, ZIP_DW_CONSUMED, consumed);
	sqe_set_dw(sqe, ZIP_DW_PRODUCED, produced);
	sqe_set_dw(sqe, ZIP_DW_STATUS, status | (done ? ZIP_LSTBLK : 0));
	sqe_set_dw(sqe, ZIP_DW_CTX0, 0);
	sqe_set_dw(sqe, ZIP_DW_CTX1, 0);
	sqe_set_dw(sqe, ZIP_DW_CTX2, 0);
	sqe_set_dw(sqe, ZIP_DW_ISIZE, s ? s->isize : 0);
	sqe_set_dw(sqe, ZIP_DW_CHECKSUM, !s ? 0 :
			req == ZIP_REQ_ZLIB ? s->adler :
			req == ZIP_REQ_GZIP ? s->crc : 0);
	if (s && done)
		zip_stream_free(ctx, s);
}

static void zip_run(struct soft_ctx *ctx, u8 *sqe)
{
	u32 in_len = sqe_dw(sqe, ZIP_DW_IN_LEN);
	u32 avail = sqe_dw(sqe, ZIP_DW_AVAIL_OUT);
	u32 flags = sqe_dw(sqe, ZIP_DW_FLAGS);
	u32 req = sqe_dw(sqe, ZIP_DW_REQ);
	u64 src = sqe_dw(sqe, ZIP_DW_SRC_L) |
		  (u64)sqe_dw(sqe, ZIP_DW_SRC_H) << 32;
	u64 dst = sqe_dw(sqe, ZIP_DW_DST_L) |
		  (u64)sqe_dw(sqe, ZIP_DW_DST_H) << 32;
	struct zip_res res = { .status = ZIP_ST_INVALID };
	u32 type = flags >> 28;
	u8 *in = NULL, *out = NULL;

	/*
	 * Flat buffers only: SQE type 0 or 3, request type deflate/zlib/gzip
	 * in dw9 bits 0..7, buffer type (bits 8..11) 0. The window size (bits
	 * 12..15) is accepted and ignored. Stream mode (dw7 bit 26) has its
	 * own path.
	 */
	if ((type != 0 && type != 3) || (req & 0xf00) || ctx->qc_type > 1)
		goto out;
	req &= 0xff;
	if (req != ZIP_REQ_DEFLATE && req != ZIP_REQ_ZLIB &&
	    req != ZIP_REQ_GZIP)
		goto out;
	if (flags & ZIP_STREAM_MODE) {
		zip_stream_run(ctx, sqe, req, flags);
		return;
	}
	if (in_len > ZIP_MAX_LEN)
		goto out;
	avail = min(avail, ZIP_MAX_LEN);
	if (soft_zws(ctx))
		goto out;

	in = kvmalloc(max(in_len, 1U), GFP_KERNEL);
	out = kvmalloc(max(avail, 1U), GFP_KERNEL);
	if (!in || !out)
		goto out;
	res.status = ZIP_ST_FAULT;
	if (copy_from_user(in, u64_to_user_ptr(src), in_len))
		goto out;

	if (ctx->qc_type == 0)
		zip_compress(ctx, req, in, in_len, out, avail, &res);
	else
		zip_decompress(ctx, req, in, in_len, out, avail, &res);
	if ((res.status == ZIP_ST_OK || res.status == ZIP_ST_NEGATIVE) &&
	    copy_to_user(u64_to_user_ptr(dst), out, res.produced))
		res = (struct zip_res){ .status = ZIP_ST_FAULT };
out:
	kvfree(in);
	kvfree(out);
	if (res.status != ZIP_ST_OK && res.status != ZIP_ST_NEGATIVE)
		res = (struct zip_res){ .status = res.status };
	sqe_set_dw(sqe, ZIP_DW_CONSUMED, res.consumed);
	sqe_set_dw(sqe, ZIP_DW_PRODUCED, res.produced);
	sqe_set_dw(sqe, ZIP_DW_STATUS, res.status);
	/* Block mode: no stream context */
	sqe_set_dw(sqe, ZIP_DW_CTX0, 0);
	sqe_set_dw(sqe, ZIP_DW_CTX1, 0);
	sqe_set_dw(sqe, ZIP_DW_CTX2, 0);
	sqe_set_dw(sqe, ZIP_DW_ISIZE, res.isize);
	sqe_set_dw(sqe, ZIP_DW_CHECKSUM, res.checksum);
}

/* ----------------------------------------------------------------- SEC -- */

/* A scatterlist over a kvmalloc'ed buffer */
static int soft_sg(struct sg_table *sgt, u8 *buf, size_t len)
{
	struct scatterlist *sg;
	unsigned int n, i;
	int ret;

	if (!is_vmalloc_addr(buf)) {
		ret = sg_alloc_table(sgt, 1, GFP_KERNEL);
		if (!ret)
			sg_set_buf(sgt->sgl, buf, len);
		return ret;
	}
	n = DIV_ROUND_UP(offset_in_page(buf) + len, PAGE_SIZE);
	ret = sg_alloc_table(sgt, n, GFP_KERNEL);
	if (ret)
		return ret;
	for_each_sg(sgt->sgl, sg, n, i) {
		size_t chunk = min_t(size_t, len,
				     PAGE_SIZE - offset_in_page(buf));

		sg_set_page(sg, vmalloc_to_page(buf), chunk,
			    offset_in_page(buf));
		buf += chunk;
		len -= chunk;
	}
	return 0;
}

static u64 sqe_u64(const u8 *sqe, unsigned int off)
{
	return get_unaligned_le64(sqe + off);
}

/*
 * A hash of the a_alg table (section 7.3; UADK drv/hisi_sec.c A_ALG_*).
 * state: bytes of the chaining value a long-hash part leaves at mac_addr, as
 * uacce-emu writes it (big-endian words, MD5 little-endian; the whole state
 * also for the truncated hashes). statesize: the size of the kernel's
 * exported state (struct sha1_state etc.), whose first member is the
 * chaining value in CPU order. name NULL: the kernel has no such hash.
 * AES-CMAC (A_ALG_AES_CMAC, which UADK sends as an HMAC-mode digest: the
 * AES-128 key at a_key_addr, a_key_len 4 words) has only the keyed code.
 */
struct sec_hash {
	u8 a_alg;
	u8 hmac_a_alg;
	u8 digest;
	u8 block;
	u8 state;
	bool le;
	bool w64;
	const char *name;
	const char *hmac_name;
	unsigned int statesize;
};

static const struct sec_hash sec_hashes[] = {
	{ 0x25, 0x26, SM3_DIGEST_SIZE, SM3_BLOCK_SIZE, 32, false, false,
	  "sm3", "hmac(sm3)", sizeof(struct sm3_state) },
	{ 0x02, 0x12, MD5_DIGEST_SIZE, MD5_HMAC_BLOCK_SIZE, 16, true, false,
	  "md5", "hmac(md5)", sizeof(struct md5_state) },
	{ 0x00, 0x10, SHA1_DIGEST_SIZE, SHA1_BLOCK_SIZE, 20, false, false,
	  "sha1", "hmac(sha1)", sizeof(struct sha1_state) },
	{ 0x03, 0x13, SHA224_DIGEST_SIZE, SHA224_BLOCK_SIZE, 32, false, false,
	  "sha224", "hmac(sha224)", sizeof(struct sha256_state) },
	{ 0x01, 0x11, SHA256_DIGEST_SIZE, SHA256_BLOCK_SIZE, 32, false, false,
	  "sha256", "hmac(sha256)", sizeof(struct sha256_state) },
	{ 0x04, 0x14, SHA384_DIGEST_SIZE, SHA384_BLOCK_SIZE, 64, false, true,
	  "sha384", "hmac(sha384)", sizeof(struct sha512_state) },
	{ 0x05, 0x15, SHA512_DIGEST_SIZE, SHA512_BLOCK_SIZE, 64, false, true,
	  "sha512", "hmac(sha512)", sizeof(struct sha512_state) },
	/* SHA-512/224 and SHA-512/256: not in the kernel's crypto API */
	{ 0x06, 0x16, 28, SHA512_BLOCK_SIZE, 64, false, true, NULL, NULL, 0 },
	{ 0x07, 0x17, 32, SHA512_BLOCK_SIZE, 64, false, true, NULL, NULL, 0 },
	{ 0xff, SEC_A_ALG_CMAC, AES_BLOCK_SIZE, AES_BLOCK_SIZE, AES_BLOCK_SIZE,
	  false, false, NULL, "cmac(aes)", 0 },
};

enum sec_op {
	SEC_OP_CIPHER,
	SEC_OP_AEAD,
	SEC_OP_DIGEST,
};

/* Digest stage: (ai_gen, a_pad) = (0, 0), (0, 1), (1, 1), (1, 0) */
enum sec_stage {
	SEC_ONESHOT,
	SEC_FIRST,
	SEC_MIDDLE,
	SEC_LAST,
};

/* What sec_decode() learns from a valid BD */
struct sec_bd {
	enum sec_op op;
	u32 dir;		/* cipher, AEAD: 1 encrypt, 2 decrypt */
	u32 alg;		/* cipher: c_alg */
	u32 mode;		/* cipher, AEAD: c_mode */
	u32 key_len;		/* cipher key bytes (XTS: both keys) */
	u32 tag_len;		/* AEAD: c_icv_len */
	u32 a_len;
	u32 c_len;
	u64 a_key;
	u64 mac;
	u64 c_ivin;
	u64 c_key;
	u64 a_ivin;
	u64 src;
	u64 dst;
	const struct sec_hash *hash;
	bool hmac;
	enum sec_stage stage;
	u32 mac_len;		/* digest bytes of one-shot and last BDs */
	u32 hkey_len;		/* HMAC key bytes */
	u64 total;		/* last BD: message bytes over all parts */
};

/* Per-key bytes of a c_key_len code: AES 0/1/2, SM4 0 (section 7.3) */
static int sec_key_len(u32 alg, u32 code)
{
	static const int aes[] = { 16, 24, 32 };

	if (alg == SEC_ALG_AES && code < ARRAY_SIZE(aes))
		return aes[code];
	if (alg == SEC_ALG_SM4 && code == 0)
		return 16;
	return -EINVAL;
}

/*
 * Bits UADK and the kernel's sec2 driver both leave 0 for the operations
 * decoded here: reserved bytes, nonce_len/huk/key_s/ci_gen, c_s, key types,
 * write_frame_len, cal_iv_addr_en, tls_up; then bytes 28..39 and 42..47
 * (header offsets, pass_word_len, dk_len, salts, cph_pad, c_pad_len).
 */
static const u8 sec_zero_bits[16] = {
	[3] = 0xff, [4] = 0xff, [5] = 0xf0, [6] = 0xff, [7] = 0x7f,
	[15] = 0xff,
};

static int sec_decode_cipher(const u8 *sqe, struct sec_bd *bd, u32 mka,
			     u16 icvw)
{
	u32 de = (sqe[SEC_OFF_SDS] >> 1) & 3;
	int klen;

	bd->op = SEC_OP_CIPHER;
	bd->alg = sqe[SEC_OFF_C_ALG];
	bd->mode = icvw >> 12;
	/*
	 * BD2 does ECB, CBC, XTS (UADK fill_cipher_bd2_mode): CTR, OFB, CFB
	 * are BD3 only and refused here like an unknown mode
	 */
	if (bd->mode != SEC_MODE_ECB && bd->mode != SEC_MODE_CBC &&
	    bd->mode != SEC_MODE_XTS)
		return -EINVAL;
	klen = sec_key_len(bd->alg, (icvw >> 9) & 7);
	if (klen < 0)
		return -EINVAL;
	bd->key_len = bd->mode == SEC_MODE_XTS ? 2 * klen : klen;
	/* de 1; seq, c_icv_len, c_width 0; no auth fields */
	if (de != 1 || (sqe[SEC_OFF_SDS] & 1) || (icvw & 0x1ff) || mka ||
	    (sqe[SEC_OFF_AI_APD] & 0xf))
		return -EINVAL;
	if (bd->a_len || get_unaligned_le16(sqe + SEC_OFF_AUTH_OFF) ||
	    get_unaligned_le16(sqe + SEC_OFF_CIPHER_OFF) ||
	    sqe_u64(sqe, SEC_OFF_LONG_LEN))
		return -EINVAL;
	if (bd->mode == SEC_MODE_XTS ? bd->c_len < 16 :
	    !bd->c_len || bd->c_len % 16)
		return -EINVAL;
	if (!bd->c_key || (bd->mode != SEC_MODE_ECB && !bd->c_ivin) ||
	    !bd->src || !bd->dst)
		return -EINVAL;
	if (bd->a_ivin || bd->a_key || bd->mac)
		return -EINVAL;
	return 0;
}

/*
 * GCM (c_mode 6) and CCM (c_mode 5), as UADK's fill_aead_bd2 lays both out:
 * auth 0, mac_key_alg 0, a_len = cipher_src_offset = AAD bytes, c_len =
 * payload, c_icv_len = tag bytes, seq set exactly for decryption. BD2 has
 * AES only (fill_aead_bd2_alg); CCM tags are 4..16 even bytes, its AAD at
 * most 65279 bytes and its payload not empty on hw v2 (UADK aead_len_check).
 */
static int sec_decode_aead(const u8 *sqe, struct sec_bd *bd, u32 mka,
			   u16 icvw)
{
	u32 de = (sqe[SEC_OFF_SDS] >> 1) & 3;
	bool seq, dec, ccm;
	int klen;

	bd->op = SEC_OP_AEAD;
	bd->mode = icvw >> 12;
	ccm = bd->mode == SEC_MODE_CCM;
	klen = sec_key_len(SEC_ALG_AES, (icvw >> 9) & 7);
	if (sqe[SEC_OFF_C_ALG] != SEC_ALG_AES || klen < 0 || de != 1)
		return -EINVAL;
	bd->key_len = klen;
	bd->tag_len = icvw & 0x3f;
	if (bd->tag_len < 4 || bd->tag_len > 16 || ((icvw >> 6) & 7) ||
	    (ccm && bd->tag_len % 2))
		return -EINVAL;
	/* seq is set exactly for decryption (UADK, the kernel's sec2) */
	seq = sqe[SEC_OFF_SDS] & 1;
	dec = bd->dir == SEC_CIPHER_DEC;
	if (seq != dec)
		return -EINVAL;
	if (mka || (sqe[SEC_OFF_AI_APD] & 0xf))
		return -EINVAL;
	if (bd->a_len != get_unaligned_le16(sqe + SEC_OFF_CIPHER_OFF) ||
	    get_unaligned_le16(sqe + SEC_OFF_AUTH_OFF) ||
	    sqe_u64(sqe, SEC_OFF_LONG_LEN) ||
	    bd->a_len + bd->c_len > SEC_MAX_LEN)
		return -EINVAL;
	if (ccm && (bd->a_len > SEC_CCM_MAX_AAD || !bd->c_len))
		return -EINVAL;
	if (!bd->c_key || !bd->c_ivin || !bd->a_ivin || !bd->mac ||
	    (bd->a_len + bd->c_len && !bd->src) || (bd->c_len && !bd->dst))
		return -EINVAL;
	return 0;
}

static int sec_decode_digest(const u8 *sqe, struct sec_bd *bd, u32 mka)
{
	u32 a_alg = (mka >> 11) & 0x3f, akey = (mka >> 5) & 0x3f;
	u32 mac_words = mka & 0x1f, ai_gen = sqe[SEC_OFF_AI_APD] & 3;
	u32 pad = (sqe[SEC_OFF_AI_APD] >> 2) & 3;
	u64 long_len = sqe_u64(sqe, SEC_OFF_LONG_LEN);
	const struct sec_hash *h = NULL;
	bool block_stage;
	unsigned int i;

	bd->op = SEC_OP_DIGEST;
	for (i = 0; i < ARRAY_SIZE(sec_hashes); i++) {
		if (sec_hashes[i].a_alg == a_alg ||
		    sec_hashes[i].hmac_a_alg == a_alg) {
			h = &sec_hashes[i];
			bd->hmac = h->hmac_a_alg == a_alg;
		}
	}
	if (!h)
		return -EINVAL;
	bd->hash = h;
	/*
	 * CMAC as UADK sends it on BD2: AES-128 keys only
	 * (hmac_key_len_check), one-shot only (aes_auth_long_hash_check),
	 * scene 1 (the kernel sends no CMAC BDs)
	 */
	if (a_alg == SEC_A_ALG_CMAC &&
	    (akey * 4 != AES_KEYSIZE_128 || ai_gen || pad ||
	     ((sqe[SEC_OFF_SDS] >> 3) & 0xf) != 1))
		return -EINVAL;
	/* de 0, seq 0, no cipher length or offsets */
	if ((sqe[SEC_OFF_SDS] & 7) || bd->c_len ||
	    get_unaligned_le16(sqe + SEC_OFF_CIPHER_OFF) ||
	    get_unaligned_le16(sqe + SEC_OFF_AUTH_OFF))
		return -EINVAL;
	if (ai_gen == 0 && pad == 0) {
		bd->stage = SEC_ONESHOT;
	} else if (ai_gen == 0 && pad == SEC_APD_NOPAD) {
		bd->stage = SEC_FIRST;
	} else if (ai_gen == SEC_AI_GEN_IVIN && pad == SEC_APD_NOPAD) {
		bd->stage = SEC_MIDDLE;
	} else if (ai_gen == SEC_AI_GEN_IVIN && pad == 0) {
		/* long_a_data_len: the total length in bits */
		if (long_len % 8 || long_len / 8 < bd->a_len)
			return -EINVAL;
		bd->stage = SEC_LAST;
		bd->total = long_len / 8;
	} else {
		return -EINVAL;
	}
	if (bd->stage != SEC_LAST && long_len)
		return -EINVAL;
	/* BD2 hashes no empty input; first/middle parts are whole blocks */
	block_stage = bd->stage == SEC_FIRST || bd->stage == SEC_MIDDLE;
	if (!bd->a_len || (block_stage && bd->a_len % h->block))
		return -EINVAL;
	/* intermediate parts: mac_len full for HMACs and SM3, else 0 */
	if (block_stage) {
		if (mac_words != (bd->hmac || h->a_alg == 0x25 ?
				  h->digest / 4U : 0))
			return -EINVAL;
	} else if (!mac_words || mac_words > h->digest / 4U) {
		return -EINVAL;
	}
	bd->mac_len = mac_words * 4;
	if (bd->hmac) {
		bd->hkey_len = akey * 4;
		if (!bd->hkey_len || bd->hkey_len > h->block || !bd->a_key)
			return -EINVAL;
	} else if (akey || bd->a_key) {
		return -EINVAL;
	}
	/* middle/last: a_ivin = mac_addr (UADK fill_digest_long_hash) */
	if (ai_gen == SEC_AI_GEN_IVIN ? bd->a_ivin != bd->mac : bd->a_ivin)
		return -EINVAL;
	if (!bd->src || !bd->mac || bd->c_ivin || bd->c_key || bd->dst)
		return -EINVAL;
	return 0;
}

/*
 * Decode a BD2 as strictly as uacce-sys's qm::sec::decode: any field the
 * hardware would read differently, or that UADK and the kernel leave 0, makes
 * it malformed (-EINVAL, error_type 0xff). BD type 3 is not a v2 BD.
 */
static int sec_decode(const u8 *sqe, struct sec_bd *bd)
{
	u32 mka = get_unaligned_le32(sqe + SEC_OFF_MAC_KEY_ALG);
	u16 icvw = get_unaligned_le16(sqe + SEC_OFF_MODE_KEY);
	u32 cipher = (sqe[0] >> 4) & 3, auth = sqe[0] >> 6;
	u32 scene = (sqe[SEC_OFF_SDS] >> 3) & 0xf;
	unsigned int i;

	memset(bd, 0, sizeof(*bd));
	if ((sqe[0] & 0xf) != SEC_TYPE2 || (sqe[SEC_OFF_INVALID] & 0x80))
		return -EINVAL;
	/* flat source, destination and MAC buffers only */
	if ((sqe[SEC_OFF_SDS] & 0x80) || sqe[SEC_OFF_SDM])
		return -EINVAL;
	if (mka >> 17 || (scene != 0 && scene != 1 && scene != 7))
		return -EINVAL;
	for (i = 0; i < ARRAY_SIZE(sec_zero_bits); i++)
		if (sqe[i] & sec_zero_bits[i])
			return -EINVAL;
	if (memchr_inv(sqe + 28, 0, 12) || memchr_inv(sqe + 42, 0, 6))
		return -EINVAL;
	/* bits 24..31 (IV offsets) are 0: SEC_MAX_LEN < 1 << 24 */
	bd->a_len = get_unaligned_le32(sqe + SEC_OFF_A_LEN);
	bd->c_len = get_unaligned_le32(sqe + SEC_OFF_C_LEN);
	if (bd->a_len > SEC_MAX_LEN || bd->c_len > SEC_MAX_LEN)
		return -EINVAL;
	bd->dir = cipher;
	bd->a_ivin = sqe_u64(sqe, SEC_OFF_A_IVIN);
	bd->a_key = sqe_u64(sqe, SEC_OFF_A_KEY);
	bd->mac = sqe_u64(sqe, SEC_OFF_MAC);
	bd->c_ivin = sqe_u64(sqe, SEC_OFF_C_IVIN);
	bd->c_key = sqe_u64(sqe, SEC_OFF_C_KEY);
	bd->src = sqe_u64(sqe, SEC_OFF_SRC);
	bd->dst = sqe_u64(sqe, SEC_OFF_DST);
	if ((cipher == SEC_CIPHER_ENC || cipher == SEC_CIPHER_DEC) && !auth)
		return (icvw >> 12) == SEC_MODE_GCM ||
		       (icvw >> 12) == SEC_MODE_CCM ?
		       sec_decode_aead(sqe, bd, mka, icvw) :
		       sec_decode_cipher(sqe, bd, mka, icvw);
	if (!cipher && auth == SEC_AUTH_CALC)
		return sec_decode_digest(sqe, bd, mka);
	return -EINVAL;
}

static int sec_cipher(const struct sec_bd *bd)
{
	struct crypto_skcipher *tfm;
	struct skcipher_request *req = NULL;
	DECLARE_CRYPTO_WAIT(wait);
	struct sg_table sgt = {};
	const char *name;
	u8 key[64], iv[16] = {};
	u8 *buf = NULL;
	int ret;

	if (bd->mode == SEC_MODE_ECB)
		name = bd->alg == SEC_ALG_SM4 ? "ecb(sm4)" : "ecb(aes)";
	else if (bd->mode == SEC_MODE_CBC)
		name = bd->alg == SEC_ALG_SM4 ? "cbc(sm4)" : "cbc(aes)";
	else
		name = bd->alg == SEC_ALG_SM4 ? "xts(sm4)" : "xts(aes)";
	if (copy_from_user(key, u64_to_user_ptr(bd->c_key), bd->key_len))
		return -EFAULT;
	if (bd->mode != SEC_MODE_ECB &&
	    copy_from_user(iv, u64_to_user_ptr(bd->c_ivin), sizeof(iv))) {
		memzero_explicit(key, sizeof(key));
		return -EFAULT;
	}

	tfm = crypto_alloc_skcipher(name, 0, 0);
	if (IS_ERR(tfm)) {
		memzero_explicit(key, sizeof(key));
		return -EOPNOTSUPP;
	}
	ret = crypto_skcipher_setkey(tfm, key, bd->key_len);
	if (ret)
		goto out;
	ret = -ENOMEM;
	buf = kvmalloc(bd->c_len, GFP_KERNEL);
	req = skcipher_request_alloc(tfm, GFP_KERNEL);
	if (!buf || !req)
		goto out;
	ret = -EFAULT;
	if (copy_from_user(buf, u64_to_user_ptr(bd->src), bd->c_len))
		goto out;
	ret = soft_sg(&sgt, buf, bd->c_len);
	if (ret)
		goto out;
	skcipher_request_set_callback(req, CRYPTO_TFM_REQ_MAY_BACKLOG |
				      CRYPTO_TFM_REQ_MAY_SLEEP,
				      crypto_req_done, &wait);
	skcipher_request_set_crypt(req, sgt.sgl, sgt.sgl, bd->c_len, iv);
	ret = crypto_wait_req(bd->dir == SEC_CIPHER_ENC ?
			      crypto_skcipher_encrypt(req) :
			      crypto_skcipher_decrypt(req), &wait);
	if (ret) {
		ret = -EINVAL;
		goto out;
	}
	if (copy_to_user(u64_to_user_ptr(bd->dst), buf, bd->c_len))
		ret = -EFAULT;
out:
	sg_free_table(&sgt);
	skcipher_request_free(req);
	if (buf)
		kvfree_sensitive(buf, bd->c_len);
	crypto_free_skcipher(tfm);
	memzero_explicit(key, sizeof(key));
	return ret;
}

/* Chaining value bytes (BD format) <-> the kernel's exported state */
static void sec_state_load(const struct sec_hash *h, void *st, const u8 *in)
{
	unsigned int i;

	for (i = 0; h->w64 && i < h->state / 8U; i++)
		((u64 *)st)[i] = get_unaligned_be64(in + 8 * i);
	for (i = 0; !h->w64 && i < h->state / 4U; i++)
		((u32 *)st)[i] = h->le ? get_unaligned_le32(in + 4 * i) :
				 get_unaligned_be32(in + 4 * i);
}

static void sec_state_store(const struct sec_hash *h, const void *st, u8 *out)
{
	unsigned int i;

	for (i = 0; h->w64 && i < h->state / 8U; i++)
		put_unaligned_be64(((const u64 *)st)[i], out + 8 * i);
	for (i = 0; !h->w64 && i < h->state / 4U; i++) {
		if (h->le)
			put_unaligned_le32(((const u32 *)st)[i], out + 4 * i);
		else
			put_unaligned_be32(((const u32 *)st)[i], out + 4 * i);
	}
}

/*
 * Long hash: run the compression function over whole blocks from the
 * chaining value in (the hash's initial value if NULL) and store the new one
 * in out. The kernel's shash has no such call, so the state goes through
 * crypto_shash_import()/export(); only the chaining value at the start of the
 * exported struct is touched (its byte count and buffer stay those of an
 * aligned position). A hash whose export is not the expected struct (another
 * implementation) is reported unsupported.
 */
static int sec_compress(const struct sec_hash *h, struct crypto_shash *tfm,
			const u8 *in, const u8 *data, size_t len, u8 *out)
{
	struct shash_desc *desc;
	void *st;
	int ret;

	if (crypto_shash_statesize(tfm) != h->statesize)
		return -EOPNOTSUPP;
	desc = kzalloc(sizeof(*desc) + crypto_shash_descsize(tfm), GFP_KERNEL);
	st = kzalloc(h->statesize, GFP_KERNEL);
	ret = -ENOMEM;
	if (!desc || !st)
		goto out;
	desc->tfm = tfm;
	ret = crypto_shash_init(desc);
	if (!ret && in) {
		ret = crypto_shash_export(desc, st);
		sec_state_load(h, st, in);
		if (!ret)
			ret = crypto_shash_import(desc, st);
	}
	if (!ret)
		ret = crypto_shash_update(desc, data, len);
	if (!ret)
		ret = crypto_shash_export(desc, st);
	if (!ret)
		sec_state_store(h, st, out);
	else
		ret = -EINVAL;
out:
	kfree_sensitive(st);
	kfree_sensitive(desc);
	return ret;
}

/* The hash padding for a message of total bytes, after the last part */
static size_t sec_hash_pad(const struct sec_hash *h, u64 total, size_t len,
			   u8 *out)
{
	size_t lenb = h->block == 64 ? 8 : 16, n = 1;

	out[0] = 0x80;
	while ((len + n) % h->block != h->block - lenb)
		out[n++] = 0;
	if (h->le) {
		put_unaligned_le64(total << 3, out + n);
	} else {
		if (lenb == 16) {
			put_unaligned_be64(total >> 61, out + n);
			n += 8;
		}
		put_unaligned_be64(total << 3, out + n);
	}
	return n + 8;
}

/*
 * Digest and HMAC, one-shot or a long-hash part, as uacce-emu computes them:
 * first and middle parts leave the whole chaining value at mac_addr, the last
 * part starts from it and pads with the total length. HMAC long hash: the
 * first part starts with the key block XOR ipad, the state is the inner
 * hash's, the last part (total = message bytes, without the key block)
 * finishes the inner hash and computes the outer one.
 */
static int sec_digest(const struct sec_bd *bd)
{
	const struct sec_hash *h = bd->hash;
	void __user *mac = u64_to_user_ptr(bd->mac);
	u8 key[SEC_HASH_MAX_BLOCK] = {}, state[SEC_HASH_MAX_STATE];
	struct crypto_shash *tfm;
	size_t off = 0, n, size;
	u8 *buf;
	unsigned int i;
	int ret;

	/* SHA-512/t: no kernel hash; CMAC (decoded one-shot only) */
	if (!(bd->hmac ? h->hmac_name : h->name) ||
	    (!h->name && bd->stage != SEC_ONESHOT))
		return -EOPNOTSUPP;
	/* room for the ipad block before the data, or the padding after */
	size = (size_t)bd->a_len + 2 * h->block;
	buf = kvmalloc(size, GFP_KERNEL);
	if (!buf)
		return -ENOMEM;
	if (bd->hmac && bd->stage == SEC_FIRST)
		off = h->block;
	ret = -EFAULT;
	if (copy_from_user(buf + off, u64_to_user_ptr(bd->src), bd->a_len))
		goto out_buf;
	if (bd->hmac && copy_from_user(key, u64_to_user_ptr(bd->a_key),
				       bd->hkey_len))
		goto out_buf;
	if ((bd->stage == SEC_MIDDLE || bd->stage == SEC_LAST) &&
	    copy_from_user(state, mac, h->state))
		goto out_buf;

	tfm = crypto_alloc_shash(bd->hmac && bd->stage == SEC_ONESHOT ?
				 h->hmac_name : h->name, 0, 0);
	if (IS_ERR(tfm)) {
		ret = -EOPNOTSUPP;
		goto out_buf;
	}
	if (bd->stage == SEC_ONESHOT) {
		ret = bd->hmac ? crypto_shash_setkey(tfm, key, bd->hkey_len) : 0;
		if (!ret)
			ret = crypto_shash_tfm_digest(tfm, buf, bd->a_len, state);
		if (ret)
			ret = -EINVAL;
		n = h->digest;
	} else {
		n = off + bd->a_len;
		for (i = 0; i < off; i++)
			buf[i] = key[i] ^ 0x36;
		if (bd->stage == SEC_LAST)
			n += sec_hash_pad(h, bd->total + (bd->hmac ? h->block : 0),
					  n, buf + n);
		ret = sec_compress(h, tfm, bd->stage == SEC_FIRST ? NULL : state,
				   buf, n, state);
		n = bd->stage == SEC_LAST ? h->digest : h->state;
	}
	if (!ret && bd->stage == SEC_LAST && bd->hmac) {
		/* outer hash: (key XOR opad) || inner digest, in buf */
		for (i = 0; i < h->block; i++)
			buf[i] = key[i] ^ 0x5c;
		memcpy(buf + h->block, state, h->digest);
		ret = crypto_shash_tfm_digest(tfm, buf, h->block + h->digest,
					      state);
		if (ret)
			ret = -EINVAL;
	}
	if (!ret && (bd->stage == SEC_ONESHOT || bd->stage == SEC_LAST))
		n = min_t(size_t, n, bd->mac_len);
	if (!ret && copy_to_user(mac, state, n))
		ret = -EFAULT;
	crypto_free_shash(tfm);
out_buf:
	kvfree_sensitive(buf, size);
	memzero_explicit(key, sizeof(key));
	memzero_explicit(state, sizeof(state));
	return ret;
}

/*
 * CCM's IVs as UADK's set_aead_auth_iv and the kernel's sec2 driver write
 * them: c_ivin is the counter block CTR1 (byte 0 = L' = L - 1, the nonce,
 * the L-byte counter = 1), a_ivin is B0 (byte 0 = L' | M' << 3 | Adata << 6
 * with M' = (tag - 2) / 2, the same nonce, the payload length in its last
 * L bytes). Both drivers write only the low 16 bits of the length (zeros
 * above, from the counter); uacce-sys's encoder writes all L bytes (RFC
 * 3610). The two differ only for payloads of 64 KiB and more, and both are
 * taken. Anything else is refused as malformed; L' 0 (L = 1) is no CCM.
 */
static int sec_ccm_ivs(const struct sec_bd *bd, const u8 *civ, const u8 *aiv)
{
	unsigned int l = (civ[0] & 7) + 1, i;
	u8 b0[16];

	if (civ[0] & ~7 || l < 2 || (l < 4 && bd->c_len >> (8 * l)))
		return -EINVAL;
	for (i = 16 - l; i < 15; i++)
		if (civ[i])
			return -EINVAL;
	if (civ[15] != 1)
		return -EINVAL;
	memcpy(b0, civ, sizeof(b0));
	b0[0] = civ[0] | ((bd->tag_len - 2) / 2) << 3 | (bd->a_len ? 0x40 : 0);
	put_unaligned_be16(bd->c_len & 0xffff, b0 + 14);
	if (!memcmp(b0, aiv, sizeof(b0)))
		return 0;
	/* the full length in the last L bytes (c_len has at most 4) */
	for (i = 0; i < l && i < 4; i++)
		b0[15 - i] = bd->c_len >> (8 * i);
	return memcmp(b0, aiv, sizeof(b0)) ? -EINVAL : 0;
}

/*
 * AES-GCM and AES-CCM as UADK lays them out: src = AAD || payload,
 * cipher_src_offset = AAD length, the tag in a separate buffer at mac_addr
 * (written on encrypt, the expected tag on decrypt). The result goes to dst +
 * cipher_src_offset; the AAD region of dst is not written (as in uacce-emu;
 * what the hardware does there is unknown). A tag mismatch is not an SQE
 * error: it is reported in the icv field (2) and nothing is written. GCM: a
 * 12-byte IV at c_ivin and a copy at a_ivin; CCM: see sec_ccm_ivs() (the
 * kernel's ccm(aes) takes CTR1 as its IV and builds B0 itself, with the full
 * length field).
 */
static int sec_aead(const struct sec_bd *bd, bool *icv_err)
{
	u32 a_len = bd->a_len, c_len = bd->c_len, tag_len = bd->tag_len;
	size_t total = (size_t)a_len + c_len + tag_len;
	void __user *mac = u64_to_user_ptr(bd->mac);
	bool ccm = bd->mode == SEC_MODE_CCM;
	unsigned int ivlen = ccm ? 16 : 12;
	struct aead_request *req = NULL;
	struct crypto_aead *tfm;
	DECLARE_CRYPTO_WAIT(wait);
	struct sg_table sgt = {};
	u8 key[32], iv[16], auth_iv[16];
	u8 *buf = NULL;
	int ret;

	if (copy_from_user(key, u64_to_user_ptr(bd->c_key), bd->key_len) ||
	    copy_from_user(iv, u64_to_user_ptr(bd->c_ivin), ivlen) ||
	    copy_from_user(auth_iv, u64_to_user_ptr(bd->a_ivin), ivlen)) {
		memzero_explicit(key, sizeof(key));
		return -EFAULT;
	}
	/*
	 * GCM: the auth IV must hold a copy of the cipher IV, as UADK and the
	 * kernel's sec2 driver write it; hardware's use of it is not
	 * documented, so a BD without it is refused as malformed.
	 */
	ret = ccm ? sec_ccm_ivs(bd, iv, auth_iv) :
	      memcmp(iv, auth_iv, ivlen) ? -EINVAL : 0;
	if (ret) {
		memzero_explicit(key, sizeof(key));
		return ret;
	}

	tfm = crypto_alloc_aead(ccm ? "ccm(aes)" : "gcm(aes)", 0, 0);
	if (IS_ERR(tfm)) {
		memzero_explicit(key, sizeof(key));
		return -EOPNOTSUPP;
	}
	ret = crypto_aead_setkey(tfm, key, bd->key_len);
	if (!ret)
		ret = crypto_aead_setauthsize(tfm, tag_len);
	if (ret) {
		ret = -EINVAL;
		goto out;
	}
	ret = -ENOMEM;
	buf = kvmalloc(total, GFP_KERNEL);
	req = aead_request_alloc(tfm, GFP_KERNEL);
	if (!buf || !req)
		goto out;
	ret = -EFAULT;
	if (copy_from_user(buf, u64_to_user_ptr(bd->src), a_len + c_len))
		goto out;
	if (bd->dir == SEC_CIPHER_DEC &&
	    copy_from_user(buf + a_len + c_len, mac, tag_len))
		goto out;
	ret = soft_sg(&sgt, buf, total);
	if (ret)
		goto out;
	aead_request_set_callback(req, CRYPTO_TFM_REQ_MAY_BACKLOG |
				  CRYPTO_TFM_REQ_MAY_SLEEP,
				  crypto_req_done, &wait);
	aead_request_set_ad(req, a_len);
	aead_request_set_crypt(req, sgt.sgl, sgt.sgl,
			       bd->dir == SEC_CIPHER_ENC ? c_len :
			       c_len + tag_len, iv);
	ret = crypto_wait_req(bd->dir == SEC_CIPHER_ENC ?
			      crypto_aead_encrypt(req) :
			      crypto_aead_decrypt(req), &wait);
	if (ret == -EBADMSG) {
		*icv_err = true;
		ret = 0;
		goto out;
	}
	if (ret) {
		ret = -EINVAL;
		goto out;
	}
	ret = -EFAULT;
	if (copy_to_user(u64_to_user_ptr(bd->dst + a_len), buf + a_len, c_len))
		goto out;
	if (bd->dir == SEC_CIPHER_ENC &&
	    copy_to_user(mac, buf + a_len + c_len, tag_len))
		goto out;
	ret = 0;
out:
	sg_free_table(&sgt);
	aead_request_free(req);
	if (buf)
		kvfree_sensitive(buf, total);
	crypto_free_aead(tfm);
	memzero_explicit(key, sizeof(key));
	return ret;
}

static void sec_run(u8 *sqe)
{
	u16 flag = SEC_FLAG_CIPHER, done = 1;
	bool icv_err = false;
	struct sec_bd bd;
	int ret;

	ret = sec_decode(sqe, &bd);
	if (!ret && bd.op == SEC_OP_AEAD) {
		flag = SEC_FLAG_AEAD;
		ret = sec_aead(&bd, &icv_err);
	} else if (!ret && bd.op == SEC_OP_CIPHER) {
		ret = sec_cipher(&bd);
	} else if (!ret) {
		ret = sec_digest(&bd);
	}
	/* Like uacce-emu: an error has done 1, icv 0, flag 0 */
	if (ret)
		flag = 0;
	else if (icv_err)
		done |= SEC_ICV_ERR << 1;
	done |= flag << 7;
	put_unaligned_le16((get_unaligned_le16(sqe + SEC_OFF_DONE) & ~0x78f) |
			   done, sqe + SEC_OFF_DONE);
	sqe[SEC_OFF_ERROR] = !ret ? 0 :
			     ret == -EFAULT ? SEC_ERR_FAULT :
			     ret == -EOPNOTSUPP ? SEC_ERR_UNSUPPORTED :
			     SEC_ERR_INVALID;
}

/* ---------------------------------------------------------------- HPRE -- */

/*
 * The soft HPRE device: the 64-byte HPRE SQE (hisi-qm-protocol.md section
 * 12; UADK drv/hisi_hpre.c struct hisi_hpre_sqe, the kernel's struct
 * hpre_sqe), decoded as strictly as uacce-sys' qm::hpre::decode() does on a
 * QM v3 device. Queue type 0 runs RSA and DH codes, type 1 the ECC codes.
 *
 * Computed: RSA NC_NCRT (0x00) and NC_CRT (0x01) for 1024..4096-bit keys
 * with the kernel's MPI library, the ECDH multiply (0x0D) on NIST P-256 with
 * crypto/ecc.c, and X25519 (0x10, h = 32) with lib/crypto's generic
 * curve25519. Every other valid SQE (RSA key generation, DH, ECDSA, SM2,
 * X448, other curves) completes with HPRE_ETYPE_UNSUPPORTED, so that a
 * driver can run the job elsewhere.
 *
 * A failed job completes with done = 3 and a nonzero etype (dw0 bits
 * 5..15) or etype1 (bits 16..29). No source documents the hardware's etype
 * values; these are uacce-emu's (uacce-emu/src/exec/hpre.rs), one per cause.
 */
#define HPRE_DW_CTRL		0
#define HPRE_DW_TASK		1
#define HPRE_DW_KEY		2
#define HPRE_DW_IN		4
#define HPRE_DW_OUT		6
#define HPRE_DW_MLEN		10
#define HPRE_DW_RSVD		11	/* dw11 kek_key, dw12..15 reserved */
#define HPRE_ALG_MASK		0x1f
#define HPRE_DONE_INIT		1
#define HPRE_DONE_TASK		3
#define HPRE_TASK_BAD		0x7dffff00	/* task_len2 .. sva_status */
#define HPRE_SM2_KSEL		BIT(25)
#define HPRE_HPCORE		BIT(31)
#define HPRE_MLEN_MASK		0x1ff
#define HPRE_SPLIT_ENC		0xe
#define HPRE_SPLIT_DEC		0xf

#define HPRE_RSA_NCRT		0x00
#define HPRE_RSA_CRT		0x01
#define HPRE_RSA_KG		0x02
#define HPRE_RSA_KG_CRT		0x03
#define HPRE_DH_G2		0x04
#define HPRE_DH			0x05
#define HPRE_ECDH_MUL		0x0d
#define HPRE_ECDSA_SIGN		0x0e
#define HPRE_ECDSA_VERF		0x0f
#define HPRE_XDH_MUL		0x10
#define HPRE_SM2_KG		0x11
#define HPRE_SM2_SIGN		0x12
#define HPRE_SM2_VERF		0x13
#define HPRE_SM2_ENC		0x14
#define HPRE_SM2_DEC		0x15

#define HPRE_ETYPE_BAD_KEY	0x001
#define HPRE_ETYPE_BAD_INPUT	0x002
#define HPRE_ETYPE_NOT_ON_CURVE	0x004
#define HPRE_ETYPE_DEGENERATE	0x008
#define HPRE_ETYPE_UNSUPPORTED	0x040
#define HPRE_ETYPE_NOMEM	0x100
#define HPRE_ETYPE_MALFORMED	0x7ff
#define HPRE_ETYPE1_SVA_FAULT	0x20

#define HPRE_P256_BYTES		32
#define HPRE_P256_DIGITS	4

struct hpre_job {
	u32 alg;
	u32 width;
	u64 key;
	u64 in;
	u64 out;
	bool hpcore;
	u32 mlen;	/* dw10 bits 0..8 */
};

/* The widths (task_len1) a code takes (section 12.1, 12.4) */
static bool hpre_width_ok(u32 alg, u32 w)
{
	switch (alg) {
	case HPRE_RSA_NCRT:
	case HPRE_RSA_CRT:
	case HPRE_RSA_KG:
	case HPRE_RSA_KG_CRT:
		return w == 128 || w == 256 || w == 384 || w == 512;
	case HPRE_DH_G2:
	case HPRE_DH:
		return w == 96 || w == 128 || w == 192 || w == 256 ||
		       w == 384 || w == 512;
	case HPRE_ECDH_MUL:
	case HPRE_ECDSA_SIGN:
	case HPRE_ECDSA_VERF:
		return w == 32 || w == 48 || w == 72;
	case HPRE_XDH_MUL:
		return w == 32 || w == 72;
	default:	/* SM2 */
		return w == 32;
	}
}

/* The queue type of a known code, -1 for codes nobody sends */
static int hpre_alg_type(u32 alg)
{
	if (alg <= HPRE_DH)
		return 0;
	if (alg >= HPRE_ECDH_MUL && alg <= HPRE_SM2_DEC)
		return 1;
	return -1;
}

/*
 * The checks of uacce-sys' hpre::decode() and check_fields(): a fresh SQE
 * (done 1, no error), a known code of the queue's type, a width the code
 * takes, no field UADK and the kernel leave zero, the addresses the code
 * needs (and no input address where it has none), sm2_ksel, bd_rsv2
 * (hpcore) and dw10 only where UADK sets them. 0 or -EINVAL.
 */
static int hpre_decode(const u8 *sqe, u16 qc_type, struct hpre_job *job)
{
	u32 dw0 = sqe_dw(sqe, HPRE_DW_CTRL);
	u32 dw1 = sqe_dw(sqe, HPRE_DW_TASK);
	u32 dw10 = sqe_dw(sqe, HPRE_DW_MLEN);
	bool no_input, ksel;
	unsigned int i;

	if ((dw0 >> 30) != HPRE_DONE_INIT || (dw0 & 0x3fffffe0))
		return -EINVAL;
	job->alg = dw0 & HPRE_ALG_MASK;
	if (hpre_alg_type(job->alg) != qc_type)
		return -EINVAL;
	if (dw1 & HPRE_TASK_BAD || dw10 & ~HPRE_MLEN_MASK)
		return -EINVAL;
	for (i = HPRE_DW_RSVD; i < HPRE_SQE_SIZE / 4; i++)
		if (sqe_dw(sqe, i))
			return -EINVAL;
	job->width = ((dw1 & 0xff) + 1) * 8;
	if (!hpre_width_ok(job->alg, job->width))
		return -EINVAL;
	job->key = sqe_u64(sqe, 4 * HPRE_DW_KEY);
	job->in = sqe_u64(sqe, 4 * HPRE_DW_IN);
	job->out = sqe_u64(sqe, 4 * HPRE_DW_OUT);
	job->hpcore = dw1 & HPRE_HPCORE;
	job->mlen = dw10 & HPRE_MLEN_MASK;
	ksel = dw1 & HPRE_SM2_KSEL;
	no_input = job->alg == HPRE_RSA_KG || job->alg == HPRE_RSA_KG_CRT ||
		   job->alg == HPRE_DH_G2;
	if (!job->key || !job->out || no_input == !!job->in)
		return -EINVAL;
	if (ksel && job->alg != HPRE_SM2_SIGN && job->alg != HPRE_SM2_ENC)
		return -EINVAL;
	if (job->hpcore && job->alg != HPRE_ECDH_MUL)
		return -EINVAL;
	/* dw10: SM2 encrypt/decrypt's length - 1; the split-SM2 markers */
	if (job->alg == HPRE_SM2_ENC || job->alg == HPRE_SM2_DEC)
		return 0;
	if (job->alg == HPRE_ECDH_MUL && job->mlen)
		return job->mlen == HPRE_SPLIT_ENC ||
		       job->mlen == HPRE_SPLIT_DEC ? 0 : -EINVAL;
	return job->mlen ? -EINVAL : 0;
}

/* @len bytes copied from the job's user address @addr, or NULL */
static u8 *hpre_read(u64 addr, size_t len, bool *fault)
{
	u8 *buf = kmalloc(len, GFP_KERNEL);

	if (buf && copy_from_user(buf, u64_to_user_ptr(addr), len)) {
		kfree_sensitive(buf);
		*fault = true;
		return NULL;
	}
	return buf;
}

/* @a as a @len-byte big-endian number, right-aligned */
static int hpre_mpi_out(MPI a, u8 *out, unsigned int len)
{
	unsigned int n;
	int ret;

	memset(out, 0, len);
	ret = mpi_read_buffer(a, out, len, &n, NULL);
	if (ret || n > len)
		return ret ?: -EOVERFLOW;
	memmove(out + len - n, out, n);
	memset(out, 0, len - n);
	return 0;
}

/* A modulus the MPI arithmetic takes: odd and > 1 */
static bool hpre_mod_ok(MPI m)
{
	return mpi_test_bit(m, 0) && mpi_cmp_ui(m, 1) > 0;
}

/*
 * NC_NCRT: key = exp(k) || n(k), out = in^exp mod n. As uacce-soft: an even
 * or trivial n or a zero exponent is a bad key, in >= n a bad input.
 */
static int hpre_rsa_ncrt(const u8 *key, const u8 *in, u8 *out, u32 k)
{
	MPI e = mpi_read_raw_data(key, k);
	MPI n = mpi_read_raw_data(key + k, k);
	MPI x = mpi_read_raw_data(in, k);
	MPI r = mpi_alloc(0);
	int ret = HPRE_ETYPE_NOMEM;

	if (!e || !n || !x || !r)
		goto out;
	ret = HPRE_ETYPE_BAD_KEY;
	if (!hpre_mod_ok(n) || !mpi_cmp_ui(e, 0))
		goto out;
	ret = HPRE_ETYPE_BAD_INPUT;
	if (mpi_cmp(x, n) >= 0)
		goto out;
	ret = HPRE_ETYPE_NOMEM;
	if (mpi_powm(r, x, e, n) || hpre_mpi_out(r, out, k))
		goto out;
	ret = 0;
out:
	mpi_free(r);
	mpi_free(x);
	mpi_free(n);
	mpi_free(e);
	return ret;
}

/*
 * NC_CRT: key = dq || dp || q || p || qinv (k/2 each). m1 = c^dp mod p,
 * m2 = c^dq mod q, h = qinv (m1 - m2) mod p, out = m2 + h q. Even or
 * trivial p or q, zero exponents and qinv >= p are a bad key, c >= pq a bad
 * input.
 */
static int hpre_rsa_crt(const u8 *key, const u8 *in, u8 *out, u32 k)
{
	u32 h = k / 2;
	MPI dq = mpi_read_raw_data(key, h);
	MPI dp = mpi_read_raw_data(key + h, h);
	MPI q = mpi_read_raw_data(key + 2 * h, h);
	MPI p = mpi_read_raw_data(key + 3 * h, h);
	MPI qinv = mpi_read_raw_data(key + 4 * h, h);
	MPI c = mpi_read_raw_data(in, k);
	MPI n = mpi_alloc(0), m1 = mpi_alloc(0), m2 = mpi_alloc(0);
	MPI t = mpi_alloc(0);
	int ret = HPRE_ETYPE_NOMEM;

	if (!dq || !dp || !q || !p || !qinv || !c || !n || !m1 || !m2 || !t)
		goto out;
	ret = HPRE_ETYPE_BAD_KEY;
	if (!hpre_mod_ok(p) || !hpre_mod_ok(q) || !mpi_cmp_ui(dp, 0) ||
	    !mpi_cmp_ui(dq, 0) || mpi_cmp(qinv, p) >= 0)
		goto out;
	ret = HPRE_ETYPE_NOMEM;
	if (mpi_mul(n, p, q))
		goto out;
	ret = HPRE_ETYPE_BAD_INPUT;
	if (mpi_cmp(c, n) >= 0)
		goto out;
	ret = HPRE_ETYPE_NOMEM;
	if (mpi_powm(m1, c, dp, p) || mpi_powm(m2, c, dq, q) ||
	    mpi_subm(t, m1, m2, p) || mpi_mulm(m1, t, qinv, p) ||
	    mpi_mul(t, m1, q) || mpi_add(m1, t, m2) ||
	    hpre_mpi_out(m1, out, k))
		goto out;
	ret = 0;
out:
	mpi_free(t);
	mpi_free(m2);
	mpi_free(m1);
	mpi_free(n);
	mpi_free(c);
	mpi_free(qinv);
	mpi_free(p);
	mpi_free(q);
	mpi_free(dp);
	mpi_free(dq);
	return ret;
}

/* 32 big-endian bytes as 4 little-endian 64-bit digits, and back */
static void hpre_digits(const u8 *be, u64 *d)
{
	unsigned int i;

	for (i = 0; i < HPRE_P256_DIGITS; i++)
		d[i] = get_unaligned_be64(be + 8 * (HPRE_P256_DIGITS - 1 - i));
}

static void hpre_bytes(const u64 *d, u8 *be)
{
	unsigned int i;

	for (i = 0; i < HPRE_P256_DIGITS; i++)
		put_unaligned_be64(d[i], be + 8 * (HPRE_P256_DIGITS - 1 - i));
}

/*
 * ECDH multiply: key = p || a || k || b || n (h each), in = x || y, out =
 * k (x, y). Only P-256 (h = 32): p, a and b must be its own (n is not
 * read: the kernel's hpre driver puts Gx there), else not supported. k
 * outside [1, n - 1] is a bad key, a point not on the curve an error.
 */
static int hpre_ecdh(const u8 *key, const u8 *in, u8 *out, u32 w,
		     bool hpcore)
{
	const struct ecc_curve *c = ecc_get_curve(ECC_CURVE_NIST_P256);
	u64 k[HPRE_P256_DIGITS], f[HPRE_P256_DIGITS];
	u64 px[HPRE_P256_DIGITS], py[HPRE_P256_DIGITS];
	u64 rx[HPRE_P256_DIGITS], ry[HPRE_P256_DIGITS];
	u64 zero[HPRE_P256_DIGITS] = {};
	struct ecc_point pt = { .x = px, .y = py, .ndigits = HPRE_P256_DIGITS };
	struct ecc_point res = { .x = rx, .y = ry, .ndigits = HPRE_P256_DIGITS };
	const unsigned int nd = HPRE_P256_DIGITS;
	/* hpcore: UADK sets it on the built-in P-256 only (as uacce-emu) */
	int ret = hpcore ? HPRE_ETYPE_MALFORMED : HPRE_ETYPE_UNSUPPORTED;

	if (!c || w != HPRE_P256_BYTES || c->g.ndigits != nd)
		return ret;
	hpre_digits(key, f);
	if (vli_cmp(f, c->p, nd))
		return ret;
	hpre_digits(key + w, f);
	if (vli_cmp(f, c->a, nd))
		return ret;
	hpre_digits(key + 3 * w, f);
	if (vli_cmp(f, c->b, nd))
		return ret;
	hpre_digits(key + 2 * w, k);
	ret = HPRE_ETYPE_BAD_KEY;
	if (vli_is_zero(k, nd) || vli_cmp(k, c->n, nd) >= 0)
		goto out;
	hpre_digits(in, px);
	hpre_digits(in + w, py);
	ret = HPRE_ETYPE_NOT_ON_CURVE;
	if (ecc_is_pubkey_valid_partial(c, &pt))
		goto out;
	/* k P + 0 G */
	ecc_point_mult_shamir(&res, k, &pt, zero, &c->g, c);
	ret = HPRE_ETYPE_DEGENERATE;
	if (ecc_point_is_zero(&res))
		goto out;
	hpre_bytes(rx, out);
	hpre_bytes(ry, out + w);
	ret = 0;
out:
	memzero_explicit(k, sizeof(k));
	return ret;
}

static const u8 hpre_x25519_p[32] = {
	0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
	0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
	0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
	0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xed,
};

/* (A - 2) / 4 = 121665, big-endian in 32 bytes */
static const u8 hpre_x25519_a24[32] = {
	[29] = 0x01, [30] = 0xdb, [31] = 0x41,
};

/*
 * X25519 (h = 32): key = p || a || k, in = u, out = u', all big-endian. p
 * and a must be curve25519's (else, and for X448, not supported); k must be
 * clamped as UADK and the kernel clamp it (bad key); u must have its top bit
 * clear and be < p (bad input). The engine neither clamps nor reverses.
 */
static int hpre_x25519(const u8 *key, const u8 *in, u8 *out, u32 w)
{
	u8 k[CURVE25519_KEY_SIZE], u[CURVE25519_KEY_SIZE];
	u8 r[CURVE25519_KEY_SIZE];
	unsigned int i;

	if (w != CURVE25519_KEY_SIZE || memcmp(key, hpre_x25519_p, w) ||
	    memcmp(key + w, hpre_x25519_a24, w))
		return HPRE_ETYPE_UNSUPPORTED;
	if ((key[2 * w + 31] & 0x07) || (key[2 * w] & 0xc0) != 0x40)
		return HPRE_ETYPE_BAD_KEY;
	if ((in[0] & 0x80) || memcmp(in, hpre_x25519_p, w) >= 0)
		return HPRE_ETYPE_BAD_INPUT;
	for (i = 0; i < w; i++) {
		k[i] = key[2 * w + w - 1 - i];
		u[i] = in[w - 1 - i];
	}
	curve25519_generic(r, k, u);
	for (i = 0; i < w; i++)
		out[i] = r[w - 1 - i];
	memzero_explicit(k, sizeof(k));
	memzero_explicit(r, sizeof(r));
	return 0;
}

/* Key, input and output block lengths of the computed codes */
static void hpre_lens(const struct hpre_job *job, size_t *key, size_t *in,
		      size_t *out)
{
	size_t w = job->width;

	switch (job->alg) {
	case HPRE_RSA_NCRT:
		*key = 2 * w;
		break;
	case HPRE_RSA_CRT:
		*key = 5 * (w / 2);
		break;
	case HPRE_ECDH_MUL:
		*key = 5 * w;
		break;
	default:	/* HPRE_XDH_MUL */
		*key = 3 * w;
		break;
	}
	*in = job->alg == HPRE_ECDH_MUL ? 2 * w : w;
	*out = *in;
}

/* Run one decoded job; returns etype | etype1 << 16 (0: done) */
static u32 hpre_exec(const struct hpre_job *job)
{
	size_t klen, ilen, olen;
	u8 *key, *in = NULL, *out = NULL;
	bool fault = false;
	u32 ret;

	switch (job->alg) {
	case HPRE_RSA_NCRT:
	case HPRE_RSA_CRT:
		break;
	case HPRE_ECDH_MUL:
		/* hpcore only with the built-in P-256; split SM2: no SM2 */
		if (job->mlen)
			return job->hpcore ? HPRE_ETYPE_UNSUPPORTED :
					     HPRE_ETYPE_MALFORMED;
		break;
	case HPRE_XDH_MUL:
		break;
	default:
		return HPRE_ETYPE_UNSUPPORTED;
	}
	/* Bounded by the width: at most 5 x 256 bytes */
	hpre_lens(job, &klen, &ilen, &olen);
	key = hpre_read(job->key, klen, &fault);
	if (key)
		in = hpre_read(job->in, ilen, &fault);
	if (in)
		out = kzalloc(olen, GFP_KERNEL);
	if (!out) {
		ret = fault ? HPRE_ETYPE1_SVA_FAULT << 16 : HPRE_ETYPE_NOMEM;
		goto out;
	}
	switch (job->alg) {
	case HPRE_RSA_NCRT:
		ret = hpre_rsa_ncrt(key, in, out, job->width);
		break;
	case HPRE_RSA_CRT:
		ret = hpre_rsa_crt(key, in, out, job->width);
		break;
	case HPRE_ECDH_MUL:
		ret = hpre_ecdh(key, in, out, job->width, job->hpcore);
		break;
	default:
		ret = hpre_x25519(key, in, out, job->width);
		break;
	}
	if (!ret && copy_to_user(u64_to_user_ptr(job->out), out, olen))
		ret = HPRE_ETYPE1_SVA_FAULT << 16;
out:
	kfree_sensitive(out);
	kfree_sensitive(in);
	kfree_sensitive(key);
	return ret;
}

static void hpre_run(struct soft_ctx *ctx, u8 *sqe)
{
	struct hpre_job job;
	u32 res, dw0;

	res = hpre_decode(sqe, ctx->qc_type, &job) ? HPRE_ETYPE_MALFORMED :
						     hpre_exec(&job);
	/* done = 3, etype (bits 5..15), etype1 (16..29); alg unchanged */
	dw0 = sqe_dw(sqe, HPRE_DW_CTRL) & HPRE_ALG_MASK;
	dw0 |= (res & 0x7ff) << 5;
	dw0 |= ((res >> 16) & 0x3fff) << 16;
	dw0 |= (u32)HPRE_DONE_TASK << 30;
	sqe_set_dw(sqe, HPRE_DW_CTRL, dw0);
}

/* ------------------------------------------------------------- the ring -- */

static u8 *soft_cqe(struct soft_ctx *ctx, u16 i)
{
	return ctx->dus + (size_t)ctx->sqe_size * ctx->depth +
	       (size_t)SOFT_CQE_SIZE * i;
}

static bool soft_cq_full(struct soft_ctx *ctx)
{
	return (ctx->cq_tail + 1) % ctx->depth == ctx->cq_head;
}

/* Signal if armed and CQEs past the consumer's head are posted; ctx->lock */
static void soft_maybe_signal(struct soft_ctx *ctx)
{
	if (ctx->running && ctx->armed && ctx->cq_tail != ctx->cq_head) {
		ctx->armed = false;
		uacce_wake_up(ctx->uq);
	}
}

/* Post the CQE for SQ slot @slot; ctx->lock held */
static void soft_post(struct soft_ctx *ctx, u16 slot)
{
	u8 *cqe = soft_cqe(ctx, ctx->cq_tail);

	put_unaligned_le32(0, cqe);
	put_unaligned_le16(0, cqe + 4);
	put_unaligned_le16(0, cqe + 6);
	put_unaligned_le16(slot, cqe + 8);
	put_unaligned_le16(ctx->qid, cqe + 10);
	put_unaligned_le16(0, cqe + 12);
	/* The SQE result and the CQE body are visible before the phase */
	smp_wmb();
	WRITE_ONCE(*(u16 *)(cqe + 14), cpu_to_le16(ctx->cq_phase));
	if (++ctx->cq_tail == ctx->depth) {
		ctx->cq_tail = 0;
		ctx->cq_phase ^= 1;
	}
	ctx->posted++;
	if (ctx->mmio) {
		__le32 *reg = page_address(ctx->mmio);

		WRITE_ONCE(reg[UACCE_SOFT_REG_SQ_HEAD / 4], cpu_to_le32(ctx->sq_head));
		WRITE_ONCE(reg[UACCE_SOFT_REG_CQ_TAIL / 4], cpu_to_le32(ctx->cq_tail));
	}
	soft_maybe_signal(ctx);
}

static void soft_idle(struct soft_ctx *ctx)
{
	spin_lock(&ctx->lock);
	ctx->busy = false;
	spin_unlock(&ctx->lock);
	wake_up(&ctx->idle);
}

static bool soft_is_idle(struct soft_ctx *ctx)
{
	bool idle;

	spin_lock(&ctx->lock);
	idle = !ctx->busy;
	spin_unlock(&ctx->lock);
	return idle;
}

static void soft_work(struct work_struct *work)
{
	struct soft_ctx *ctx = container_of(work, struct soft_ctx, work);
	bool have_mm = false;
	u8 sqe[SOFT_SQE_SIZE];

	for (;;) {
		u16 slot;

		spin_lock(&ctx->lock);
		if (!ctx->running || ctx->held || ctx->sq_head == ctx->sq_tail ||
		    soft_cq_full(ctx)) {
			spin_unlock(&ctx->lock);
			break;
		}
		slot = ctx->sq_head;
		ctx->busy = true;
		spin_unlock(&ctx->lock);

		if (!have_mm) {
			if (!mmget_not_zero(ctx->mm)) {
				soft_idle(ctx);
				break;
			}
			kthread_use_mm(ctx->mm);
			have_mm = true;
		}

		memcpy(sqe, ctx->dus + (size_t)slot * ctx->sqe_size,
		       ctx->sqe_size);
		if (ctx->kind == SOFT_ZIP)
			zip_run(ctx, sqe);
		else if (ctx->kind == SOFT_SEC)
			sec_run(sqe);
		else
			hpre_run(ctx, sqe);

		spin_lock(&ctx->lock);
		if (ctx->running) {
			memcpy(ctx->dus + (size_t)slot * ctx->sqe_size, sqe,
			       ctx->sqe_size);
			ctx->sq_head = (slot + 1) % ctx->depth;
			soft_post(ctx, slot);
		}
		spin_unlock(&ctx->lock);
		soft_idle(ctx);
		cond_resched();
	}

	if (have_mm) {
		kthread_unuse_mm(ctx->mm);
		mmput(ctx->mm);
	}
	soft_ctx_put(ctx);
}

/* Queue the worker, holding a reference for it; ctx->lock held */
static void soft_kick(struct soft_ctx *ctx)
{
	kref_get(&ctx->ref);
	if (!queue_work(soft_wq, &ctx->work))
		kref_put(&ctx->ref, soft_ctx_free);	/* cannot be the last */
}

static bool soft_db_valid(struct soft_ctx *ctx, u64 db)
{
	u32 cmd = DB_CMD(db);

	return DB_SQN(db) == ctx->qid && !DB_RAND(db) &&
	       DB_INDEX(db) < ctx->depth &&
	       (cmd == DB_CMD_SQ || cmd == DB_CMD_CQ) && DB_PRIO(db) <= 1;
}

/* Apply a valid doorbell to a running queue; ctx->lock held */
static void soft_db_apply(struct soft_ctx *ctx, u64 db)
{
	u32 index = DB_INDEX(db);

	if (DB_CMD(db) == DB_CMD_SQ) {
		ctx->sq_tail = index;
		soft_kick(ctx);
	} else {
		bool was_full = soft_cq_full(ctx);

		ctx->cq_head = index;
		if (DB_PRIO(db))
			ctx->armed = true;
		soft_maybe_signal(ctx);
		if (was_full && ctx->sq_head != ctx->sq_tail)
			soft_kick(ctx);
	}
}

static long soft_doorbell(struct soft_ctx *ctx, u64 db)
{
	long ret = 0;

	if (!soft_db_valid(ctx, db))
		return -EINVAL;

	spin_lock(&ctx->lock);
	if (!ctx->running)
		ret = ctx->mm_dead ? -EIO : -EINVAL;
	else
		soft_db_apply(ctx, db);
	spin_unlock(&ctx->lock);
	return ret;
}

/* ----------------------------------------------- MMIO doorbells, kicks -- */

static __le32 *soft_reg32(struct soft_ctx *ctx, unsigned int off)
{
	return (__le32 *)((u8 *)page_address(ctx->mmio) + off);
}

static __le64 *soft_reg64(struct soft_ctx *ctx, unsigned int off)
{
	return (__le64 *)((u8 *)page_address(ctx->mmio) + off);
}

/* Reset the doorbell registers for a queue being started; ctx->lock held */
static void soft_regs_reset(struct soft_ctx *ctx)
{
	ctx->last_sq_db = ctx->qid | ((u64)DB_CMD_SQ << 12);
	ctx->last_cq_db = ctx->qid | ((u64)DB_CMD_CQ << 12);
	ctx->db_errors = 0;
	if (!ctx->mmio)
		return;
	WRITE_ONCE(*soft_reg64(ctx, UACCE_SOFT_REG_SQ_DB),
		   cpu_to_le64(ctx->last_sq_db));
	WRITE_ONCE(*soft_reg64(ctx, UACCE_SOFT_REG_CQ_DB),
		   cpu_to_le64(ctx->last_cq_db));
	WRITE_ONCE(*soft_reg32(ctx, UACCE_SOFT_REG_CQ_ARM), 0);
	WRITE_ONCE(*soft_reg32(ctx, UACCE_SOFT_REG_DB_ERRORS), 0);
}

/*
 * A doorbell register changed to @db (SQ doorbells in the SQ register, CQ
 * doorbells in the CQ register); ctx->lock held, queue running.
 */
static void soft_reg_doorbell(struct soft_ctx *ctx, u64 db, u32 cmd)
{
	if (soft_db_valid(ctx, db) && DB_CMD(db) == cmd) {
		/*
		 * Arm requests come from CQ_ARM only: the priority of the
		 * CQ value (checked above) would arm a second time.
		 */
		soft_db_apply(ctx, db & ~((u64)0xffff << 48));
		return;
	}
	ctx->db_errors++;
	WRITE_ONCE(*soft_reg32(ctx, UACCE_SOFT_REG_DB_ERRORS),
		   cpu_to_le32(ctx->db_errors));
}

/* Read the doorbell registers after a kick; ctx->lock held */
static void soft_regs_read(struct soft_ctx *ctx)
{
	u64 sq = le64_to_cpu(READ_ONCE(*soft_reg64(ctx, UACCE_SOFT_REG_SQ_DB)));
	u64 cq = le64_to_cpu(READ_ONCE(*soft_reg64(ctx, UACCE_SOFT_REG_CQ_DB)));

	if (sq != ctx->last_sq_db) {
		ctx->last_sq_db = sq;
		soft_reg_doorbell(ctx, sq, DB_CMD_SQ);
	}
	if (cq != ctx->last_cq_db) {
		ctx->last_cq_db = cq;
		soft_reg_doorbell(ctx, cq, DB_CMD_CQ);
	}
	/*
	 * The arm request is taken and cleared in one step, so a request
	 * stored after this read is seen by the next kick, and a later CQ
	 * doorbell of priority 0 cannot overwrite it.
	 */
	if (xchg((u32 *)soft_reg32(ctx, UACCE_SOFT_REG_CQ_ARM), 0)) {
		ctx->armed = true;
		soft_maybe_signal(ctx);
	}
}

static void soft_db_work(struct work_struct *work)
{
	struct soft_ctx *ctx = container_of(work, struct soft_ctx, db_work);

	spin_lock(&ctx->lock);
	if (ctx->running)
		soft_regs_read(ctx);
	spin_unlock(&ctx->lock);
	soft_ctx_put(ctx);
}

/*
 * The kick eventfd of a queue, hooked like KVM's irqfd: our wait queue entry
 * sits on the eventfd's wait queue, and its wake function, called by
 * eventfd_write() under the eventfd's wait queue lock, clears the counter
 * and queues @db_work. It takes no other lock and signals no eventfd (that
 * would nest eventfd wake-ups, which eventfd_signal_mask() refuses). Bound
 * and unbound under ctx->kick_lock; stop and put unbind it and cancel
 * @db_work, so no doorbell is read after they return. The reference taken
 * on the eventfd context keeps it alive while bound, whoever closes the fd.
 */
struct soft_kick {
	wait_queue_entry_t wait;
	poll_table pt;
	struct eventfd_ctx *evctx;
	struct soft_ctx *ctx;
};

static int soft_kick_wake(wait_queue_entry_t *wait, unsigned int mode,
			  int sync, void *key)
{
	struct soft_kick *kick = container_of(wait, struct soft_kick, wait);
	struct soft_ctx *ctx = kick->ctx;
	u64 cnt;

	if (!(key_to_poll(key) & EPOLLIN))
		return 0;
	eventfd_ctx_do_read(kick->evctx, &cnt);
	/* Bound, the queue holds its reference: this one is not the last */
	kref_get(&ctx->ref);
	if (!queue_work(soft_wq, &ctx->db_work))
		kref_put(&ctx->ref, soft_ctx_free);
	return 0;
}

static void soft_kick_queue_proc(struct file *file, wait_queue_head_t *wqh,
				 poll_table *pt)
{
	struct soft_kick *kick = container_of(pt, struct soft_kick, pt);

	add_wait_queue(wqh, &kick->wait);
}

/* ctx->kick_lock held */
static void soft_kick_unbind(struct soft_ctx *ctx)
{
	struct soft_kick *kick = ctx->kick;
	u64 cnt;

	if (!kick)
		return;
	ctx->kick = NULL;
	/* Once off the wait queue, soft_kick_wake() cannot run any more */
	eventfd_ctx_remove_wait_queue(kick->evctx, &kick->wait, &cnt);
	eventfd_ctx_put(kick->evctx);
	kfree(kick);
}

static long soft_set_kick(struct soft_ctx *ctx, int fd)
{
	struct soft_kick *kick = NULL;
	struct fd f = EMPTY_FD;
	__poll_t events;
	long ret = 0;

	if (!ctx->mmio)
		return -EINVAL;		/* no doorbell registers */
	if (fd != -1) {
		f = fdget(fd);
		if (!fd_file(f))
			return -EBADF;
		kick = kzalloc(sizeof(*kick), GFP_KERNEL);
		if (!kick) {
			ret = -ENOMEM;
			goto out;
		}
		kick->evctx = eventfd_ctx_fileget(fd_file(f));
		if (IS_ERR(kick->evctx)) {
			ret = PTR_ERR(kick->evctx);
			kfree(kick);
			kick = NULL;
			goto out;
		}
		kick->ctx = ctx;
		init_waitqueue_func_entry(&kick->wait, soft_kick_wake);
		init_poll_funcptr(&kick->pt, soft_kick_queue_proc);
	}

	mutex_lock(&ctx->kick_lock);
	if (ctx->kick_closed) {
		ret = -EINVAL;
	} else {
		soft_kick_unbind(ctx);
		if (kick) {
			ctx->kick = kick;
			kick = NULL;
			/* Hooks the wait queue; a pending count kicks now */
			events = vfs_poll(fd_file(f), &ctx->kick->pt);
			if (events & EPOLLIN) {
				kref_get(&ctx->ref);
				if (!queue_work(soft_wq, &ctx->db_work))
					kref_put(&ctx->ref, soft_ctx_free);
			}
		}
	}
	mutex_unlock(&ctx->kick_lock);
	if (kick) {
		eventfd_ctx_put(kick->evctx);
		kfree(kick);
	}
out:
	fdput(f);
	return ret;
}

/*
 * Unbind the kick eventfd for good and wait for a doorbell read in
 * progress: after this no kick reaches the queue.
 */
static void soft_kick_close(struct soft_ctx *ctx)
{
	mutex_lock(&ctx->kick_lock);
	ctx->kick_closed = true;
	soft_kick_unbind(ctx);
	mutex_unlock(&ctx->kick_lock);
	if (cancel_work_sync(&ctx->db_work))
		soft_ctx_put(ctx);	/* the cancelled work's reference */
}

/* ------------------------------------------------------------ uacce ops -- */

static struct soft_dev *to_soft_dev(struct uacce_device *uacce)
{
	return uacce->priv;
}

static int soft_get_available_instances(struct uacce_device *uacce)
{
	struct soft_dev *sdev = to_soft_dev(uacce);
	int n;

	mutex_lock(&sdev->lock);
	n = queues - sdev->nr_used;
	mutex_unlock(&sdev->lock);
	return n;
}

/* Take @ctx off its mm's notifier and drop the notifier reference */
static void soft_mm_detach(struct soft_ctx *ctx)
{
	if (!ctx->smm)
		return;
	spin_lock(&ctx->smm->lock);
	list_del(&ctx->mm_node);
	spin_unlock(&ctx->smm->lock);
	mmu_notifier_put(&ctx->smm->mn);
	ctx->smm = NULL;
}

static int soft_get_queue(struct uacce_device *uacce, unsigned long arg,
			  struct uacce_queue *q)
{
	struct soft_dev *sdev = to_soft_dev(uacce);
	struct mmu_notifier *mn;
	struct soft_ctx *ctx;
	unsigned int qid;
	int ret;

	if (!current->mm)
		return -EINVAL;
	ctx = kzalloc(sizeof(*ctx), GFP_KERNEL);
	if (!ctx)
		return -ENOMEM;
	kref_init(&ctx->ref);
	spin_lock_init(&ctx->lock);
	INIT_LIST_HEAD(&ctx->streams);
	init_waitqueue_head(&ctx->idle);
	INIT_WORK(&ctx->work, soft_work);
	INIT_WORK(&ctx->db_work, soft_db_work);
	mutex_init(&ctx->kick_lock);
	ctx->kind = sdev->kind;
	ctx->depth = depth;
	ctx->sqe_size = soft_sqe_size(sdev->kind);
	ctx->dus_size = soft_dus_size(ctx->sqe_size, depth);
	/* Zeroed: the CQ and both status words start at 0 */
	ctx->dus = vmalloc_user(ctx->dus_size);
	if (!ctx->dus) {
		ret = -ENOMEM;
		goto err;
	}
	if (SOFT_HAVE_MMIO) {
		ctx->mmio = alloc_page(GFP_KERNEL | __GFP_ZERO);
		if (!ctx->mmio) {
			ret = -ENOMEM;
			goto err;
		}
	}
	ctx->mm = current->mm;
	mmgrab(ctx->mm);
	/*
	 * The mm's notifier is shared by all its queues: only the first open
	 * in an mm registers one (and takes mm_take_all_locks()).
	 */
	mn = mmu_notifier_get(&soft_mn_ops, ctx->mm);
	/*
	 * mm_take_all_locks() gives up with -EINTR on any pending signal,
	 * including task work queued with TWA_SIGNAL (io_uring's ring exit
	 * does that to every task that used the ring): let the open() be
	 * restarted instead of failing it. Only the first open can see it.
	 */
	if (IS_ERR(mn)) {
		ret = PTR_ERR(mn) == -EINTR ? -ERESTARTSYS : PTR_ERR(mn);
		goto err;
	}
	ctx->smm = container_of(mn, struct soft_mm, mn);
	spin_lock(&ctx->smm->lock);
	list_add(&ctx->mm_node, &ctx->smm->ctxs);
	spin_unlock(&ctx->smm->lock);

	mutex_lock(&sdev->lock);
	qid = find_first_zero_bit(sdev->used, queues);
	if (sdev->removing || qid >= queues) {
		ret = sdev->removing ? -ENODEV : -EBUSY;
		mutex_unlock(&sdev->lock);
		goto err;
	}
	__set_bit(qid, sdev->used);
	sdev->nr_used++;
	ctx->held = sdev->hold;
	list_add(&ctx->dev_node, &sdev->ctxs);
	mutex_unlock(&sdev->lock);

	ctx->qid = qid;
	ctx->uq = q;
	q->priv = ctx;
	return 0;
err:
	soft_mm_detach(ctx);
	soft_ctx_put(ctx);
	return ret;
}

static void soft_put_queue(struct uacce_queue *q)
{
	struct soft_ctx *ctx = q->priv;
	struct soft_dev *sdev = to_soft_dev(q->uacce);

	/* A queue that was never started was not stopped */
	soft_kick_close(ctx);
	spin_lock(&ctx->lock);
	ctx->running = false;
	ctx->uq = NULL;
	spin_unlock(&ctx->lock);

	mutex_lock(&sdev->lock);
	__clear_bit(ctx->qid, sdev->used);
	sdev->nr_used--;
	list_del(&ctx->dev_node);
	mutex_unlock(&sdev->lock);

	soft_mm_detach(ctx);
	q->priv = NULL;
	soft_ctx_put(ctx);
}

static int soft_start_queue(struct uacce_queue *q)
{
	struct soft_dev *sdev = to_soft_dev(q->uacce);
	struct soft_ctx *ctx = q->priv;
	int ret = 0;

	spin_lock(&ctx->lock);
	if (ctx->mm_dead) {
		ret = -EIO;
	} else if (READ_ONCE(sdev->removing)) {
		/* Drained by soft_dev_drain(): it must stay stopped */
		ret = -ENODEV;
	} else {
		/* Like the SQC/CQC set-up: empty rings, CQ phase 1 */
		memset(soft_cqe(ctx, 0), 0, (size_t)SOFT_CQE_SIZE * ctx->depth);
		ctx->sq_head = 0;
		ctx->sq_tail = 0;
		ctx->cq_head = 0;
		ctx->cq_tail = 0;
		ctx->cq_phase = 1;
		ctx->armed = false;
		soft_regs_reset(ctx);
		ctx->running = true;
	}
	spin_unlock(&ctx->lock);
	return ret;
}

static void soft_stop_queue(struct uacce_queue *q)
{
	struct soft_ctx *ctx = q->priv;

	spin_lock(&ctx->lock);
	ctx->running = false;
	spin_unlock(&ctx->lock);
	soft_kick_close(ctx);

	/*
	 * Let the job in progress finish: see struct soft_ctx. On removal the
	 * queue was drained before uacce_remove(), so this does not wait.
	 */
	wait_event(ctx->idle, soft_is_idle(ctx));
}

static int soft_is_q_updated(struct uacce_queue *q)
{
	struct soft_ctx *ctx = q->priv;
	int updated;

	spin_lock(&ctx->lock);
	updated = ctx->posted != ctx->seen;
	ctx->seen = ctx->posted;
	spin_unlock(&ctx->lock);
	return updated;
}

static int soft_mmap(struct uacce_queue *q, struct vm_area_struct *vma,
		     struct uacce_qfile_region *qfr)
{
	struct soft_ctx *ctx = q->priv;

	if (qfr->type == UACCE_QFRT_MMIO) {
		/* The register page, mapped as hisi_qm maps its BAR: VM_PFNMAP */
		if (!ctx->mmio || vma->vm_end - vma->vm_start != PAGE_SIZE)
			return -EINVAL;
		vm_flags_set(vma, VM_IO | VM_DONTEXPAND | VM_DONTDUMP);
		return remap_pfn_range(vma, vma->vm_start,
				       page_to_pfn(ctx->mmio), PAGE_SIZE,
				       vma->vm_page_prot);
	}
	if (vma->vm_end - vma->vm_start != ctx->dus_size)
		return -EINVAL;
	/* VM_MIXEDMAP */
	return remap_vmalloc_range(vma, ctx->dus, 0);
}

static long soft_ioctl(struct uacce_queue *q, unsigned int cmd,
		       unsigned long arg)
{
	struct soft_ctx *ctx = q->priv;
	void __user *uarg = (void __user *)arg;
	struct hisi_qp_info info = {};
	struct hisi_qp_ctx qp_ctx;
	u64 db;
	s32 fd;

	switch (cmd) {
	case UACCE_SOFT_CMD_DOORBELL:
		if (get_user(db, (u64 __user *)uarg))
			return -EFAULT;
		return soft_doorbell(ctx, db);
	case UACCE_SOFT_CMD_SET_KICK:
		if (get_user(fd, (s32 __user *)uarg))
			return -EFAULT;
		return soft_set_kick(ctx, fd);
	case UACCE_CMD_QM_SET_QP_CTX:
		if (copy_from_user(&qp_ctx, uarg, sizeof(qp_ctx)))
			return -EFAULT;
		/* ZIP: 0 compress, 1 decompress; SEC: 0; HPRE: 0 RSA/DH, 1 ECC */
		if (qp_ctx.qc_type > (ctx->kind == SOFT_SEC ? 0 : 1))
			return -EINVAL;
		ctx->qc_type = qp_ctx.qc_type;
		qp_ctx.id = ctx->qid;
		if (copy_to_user(uarg, &qp_ctx, sizeof(qp_ctx)))
			return -EFAULT;
		return 0;
	case UACCE_CMD_QM_SET_QP_INFO:
		info.sqe_size = ctx->sqe_size;
		info.sq_depth = ctx->depth;
		info.cq_depth = ctx->depth;
		if (copy_to_user(uarg, &info, sizeof(info)))
			return -EFAULT;
		return 0;
	default:
		return -ENOTTY;
	}
}

static const struct uacce_ops soft_uacce_ops = {
	.get_available_instances = soft_get_available_instances,
	.get_queue = soft_get_queue,
	.put_queue = soft_put_queue,
	.start_queue = soft_start_queue,
	.stop_queue = soft_stop_queue,
	.is_q_updated = soft_is_q_updated,
	.mmap = soft_mmap,
	.ioctl = soft_ioctl,
};

/* ------------------------------------------------------------- devices -- */

/*
 * Stop every queue of @sdev and wait until its worker is idle, with no uacce
 * lock held (see struct soft_ctx); @removing keeps queues from being opened
 * or started again. A queue stopped here may still be put later, by close()
 * or by uacce_remove().
 */
static void soft_dev_drain(struct soft_dev *sdev)
{
	struct soft_ctx *ctx, *next;
	LIST_HEAD(held);

	mutex_lock(&sdev->lock);
	WRITE_ONCE(sdev->removing, true);
	list_for_each_entry(ctx, &sdev->ctxs, dev_node) {
		spin_lock(&ctx->lock);
		ctx->running = false;
		spin_unlock(&ctx->lock);
		kref_get(&ctx->ref);
		list_add_tail(&ctx->drain_node, &held);
	}
	mutex_unlock(&sdev->lock);

	/* The references keep the contexts alive if their queues are put */
	list_for_each_entry_safe(ctx, next, &held, drain_node) {
		wait_event(ctx->idle, soft_is_idle(ctx));
		list_del(&ctx->drain_node);
		soft_ctx_put(ctx);
	}
}

static void soft_dev_destroy(struct soft_dev *sdev)
{
	soft_dev_drain(sdev);
	uacce_remove(sdev->uacce);
	platform_device_unregister(sdev->pdev);
	bitmap_free(sdev->used);
	kfree(sdev);
}

static int soft_dev_create(enum soft_kind kind, int id)
{
	struct uacce_interface iface = {
		.flags = 0,
		.ops = &soft_uacce_ops,
	};
	struct soft_dev *sdev;
	int ret;

	sdev = kzalloc(sizeof(*sdev), GFP_KERNEL);
	if (!sdev)
		return -ENOMEM;
	mutex_init(&sdev->lock);
	INIT_LIST_HEAD(&sdev->ctxs);
	sdev->kind = kind;
	sdev->used = bitmap_zalloc(queues, GFP_KERNEL);
	if (!sdev->used) {
		kfree(sdev);
		return -ENOMEM;
	}
	sdev->pdev = platform_device_register_simple(KBUILD_MODNAME, id,
						     NULL, 0);
	if (IS_ERR(sdev->pdev)) {
		ret = PTR_ERR(sdev->pdev);
		bitmap_free(sdev->used);
		kfree(sdev);
		return ret;
	}

	strscpy(iface.name, kind == SOFT_ZIP ? "soft_zip" :
			    kind == SOFT_SEC ? "soft_sec" : "soft_hpre",
		sizeof(iface.name));
	sdev->uacce = uacce_alloc(&sdev->pdev->dev, &iface);
	if (IS_ERR(sdev->uacce)) {
		ret = PTR_ERR(sdev->uacce);
		sdev->uacce = NULL;
		soft_dev_destroy(sdev);
		return ret;
	}
	sdev->uacce->api_ver = kind == SOFT_HPRE ? SOFT_API_V3 : SOFT_API;
	/*
	 * HPRE lists what a QM v3 hisi_hpre lists (so that drivers open its
	 * ECC queues); the codes it does not compute complete with
	 * HPRE_ETYPE_UNSUPPORTED (see the HPRE section).
	 */
	sdev->uacce->algs = kind == SOFT_ZIP ? "zlib\ngzip\ndeflate" :
			    kind == SOFT_SEC ? "cipher\ndigest\naead" :
			    "rsa\ndh\necdh\necdsa\nsm2\nx25519\nx448";
	sdev->uacce->qf_pg_num[UACCE_QFRT_MMIO] = SOFT_HAVE_MMIO;
#ifdef UACCE_EVENTFD_HANGUP
	/* Opt in to pages of ones after removal, unless dummy_pages=0 */
	sdev->uacce->dummy_pages = dummy_pages;
#endif
	sdev->uacce->qf_pg_num[UACCE_QFRT_DUS] =
		soft_dus_size(soft_sqe_size(kind), depth) >> PAGE_SHIFT;
	sdev->uacce->priv = sdev;
	ret = uacce_register(sdev->uacce);
	if (ret) {
		soft_dev_destroy(sdev);
		return ret;
	}

	mutex_lock(&soft_devs_lock);
	list_add_tail(&sdev->node, &soft_devs);
	mutex_unlock(&soft_devs_lock);
	dev_info(&sdev->uacce->dev, "%u queues of depth %u\n", queues, depth);
	return 0;
}

/*
 * Writing a uacce device name (e.g. "soft_zip-0") to the "remove" parameter
 * removes that device at run time through uacce_remove(), like a hot unplug.
 */
static int soft_remove_set(const char *val, const struct kernel_param *kp)
{
	struct soft_dev *sdev, *found = NULL;
	char name[UACCE_MAX_NAME_SIZE];

	strscpy(name, val, sizeof(name));
	strim(name);

	mutex_lock(&soft_devs_lock);
	list_for_each_entry(sdev, &soft_devs, node) {
		if (!strcmp(dev_name(&sdev->uacce->dev), name)) {
			found = sdev;
			list_del(&sdev->node);
			break;
		}
	}
	mutex_unlock(&soft_devs_lock);
	if (!found)
		return -ENODEV;

	soft_dev_destroy(found);
	return 0;
}

static const struct kernel_param_ops soft_remove_ops = {
	.set = soft_remove_set,
};
module_param_cb(remove, &soft_remove_ops, NULL, 0200);
MODULE_PARM_DESC(remove, "Write a device name to remove that device");

/*
 * Writing a device name to the "hold" parameter makes that device stop
 * taking jobs from its queues (doorbells are still accepted), until it is
 * removed: the removal tests use it to have jobs in flight on the device
 * when it goes, whatever the scheduling.
 */
static int soft_hold_set(const char *val, const struct kernel_param *kp)
{
	struct soft_dev *sdev, *found = NULL;
	char name[UACCE_MAX_NAME_SIZE];
	struct soft_ctx *ctx;

	strscpy(name, val, sizeof(name));
	strim(name);

	mutex_lock(&soft_devs_lock);
	list_for_each_entry(sdev, &soft_devs, node) {
		if (!strcmp(dev_name(&sdev->uacce->dev), name)) {
			found = sdev;
			break;
		}
	}
	if (found) {
		mutex_lock(&found->lock);
		found->hold = true;
		list_for_each_entry(ctx, &found->ctxs, dev_node) {
			spin_lock(&ctx->lock);
			ctx->held = true;
			spin_unlock(&ctx->lock);
		}
		mutex_unlock(&found->lock);
	}
	mutex_unlock(&soft_devs_lock);
	return found ? 0 : -ENODEV;
}

static const struct kernel_param_ops soft_hold_ops = {
	.set = soft_hold_set,
};
module_param_cb(hold, &soft_hold_ops, NULL, 0200);
MODULE_PARM_DESC(hold, "Write a device name to make it hold its jobs until removed");

static void soft_destroy_all(void)
{
	struct soft_dev *sdev;

	for (;;) {
		mutex_lock(&soft_devs_lock);
		sdev = list_first_entry_or_null(&soft_devs, struct soft_dev,
						node);
		if (sdev)
			list_del(&sdev->node);
		mutex_unlock(&soft_devs_lock);
		if (!sdev)
			break;
		soft_dev_destroy(sdev);
	}
}

static int __init soft_init(void)
{
	unsigned int i;
	int ret = 0;

	if (!queues || queues > 1024 || depth < 2 || depth > SOFT_MAX_DEPTH)
		return -EINVAL;
	soft_wq = alloc_workqueue(KBUILD_MODNAME, WQ_UNBOUND, 0);
	if (!soft_wq)
		return -ENOMEM;

	for (i = 0; i < devices && !ret; i++) {
		ret = soft_dev_create(SOFT_ZIP, 3 * i);
		if (!ret)
			ret = soft_dev_create(SOFT_SEC, 3 * i + 1);
		if (!ret)
			ret = soft_dev_create(SOFT_HPRE, 3 * i + 2);
	}
	if (ret) {
		soft_destroy_all();
		destroy_workqueue(soft_wq);
	}
	return ret;
}

static void __exit soft_exit(void)
{
	soft_destroy_all();
	/* Drains the workers still holding queue contexts */
	destroy_workqueue(soft_wq);
	/* soft_mn_free() must not run after the module is gone */
	mmu_notifier_synchronize();
}

module_init(soft_init);
module_exit(soft_exit);

MODULE_LICENSE("GPL");
MODULE_AUTHOR("uacce-rs developers <dev@uacce-rs.invalid>");
MODULE_DESCRIPTION("Software ZIP/SEC/HPRE accelerators speaking the HiSilicon QM protocol through uacce");
