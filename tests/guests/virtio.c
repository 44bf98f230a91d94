/* virtio-mmio version 2 driver core, modelled on Linux's virtio_mmio.c and virtio_ring.c (split ring, no
 * EVENT_IDX, interrupts observed through InterruptStatus and acknowledged as the Linux handler does). */
#include "virtio.h"

/* Registers (virtio 1.2, 4.2.2). */
#define VIRTIO_MMIO_MAGIC_VALUE 0x000
#define VIRTIO_MMIO_VERSION 0x004
#define VIRTIO_MMIO_DEVICE_ID 0x008
#define VIRTIO_MMIO_DEVICE_FEATURES 0x010
#define VIRTIO_MMIO_DEVICE_FEATURES_SEL 0x014
#define VIRTIO_MMIO_DRIVER_FEATURES 0x020
#define VIRTIO_MMIO_DRIVER_FEATURES_SEL 0x024
#define VIRTIO_MMIO_QUEUE_SEL 0x030
#define VIRTIO_MMIO_QUEUE_NUM_MAX 0x034
#define VIRTIO_MMIO_QUEUE_NUM 0x038
#define VIRTIO_MMIO_QUEUE_READY 0x044
#define VIRTIO_MMIO_QUEUE_NOTIFY 0x050
#define VIRTIO_MMIO_INTERRUPT_STATUS 0x060
#define VIRTIO_MMIO_INTERRUPT_ACK 0x064
#define VIRTIO_MMIO_STATUS 0x070
#define VIRTIO_MMIO_QUEUE_DESC_LOW 0x080
#define VIRTIO_MMIO_QUEUE_DESC_HIGH 0x084
#define VIRTIO_MMIO_QUEUE_AVAIL_LOW 0x090
#define VIRTIO_MMIO_QUEUE_AVAIL_HIGH 0x094
#define VIRTIO_MMIO_QUEUE_USED_LOW 0x0A0
#define VIRTIO_MMIO_QUEUE_USED_HIGH 0x0A4
#define VIRTIO_MMIO_CONFIG 0x100

#define VIRTIO_MMIO_MAGIC 0x74726976 /* "virt" */
#define VIRTIO_MMIO_VERSION_MODERN 2
#define VIRTIO_MMIO_INT_VRING 1

#define VIRTIO_STATUS_ACKNOWLEDGE 1
#define VIRTIO_STATUS_DRIVER 2
#define VIRTIO_STATUS_DRIVER_OK 4
#define VIRTIO_STATUS_FEATURES_OK 8
#define VIRTIO_STATUS_NEEDS_RESET 0x40
#define VIRTIO_STATUS_FAILED 0x80

/* QEMU microvm: 24 transports of 512 bytes from 0xfeb00000 (hw/i386/microvm.c). */
#define MICROVM_MMIO_BASE 0xFEB00000UL
#define MICROVM_MMIO_SIZE 512
#define MICROVM_MMIO_SLOTS 24
#define CMDLINE_DEVICE_KEY "virtio_mmio.device="
#define INTERRUPT_STATUS_WAIT_SPINS 1000000
#define INTERRUPT_WAIT_SECONDS 10
#define IOAPIC_PINS 24
#define VECTOR_VIRTIO_BASE 0x38
#define VIRTIO_IRQ_VECTORS 6
#define DMA_POOL_SIZE (256 * 1024)

static uint8_t dma_pool[DMA_POOL_SIZE] __attribute__((aligned(4096), section(".noinit")));
static size_t dma_used;

void *dma_alloc(size_t size, size_t align)
{
    size_t start = (dma_used + align - 1) & ~(align - 1);
    if (start + size > DMA_POOL_SIZE)
        fail("DMA pool exhausted (%lu + %lu bytes)", start, size);
    dma_used = start + size;
    memset(dma_pool + start, 0, size);
    return dma_pool + start;
}

static uint32_t rd(struct virtio_dev *d, uint32_t reg) { return mmio_read32(d->base + reg); }
static void wr(struct virtio_dev *d, uint32_t reg, uint32_t v) { mmio_write32(d->base + reg, v); }

static bool probe(uint64_t base, uint32_t device_id)
{
    return mmio_read32(base + VIRTIO_MMIO_MAGIC_VALUE) == VIRTIO_MMIO_MAGIC &&
           mmio_read32(base + VIRTIO_MMIO_DEVICE_ID) == device_id;
}

