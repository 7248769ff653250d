/* SPDX-License-Identifier: MIT */
/*
 * The MPI accelerator's hypercall ABI, between the guest's PMPI preload
 * library (gears_mpi.c) and the host broker (../host/mpi_broker.c). Hypercalls
 * are gears-guest/hypercall.h's: rax = GEARS_HCALL_NR, rdi = op, then
 * rsi, rdx, r10, r8, r9 = a1..a5; the answer in rax (negative errno on error).
 *
 * No hypercall waits for a peer. A send or receive is posted; it either
 * completes during the call (answer GMPI_DONE, its gmpi_done block already
 * written) or later (GMPI_POSTED): the host then writes the block in the
 * caller's memory — all fields first, `done` last — when the peer's call
 * matched it, and the guest waits in user space by watching `done`.
 *
 *   GMPI_HC_ATTACH  a1 = world rank, a2 = world size, a3 = GMPI_ABI
 *                   -> job id (> 0; every rank of one broker gets the same)
 *   GMPI_HC_SEND    a1 = buffer, a2 = bytes, a3 = dest rank | tag << 32,
 *                   a4 = context id, a5 = address of a gmpi_done block
 *   GMPI_HC_RECV    a1 = buffer, a2 = capacity in bytes, a3 = source rank
 *                   (or GMPI_ANY) | tag (or GMPI_ANY) << 32, a4, a5 as above
 *   GMPI_HC_PROBE   a3 = source | tag << 32 as for RECV, a4 = context id,
 *                   a5 = gmpi_done block: GMPI_DONE with the first matching
 *                   unexpected message's source, tag and length in the block
 *                   (nothing is received), or GMPI_POSTED: none (nothing queued)
 *   GMPI_HC_DETACH  the caller's rank leaves (MPI_Finalize); pending requests
 *                   of others with it are failed (GMPI_ERR_PEER)
 *
 * a4 of SEND is context | flags << 32: GMPI_F_SYNC (MPI_Ssend) never completes
 * before a receive matched it. A post repeated with the same block while the
 * first is still queued (after -ETIMEDOUT: the answer was lost) is not queued
 * twice: the answer is GMPI_POSTED again.
 *
 * Errors: -EINVAL (a bad rank, tag, context, length or address), -EFAULT (a
 * page of the caller's buffer or block is not present, or a receive buffer or
 * block not writable: nothing was posted; the guest touches the pages and
 * posts again), -ENOSPC (the broker's tables are full: use MPICH), -ESRCH
 * (the caller is not attached), -E2BIG (longer than GMPI_MAX_BYTES).
 */
#ifndef GEARS_MPI_ABI_H
#define GEARS_MPI_ABI_H

#include <stdint.h>

#define GMPI_ABI		1
#define GMPI_HC_BASE		0x1300L
#define GMPI_HC_ATTACH		(GMPI_HC_BASE + 0)
#define GMPI_HC_SEND		(GMPI_HC_BASE + 1)
#define GMPI_HC_RECV		(GMPI_HC_BASE + 2)
#define GMPI_HC_DETACH		(GMPI_HC_BASE + 3)
#define GMPI_HC_PROBE		(GMPI_HC_BASE + 4)
#define GMPI_HC_LAST		GMPI_HC_PROBE

#define GMPI_F_SYNC		1u

#define GMPI_POSTED		0
#define GMPI_DONE		1

#define GMPI_ANY		(-1)		/* MPI_ANY_SOURCE, MPI_ANY_TAG */
#define GMPI_MAX_RANKS		256
#define GMPI_MAX_TAG		0x7fffffff
#define GMPI_MAX_CTX		0xffff
#define GMPI_MAX_BYTES		(1ull << 31)	/* an int count of MPI_BYTE */

/* gmpi_done.error */
#define GMPI_OK			0
#define GMPI_ERR_TRUNCATE	1	/* the message was longer than the receive buffer */
#define GMPI_ERR_FAULT		2	/* a page went away before the copy */
#define GMPI_ERR_PEER		3	/* the peer left or died */

/* Written by the host, 32 bytes, 32-byte aligned (never crosses a page). */
struct gmpi_done {
	uint32_t done;		/* 0 pending; 1 complete: written last */
	int32_t error;		/* GMPI_OK, GMPI_ERR_* */
	int32_t source;		/* the sender's rank (receives) */
	int32_t tag;		/* the message's tag (receives) */
	uint64_t bytes;		/* bytes delivered (receives: at most the capacity) */
	uint64_t msg_bytes;	/* the message's length */
};

#endif
