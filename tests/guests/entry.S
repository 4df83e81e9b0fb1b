/*
 * Entry of the test guests: a Multiboot v1 kernel (Multiboot Specification 0.6.96, section 3.1)
 * that switches to long mode and drops to ring 3 with IOPL 3 at once.
 *
 * Where the host honours IOPL 3, ring-3 port I/O and CLI/STI run without leaving ring 3 (only
 * the device access itself exits). PVM does not: it runs guest ring 3 in the host's ring 3 with
 * IOPL 0, so those instructions raise #GP and gp_fault below performs them at ring 0.
 *
 * On this project's PVM host every ring-0 instruction is emulated by the host kernel (about
 * 0.5 M instructions/s), so the ring-0 part is a few hundred instructions: the page tables, GDT
 * and TSS are built statically; only the TSS base and the IDT (whose gate descriptors split the
 * handler address, which no relocation can express) are filled at run time.
 *
 * Long-mode entry follows the Intel SDM vol. 3A section 10.8.5 (Initializing IA-32e mode):
 * CR4.PAE, CR3, EFER.LME, then CR0.PG, then a far jump to a 64-bit code segment.
 */

#define MB_MAGIC 0x1badb002
#define MB_FLAGS 0x00000003 /* bit 0: page-aligned modules, bit 1: memory information */

/* Laid out like Linux's x86-64 GDT, the guest PVM is written for. */
#define SEL_KCODE 0x10
#define SEL_KDATA 0x18
#define SEL_UDATA 0x2b /* 0x28 | RPL 3 */
#define SEL_UCODE 0x33 /* 0x30 | RPL 3 */
#define SEL_TSS 0x40

#define USER_RFLAGS 0x3002 /* IOPL 3 (bits 13:12), reserved bit 1; IF clear */

#define PTE_P 0x01
#define PTE_RW 0x02
#define PTE_US 0x04
#define PTE_PWT 0x08
#define PTE_PCD 0x10
#define PTE_PS 0x80

	.section .multiboot, "a"
	.balign 4
	.long MB_MAGIC
	.long MB_FLAGS
	.long -(MB_MAGIC + MB_FLAGS)

	.section .text.entry, "ax"
	.code32
	.globl _start
_start:
	/* Multiboot: EAX = 0x2badb002, EBX = physical address of the information structure. */
	movl %ebx, mb_info
	movl %eax, mb_magic
	lgdt gdt_desc

	movl %cr4, %eax
	orl $0x20, %eax /* CR4.PAE */
	movl %eax, %cr4
	movl $pml4, %eax
	movl %eax, %cr3
	movl $0xc0000080, %ecx /* IA32_EFER */
	rdmsr
	orl $0x101, %eax /* LME, SCE */
	wrmsr
	/* SYSCALL enters svc_outb_loop with IF, TF and DF clear; SYSRET returns to 0x33/0x2b. */
	movl $0xc0000081, %ecx /* IA32_STAR */
	xorl %eax, %eax
	movl $(SEL_KCODE | ((SEL_UCODE - 16) << 16)), %edx
	wrmsr
	movl $0xc0000082, %ecx /* IA32_LSTAR */
	movl $svc_outb_loop, %eax
	xorl %edx, %edx
	wrmsr
	movl $0xc0000084, %ecx /* IA32_FMASK */
	movl $0x700, %eax
	wrmsr
	movl %cr0, %eax
	orl $0x80010001, %eax /* PG, WP, PE */
	movl %eax, %cr0
	ljmp $SEL_KCODE, $long_entry

	.code64
long_entry:
	movl $SEL_KDATA, %eax
	movl %eax, %ds
	movl %eax, %es
	movl %eax, %ss
	xorl %eax, %eax
	movl %eax, %fs
	movl %eax, %gs
	movq $kstack_top, %rsp

	/* TSS descriptor base, bits 15:0 at +2, 23:16 at +4, 31:24 at +7 (SDM 3A 8.2.3). */
	movl $tss, %eax
	movw %ax, gdt_tss + 2
	shrl $16, %eax
	movb %al, gdt_tss + 4
	movb %ah, gdt_tss + 7
	movw $SEL_TSS, %ax
	ltr %ax

	/* 256 interrupt gates, DPL 0, handler isr_stubs + 16 * vector (SDM 3A 6.14.1). */
	movq $idt, %rdi
	movl $isr_stubs, %edx
	movl $256, %ecx
1:	movw %dx, (%rdi)
	movw $SEL_KCODE, 2(%rdi)
	movw $0x8e00, 4(%rdi)
	movl %edx, %eax
	shrl $16, %eax
	movw %ax, 6(%rdi)
	addl $16, %edx
	addq $16, %rdi
	decl %ecx
	jnz 1b
	lidt idt_desc

	/* To ring 3 with IOPL 3 (which PVM drops: see gp_fault). */
	pushq $SEL_UDATA
	pushq $ustack_top
	pushq $USER_RFLAGS
	pushq $SEL_UCODE
	pushq $user_entry
	iretq

/*
 * One 16-byte stub per vector. Vectors without a CPU error code push a zero so that the frame
 * is the same for all: vector, error code, RIP, CS, RFLAGS, RSP, SS.
 */
	.balign 16
