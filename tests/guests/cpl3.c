/* cpl3: how this CPU (or the host's instruction emulator) takes a guest's system calls from user mode.
 *
 * The probe builds what a kernel builds (a GDT with user segments, a TSS with RSP0, an IDT with a DPL-3 gate for
 * int $0x80, EFER.SCE with STAR/LSTAR/SFMASK, the SYSENTER MSRs), maps one 2 MiB page user-accessible, copies a
 * few instructions there and enters them at CPL3 with iretq, once per probe. Each probe ends in the kernel: in a
 * landing pad (LSTAR, SYSENTER_EIP, vector 0x80) or in an exception handler, which records how it got there and
 * returns to the probe's caller at CPL0. The line it prints per probe:
 *
 *   cpl3: <probe> -> <how> cs=<cs of the frame> rip=<where> err=<error code> rcx=<rcx> r11=<r11> rflags=<rflags>
 *
 * where <how> is `landed-cpl0` (the landing pad ran in ring 0: what hardware does) or `vector-N` (an exception
 * N was delivered to ring 0 instead; cs/rip/rflags are that exception's frame). Then one summary line:
 *
 *   KINDLING-CPL3 syscall=<how> syscall_rcx=<next|other> syscall_r11=<rflags|other> int80=<how> sysenter=<how> ud2=<how> cli=<how> kread=<how>
 *
 * The host's tests pin that line (hardware: syscall/int80 land in ring 0; kvm_pvm's emulator: syscall jumps to
 * LSTAR still at CPL3 and faults there, int $0x80 raises #UD). */
#include "rt.h"

#define SEL_KCODE 0x08
#define SEL_KDATA 0x10
#define SEL_UCODE32 0x18
#define SEL_UDATA 0x20
#define SEL_UCODE64 0x28
#define SEL_TSS 0x30
#define RPL3 3

#define MSR_EFER 0xC0000080
#define MSR_STAR 0xC0000081
#define MSR_LSTAR 0xC0000082
#define MSR_SFMASK 0xC0000084
#define MSR_SYSENTER_CS 0x174
#define MSR_SYSENTER_ESP 0x175
#define MSR_SYSENTER_EIP 0x176
#define EFER_SCE 0x1

#define RFLAGS_IF 0x200
#define RFLAGS_RESERVED1 0x2
/* What Linux masks on SYSCALL: TF, DF, IF, IOPL, AC, NT. */
#define SFMASK_LINUX 0x47700

#define PTE_U 0x4
#define USER_PAGE 0x600000UL /* one 2 MiB page, PD index 3 */
#define USER_PAGE_SHIFT 21
#define USER_STACK_TOP (USER_PAGE + 0x100000)
#define VECTOR_INT80 0x80
#define IDT_VECTORS 256
#define GATE_INTERRUPT 0x8E
#define GATE_DPL3 0x60

#define HOW_LANDED 0x100 /* record.how: a landing pad ran, else the vector number */

extern char _end[];

struct gate {
    uint16_t off0, sel;
    uint8_t ist, attr;
    uint16_t off1;
    uint32_t off2, zero;
} __attribute__((packed));

struct tss64 {
    uint32_t reserved0;
    uint64_t rsp0, rsp1, rsp2;
    uint64_t reserved1, ist[7], reserved2;
    uint16_t reserved3, iomap_base;
} __attribute__((packed));

struct table_desc {
    uint16_t limit;
    uint64_t base;
} __attribute__((packed));

/* Filled by the landing pads and handlers (cpl3_entry.S-like code below), read by the C side. */
struct record {
    uint64_t how, err, rip, cs, rflags, rcx, r11, cr2;
};
struct record g_cpl3_record;
uint64_t g_cpl3_kernel_rsp; /* the probe caller's RSP, restored by every landing */

static uint64_t gdt[8] __attribute__((aligned(16)));
static struct tss64 tss __attribute__((aligned(16)));
static struct gate idt[IDT_VECTORS] __attribute__((aligned(16)));
static uint8_t kernel_stack[8192] __attribute__((aligned(16)));

