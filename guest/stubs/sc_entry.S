/* SPDX-License-Identifier: MIT */
/*
 * Entry points of the guest-context system call hook (see sc_stub.c).
 *
 * The kernel's `call do_syscall_64` in entry_SYSCALL_64 is redirected to
 * gears_sc_entry64: %rdi = struct pt_regs *, %esi = syscall number, kernel
 * stack, kernel GS, IRQs off — a normal C call. A number nobody selected costs
 * four instructions and a tail jump to the real do_syscall_64.
 *
 * The slow paths reserve GEARS_SC_FRAME bytes right below their return
 * address and pass them to C: since the kernel calls with %rsp = pt_regs, that
 * frame sits at pt_regs - 8 - GEARS_SC_FRAME, where the return hook
 * (gears_sc_exit_hook, called instead of syscall_exit_to_user_mode) finds it.
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
	jc	3f
1:	jmp	*gears_sc_ctl + GEARS_SC_CTL_ORIG64(%rip)
2:	cmpl	$GEARS_HCALL_NR, %esi
	jne	1b
3:	subq	$GEARS_SC_FRAME, %rsp
	movq	%rsp, %rdx
	call	gears_sc_slow64
	addq	$GEARS_SC_FRAME, %rsp
	ret
	.size	gears_sc_entry64, . - gears_sc_entry64

/* Compat `int 0x80`: void int80_emulation(struct pt_regs *). Rare: the C code
 * does the selection test. */
	.globl	gears_sc_entry_int80
	.type	gears_sc_entry_int80, @function
gears_sc_entry_int80:
	subq	$GEARS_SC_FRAME, %rsp
	movq	%rsp, %rsi
	call	gears_sc_slow_int80
	addq	$GEARS_SC_FRAME, %rsp
	ret
	.size	gears_sc_entry_int80, . - gears_sc_entry_int80

	.section .note.GNU-stack, "", @progbits
