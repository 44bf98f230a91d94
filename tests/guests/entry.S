/* Entries of the Kindling test guest.
 *   linux_entry64: the Linux 64-bit boot protocol as Kindling (and Firecracker) enter a vmlinux: long mode, paging
 *                  on an identity map of (at least) the first 1 GiB, RSI = boot_params.
 *   pvh_entry32:   QEMU's PVH entry (XEN_ELFNOTE_PHYS32_ENTRY): 32-bit protected mode, paging off,
 *                  EBX = hvm_start_info.
 *   tramp_start:   the real-mode AP trampoline the BSP copies below 1 MiB before INIT-SIPI-SIPI.
 * All of them switch to this image's own GDT and its identity map of the first 4 GiB (2 MiB pages; the top GiB,
 * where the LAPIC, IOAPIC and virtio-mmio windows live, uncached). */

#define CR0_PE          0x00000001
#define CR0_PG          0x80000000
#define CR4_PAE         0x00000020
#define MSR_EFER        0xC0000080
#define EFER_LME        0x00000100
#define SEL_CODE64      0x08
#define SEL_DATA        0x10
#define SEL_CODE32      0x18
#define PTE_P           0x001
#define PTE_W           0x002
#define PTE_PWT         0x008
#define PTE_PCD         0x010
#define PTE_PS          0x080
#define XEN_ELFNOTE_PHYS32_ENTRY 18
#define AP_STACK_SIZE   4096
#define MAX_CPUS        32

/* ---- PVH note: QEMU reads an 8-byte descriptor after the 4-byte aligned name. ---- */
    .section .note.Xen, "a"
    .balign 4
    .long 4                         /* namesz: "Xen\0" */
    .long 8                         /* descsz */
    .long XEN_ELFNOTE_PHYS32_ENTRY
    .asciz "Xen"
    .quad pvh_entry32

/* ---- Page tables and GDT (static, so no guest instructions are spent building them). ---- */
    .section .data.pagetables, "aw"
    .balign 4096
    .globl pml4
pml4:
    .quad pdpt + (PTE_P | PTE_W)
    .fill 511, 8, 0
pdpt:
    .quad pd + 0x0000 + (PTE_P | PTE_W)
    .quad pd + 0x1000 + (PTE_P | PTE_W)
    .quad pd + 0x2000 + (PTE_P | PTE_W)
    .quad pd + 0x3000 + (PTE_P | PTE_W)
    .fill 508, 8, 0
pd:
    .set i, 0
    .rept 1536
    .quad (i << 21) | (PTE_P | PTE_W | PTE_PS)
    .set i, i + 1
    .endr
    .rept 512
    .quad (i << 21) | (PTE_P | PTE_W | PTE_PS | PTE_PCD | PTE_PWT)
    .set i, i + 1
    .endr

    .section .data, "aw"
    .balign 16
    .globl gdt
gdt:
    .quad 0                         /* null */
    .quad 0x00af9a000000ffff        /* 0x08: 64-bit code */
    .quad 0x00cf92000000ffff        /* 0x10: data */
    .quad 0x00cf9a000000ffff        /* 0x18: 32-bit code */
gdt_end:
    .balign 8
gdt_desc:
    .word gdt_end - gdt - 1
    .quad gdt

    .globl ap_next_index
ap_next_index:
    .long 0

    .section .noinit, "aw", @nobits
    .balign 4096
boot_stack:
    .skip 16384
boot_stack_top:
    .globl ap_stacks
ap_stacks:
    .skip AP_STACK_SIZE * MAX_CPUS

/* ---- Entries ---- */
    .section .text.boot, "ax"

.macro ENTER_LONG_MODE target
    mov %cr4, %eax
    or $CR4_PAE, %eax
    mov %eax, %cr4
    mov $pml4, %eax
    mov %eax, %cr3
    mov $MSR_EFER, %ecx
    rdmsr
    or $EFER_LME, %eax
    wrmsr
    mov %cr0, %eax
    or $(CR0_PG | CR0_PE), %eax
    mov %eax, %cr0
    ljmp $SEL_CODE64, $\target
.endm

.macro LOAD_DATA_SEGMENTS
    mov $SEL_DATA, %eax
    mov %eax, %ds
    mov %eax, %es
    mov %eax, %ss
    mov %eax, %fs
    mov %eax, %gs
.endm

    .code64
    .globl linux_entry64
linux_entry64:
    cli
    cld
    lea boot_stack_top(%rip), %rsp      /* the VMM's RSP may point nowhere useful */
    lgdt gdt_desc(%rip)
    lea 1f(%rip), %rax
    push $SEL_CODE64
    push %rax
    lretq
1:  LOAD_DATA_SEGMENTS
    mov $pml4, %eax
    mov %rax, %cr3
    mov %rsi, %rdi
    call linux_main
    jmp halt_forever

    .code32
    .globl pvh_entry32
pvh_entry32:
    cli
    cld
    mov %ebx, %esi
    lgdt gdt_desc
    ljmp $SEL_CODE32, $1f
1:  mov $SEL_DATA, %eax
    mov %eax, %ds
    mov %eax, %es
    mov %eax, %ss
    ENTER_LONG_MODE pvh_entry64

    .code64
pvh_entry64:
    LOAD_DATA_SEGMENTS
    mov %esi, %esi
    lea boot_stack_top(%rip), %rsp
    mov %rsi, %rdi
    call pvh_main
    jmp halt_forever

    .code32
ap_entry32:
    mov $SEL_DATA, %eax
    mov %eax, %ds
    mov %eax, %es
    mov %eax, %ss
    ENTER_LONG_MODE ap_entry64

    .code64
ap_entry64:
    LOAD_DATA_SEGMENTS
    mov $1, %eax
    lock xadd %eax, ap_next_index(%rip)
    cmp $(MAX_CPUS - 1), %eax
    jae halt_forever
    mov %eax, %edi
    lea 1(%rax), %rax
    shl $12, %rax
    lea ap_stacks(%rip), %rsp
    add %rax, %rsp
    call ap_main
    .globl halt_forever
halt_forever:
    cli
    hlt
    jmp halt_forever

/* ---- AP trampoline: copied to a page below 1 MiB; the SIPI vector is that page number. ---- */
    .code16
    .globl tramp_start, tramp_end
tramp_start:
    cli
    mov %cs, %ax
    mov %ax, %ds
    lgdtl tramp_gdt_desc - tramp_start
    mov %cr0, %eax
    or $CR0_PE, %eax
    mov %eax, %cr0
    ljmpl $SEL_CODE32, $ap_entry32
    .balign 8
tramp_gdt_desc:
    .word gdt_end - gdt - 1
    .long gdt
tramp_end:

/* ---- Interrupt stubs: vectors 0..63, 16 bytes apart; each pushes (error code, vector) and joins isr_common. ---- */
    .code64
    .balign 16
    .globl isr_stubs
isr_stubs:
    .set v, 0
    .rept 64
    .balign 16
    .if (v == 8) || ((v >= 10) && (v <= 14)) || (v == 17) || (v == 21) || (v == 29) || (v == 30)
    .else
    push $0
    .endif
    push $v
    jmp isr_common
    .set v, v + 1
    .endr

isr_common:
    push %rax
    push %rcx
    push %rdx
    push %rsi
    push %rdi
    push %r8
    push %r9
    push %r10
    push %r11
    mov %rsp, %rdi
    call isr_dispatch
    pop %r11
    pop %r10
    pop %r9
    pop %r8
    pop %rdi
    pop %rsi
    pop %rdx
    pop %rcx
    pop %rax
    add $16, %rsp
    iretq