/* Landing pads, per-vector stubs and the user-mode snippets. The snippets are copied to the user page. */
__asm__(
    ".text\n"
    /* cpl3_run(rip, rdi): saves callee-saved registers and RSP, then iretq to CPL3 at rip with RDI = rdi. */
    ".globl cpl3_run\n"
    "cpl3_run:\n"
    "  push %rbx; push %rbp; push %r12; push %r13; push %r14; push %r15\n"
    "  mov %rsp, g_cpl3_kernel_rsp(%rip)\n"
    "  mov %rdi, %rax\n"
    "  mov %rsi, %rdi\n"
    "  pushq $0x23\n"                 /* SS: user data | 3 */
    "  pushq $0x700000\n"             /* RSP: USER_STACK_TOP */
    "  pushq $0x202\n"                /* RFLAGS: IF */
    "  pushq $0x2b\n"                 /* CS: user code64 | 3 */
    "  push %rax\n"                   /* RIP */
    "  iretq\n"
    /* Every landing ends here with the record filled: back to cpl3_run's caller. */
    "cpl3_return:\n"
    "  mov $0x10, %eax; mov %eax, %ds; mov %eax, %es\n"
    "  mov g_cpl3_kernel_rsp(%rip), %rsp\n"
    "  pop %r15; pop %r14; pop %r13; pop %r12; pop %rbp; pop %rbx\n"
    "  ret\n"
    /* LSTAR / SYSENTER_EIP: reached in ring 0 only where SYSCALL/SYSENTER work as specified. */
    ".globl cpl3_syscall_landing\n"
    "cpl3_syscall_landing:\n"
    "  mov %rcx, g_cpl3_record+40(%rip)\n"
    "  mov %r11, g_cpl3_record+48(%rip)\n"
    "  movq $0x100, g_cpl3_record(%rip)\n"
    "  xor %eax, %eax; mov %cs, %ax; mov %rax, g_cpl3_record+24(%rip)\n"
    "  pushf; pop %rax; mov %rax, g_cpl3_record+32(%rip)\n"
    "  jmp cpl3_return\n"
    /* Exception/interrupt frame: [rsp] = vector, then error code, rip, cs, rflags, rsp, ss. */
    "cpl3_trap_common:\n"
    "  mov %rcx, g_cpl3_record+40(%rip)\n"
    "  mov %r11, g_cpl3_record+48(%rip)\n"
    "  pop %rax; mov %rax, g_cpl3_record(%rip)\n"
    "  pop %rax; mov %rax, g_cpl3_record+8(%rip)\n"
    "  pop %rax; mov %rax, g_cpl3_record+16(%rip)\n"
    "  pop %rax; mov %rax, g_cpl3_record+24(%rip)\n"
    "  pop %rax; mov %rax, g_cpl3_record+32(%rip)\n"
    "  mov %cr2, %rax; mov %rax, g_cpl3_record+56(%rip)\n"
    "  jmp cpl3_return\n"
    /* Stubs: vectors with an error code (8, 10-14, 17, 21) push only the vector. */
    ".globl cpl3_stubs\n"
    "  .balign 16\n"
    "cpl3_stubs:\n"
    "  .set v, 0\n"
    "  .rept 256\n"
    "  .balign 16\n"
    "  .if (v == 8) || (v >= 10 && v <= 14) || (v == 17) || (v == 21)\n"
    "  pushq $v\n"
    "  .else\n"
    "  pushq $0; pushq $v\n"
    "  .endif\n"
    "  jmp cpl3_trap_common\n"
    "  .set v, v + 1\n"
    "  .endr\n"
    /* User snippets (position-independent; copied to the user page). */
    ".globl cpl3_user_begin, cpl3_user_end, cpl3_user_syscall, cpl3_user_syscall_next, cpl3_user_int80\n"
    ".globl cpl3_user_sysenter, cpl3_user_ud2, cpl3_user_cli, cpl3_user_kread, cpl3_user_load\n"
    "cpl3_user_begin:\n"
    "cpl3_user_syscall:\n"
    "  mov $0x5a5a, %eax; mov $0x1111, %ecx; mov $0x2222, %r11d\n"
    "  syscall\n"
    "cpl3_user_syscall_next:\n"
    "  ud2\n"
    "cpl3_user_int80:\n"
    "  mov $0x1111, %ecx; mov $0x2222, %r11d; int $0x80\n"
    "  ud2\n"
    "cpl3_user_sysenter:\n"
    "  mov $0x1111, %ecx; mov $0x2222, %r11d; sysenter\n"
    "  ud2\n"
    "cpl3_user_ud2:\n"
    "  mov $0x1111, %ecx; mov $0x2222, %r11d; ud2\n"
    "cpl3_user_cli:\n"
    "  mov $0x1111, %ecx; mov $0x2222, %r11d; cli\n"
    "  ud2\n"
    "cpl3_user_load:\n"
    "  mov $0x2222, %r11d; mov (%rdi), %rcx; ud2\n"
    "cpl3_user_kread:\n"
    "  mov $0x1111, %ecx; mov $0x2222, %r11d; mov (%rdi), %rax\n"
    "  ud2\n"
    "cpl3_user_end:\n");

