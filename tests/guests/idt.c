/* The IDT: vectors 0..63 point at entry.S's stubs; exceptions end the test with FAIL, others call a handler. */
#include "rt.h"

#define IDT_VECTORS 64
#define EXCEPTION_VECTORS 32
#define ISR_STUB_SIZE 16
#define SEL_CODE64 0x08
#define IDT_TYPE_INTERRUPT_GATE_PRESENT 0x8E

struct idt_entry {
    uint16_t offset_low;
    uint16_t selector;
    uint8_t ist;
    uint8_t type_attr;
    uint16_t offset_mid;
    uint32_t offset_high;
    uint32_t reserved;
} __attribute__((packed));

struct idt_desc {
    uint16_t limit;
    uint64_t base;
} __attribute__((packed));

/* What isr_common pushed, lowest address first. */
struct isr_frame {
    uint64_t r11, r10, r9, r8, rdi, rsi, rdx, rcx, rax;
    uint64_t vector, error_code;
    uint64_t rip, cs, rflags, rsp, ss;
};

extern char isr_stubs[];
static struct idt_entry idt[IDT_VECTORS] __attribute__((aligned(16)));
static irq_handler_t handlers[IDT_VECTORS];

void idt_init(void)
{
    for (uint32_t v = 0; v < IDT_VECTORS; v++) {
        uint64_t addr = (uint64_t)(isr_stubs + v * ISR_STUB_SIZE);
        idt[v].offset_low = (uint16_t)addr;
        idt[v].selector = SEL_CODE64;
        idt[v].ist = 0;
        idt[v].type_attr = IDT_TYPE_INTERRUPT_GATE_PRESENT;
        idt[v].offset_mid = (uint16_t)(addr >> 16);
        idt[v].offset_high = (uint32_t)(addr >> 32);
        idt[v].reserved = 0;
    }
    struct idt_desc desc = {sizeof idt - 1, (uint64_t)idt};
    __asm__ volatile("lidt %0" : : "m"(desc));
}

void idt_set_handler(uint32_t vector, irq_handler_t handler) { handlers[vector] = handler; }

void isr_dispatch(struct isr_frame *f)
{
    if (f->vector < EXCEPTION_VECTORS) {
        uint64_t cr2;
        __asm__ volatile("mov %%cr2, %0" : "=r"(cr2));
        fail("CPU exception %lu (error code %lx) at rip %lx, cr2 %lx", f->vector, f->error_code, f->rip, cr2);
    }
    if (handlers[f->vector])
        handlers[f->vector]((uint32_t)f->vector);
    lapic_eoi();
}