isr_stubs:
	.set vec, 0
	.rept 256
	.balign 16
	.if (vec == 8) || (vec >= 10 && vec <= 14) || (vec == 17) || (vec == 21) || (vec == 29) || (vec == 30)
	nop
	nop
	.else
	pushq $0
	.endif
	pushq $vec
	jmp isr_common
	.set vec, vec + 1
	.endr

isr_common:
	cmpq $13, (%rsp)
	je gp_fault
	cmpq $32, (%rsp)
	jb exception
	pushq %rax
	movq 8(%rsp), %rax
	lock incq irq_count(, %rax, 8)
	cmpl $0xff, %eax /* the LAPIC's spurious vector takes no EOI (SDM 3A 11.9) */
	je 3f
	cmpl $0x30, %eax
	jb 1f
	movl $0xfee000b0, %eax /* LAPIC EOI register (an absolute disp32 would sign-extend) */
	movl $0, (%rax)
	jmp 3f
1:	cmpl $0x28, %eax /* 8259 vectors 0x20-0x2f: non-specific EOI, slave first */
	jb 2f
	movb $0x20, %al
	outb %al, $0xa0
2:	movb $0x20, %al
	outb %al, $0x20
3:	popq %rax
	addq $16, %rsp
	iretq

/*
 * #GP(0) on IN/OUT/CLI/STI at ring 3: the CPU did not honour IOPL 3. PVM runs guest ring 3 in the host's
 * ring 3 and clears IOPL there, so every port access of ring-3 code faults. Do the access here,
 * with the guest's own RAX and RDX (untouched so far), and step over the instruction. Handles
 * the forms gcc emits for lib/io.h: E4-E7 (imm8 port), EC-EF (DX port), and 66h for 16 bits
 * (SDM vol. 2 IN/OUT). Kept short: each ring-0 instruction costs ~2 us on PVM.
 * Frame after the two pushes: RCX, RSI, vector, error code, RIP, CS, RFLAGS, RSP, SS.
 */
gp_fault:
	cmpq $0, 8(%rsp)
	jne exception
	pushq %rsi
	pushq %rcx
	movq 32(%rsp), %rsi
	movzbl (%rsi), %ecx
	cmpl $0x66, %ecx
	je 1f
	subl $0xe4, %ecx
	cmpl $11, %ecx
	ja gp_cli_sti
	jmp *gp_io8_table(, %rcx, 8)
1:	movzbl 1(%rsi), %ecx
	subl $0xe4, %ecx
	cmpl $11, %ecx
	ja gp_not_io
	jmp *gp_io16_table(, %rcx, 8)

gp_in_al_imm:
	pushq %rdx
	movzbl 1(%rsi), %edx
	inb %dx, %al
	popq %rdx
	jmp gp_done2
gp_in_eax_imm:
	pushq %rdx
	movzbl 1(%rsi), %edx
	inl %dx, %eax
	popq %rdx
	jmp gp_done2
gp_out_al_imm:
	pushq %rdx
	movzbl 1(%rsi), %edx
	outb %al, %dx
	popq %rdx
	jmp gp_done2
gp_out_eax_imm:
	pushq %rdx
	movzbl 1(%rsi), %edx
	outl %eax, %dx
	popq %rdx
	jmp gp_done2
gp_in_al_dx:
	inb %dx, %al
	jmp gp_done1
gp_in_eax_dx:
	inl %dx, %eax
	jmp gp_done1
gp_out_al_dx:
	outb %al, %dx
	jmp gp_done1
gp_out_eax_dx:
	outl %eax, %dx
	jmp gp_done1
gp_in_ax_imm:
	pushq %rdx
	movzbl 2(%rsi), %edx
	inw %dx, %ax
	popq %rdx
	jmp gp_done3
gp_out_ax_imm:
	pushq %rdx
	movzbl 2(%rsi), %edx
	outw %ax, %dx
	popq %rdx
	jmp gp_done3
gp_in_ax_dx:
	inw %dx, %ax
	jmp gp_done2
gp_out_ax_dx:
	outw %ax, %dx
	jmp gp_done2

/* CLI/STI (FA/FB) fault the same way when IOPL is not honoured: change IF in the frame. */
gp_cli_sti:
	cmpl $0xfa - 0xe4, %ecx
	je 1f
	cmpl $0xfb - 0xe4, %ecx
	jne gp_not_io
	orq $0x200, 48(%rsp)
	jmp gp_done1
1:	andq $~0x200, 48(%rsp)

gp_done1:
	incq 32(%rsp)
	jmp gp_return
gp_done2:
	addq $2, 32(%rsp)
	jmp gp_return
gp_done3:
	addq $3, 32(%rsp)
gp_return:
	popq %rcx
	popq %rsi
	addq $16, %rsp
	iretq
gp_not_io:
	popq %rcx
	popq %rsi
	/* fall through: a real #GP */

/*
 * A CPU exception: rewrite the frame into a return to ring 3 at guest_fault(vector, error,
 * rip, cr2) on its own stack, so that the report and the power-off run at ring 3 at full speed.
 */