void cpl3_run(uint64_t rip, uint64_t rdi);
extern char cpl3_syscall_landing[], cpl3_stubs[];
extern char cpl3_user_begin[], cpl3_user_end[], cpl3_user_syscall[], cpl3_user_syscall_next[], cpl3_user_int80[];
extern char cpl3_user_sysenter[], cpl3_user_ud2[], cpl3_user_cli[], cpl3_user_kread[], cpl3_user_load[];
extern uint64_t pml4[];

static uint64_t user_address(const char *snippet) { return USER_PAGE + (uint64_t)(snippet - cpl3_user_begin); }

static void set_gate(uint32_t v, uint64_t addr, uint8_t attr)
{
    idt[v].off0 = (uint16_t)addr;
    idt[v].sel = SEL_KCODE;
    idt[v].ist = 0;
    idt[v].attr = attr;
    idt[v].off1 = (uint16_t)(addr >> 16);
    idt[v].off2 = (uint32_t)(addr >> 32);
    idt[v].zero = 0;
}

static void setup_tables(void)
{
    gdt[0] = 0;
    gdt[SEL_KCODE / 8] = 0x00af9a000000ffffUL;
    gdt[SEL_KDATA / 8] = 0x00cf92000000ffffUL;
    gdt[SEL_UCODE32 / 8] = 0x00cffa000000ffffUL;
    gdt[SEL_UDATA / 8] = 0x00cff2000000ffffUL;
    gdt[SEL_UCODE64 / 8] = 0x00affa000000ffffUL;
    uint64_t t = (uint64_t)&tss, limit = sizeof tss - 1;
    gdt[SEL_TSS / 8] = (limit & 0xffff) | ((t & 0xffffff) << 16) | (0x89UL << 40) | (((limit >> 16) & 0xf) << 48) |
                       (((t >> 24) & 0xff) << 56);
    gdt[SEL_TSS / 8 + 1] = t >> 32;
    memset(&tss, 0, sizeof tss);
    tss.rsp0 = (uint64_t)(kernel_stack + sizeof kernel_stack);
    tss.iomap_base = sizeof tss;

    for (uint32_t v = 0; v < IDT_VECTORS; v++)
        set_gate(v, (uint64_t)(cpl3_stubs + 16 * v), GATE_INTERRUPT);
    set_gate(VECTOR_INT80, (uint64_t)(cpl3_stubs + 16 * VECTOR_INT80), GATE_INTERRUPT | GATE_DPL3);

    struct table_desc g = {sizeof gdt - 1, (uint64_t)gdt}, i = {sizeof idt - 1, (uint64_t)idt};
    __asm__ volatile("lgdt %0\n\t"
                     "lidt %1\n\t"
                     "mov %2, %%ax\n\t"
                     "ltr %%ax\n\t"
                     : : "m"(g), "m"(i), "r"((uint16_t)SEL_TSS) : "rax", "memory");

    wrmsr(MSR_EFER, rdmsr(MSR_EFER) | EFER_SCE);
    wrmsr(MSR_STAR, ((uint64_t)(SEL_UCODE32 | RPL3) << 48) | ((uint64_t)SEL_KCODE << 32));
    wrmsr(MSR_LSTAR, (uint64_t)cpl3_syscall_landing);
    wrmsr(MSR_SFMASK, SFMASK_LINUX);
    wrmsr(MSR_SYSENTER_CS, SEL_KCODE);
    wrmsr(MSR_SYSENTER_ESP, (uint64_t)(kernel_stack + sizeof kernel_stack));
    wrmsr(MSR_SYSENTER_EIP, (uint64_t)cpl3_syscall_landing);
}

