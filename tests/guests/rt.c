/* The freestanding runtime: strings, serial, printf-lite, command line and finish(). */
#include "rt.h"

#define COM1 0x3F8
#define UART_THR 0
#define UART_IER 1
#define UART_FCR 2
#define UART_LCR 3
#define UART_MCR 4
#define UART_LSR 5
#define UART_LCR_8N1 0x03
#define UART_MCR_DTR_RTS_OUT2 0x0B
#define UART_LSR_THRE 0x20
#define UART_POLL_LIMIT 100000

#define I8042_COMMAND 0x64
#define I8042_CMD_RESET 0xFE
#define ISA_DEBUG_EXIT_PORT 0xF4

char g_cmdline[CMDLINE_MAX];
const char *g_test_name = "unknown";
enum boot_kind g_boot_kind;

void *memset(void *d, int c, size_t n)
{
    uint8_t *p = d;
    while (n--)
        *p++ = (uint8_t)c;
    return d;
}

void *memcpy(void *d, const void *s, size_t n)
{
    uint8_t *p = d;
    const uint8_t *q = s;
    while (n--)
        *p++ = *q++;
    return d;
}

int memcmp(const void *a, const void *b, size_t n)
{
    const uint8_t *p = a, *q = b;
    for (; n; n--, p++, q++)
        if (*p != *q)
            return *p < *q ? -1 : 1;
    return 0;
}

size_t strlen(const char *s)
{
    size_t n = 0;
    while (s[n])
        n++;
    return n;
}

int strncmp(const char *a, const char *b, size_t n)
{
    for (; n; n--, a++, b++) {
        if (*a != *b)
            return (uint8_t)*a < (uint8_t)*b ? -1 : 1;
        if (!*a)
            return 0;
    }
    return 0;
}

bool starts_with(const char *s, const char *prefix) { return strncmp(s, prefix, strlen(prefix)) == 0; }

void serial_init(void)
{
    outb(COM1 + UART_IER, 0);
    outb(COM1 + UART_LCR, UART_LCR_8N1);
    outb(COM1 + UART_FCR, 0);
    outb(COM1 + UART_MCR, UART_MCR_DTR_RTS_OUT2);
}

void putc_serial(char c)
{
    for (int i = 0; i < UART_POLL_LIMIT && !(inb(COM1 + UART_LSR) & UART_LSR_THRE); i++)
        cpu_relax();
    outb(COM1 + UART_THR, (uint8_t)c);
}

void puts_serial(const char *s)
{
    while (*s)
        putc_serial(*s++);
}

static void put_unsigned(uint64_t v, unsigned base, int width, char pad)
{
    char buf[24];
    int n = 0;
    do {
        unsigned d = (unsigned)(v % base);
        buf[n++] = (char)(d < 10 ? '0' + d : 'a' + d - 10);
        v /= base;
    } while (v);
    while (n < width && n < (int)sizeof buf)
        buf[n++] = pad;
    while (n)
        putc_serial(buf[--n]);
}

static void vprintf_serial(const char *fmt, __builtin_va_list ap)
{
    for (; *fmt; fmt++) {
        if (*fmt != '%') {
            if (*fmt == '\n')
                putc_serial('\r');
            putc_serial(*fmt);
            continue;
        }
        fmt++;
        char pad = ' ';
        int width = 0, longs = 0;
        if (*fmt == '0') {
            pad = '0';
            fmt++;
        }
        while (*fmt >= '0' && *fmt <= '9')
            width = width * 10 + (*fmt++ - '0');
        while (*fmt == 'l') {
            longs++;
            fmt++;
        }
        switch (*fmt) {
        case 's': {
            const char *s = __builtin_va_arg(ap, const char *);
            puts_serial(s ? s : "(null)");
            break;
        }
        case 'c':
            putc_serial((char)__builtin_va_arg(ap, int));
            break;
        case 'd': {
            int64_t v = longs ? __builtin_va_arg(ap, int64_t) : __builtin_va_arg(ap, int);
            if (v < 0) {
                putc_serial('-');
                v = -v;
            }
            put_unsigned((uint64_t)v, 10, width, pad);
            break;
        }
        case 'u':
            put_unsigned(longs ? __builtin_va_arg(ap, uint64_t) : __builtin_va_arg(ap, uint32_t), 10, width, pad);
            break;
        case 'x':
            put_unsigned(longs ? __builtin_va_arg(ap, uint64_t) : __builtin_va_arg(ap, uint32_t), 16, width, pad);
            break;
        case 'p':
            puts_serial("0x");
            put_unsigned((uint64_t)__builtin_va_arg(ap, void *), 16, width, pad);
            break;
        case '%':
            putc_serial('%');
            break;
        default:
            putc_serial('%');
            putc_serial(*fmt);
            break;
        }
    }
}

void printf(const char *fmt, ...)
{
    __builtin_va_list ap;
    __builtin_va_start(ap, fmt);
    vprintf_serial(fmt, ap);
    __builtin_va_end(ap);
}

static const char *find_word(const char *key)
{
    size_t klen = strlen(key);
    const char *p = g_cmdline;
    while (*p) {
        while (*p == ' ')
            p++;
        if (strncmp(p, key, klen) == 0 && p[klen] == '=')
            return p + klen + 1;
        while (*p && *p != ' ')
            p++;
    }
    return NULL;
}

bool cmdline_get(const char *key, char *out, size_t out_size)
{
    const char *v = find_word(key);
    if (!v)
        return false;
    size_t n = 0;
    while (v[n] && v[n] != ' ' && n + 1 < out_size) {
        out[n] = v[n];
        n++;
    }
    out[n] = 0;
    return true;
}

uint64_t parse_u64(const char *s, const char **end)
{
    uint64_t v = 0;
    if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
        s += 2;
        for (;; s++) {
            char c = *s;
            unsigned d;
            if (c >= '0' && c <= '9')
                d = (unsigned)(c - '0');
            else if (c >= 'a' && c <= 'f')
                d = (unsigned)(c - 'a' + 10);
            else if (c >= 'A' && c <= 'F')
                d = (unsigned)(c - 'A' + 10);
            else
                break;
            v = v * 16 + d;
        }
    } else {
        for (; *s >= '0' && *s <= '9'; s++)
            v = v * 10 + (uint64_t)(*s - '0');
    }
    if (end)
        *end = s;
    return v;
}

bool cmdline_get_u64(const char *key, uint64_t *value)
{
    char buf[32];
    if (!cmdline_get(key, buf, sizeof buf) || !buf[0])
        return false;
    const char *end;
    *value = parse_u64(buf, &end);
    return *end == 0;
}

static void end_vm(uint8_t debug_exit_code) __attribute__((noreturn));
static void end_vm(uint8_t debug_exit_code)
{
    cli();
    /* Kindling (and a PC): the i8042 pulses the CPU reset line; the VMM ends the VM. */
    outb(I8042_COMMAND, I8042_CMD_RESET);
    /* QEMU microvm has no i8042: isa-debug-exit makes QEMU exit with status (code << 1) | 1. */
    outb(ISA_DEBUG_EXIT_PORT, debug_exit_code);
    for (;;)
        __asm__ volatile("cli; hlt");
}

void pass(void)
{
    printf("KINDLING-TEST %s PASS\n", g_test_name);
    end_vm(0);
}

void fail(const char *fmt, ...)
{
    printf("KINDLING-TEST %s FAIL ", g_test_name);
    __builtin_va_list ap;
    __builtin_va_start(ap, fmt);
    vprintf_serial(fmt, ap);
    __builtin_va_end(ap);
    printf("\n");
    end_vm(1);
}
