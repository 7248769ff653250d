/* SPDX-License-Identifier: MIT */
/*
 * Fast path of the guest-context system call hook. The kernel's
 * `call do_syscall_64` in entry_SYSCALL_64 is redirected here, so we run with
 * %rdi = struct pt_regs *, %esi = syscall number, on the kernel stack, kernel
 * GS, IRQs off — a normal C call. A number nobody selected costs four
 * instructions and a tail jump to the real do_syscall_64; everything else goes
 * to the C slow path with the same arguments.
 *
 * Linked at GEARS_REGION_VA + GEARS_SC_CODE_OFF; gears_sc_ctl is a fixed
 * address given by the linker script, reached RIP-relative.
 */
#include <gears-guest/sc_abi.h>

	.section .text.entry, "ax"
	.globl	gears_sc_entry64
	.type	gears_sc_entry64, @function
gears_sc_entry64:
	cmpl	$GEARS_SC_NR_MAX, %esi
	jae	2f
	btl	%esi, gears_sc_ctl + GEARS_SC_CTL_ANY(%rip)
	jc	gears_sc_slow64
1:	jmp	*gears_sc_ctl + GEARS_SC_CTL_ORIG64(%rip)
2:	cmpl	$GEARS_HCALL_NR, %esi
	jne	1b
	jmp	gears_sc_slow64
	.size	gears_sc_entry64, . - gears_sc_entry64

/* Compat `int 0x80`: void int80_emulation(struct pt_regs *). Rare enough that
 * the C code does the selection test. */
	.globl	gears_sc_entry_int80
	.type	gears_sc_entry_int80, @function
gears_sc_entry_int80:
	jmp	gears_sc_slow_int80
	.size	gears_sc_entry_int80, . - gears_sc_entry_int80

	.section .note.GNU-stack, "", @progbits