/* Makes the user page (and only it, below the kernel's own) reachable from CPL3. */
static void map_user_page(void)
{
    uint64_t *pdpt = (uint64_t *)(pml4[0] & ~0xfffUL);
    uint64_t *pd = (uint64_t *)(pdpt[0] & ~0xfffUL);
    pml4[0] |= PTE_U;
    pdpt[0] |= PTE_U;
    pd[USER_PAGE >> USER_PAGE_SHIFT] |= PTE_U;
    uint64_t cr3;
    __asm__ volatile("mov %%cr3, %0\n\tmov %0, %%cr3" : "=r"(cr3) : : "memory");
    memcpy((void *)USER_PAGE, cpl3_user_begin, (size_t)(cpl3_user_end - cpl3_user_begin));
}

/* TLB probe: a 4 KiB user mapping at TLB_VA whose PTE the kernel changes between user-mode loads. */
#define TLB_VA 0x800000UL /* PD index 4: replaced by a page table for the probe */
#define PTE_P 0x1
#define PTE_W 0x2
#define PAGE_MASK_4K (~0xfffUL)
static uint64_t tlb_pt[512] __attribute__((aligned(4096)));
static volatile uint64_t tlb_page_a[512] __attribute__((aligned(4096)));
static volatile uint64_t tlb_page_b[512] __attribute__((aligned(4096)));

static void invlpg(uint64_t va) { __asm__ volatile("invlpg (%0)" : : "r"(va) : "memory"); }
static void reload_cr3(void)
{
    uint64_t cr3;
    __asm__ volatile("mov %%cr3, %0\n\tmov %0, %%cr3" : "=r"(cr3) : : "memory");
}

/* One user-mode load of TLB_VA: the value it saw, or ~0 when it faulted. */
static uint64_t user_load(void)
{
    memset(&g_cpl3_record, 0, sizeof g_cpl3_record);
    cpl3_run(USER_PAGE + (uint64_t)(cpl3_user_load - cpl3_user_begin), TLB_VA);
    return g_cpl3_record.how == 6 ? g_cpl3_record.rcx : ~0UL;
}

