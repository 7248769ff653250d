/* SPDX-License-Identifier: MIT */
/*
 * Trace records, as the trace service (host/trace_service.c) sends them to
 * `gears trace` (cli/trace.c) over the control socket, batched in
 * "EVS <id> <len>" frames.
 *
 * Subscription: the client sends "TRACE <id> <len>" with a JSON object
 *   {"mode": "ring"|"filter"|"exit", "syscalls": [nr, ...] (absent: all),
 *    "compat": bool}
 * and gets "OK <id>" or "FAIL <id> <reason>". Closing the connection, or
 * "UNTRACE <id>", ends it. The supervisor also sends "PID 0 <pid>" when the
 * main command of `gears run --hold` has started, "STATS <id> <json>" in answer
 * to "STATS <id>", and "LOST <id> <n>" when records were dropped because the
 * client did not keep up.
 */
#ifndef GEARS_TRACE_PROTO_H
#define GEARS_TRACE_PROTO_H

#include <stdint.h>

#define TREC_ENTRY	1
#define TREC_EXIT	2
/*
 * A signal delivery (filter and exit modes), sent right after the record of
 * the return at which the task's pending signals were read, one per signal
 * the kernel's next return to user space delivers: nr = the signal, args[0] =
 * its DEC_SIG_* flags (decode/decode.h), args[1] = an exit status
 * (DEC_SIG_EXITED), and the siginfo_t as a blob (tag DEC_BLOB, slot 0) unless
 * there is no line to print (DEC_SIG_NOLINE).
 */
#define TREC_SIGNAL	3

#define TREC_COMPAT	0x01
#define TREC_DENIED	0x02
#define TREC_TRUNC	0x04	/* a string was cut short */
#define TREC_FULL	0x08	/* an exit record that also carries the entry's arguments and strings */

/* String tags: argument index 0..5, or TREC_ARGV + element index. */
#define TREC_ARGV	0x40

#define TREC_MAX	8192	/* largest record, strings included */

struct trace_rec {
	uint16_t size;		/* whole record, strings included, 8-byte multiple */
	uint8_t kind;
	uint8_t flags;
	int32_t nr;
	int32_t pid;		/* process (tgid) */
	int32_t tid;
	uint16_t cpu;
	uint16_t nstr;		/* strings that follow: tag byte, then NUL-terminated text */
	int32_t ppid;		/* parent process */
	uint64_t time_ns;
	uint64_t entry_ns;	/* TREC_FULL exits: when the call entered (0: unknown) */
	uint64_t args[6];
	int64_t ret;
	char comm[16];
};

#endif
