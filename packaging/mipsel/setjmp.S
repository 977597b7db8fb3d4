/*
 * Integer-only setjmp/longjmp leaves for a static glibc (Debian's mipsel
 * libc.a, built hard-float) in a soft-float binary for FPU-less MIPS
 * cores such as OpenWrt's mipsel_24kc.
 *
 * glibc's __sigsetjmp (reached from _setjmp, which __libc_start_main and
 * pthread_create call) ends in __sigsetjmp_aux, and longjmp in __longjmp;
 * glibc's versions save and restore $f20..$f30 with sdc1/ldc1, which
 * raise SIGILL without an FPU. These two keep glibc's o32 jmp_buf layout
 * (ra 0, sp 4, s0..s7 8..36, fp 40, gp 44) and leave the FP slots alone.
 * Linked before libc.a (softfloat-rt.sh puts them in libsoftfp.a, the
 * Makefile forces them in with -u), they keep its setjmp_aux.o and
 * __longjmp.o out.
 */
	.module	softfloat
	.abicalls
	.text
	.set	noreorder

/* __sigsetjmp_aux(env $4, savemask $5, sp $6, fp $7) */
	.globl	__sigsetjmp_aux
	.type	__sigsetjmp_aux, @function
	.ent	__sigsetjmp_aux
__sigsetjmp_aux:
	.frame	$29, 0, $31
	.cpload	$25
	sw	$31, 0($4)
	sw	$6, 4($4)
	sw	$16, 8($4)
	sw	$17, 12($4)
	sw	$18, 16($4)
	sw	$19, 20($4)
	sw	$20, 24($4)
	sw	$21, 28($4)
	sw	$22, 32($4)
	sw	$23, 36($4)
	sw	$7, 40($4)
	sw	$28, 44($4)
	/* tail call __sigjmp_save(env, savemask), which returns 0 */
	lw	$25, %call16(__sigjmp_save)($28)
	jr	$25
	nop
	.end	__sigsetjmp_aux
	.size	__sigsetjmp_aux, .-__sigsetjmp_aux

/* __longjmp(env $4, val $5): resumes at the saved ra with val, 1 for 0 */
	.globl	__longjmp
	.type	__longjmp, @function
	.ent	__longjmp
__longjmp:
	.frame	$29, 0, $31
	lw	$25, 0($4)
	lw	$29, 4($4)
	lw	$16, 8($4)
	lw	$17, 12($4)
	lw	$18, 16($4)
	lw	$19, 20($4)
	lw	$20, 24($4)
	lw	$21, 28($4)
	lw	$22, 32($4)
	lw	$23, 36($4)
	lw	$30, 40($4)
	lw	$28, 44($4)
	move	$2, $5
	bnez	$5, 1f
	nop
	li	$2, 1
1:	jr	$25
	nop
	.end	__longjmp
	.size	__longjmp, .-__longjmp

	.section .note.GNU-stack,"",%progbits
