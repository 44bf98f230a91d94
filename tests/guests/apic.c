/* Local APIC (xAPIC MMIO), IOAPIC redirection and the legacy 8259 pair, as far as the scenarios need them. */
#include "rt.h"

#define MSR_IA32_APIC_BASE 0x1B
#define APIC_BASE_ENABLE (1UL << 11)
#define APIC_BASE_ADDR_MASK 0xFFFFF000UL
#define LAPIC_ID 0x020
#define LAPIC_EOI 0x0B0
#define LAPIC_SVR 0x0F0
#define LAPIC_SVR_ENABLE 0x100
#define LAPIC_SPURIOUS_VECTOR 0x3F
#define LAPIC_LVT_LINT0 0x350
#define LAPIC_LVT_MASKED 0x10000

#define IOAPIC_REGSEL 0x00
#define IOAPIC_WINDOW 0x10
#define IOAPIC_REDTBL(pin) (0x10 + 2 * (pin))
#define IOAPIC_REDIR_MASKED 0x10000

#define PIC1_COMMAND 0x20
#define PIC1_DATA 0x21
#define PIC2_COMMAND 0xA0
#define PIC2_DATA 0xA1
#define PIC_ICW1_INIT_ICW4 0x11
#define PIC_ICW4_8086 0x01
#define PIC1_VECTOR_BASE 0x20
#define PIC2_VECTOR_BASE 0x28
#define PIC_ALL_MASKED 0xFF

static uint64_t lapic_base = LAPIC_DEFAULT_BASE;

uint32_t lapic_read(uint32_t reg) { return mmio_read32(lapic_base + reg); }
void lapic_write(uint32_t reg, uint32_t value) { mmio_write32(lapic_base + reg, value); }
uint32_t lapic_id(void) { return lapic_read(LAPIC_ID) >> 24; }
void lapic_eoi(void) { lapic_write(LAPIC_EOI, 0); }

void lapic_enable(void)
{
    uint64_t base = rdmsr(MSR_IA32_APIC_BASE);
    lapic_base = base & APIC_BASE_ADDR_MASK;
    if (!(base & APIC_BASE_ENABLE))
        wrmsr(MSR_IA32_APIC_BASE, base | APIC_BASE_ENABLE);
    lapic_write(LAPIC_SVR, LAPIC_SVR_ENABLE | LAPIC_SPURIOUS_VECTOR);
    /* A VMM may wire LINT0 to the 8259 (ExtINT); the scenarios take interrupts through the IOAPIC only. */
    lapic_write(LAPIC_LVT_LINT0, LAPIC_LVT_MASKED);
}

/* Initialise the 8259s (vectors 0x20/0x28, away from the exceptions) and mask every line. */
void pic_disable(void)
{
    outb(PIC1_COMMAND, PIC_ICW1_INIT_ICW4);
    outb(PIC2_COMMAND, PIC_ICW1_INIT_ICW4);
    outb(PIC1_DATA, PIC1_VECTOR_BASE);
    outb(PIC2_DATA, PIC2_VECTOR_BASE);
    outb(PIC1_DATA, 4);
    outb(PIC2_DATA, 2);
    outb(PIC1_DATA, PIC_ICW4_8086);
    outb(PIC2_DATA, PIC_ICW4_8086);
    outb(PIC1_DATA, PIC_ALL_MASKED);
    outb(PIC2_DATA, PIC_ALL_MASKED);
}

static void ioapic_write(uint32_t reg, uint32_t value)
{
    mmio_write32(IOAPIC_BASE + IOAPIC_REGSEL, reg);
    mmio_write32(IOAPIC_BASE + IOAPIC_WINDOW, value);
}

/* Edge-triggered, active-high, fixed delivery, physical destination. */
void ioapic_route(uint32_t pin, uint32_t vector, uint32_t dest_apic_id)
{
    ioapic_write(IOAPIC_REDTBL(pin) + 1, dest_apic_id << 24);
    ioapic_write(IOAPIC_REDTBL(pin), vector);
}

void ioapic_mask(uint32_t pin) { ioapic_write(IOAPIC_REDTBL(pin), IOAPIC_REDIR_MASKED); }