static struct virtio_dev *irq_devices[VIRTIO_IRQ_VECTORS];
static uint32_t irq_device_count;

/* What Linux's vm_interrupt does: read InterruptStatus, acknowledge exactly those bits. */
static void on_virtio_irq(uint32_t vector)
{
    struct virtio_dev *d = irq_devices[vector - VECTOR_VIRTIO_BASE];
    uint32_t status = rd(d, VIRTIO_MMIO_INTERRUPT_STATUS);
    if (status) {
        wr(d, VIRTIO_MMIO_INTERRUPT_ACK, status);
        if (status & VIRTIO_MMIO_INT_VRING)
            d->interrupts_seen++;
    }
}

/* Routes the device's IOAPIC pin to a vector of its own on the BSP (edge, as an irqfd-driven GSI behaves). */
static void setup_irq(struct virtio_dev *dev)
{
    if (dev->irq >= IOAPIC_PINS)
        fail("virtio device at %lx has IRQ %u; the IOAPIC has pins 0..%u", dev->base, dev->irq, IOAPIC_PINS - 1);
    for (uint32_t i = 0; i < irq_device_count; i++)
        if (irq_devices[i] == dev)
            return;
    if (irq_device_count == VIRTIO_IRQ_VECTORS)
        fail("more than %u virtio devices with IRQs", VIRTIO_IRQ_VECTORS);
    if (irq_device_count == 0) {
        pic_disable();
        lapic_enable();
    }
    uint32_t vector = VECTOR_VIRTIO_BASE + irq_device_count;
    irq_devices[irq_device_count++] = dev;
    idt_set_handler(vector, on_virtio_irq);
    ioapic_route(dev->irq, vector, lapic_id());
    sti();
}

void virtio_expect_interrupts(struct virtio_dev *dev)
{
    uint64_t deadline = deadline_after_seconds(INTERRUPT_WAIT_SECONDS);
    while (!dev->interrupts_seen && !past(deadline))
        cpu_relax();
    if (!dev->interrupts_seen) {
        if (dev->irq)
            fail("device %u at %lx: no used-buffer interrupt arrived on IRQ %u", dev->device_id, dev->base, dev->irq);
        fail("device %u at %lx never set the used-buffer bit of InterruptStatus", dev->device_id, dev->base);
    }
    printf("virtio: device %u at %lx signalled %u used-buffer interrupts%s\n", dev->device_id, dev->base,
           dev->interrupts_seen, dev->irq ? " through the IOAPIC" : " (InterruptStatus, polled)");
}

static bool accept(uint64_t base, uint32_t irq, uint32_t device_id, struct virtio_dev *out)
{
    uint32_t version = mmio_read32(base + VIRTIO_MMIO_VERSION);
    if (version != VIRTIO_MMIO_VERSION_MODERN)
        fail("virtio-mmio device %u at %lx has version %u; this driver speaks only version 2 (QEMU: -global "
             "virtio-mmio.force-legacy=false)", device_id, base, version);
    memset(out, 0, sizeof *out);
    out->base = base;
    out->irq = irq;
    out->device_id = device_id;
    if (irq)
        setup_irq(out);
    return true;
}

/* `virtio_mmio.device=<size>@<base>:<irq>[:<id>]` as Linux parses it; size may carry K/M/G. */
static bool parse_device_word(const char *p, uint64_t *base, uint32_t *irq)
{
    const char *end;
    parse_u64(p, &end);
    if (*end == 'K' || *end == 'k' || *end == 'M' || *end == 'm' || *end == 'G' || *end == 'g')
        end++;
    if (*end != '@')
        return false;
    *base = parse_u64(end + 1, &end);
    if (*end != ':')
        return false;
    *irq = (uint32_t)parse_u64(end + 1, &end);
    return true;
}

