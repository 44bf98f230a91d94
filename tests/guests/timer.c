/* timer: a LAPIC timer interrupt, then a PIT channel 0 interrupt through the IOAPIC, each within a bounded wait.
 * The PIT's ISA IRQ 0 reaches IOAPIC pin 0 on KVM's default routing and pin 2 on QEMU's (the PC's override),
 * so both pins carry the PIT vector. */
#include "rt.h"

#define VECTOR_LAPIC_TIMER 0x30
#define VECTOR_PIT 0x31
#define LAPIC_LVT_TIMER 0x320
#define LAPIC_TIMER_INITIAL_COUNT 0x380
#define LAPIC_TIMER_DIVIDE 0x3E0
#define LAPIC_TIMER_DIVIDE_BY_1 0xB
#define LAPIC_TIMER_COUNT 100000

#define PIT_CHANNEL0 0x40
#define PIT_COMMAND 0x43
#define PIT_CMD_CH0_LOHI_MODE0 0x30
#define PIT_COUNT 1193 /* ~1 ms at 1.193182 MHz */
#define IOAPIC_PIN_ISA_IRQ0_IDENTITY 0
#define IOAPIC_PIN_ISA_IRQ0_OVERRIDE 2
#define WAIT_SECONDS 10

static volatile uint32_t lapic_ticks, pit_ticks;

static void on_lapic_timer(uint32_t vector) { (void)vector; lapic_ticks++; }
static void on_pit(uint32_t vector) { (void)vector; pit_ticks++; }

static bool wait_for(volatile uint32_t *counter)
{
    uint64_t deadline = deadline_after_seconds(WAIT_SECONDS);
    while (!*counter && !past(deadline))
        cpu_relax();
    return *counter != 0;
}

void scenario_timer(void)
{
    pic_disable();
    lapic_enable();
    idt_set_handler(VECTOR_LAPIC_TIMER, on_lapic_timer);
    idt_set_handler(VECTOR_PIT, on_pit);
    sti();

    lapic_write(LAPIC_TIMER_DIVIDE, LAPIC_TIMER_DIVIDE_BY_1);
    lapic_write(LAPIC_LVT_TIMER, VECTOR_LAPIC_TIMER); /* one-shot, unmasked */
    lapic_write(LAPIC_TIMER_INITIAL_COUNT, LAPIC_TIMER_COUNT);
    if (!wait_for(&lapic_ticks))
        fail("no LAPIC timer interrupt (vector %x) within the wait", VECTOR_LAPIC_TIMER);
    printf("timer: LAPIC timer interrupt arrived\n");

    uint32_t bsp = lapic_id();
    ioapic_route(IOAPIC_PIN_ISA_IRQ0_IDENTITY, VECTOR_PIT, bsp);
    ioapic_route(IOAPIC_PIN_ISA_IRQ0_OVERRIDE, VECTOR_PIT, bsp);
    outb(PIT_COMMAND, PIT_CMD_CH0_LOHI_MODE0);
    outb(PIT_CHANNEL0, PIT_COUNT & 0xFF);
    outb(PIT_CHANNEL0, PIT_COUNT >> 8);
    if (!wait_for(&pit_ticks))
        fail("no PIT interrupt through IOAPIC pin 0 or 2 (vector %x) within the wait", VECTOR_PIT);
    cli();
    ioapic_mask(IOAPIC_PIN_ISA_IRQ0_IDENTITY);
    ioapic_mask(IOAPIC_PIN_ISA_IRQ0_OVERRIDE);
    printf("timer: PIT interrupt arrived through the IOAPIC\n");
}
