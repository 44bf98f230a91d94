/* hello, cmdline, loop and idle. */
#include "rt.h"

#define LOOP_DEFAULT_COUNT 100000

void scenario_hello(void)
{
    printf("Hello from the Kindling test guest (%s entry)\n", g_boot_kind == BOOT_PVH ? "PVH" : "64-bit Linux");
}

/* The command line exactly as received, between markers on one line. */
void scenario_cmdline(void)
{
    puts_serial("KINDLING-CMDLINE<<<");
    puts_serial(g_cmdline);
    puts_serial(">>>\r\n");
}

/* The KVM probe: a fixed dec/jnz loop the host times between the two markers. */
void scenario_loop(void)
{
    uint64_t count = LOOP_DEFAULT_COUNT;
    cmdline_get_u64("kindling.loops", &count);
    printf("KINDLING-LOOP-START %lu\n", count);
    if (count) {
        uint64_t n = count;
        __asm__ volatile("1: dec %0\n\tjnz 1b" : "+r"(n) : : "cc");
    }
    printf("KINDLING-LOOP-END %lu\n", count);
}

/* The memory benchmark's guest: one line, then halted with interrupts off until the host stops the VM, so the
 * VMM stays alive without using a host CPU. Never prints PASS and never resets. */
void scenario_idle(void)
{
    printf("KINDLING-IDLE halted until the host stops the VM\n");
    for (;;)
        __asm__ volatile("cli\n\thlt" ::: "memory");
}
