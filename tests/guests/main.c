/* Boot glue: both entries copy the command line, then the scenario named by `kindling.test=` runs. */
#include "rt.h"

/* boot_params (the zero page), as in arch/x86/include/uapi/asm/bootparam.h. */
#define BOOT_PARAMS_EXT_CMD_LINE_PTR 0x0C8
#define BOOT_PARAMS_CMD_LINE_PTR 0x228
/* struct hvm_start_info (xen/include/public/arch-x86/hvm/start_info.h). */
#define HVM_START_MAGIC 0x336ec578
#define HVM_START_INFO_MAGIC 0
#define HVM_START_INFO_CMDLINE_PADDR 24
#define BOOT_PARAMS_SIZE 4096
/* On QEMU, `kindling.entry=linux64` makes the PVH entry re-enter through linux_entry64 with a boot_params of its own,
 * so the entry Kindling uses is exercised on QEMU too. */
#define ENTRY_VIA_LINUX64 "linux64"

struct scenario {
    const char *name;
    void (*run)(void);
};

static const struct scenario scenarios[] = {
    {"hello", scenario_hello}, {"cmdline", scenario_cmdline}, {"loop", scenario_loop},
    {"smp", scenario_smp},     {"timer", scenario_timer},     {"blk", scenario_blk},
    {"rng", scenario_rng},     {"net", scenario_net},         {"vsock", scenario_vsock},
    {"cpl3", scenario_cpl3},
    {"mmds", scenario_mmds},
    {"idle", scenario_idle},
    {"uart-flood", scenario_uart_flood},
    {"counter", scenario_counter},
};

static void copy_cmdline(uint64_t paddr)
{
    const char *src = (const char *)paddr;
    size_t n = 0;
    if (paddr)
        for (; n + 1 < CMDLINE_MAX && src[n]; n++)
            g_cmdline[n] = src[n];
    g_cmdline[n] = 0;
}

static void run_scenario(void) __attribute__((noreturn));
static void run_scenario(void)
{
    serial_init();
    idt_init();
    static char name[32];
    if (!cmdline_get("kindling.test", name, sizeof name))
        fail("no kindling.test=<scenario> on the command line: '%s'", g_cmdline);
    for (size_t i = 0; i < sizeof scenarios / sizeof scenarios[0]; i++) {
        if (strncmp(scenarios[i].name, name, sizeof name) == 0) {
            g_test_name = scenarios[i].name;
            scenarios[i].run();
            pass();
        }
    }
    g_test_name = name;
    fail("unknown scenario '%s'", name);
}

void linux_main(const uint8_t *boot_params)
{
    g_boot_kind = BOOT_LINUX64;
    uint64_t ptr = *(const uint32_t *)(boot_params + BOOT_PARAMS_CMD_LINE_PTR) |
                   (uint64_t)*(const uint32_t *)(boot_params + BOOT_PARAMS_EXT_CMD_LINE_PTR) << 32;
    copy_cmdline(ptr);
    run_scenario();
}

extern char linux_entry64[];

/* Builds a zero page whose cmd_line_ptr points at a copy of the command line and jumps to the 64-bit entry. */
static void reenter_through_linux_entry(void) __attribute__((noreturn));
static void reenter_through_linux_entry(void)
{
    static uint8_t boot_params[BOOT_PARAMS_SIZE] __attribute__((aligned(4096)));
    static char cmdline[CMDLINE_MAX];
    memset(boot_params, 0, sizeof boot_params);
    memcpy(cmdline, g_cmdline, CMDLINE_MAX);
    *(uint32_t *)(boot_params + BOOT_PARAMS_CMD_LINE_PTR) = (uint32_t)(uint64_t)cmdline;
    *(uint32_t *)(boot_params + BOOT_PARAMS_EXT_CMD_LINE_PTR) = (uint32_t)((uint64_t)cmdline >> 32);
    __asm__ volatile("mov %0, %%rsi\n\tjmp *%1" : : "r"(boot_params), "r"(linux_entry64) : "rsi", "memory");
    __builtin_unreachable();
}

void pvh_main(const uint8_t *start_info)
{
    g_boot_kind = BOOT_PVH;
    if (*(const uint32_t *)(start_info + HVM_START_INFO_MAGIC) != HVM_START_MAGIC) {
        serial_init();
        fail("hvm_start_info at %p has magic %x, not %x", start_info,
             *(const uint32_t *)(start_info + HVM_START_INFO_MAGIC), HVM_START_MAGIC);
    }
    copy_cmdline(*(const uint64_t *)(start_info + HVM_START_INFO_CMDLINE_PADDR));
    static char entry[16];
    if (cmdline_get("kindling.entry", entry, sizeof entry) && strncmp(entry, ENTRY_VIA_LINUX64, sizeof entry) == 0)
        reenter_through_linux_entry();
    run_scenario();
}
