/* A virtio-mmio (version 2, "modern") driver core: discovery, feature negotiation, split virtqueues. */
#ifndef KINDLING_GUEST_VIRTIO_H
#define KINDLING_GUEST_VIRTIO_H
#include "rt.h"

#define VIRTIO_ID_NET 1
#define VIRTIO_ID_BLOCK 2
#define VIRTIO_ID_RNG 4
#define VIRTIO_ID_VSOCK 19

#define VIRTIO_F_VERSION_1 (1UL << 32)

#define VIRTQ_DESC_F_NEXT 1
#define VIRTQ_DESC_F_WRITE 2
#define VIRTQ_MAX_SIZE 16

struct virtq_desc {
    uint64_t addr;
    uint32_t len;
    uint16_t flags;
    uint16_t next;
};

struct virtq_avail {
    uint16_t flags;
    uint16_t idx;
    uint16_t ring[VIRTQ_MAX_SIZE];
    uint16_t used_event;
};

struct virtq_used_elem {
    uint32_t id;
    uint32_t len;
};

struct virtq_used {
    uint16_t flags;
    uint16_t idx;
    struct virtq_used_elem ring[VIRTQ_MAX_SIZE];
    uint16_t avail_event;
};

struct virtio_dev {
    uint64_t base;
    uint32_t irq;       /* IOAPIC pin from the command line; 0 (found by scanning) = polled */
    uint32_t device_id;
    uint64_t features;  /* negotiated */
    volatile uint32_t interrupts_seen; /* "used buffer" InterruptStatus bits acknowledged (in the IRQ handler
                                        * when the device has an IRQ, else by polling after each completion) */
};

struct virtq {
    struct virtio_dev *dev;
    uint16_t index;
    uint16_t size;
    uint16_t next_desc;
    uint16_t last_used;
    struct virtq_desc *desc;
    struct virtq_avail *avail;
    volatile struct virtq_used *used;
};

/* One buffer of a chain: device-readable unless writable. */
struct vbuf {
    void *addr;
    uint32_t len;
    bool writable;
};

/* Finds the nth (0-based) virtio-mmio device with device_id: from `virtio_mmio.device=` words on the command line,
 * or else by scanning QEMU microvm's transport slots. False when there is none. */
bool virtio_find(uint32_t device_id, int nth, struct virtio_dev *out);
/* Reset, ACKNOWLEDGE, DRIVER, feature negotiation (VERSION_1 is required), FEATURES_OK. Fails the test on error. */
void virtio_negotiate(struct virtio_dev *dev, uint64_t wanted);
void virtq_setup(struct virtio_dev *dev, struct virtq *q, uint16_t index);
void virtio_driver_ok(struct virtio_dev *dev);
uint8_t virtio_config8(struct virtio_dev *dev, uint32_t offset);
uint32_t virtio_config32(struct virtio_dev *dev, uint32_t offset);
/* Puts a chain on the avail ring; notify rings the doorbell. Returns the head descriptor index. */
uint16_t virtq_add(struct virtq *q, const struct vbuf *bufs, int count);
void virtq_notify(struct virtq *q);
/* Waits (bounded) for the next used element; false on timeout. */
bool virtq_wait_used(struct virtq *q, uint32_t seconds, uint32_t *id, uint32_t *len);
/* Waits (bounded) until the device has signalled at least one used buffer; fails the test otherwise. */
void virtio_expect_interrupts(struct virtio_dev *dev);
/* Fails the test when the device has set DEVICE_NEEDS_RESET. */
void virtio_check_status(struct virtio_dev *dev, const char *when);
/* Bump allocator over a static DMA pool (identity-mapped, so guest-virtual = guest-physical). */
void *dma_alloc(size_t size, size_t align);

#endif