bool virtio_find(uint32_t device_id, int nth, struct virtio_dev *out)
{
    bool any_on_cmdline = false;
    const char *p = g_cmdline;
    while (*p) {
        while (*p == ' ')
            p++;
        if (starts_with(p, CMDLINE_DEVICE_KEY)) {
            uint64_t base;
            uint32_t irq;
            if (!parse_device_word(p + strlen(CMDLINE_DEVICE_KEY), &base, &irq))
                fail("cannot parse '%s' word on the command line", CMDLINE_DEVICE_KEY);
            any_on_cmdline = true;
            if (probe(base, device_id) && nth-- == 0)
                return accept(base, irq, device_id, out);
        }
        while (*p && *p != ' ')
            p++;
    }
    if (any_on_cmdline)
        return false;
    /* QEMU allocates microvm transports from the top slot down; scan in that order so the first device given
     * on QEMU's command line is found first. */
    for (int i = MICROVM_MMIO_SLOTS - 1; i >= 0; i--) {
        uint64_t base = MICROVM_MMIO_BASE + (uint64_t)i * MICROVM_MMIO_SIZE;
        if (probe(base, device_id) && nth-- == 0)
            return accept(base, 0, device_id, out);
    }
    return false;
}

void virtio_check_status(struct virtio_dev *dev, const char *when)
{
    uint32_t status = rd(dev, VIRTIO_MMIO_STATUS);
    if (status & VIRTIO_STATUS_NEEDS_RESET)
        fail("device %u at %lx set DEVICE_NEEDS_RESET %s (status %x)", dev->device_id, dev->base, when, status);
}

void virtio_negotiate(struct virtio_dev *dev, uint64_t wanted)
{
    wr(dev, VIRTIO_MMIO_STATUS, 0);
    if (rd(dev, VIRTIO_MMIO_STATUS) != 0)
        fail("device at %lx did not reset (status %x)", dev->base, rd(dev, VIRTIO_MMIO_STATUS));
    wr(dev, VIRTIO_MMIO_STATUS, VIRTIO_STATUS_ACKNOWLEDGE);
    wr(dev, VIRTIO_MMIO_STATUS, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);

    wr(dev, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 1);
    uint64_t offered = (uint64_t)rd(dev, VIRTIO_MMIO_DEVICE_FEATURES) << 32;
    wr(dev, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 0);
    offered |= rd(dev, VIRTIO_MMIO_DEVICE_FEATURES);
    if (!(offered & VIRTIO_F_VERSION_1))
        fail("device %u at %lx does not offer VIRTIO_F_VERSION_1 (features %lx)", dev->device_id, dev->base, offered);

    dev->features = offered & (wanted | VIRTIO_F_VERSION_1);
    wr(dev, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 1);
    wr(dev, VIRTIO_MMIO_DRIVER_FEATURES, (uint32_t)(dev->features >> 32));
    wr(dev, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 0);
    wr(dev, VIRTIO_MMIO_DRIVER_FEATURES, (uint32_t)dev->features);

    wr(dev, VIRTIO_MMIO_STATUS, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_FEATURES_OK);
    if (!(rd(dev, VIRTIO_MMIO_STATUS) & VIRTIO_STATUS_FEATURES_OK))
        fail("device %u at %lx refused features %lx (FEATURES_OK not kept)", dev->device_id, dev->base, dev->features);
    printf("virtio: device %u at %lx irq %u: offered %lx, negotiated %lx\n", dev->device_id, dev->base, dev->irq,
           offered, dev->features);
}

