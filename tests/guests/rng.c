/* rng: two reads from the entropy device; each returns bytes, not all alike, and the two differ. */
#include "virtio.h"

#define RNG_BYTES 64
#define RNG_MIN_BYTES 8
#define REQUEST_TIMEOUT_SECONDS 20

static uint32_t read_entropy(struct virtq *q, uint8_t *buf)
{
    memset(buf, 0, RNG_BYTES);
    struct vbuf b = {buf, RNG_BYTES, true};
    uint16_t head = virtq_add(q, &b, 1);
    virtq_notify(q);
    uint32_t id, len;
    if (!virtq_wait_used(q, REQUEST_TIMEOUT_SECONDS, &id, &len))
        fail("entropy request: no completion");
    if (id != head)
        fail("entropy request completed id %u, expected %u", id, head);
    if (len < RNG_MIN_BYTES || len > RNG_BYTES)
        fail("entropy request returned %u bytes, expected %u..%u", len, RNG_MIN_BYTES, RNG_BYTES);
    bool varied = false;
    for (uint32_t i = 1; i < len; i++)
        varied |= buf[i] != buf[0];
    if (!varied)
        fail("entropy: %u bytes all %x", len, buf[0]);
    return len;
}

void scenario_rng(void)
{
    static struct virtio_dev dev;
    static struct virtq q;
    if (!virtio_find(VIRTIO_ID_RNG, 0, &dev))
        fail("no virtio-rng device");
    virtio_negotiate(&dev, 0);
    virtq_setup(&dev, &q, 0);
    virtio_driver_ok(&dev);
    uint8_t *a = dma_alloc(RNG_BYTES, 16), *b = dma_alloc(RNG_BYTES, 16);
    uint32_t la = read_entropy(&q, a), lb = read_entropy(&q, b);
    uint32_t n = la < lb ? la : lb;
    if (memcmp(a, b, n) == 0)
        fail("two entropy reads returned the same %u bytes", n);
    printf("rng: %u and %u bytes; first bytes %x %x %x %x\n", la, lb, a[0], a[1], a[2], a[3]);
    virtio_expect_interrupts(&dev);
}
