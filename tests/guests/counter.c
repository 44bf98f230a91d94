/* counter: prints KINDLING-COUNT 1..N, one line per step of busy work, so a host that pauses, snapshots and
 * restores the VM mid-run sees the count continue where it stopped (and no line twice). */
#include "rt.h"

#define COUNTER_DEFAULT_STEPS 50
#define COUNTER_DEFAULT_SPIN 2000000

void scenario_counter(void)
{
    uint64_t steps = COUNTER_DEFAULT_STEPS, spin = COUNTER_DEFAULT_SPIN;
    cmdline_get_u64("kindling.counts", &steps);
    cmdline_get_u64("kindling.spin", &spin);
    for (uint64_t i = 1; i <= steps; i++) {
        uint64_t n = spin;
        if (n)
            __asm__ volatile("1: dec %0\n\tjnz 1b" : "+r"(n) : : "cc");
        printf("KINDLING-COUNT %lu\n", i);
    }
}
