/* The Kindling test guest's freestanding runtime: port I/O, MMIO, serial, printf-lite, command line, finish(). */
#ifndef KINDLING_GUEST_RT_H
#define KINDLING_GUEST_RT_H

typedef unsigned char uint8_t;
typedef unsigned short uint16_t;
typedef unsigned int uint32_t;
typedef unsigned long uint64_t;
typedef long int64_t;
typedef int int32_t;
typedef unsigned long size_t;
typedef unsigned long uintptr_t;
typedef _Bool bool;
#define true 1
#define false 0
#define NULL ((void *)0)

#define MAX_CPUS 32
#define CMDLINE_MAX 2048

static inline void outb(uint16_t port, uint8_t v) { __asm__ volatile("outb %0, %1" : : "a"(v), "Nd"(port)); }
static inline uint8_t inb(uint16_t port)
{
    uint8_t v;
    __asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port));
    return v;
}
static inline void outl(uint16_t port, uint32_t v) { __asm__ volatile("outl %0, %1" : : "a"(v), "Nd"(port)); }

static inline uint32_t mmio_read32(uint64_t addr) { return *(volatile uint32_t *)addr; }
static inline void mmio_write32(uint64_t addr, uint32_t v) { *(volatile uint32_t *)addr = v; }
static inline uint8_t mmio_read8(uint64_t addr) { return *(volatile uint8_t *)addr; }

static inline void barrier(void) { __asm__ volatile("" ::: "memory"); }
/* A full fence without SSE2's MFENCE (which an instruction emulator may lack): a locked no-op on the stack. */
static inline void mb(void) { __asm__ volatile("lock addl $0, (%%rsp)" ::: "memory", "cc"); }
static inline void cpu_relax(void) { __asm__ volatile("pause" ::: "memory"); }

static inline uint64_t rdtsc(void)
{
    uint32_t lo, hi;
    __asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
    return ((uint64_t)hi << 32) | lo;
}
static inline uint64_t rdmsr(uint32_t msr)
{
    uint32_t lo, hi;
    __asm__ volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(msr));
    return ((uint64_t)hi << 32) | lo;
}
static inline void wrmsr(uint32_t msr, uint64_t v)
{
    __asm__ volatile("wrmsr" : : "c"(msr), "a"((uint32_t)v), "d"((uint32_t)(v >> 32)));
}

/* A deadline in TSC cycles. The guest does not know the TSC rate; 3e9 cycles per "second" errs on the long side
 * for any host of the last decade. Waits end early as soon as their condition holds. */
#define TSC_PER_SECOND 3000000000UL
static inline uint64_t deadline_after_seconds(uint64_t s) { return rdtsc() + s * TSC_PER_SECOND; }
static inline bool past(uint64_t deadline) { return (int64_t)(rdtsc() - deadline) > 0; }

/* string.h-alikes (also what gcc may call for struct copies). */
void *memset(void *d, int c, size_t n);
void *memcpy(void *d, const void *s, size_t n);
int memcmp(const void *a, const void *b, size_t n);
size_t strlen(const char *s);
int strncmp(const char *a, const char *b, size_t n);
bool starts_with(const char *s, const char *prefix);

/* Serial (8250 at 0x3f8) and formatted output: %s %c %d %u %x %lx %lu %ld %p, with width and 0-padding. */
void serial_init(void);
void putc_serial(char c);
void puts_serial(const char *s);
void printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* The command line, copied out of boot_params/hvm_start_info before anything can overwrite it. */
extern char g_cmdline[CMDLINE_MAX];
/* Copies the value of the first `key=value` word into out (NUL-terminated); false when absent. */
bool cmdline_get(const char *key, char *out, size_t out_size);
uint64_t parse_u64(const char *s, const char **end);
bool cmdline_get_u64(const char *key, uint64_t *value);

/* Prints `KINDLING-TEST <name> PASS` and ends the VM (i8042 reset, then isa-debug-exit, then cli/hlt). */
void pass(void) __attribute__((noreturn));
/* Prints `KINDLING-TEST <name> FAIL <why>` and ends the VM. */
void fail(const char *fmt, ...) __attribute__((noreturn, format(printf, 1, 2)));
extern const char *g_test_name;

/* How this guest was entered. */
enum boot_kind { BOOT_LINUX64, BOOT_PVH };
extern enum boot_kind g_boot_kind;

/* Interrupts (idt.c). */
typedef void (*irq_handler_t)(uint32_t vector);
void idt_init(void);
void idt_set_handler(uint32_t vector, irq_handler_t handler);
static inline void sti(void) { __asm__ volatile("sti" ::: "memory"); }
static inline void cli(void) { __asm__ volatile("cli" ::: "memory"); }

/* Local APIC / IOAPIC / 8259 (apic.c). */
#define LAPIC_DEFAULT_BASE 0xFEE00000UL
#define IOAPIC_BASE 0xFEC00000UL
void lapic_enable(void);
uint32_t lapic_read(uint32_t reg);
void lapic_write(uint32_t reg, uint32_t value);
uint32_t lapic_id(void);
void lapic_eoi(void);
void pic_disable(void);
void ioapic_route(uint32_t pin, uint32_t vector, uint32_t dest_apic_id);
void ioapic_mask(uint32_t pin);

/* Scenarios. */
void scenario_hello(void);
void scenario_cmdline(void);
void scenario_loop(void);
void scenario_smp(void);
void scenario_timer(void);
void scenario_blk(void);
void scenario_rng(void);
void scenario_net(void);
void scenario_vsock(void);
void scenario_cpl3(void);
void scenario_mmds(void);
void scenario_idle(void) __attribute__((noreturn));
void scenario_uart_flood(void);
void scenario_counter(void);

#endif