void virtq_setup(struct virtio_dev *dev, struct virtq *q, uint16_t index)
{
    wr(dev, VIRTIO_MMIO_QUEUE_SEL, index);
    if (rd(dev, VIRTIO_MMIO_QUEUE_READY))
        fail("queue %u of device %u is already ready after reset", index, dev->device_id);
    uint32_t max = rd(dev, VIRTIO_MMIO_QUEUE_NUM_MAX);
    if (max == 0)
        fail("device %u has no queue %u", dev->device_id, index);
    memset(q, 0, sizeof *q);
    q->dev = dev;
    q->index = index;
    /* Split queues have power-of-two sizes: the largest one within both limits. */
    q->size = VIRTQ_MAX_SIZE;
    while (q->size > max)
        q->size /= 2;
    q->desc = dma_alloc(sizeof(struct virtq_desc) * VIRTQ_MAX_SIZE, 16);
    q->avail = dma_alloc(sizeof(struct virtq_avail), 2);
    q->used = dma_alloc(sizeof(struct virtq_used), 4);
    wr(dev, VIRTIO_MMIO_QUEUE_NUM, q->size);
    wr(dev, VIRTIO_MMIO_QUEUE_DESC_LOW, (uint32_t)(uint64_t)q->desc);
    wr(dev, VIRTIO_MMIO_QUEUE_DESC_HIGH, (uint32_t)((uint64_t)q->desc >> 32));
    wr(dev, VIRTIO_MMIO_QUEUE_AVAIL_LOW, (uint32_t)(uint64_t)q->avail);
    wr(dev, VIRTIO_MMIO_QUEUE_AVAIL_HIGH, (uint32_t)((uint64_t)q->avail >> 32));
    wr(dev, VIRTIO_MMIO_QUEUE_USED_LOW, (uint32_t)(uint64_t)q->used);
    wr(dev, VIRTIO_MMIO_QUEUE_USED_HIGH, (uint32_t)((uint64_t)q->used >> 32));
    wr(dev, VIRTIO_MMIO_QUEUE_READY, 1);
    if (rd(dev, VIRTIO_MMIO_QUEUE_READY) != 1)
        fail("queue %u of device %u did not become ready", index, dev->device_id);
}

void virtio_driver_ok(struct virtio_dev *dev)
{
    wr(dev, VIRTIO_MMIO_STATUS, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_FEATURES_OK |
                                    VIRTIO_STATUS_DRIVER_OK);
    virtio_check_status(dev, "after DRIVER_OK");
}

uint8_t virtio_config8(struct virtio_dev *dev, uint32_t offset) { return mmio_read8(dev->base + VIRTIO_MMIO_CONFIG + offset); }
uint32_t virtio_config32(struct virtio_dev *dev, uint32_t offset) { return rd(dev, VIRTIO_MMIO_CONFIG + offset); }

uint16_t virtq_add(struct virtq *q, const struct vbuf *bufs, int count)
{
    if (count <= 0 || count > q->size)
        fail("chain of %d buffers does not fit queue %u of size %u", count, q->index, q->size);
    uint16_t head = q->next_desc;
    for (int i = 0; i < count; i++) {
        uint16_t d = q->next_desc;
        q->next_desc = (uint16_t)((q->next_desc + 1) % q->size);
        q->desc[d].addr = (uint64_t)bufs[i].addr;
        q->desc[d].len = bufs[i].len;
        q->desc[d].flags = (uint16_t)((bufs[i].writable ? VIRTQ_DESC_F_WRITE : 0) |
                                      (i + 1 < count ? VIRTQ_DESC_F_NEXT : 0));
        q->desc[d].next = i + 1 < count ? q->next_desc : 0;
    }
    q->avail->ring[q->avail->idx % q->size] = head;
    barrier(); /* descriptors and ring entry before the index (x86 keeps stores in order) */
    q->avail->idx++;
    return head;
}

void virtq_notify(struct virtq *q)
{
    mb(); /* the avail index is visible before the doorbell */
    wr(q->dev, VIRTIO_MMIO_QUEUE_NOTIFY, q->index);
}

/* Without an IRQ: poll InterruptStatus after a completion and acknowledge it as the handler would. */
static void ack_interrupt(struct virtio_dev *dev)
{
    for (int i = 0; i < INTERRUPT_STATUS_WAIT_SPINS; i++) {
        uint32_t status = rd(dev, VIRTIO_MMIO_INTERRUPT_STATUS);
        if (status) {
            wr(dev, VIRTIO_MMIO_INTERRUPT_ACK, status);
            if (status & VIRTIO_MMIO_INT_VRING)
                dev->interrupts_seen++;
            return;
        }
        cpu_relax();
    }
}

bool virtq_wait_used(struct virtq *q, uint32_t seconds, uint32_t *id, uint32_t *len)
{
    uint64_t deadline = deadline_after_seconds(seconds);
    while (q->used->idx == q->last_used) {
        if (past(deadline)) {
            virtio_check_status(q->dev, "while a request was pending");
            return false;
        }
        cpu_relax();
    }
    barrier();
    const volatile struct virtq_used_elem *e = &q->used->ring[q->last_used % q->size];
    if (id)
        *id = e->id;
    if (len)
        *len = e->len;
    q->last_used++;
    if (!q->dev->irq)
        ack_interrupt(q->dev);
    return true;
}
