/* SPDX-License-Identifier: MIT */
/*
 * The MPI accelerator's broker: message matching and copies between the
 * processes of co-located VMs (services/mpi/README.md).
 *
 * One broker per job is a shared-memory file (/dev/shm/gears-mpi-JOB) that
 * every supervisor of the job maps: its VMs' RAM files, the ranks, the
 * posted receives and unexpected sends of each rank, and a pool for small
 * (eager) messages, under one process-shared robust mutex. Each supervisor
 * answers its own guest's hypercalls with mpi_broker_hcall(): a call matches
 * against the other side's queue and, when it matches, copies the message
 * from the sender's memory straight into the receiver's (through both
 * processes' page tables, in whichever VMs they live) and writes both
 * completion blocks; otherwise it queues the request and returns at once.
 * Nothing ever waits for a peer.
 *
 * Everything from a guest is hostile: hypercall arguments are checked, every
 * guest page is translated and checked (present, user; writable for what the
 * host writes) before a byte moves, every length is bounded.
 */
#ifndef GEARS_MPI_BROKER_H
#define GEARS_MPI_BROKER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <gears/vm.h>

struct mpi_broker;

struct mpi_broker_stats {
	uint64_t calls, sends, recvs, matched, eager, copied_bytes, errors, faults;
};

/* Map (creating it when absent) the broker file at `path`. NULL + errno, a
 * reason in err. */
struct mpi_broker *mpi_broker_open(const char *path, char *err, size_t errsz);
/* Unmap; this process's VM leaves first (requests of other ranks waiting for
 * its ranks fail with GMPI_ERR_PEER). True when no other live VM is in the
 * job any more (the caller may remove the file). */
bool mpi_broker_close_last(struct mpi_broker *b);
/* The VM this process serves: its RAM (`mem`, used directly; RAM file `path`
 * of `size` bytes, `below_4g` of them below the PCI hole, for the other
 * supervisors), its paging levels (4 or 5), and the pid that owns it (a slot
 * whose owner is dead is taken over). Returns the VM's slot, or -errno. */
int mpi_broker_add_vm(struct mpi_broker *b, struct gears_mem *mem, const char *path, uint64_t size,
		      uint64_t below_4g, int levels, int owner_pid);
/* Answer a hypercall of process `pid` (address space `cr3`) of this VM:
 * a[0] = op, a[1..5] the arguments (gears_mpi_abi.h). Returns the answer. */
int64_t mpi_broker_hcall(struct mpi_broker *b, int pid, uint64_t cr3, const uint64_t a[6]);
/* Process `pid` of this VM is gone: its rank leaves as by GMPI_HC_DETACH,
 * and requests waiting for it fail. */
void mpi_broker_process_gone(struct mpi_broker *b, int pid);
void mpi_broker_stats(const struct mpi_broker *b, struct mpi_broker_stats *st);
/* Ranks attached from this VM (pids in out[], at most max); returns how many. */
int mpi_broker_local_ranks(struct mpi_broker *b, int *pids, int max);
uint64_t mpi_broker_job_id(const struct mpi_broker *b);

#endif
