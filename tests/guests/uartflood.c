/* uart-flood: kindling.bytes=N bytes (default 1 MiB) through the 8250 as fast as string I/O allows, for a
 * byte-for-byte comparison on the host. The guest does little work per byte (its kernel-mode code may be emulated):
 * one 4096-byte block is computed once, and each copy only gets its index stamped into its header before it goes
 * out with one `rep outsb` (a single I/O exit of up to a page). Before each block the guest waits for LSR.THRE, as a
 * driver does before filling the transmit FIFO, so a host sink that holds the guest back loses nothing.
 *
 * Stream (after the line `uart-flood: sending N bytes`): block i (0-based) is 4096 bytes, the last one cut at N:
 *   bytes 0..15  "BLK " + 8 lower-case hex digits of i + "   \n"
 *   bytes 16..   (uint8_t)(j * 7 + 13) for byte offset j in the block (every byte value, control bytes included)
 * followed by `\nuart-flood: sent N bytes`. */
#include "rt.h"

#define COM1_THR 0x3F8
#define COM1_LSR 0x3FD
#define LSR_THRE 0x20
#define BLOCK_SIZE 4096
#define HEADER_SIZE 16
#define INDEX_OFFSET 4
#define DEFAULT_BYTES (1UL << 20)
#define THRE_TIMEOUT_SECONDS 120

static uint8_t block[BLOCK_SIZE] __attribute__((aligned(BLOCK_SIZE)));

static void stamp_index(uint64_t index)
{
    static const char hex[] = "0123456789abcdef";
    for (int d = 0; d < 8; d++)
        block[INDEX_OFFSET + d] = (uint8_t)hex[(index >> (28 - 4 * d)) & 0xF];
}

static void wait_thre(uint64_t sent)
{
    uint64_t deadline = deadline_after_seconds(THRE_TIMEOUT_SECONDS);
    while (!(inb(COM1_LSR) & LSR_THRE)) {
        if (past(deadline))
            fail("LSR.THRE stayed clear for %d s after %lu bytes", THRE_TIMEOUT_SECONDS, sent);
        cpu_relax();
    }
}

static void outsb(const uint8_t *src, uint64_t count)
{
    __asm__ volatile("rep outsb" : "+S"(src), "+c"(count) : "d"((uint16_t)COM1_THR) : "memory");
}

void scenario_uart_flood(void)
{
    uint64_t total;
    if (!cmdline_get_u64("kindling.bytes", &total))
        total = DEFAULT_BYTES;
    for (uint32_t j = HEADER_SIZE; j < BLOCK_SIZE; j++)
        block[j] = (uint8_t)(j * 7 + 13);
    memcpy(block, "BLK 00000000   \n", HEADER_SIZE);

    printf("uart-flood: sending %lu bytes\n", total);
    uint64_t sent = 0;
    for (uint64_t i = 0; sent < total; i++) {
        stamp_index(i);
        uint64_t n = total - sent < BLOCK_SIZE ? total - sent : BLOCK_SIZE;
        wait_thre(sent);
        outsb(block, n);
        sent += n;
    }
    printf("\nuart-flood: sent %lu bytes\n", sent);
}