/* Does the host honour the guest's INVLPG / CR3 reload for pages user mode has cached? */
static void probe_tlb(void)
{
    uint64_t *pdpt = (uint64_t *)(pml4[0] & PAGE_MASK_4K);
    uint64_t *pd = (uint64_t *)(pdpt[0] & PAGE_MASK_4K);
    tlb_page_a[0] = 0xaaaa;
    tlb_page_b[0] = 0xbbbb;
    memset(tlb_pt, 0, sizeof tlb_pt);
    tlb_pt[0] = (uint64_t)tlb_page_a | PTE_P | PTE_W | PTE_U;
    pd[TLB_VA >> USER_PAGE_SHIFT] = (uint64_t)tlb_pt | PTE_P | PTE_W | PTE_U;
    reload_cr3();

    uint64_t first = user_load();
    tlb_pt[0] = (uint64_t)tlb_page_b | PTE_P | PTE_W | PTE_U;
    invlpg(TLB_VA);
    uint64_t after_invlpg = user_load();
    tlb_pt[0] = (uint64_t)tlb_page_a | PTE_P | PTE_W | PTE_U;
    reload_cr3();
    uint64_t after_cr3 = user_load();
    tlb_pt[0] = 0;
    invlpg(TLB_VA);
    uint64_t after_unmap = user_load();
    printf("cpl3: tlb first=%lx after-invlpg=%lx after-cr3=%lx after-unmap=%lx\n", first, after_invlpg, after_cr3, after_unmap);
    printf("KINDLING-TLB first=%s invlpg=%s cr3=%s unmap=%s\n", first == 0xaaaa ? "ok" : "wrong",
           after_invlpg == 0xbbbb ? "ok" : after_invlpg == 0xaaaa ? "stale" : "wrong",
           after_cr3 == 0xaaaa ? "ok" : after_cr3 == 0xbbbb ? "stale" : "wrong",
           after_unmap == ~0UL ? "fault" : "stale");
}

static const char *describe(char *buf, size_t size)
{
    if (g_cpl3_record.how == HOW_LANDED)
        return "landed-cpl0";
    /* "vector-N" */
    const char prefix[] = "vector-";
    size_t n = 0;
    for (; prefix[n] && n < size - 4; n++)
        buf[n] = prefix[n];
    uint64_t v = g_cpl3_record.how;
    if (v >= 100)
        buf[n++] = (char)('0' + v / 100);
    if (v >= 10)
        buf[n++] = (char)('0' + v / 10 % 10);
    buf[n++] = (char)('0' + v % 10);
    buf[n] = 0;
    return buf;
}

static const char *probe(const char *name, const char *snippet, uint64_t rdi, char *how, size_t how_size)
{
    memset(&g_cpl3_record, 0, sizeof g_cpl3_record);
    cpl3_run(user_address(snippet), rdi);
    const char *d = describe(how, how_size);
    printf("cpl3: %s -> %s cs=%lx rip=%lx err=%lx rcx=%lx r11=%lx rflags=%lx cr2=%lx\n", name, d, g_cpl3_record.cs,
           g_cpl3_record.rip, g_cpl3_record.err, g_cpl3_record.rcx, g_cpl3_record.r11, g_cpl3_record.rflags,
           g_cpl3_record.cr2);
    return d;
}

void scenario_cpl3(void)
{
    if ((uint64_t)_end > USER_PAGE)
        fail("the image ends at %p, above the user page %lx", _end, USER_PAGE);
    setup_tables();
    map_user_page();

    char h_sys[16], h_int[16], h_sysenter[16], h_ud[16], h_cli[16], h_kread[16];
    const char *sys = probe("syscall", cpl3_user_syscall, 0, h_sys, sizeof h_sys);
    uint64_t sys_rcx = g_cpl3_record.rcx, sys_r11 = g_cpl3_record.r11;
    const char *int80 = probe("int80", cpl3_user_int80, 0, h_int, sizeof h_int);
    const char *sysenter = probe("sysenter", cpl3_user_sysenter, 0, h_sysenter, sizeof h_sysenter);
    const char *ud = probe("ud2", cpl3_user_ud2, 0, h_ud, sizeof h_ud);
    const char *cl = probe("cli", cpl3_user_cli, 0, h_cli, sizeof h_cli);
    const char *kread = probe("kread", cpl3_user_kread, (uint64_t)&tss, h_kread, sizeof h_kread);
    probe_tlb();

    printf("KINDLING-CPL3 syscall=%s syscall_rcx=%s syscall_r11=%s int80=%s sysenter=%s ud2=%s cli=%s kread=%s\n", sys,
           sys_rcx == user_address(cpl3_user_syscall_next) ? "next" : "other",
           (sys_r11 & ~0x10000UL) == (RFLAGS_IF | RFLAGS_RESERVED1) ? "rflags" : "other", int80, sysenter, ud, cl, kread);
}
