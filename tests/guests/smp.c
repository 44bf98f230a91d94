/* smp: the BSP starts every AP with INIT-SIPI-SIPI through its local APIC; each AP reaches long mode through the
 * real-mode trampoline and checks in with its APIC ID. The expected count is `kindling.cpus=N`, else the number
 * of enabled processors in the MP table. */
#include "rt.h"

#define TRAMPOLINE_PAGE 0x8
#define TRAMPOLINE_ADDR (TRAMPOLINE_PAGE << 12)
#define LAPIC_ICR_LOW 0x300
#define LAPIC_ICR_HIGH 0x310
#define ICR_DELIVERY_PENDING (1u << 12)
#define ICR_LEVEL_ASSERT (1u << 14)
#define ICR_DELIVERY_INIT (5u << 8)
#define ICR_DELIVERY_STARTUP (6u << 8)
#define ICR_DEST_ALL_BUT_SELF (3u << 18)
#define INIT_TO_SIPI_CYCLES 10000000UL
#define CHECKIN_TIMEOUT_SECONDS 3
#define SETTLE_MIN_CYCLES 100000000UL

/* MP specification 1.4: floating pointer "_MP_", configuration table "PCMP". */
#define MPF_SIGNATURE 0x5F504D5F
#define MPC_SIGNATURE 0x504D4350
#define MPF_PHYSPTR 4
#define MPC_LENGTH 4
#define MPC_HEADER_SIZE 0x2C
#define MP_ENTRY_PROCESSOR 0
#define MP_PROCESSOR_ENTRY_SIZE 20
#define MP_OTHER_ENTRY_SIZE 8
#define MP_PROCESSOR_FLAGS 3
#define MP_PROCESSOR_ENABLED 1

extern char tramp_start[], tramp_end[];
static volatile uint32_t ap_checked_in;
static volatile uint32_t ap_apic_ids[MAX_CPUS];

void ap_main(uint32_t index)
{
    ap_apic_ids[index] = lapic_id();
    __asm__ volatile("lock incl %0" : "+m"(ap_checked_in) : : "memory");
}

static uint64_t find_mp_floating_pointer(uint64_t start, uint64_t end)
{
    for (uint64_t p = start; p + 16 <= end; p += 16)
        if (*(volatile uint32_t *)p == MPF_SIGNATURE)
            return p;
    return 0;
}

/* Walks the base table by its length, as Linux's smp_read_mpc() does (a table whose "entry count" is 0, as
 * Firecracker writes, is still read), after checking its checksum; 0 when there is no valid table. The floating
 * pointer is searched where the MP spec (and Linux's smp_scan_config) look: the last KiB of base memory, then the
 * BIOS ROM area. */
static uint32_t count_mp_processors(void)
{
    uint64_t mpf = find_mp_floating_pointer(0x9FC00, 0xA0000);
    if (!mpf)
        mpf = find_mp_floating_pointer(0xF0000, 0x100000);
    if (!mpf)
        return 0;
    uint64_t mpc = *(volatile uint32_t *)(mpf + MPF_PHYSPTR);
    if (!mpc || *(volatile uint32_t *)mpc != MPC_SIGNATURE)
        return 0;
    uint32_t length = *(volatile uint16_t *)(mpc + MPC_LENGTH), cpus = 0;
    if (length < MPC_HEADER_SIZE)
        return 0;
    uint8_t sum = 0;
    for (uint32_t i = 0; i < length; i++)
        sum += *(volatile uint8_t *)(mpc + i);
    if (sum != 0)
        return 0;
    for (uint32_t off = MPC_HEADER_SIZE; off < length;) {
        const volatile uint8_t *e = (const volatile uint8_t *)(mpc + off);
        if (e[0] == MP_ENTRY_PROCESSOR) {
            if (e[MP_PROCESSOR_FLAGS] & MP_PROCESSOR_ENABLED)
                cpus++;
            off += MP_PROCESSOR_ENTRY_SIZE;
        } else {
            off += MP_OTHER_ENTRY_SIZE;
        }
    }
    return cpus;
}

static void send_ipi(uint32_t icr_low)
{
    lapic_write(LAPIC_ICR_HIGH, 0);
    lapic_write(LAPIC_ICR_LOW, icr_low);
    uint64_t deadline = deadline_after_seconds(1);
    while ((lapic_read(LAPIC_ICR_LOW) & ICR_DELIVERY_PENDING) && !past(deadline))
        cpu_relax();
}

void scenario_smp(void)
{
    uint64_t expected;
    const char *source = "kindling.cpus";
    if (!cmdline_get_u64("kindling.cpus", &expected)) {
        expected = count_mp_processors();
        source = "MP table";
    }
    if (expected == 0 || expected > MAX_CPUS)
        fail("expected vCPU count %lu (from %s) is not in 1..%d; pass kindling.cpus=N or provide an MP table", expected, source, MAX_CPUS);
    lapic_enable();
    uint32_t bsp = lapic_id();
    printf("smp: BSP APIC ID %u, expecting %lu vCPUs (from %s)\n", bsp, expected, source);

    if (expected > 1) {
        memcpy((void *)TRAMPOLINE_ADDR, tramp_start, (size_t)(tramp_end - tramp_start));
        mb();
        send_ipi(ICR_DEST_ALL_BUT_SELF | ICR_LEVEL_ASSERT | ICR_DELIVERY_INIT);
        uint64_t until = rdtsc() + INIT_TO_SIPI_CYCLES;
        while (!past(until))
            cpu_relax();
        send_ipi(ICR_DEST_ALL_BUT_SELF | ICR_DELIVERY_STARTUP | TRAMPOLINE_PAGE);
        send_ipi(ICR_DEST_ALL_BUT_SELF | ICR_DELIVERY_STARTUP | TRAMPOLINE_PAGE);
    }

    uint64_t started = rdtsc(), deadline = deadline_after_seconds(CHECKIN_TIMEOUT_SECONDS);
    while (ap_checked_in < expected - 1 && !past(deadline))
        cpu_relax();
    /* Give a vCPU beyond the expected count as long again to show up (more vCPUs than expected is also a failure);
     * this is best effort: a host that schedules that vCPU later still passes. */
    uint64_t took = rdtsc() - started;
    uint64_t settle = rdtsc() + (2 * took > SETTLE_MIN_CYCLES ? 2 * took : SETTLE_MIN_CYCLES);
    while (!past(settle))
        cpu_relax();

    uint32_t seen = ap_checked_in + 1;
    printf("smp: %u of %lu vCPUs checked in; APIC IDs: %u (BSP)", seen, expected, bsp);
    for (uint32_t i = 0; i + 1 < seen && i < MAX_CPUS; i++)
        printf(" %u", ap_apic_ids[i]);
    printf("\n");
    if (seen != expected)
        fail("%u of %lu vCPUs checked in", seen, expected);
    for (uint32_t i = 0; i + 1 < seen; i++) {
        if (ap_apic_ids[i] == bsp)
            fail("AP %u reported the BSP's APIC ID %u", i, bsp);
        for (uint32_t j = 0; j < i; j++)
            if (ap_apic_ids[i] == ap_apic_ids[j])
                fail("two APs reported APIC ID %u", ap_apic_ids[i]);
    }
}