exception:
	movq 0(%rsp), %rdi
	movq 8(%rsp), %rsi
	movq 16(%rsp), %rdx
	movq %cr2, %rcx
	addq $16, %rsp
	movq $guest_fault, 0(%rsp)
	movq $SEL_UCODE, 8(%rsp)
	movq $USER_RFLAGS, 16(%rsp)
	movq $fault_stack_top - 8, 24(%rsp)
	movq $SEL_UDATA, 32(%rsp)
	iretq

/*
 * SYSCALL from ring 3: write AL to port DX, RDI times, at ring 0, on the caller's stack (IF is
 * clear, nothing is pushed). This is how the benchmark makes back-to-back port exits where
 * ring-3 port I/O faults (see gp_fault): the loop adds two emulated instructions per exit, the
 * same on every VMM. (INT n from ring 3 is no way in on PVM: it raises #UD.)
 */
svc_outb_loop:
	testq %rdi, %rdi
	jz 2f
1:	outb %al, %dx
	decq %rdi
	jnz 1b
2:	pushq $SEL_UDATA /* IRETQ, not SYSRETQ: KVM's instruction emulator lacks SYSRET */
	pushq %rsp
	addq $8, (%rsp)
	pushq %r11
	pushq $SEL_UCODE
	pushq %rcx
	iretq

/* Ring 3 from here on. The SysV ABI wants RSP + 8 16-byte aligned at a function's entry. */
user_entry:
	movl mb_magic, %edi
	movl mb_info, %esi
	call guest_start
	ud2

	.section .rodata
	.balign 8
gp_io8_table: /* opcodes E4-EF without an operand-size prefix */
	.quad gp_in_al_imm, gp_in_eax_imm, gp_out_al_imm, gp_out_eax_imm
	.quad gp_not_io, gp_not_io, gp_not_io, gp_not_io
	.quad gp_in_al_dx, gp_in_eax_dx, gp_out_al_dx, gp_out_eax_dx
gp_io16_table: /* the same after 66h */
	.quad gp_not_io, gp_in_ax_imm, gp_not_io, gp_out_ax_imm
	.quad gp_not_io, gp_not_io, gp_not_io, gp_not_io
	.quad gp_not_io, gp_in_ax_dx, gp_not_io, gp_out_ax_dx

	.section .data.tables, "aw"
	.balign 4096
pml4:
	.quad pdpt + (PTE_P | PTE_RW | PTE_US)
	.fill 511, 8, 0
pdpt:
	.quad pd + 0x0000 + (PTE_P | PTE_RW | PTE_US)
	.quad pd + 0x1000 + (PTE_P | PTE_RW | PTE_US)
	.quad pd + 0x2000 + (PTE_P | PTE_RW | PTE_US)
	.quad pd + 0x3000 + (PTE_P | PTE_RW | PTE_US)
	.fill 508, 8, 0
/*
 * The low 4 GiB in 2 MiB pages, user-accessible so that ring 3 reaches its data and the device
 * MMIO (IOAPIC 0xfec00000, LAPIC 0xfee00000); the top GiB is uncached (PCD | PWT).
 */
pd:
	.set addr, 0
	.rept 1536
	.quad addr + (PTE_P | PTE_RW | PTE_US | PTE_PS)
	.set addr, addr + 0x200000
	.endr
	.rept 512
	.quad addr + (PTE_P | PTE_RW | PTE_US | PTE_PS | PTE_PWT | PTE_PCD)
	.set addr, addr + 0x200000
	.endr

	.balign 16
gdt:
	.quad 0
	.quad 0x00cf9a000000ffff /* 0x08 ring-0 code, 32-bit */
	.quad 0x00af9a000000ffff /* 0x10 ring-0 code, 64-bit */
	.quad 0x00cf92000000ffff /* 0x18 ring-0 data */
	.quad 0x00cffa000000ffff /* 0x20 ring-3 code, 32-bit */
	.quad 0x00cff2000000ffff /* 0x28 ring-3 data */
	.quad 0x00affa000000ffff /* 0x30 ring-3 code, 64-bit */
	.quad 0
gdt_tss:
	.quad 0x0000890000000067 /* 0x40 64-bit TSS, available, limit 103; base filled at entry */
	.quad 0
gdt_end:
	.balign 8
	.word 0
gdt_desc:
	.word gdt_end - gdt - 1
	.quad gdt
	.word 0
idt_desc:
	.word 256 * 16 - 1
	.quad idt

	.balign 16
tss:
	.long 0
	.quad kstack_top /* RSP0 */
	.fill 11, 8, 0
	.word 0
	.word 104 /* I/O map base beyond the limit: no bitmap, IOPL alone decides */

	.globl mb_info, mb_magic
mb_info:
	.long 0
mb_magic:
	.long 0

	.section .bss
	.balign 16
	.globl irq_count
irq_count:
	.skip 256 * 8
	.globl idt
idt:
	.skip 256 * 16
	.balign 16
	.skip 16384
kstack_top:
	.skip 65536
ustack_top:
	.skip 16384
fault_stack_top:

	.section .note.GNU-stack, "", @progbits
