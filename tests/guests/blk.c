/* blk: a read-write drive and a read-only drive, driven as Linux's virtio_blk does.
 *   rw drive: sector 0 holds the "rw" pattern; write sector 1 and read it back; flush (when offered); get-id.
 *   ro drive: negotiates VIRTIO_BLK_F_RO; sector 0 holds the "ro" pattern; a write completes with IOERR.
 * The host prepares both images (pattern: byte i = i*13+7, then the magic text at offset 0) and afterwards checks
 * that sector 1 of the rw image holds the written pattern (byte i = i*31+1, then "KINDLING-BLK-WRITTEN"). */
#include "virtio.h"

#define VIRTIO_BLK_F_RO (1UL << 5)
#define VIRTIO_BLK_F_FLUSH (1UL << 9)
#define VIRTIO_BLK_T_IN 0
#define VIRTIO_BLK_T_OUT 1
#define VIRTIO_BLK_T_FLUSH 4
#define VIRTIO_BLK_T_GET_ID 8
#define VIRTIO_BLK_S_OK 0
#define VIRTIO_BLK_S_IOERR 1
#define VIRTIO_BLK_S_UNSUPP 2
#define VIRTIO_BLK_CONFIG_CAPACITY 0
#define VIRTIO_BLK_ID_BYTES 20
#define SECTOR_SIZE 512
#define REQUEST_TIMEOUT_SECONDS 20
#define MAX_DRIVES 4

#define MAGIC_RW "KINDLING-BLK-RW"
#define MAGIC_RO "KINDLING-BLK-RO"
#define MAGIC_WRITTEN "KINDLING-BLK-WRITTEN"

struct virtio_blk_req_header {
    uint32_t type;
    uint32_t reserved;
    uint64_t sector;
};

struct drive {
    struct virtio_dev dev;
    struct virtq q;
    struct virtio_blk_req_header *header;
    uint8_t *data;
    uint8_t *status;
};

static void fill_pattern(uint8_t *b, uint32_t mul, uint32_t add, const char *magic)
{
    for (uint32_t i = 0; i < SECTOR_SIZE; i++)
        b[i] = (uint8_t)(i * mul + add);
    memcpy(b, magic, strlen(magic));
}

static uint8_t request(struct drive *d, uint32_t type, uint64_t sector, uint32_t data_len, bool device_writes)
{
    d->header->type = type;
    d->header->reserved = 0;
    d->header->sector = sector;
    *d->status = 0xFF;
    struct vbuf bufs[3];
    int n = 0;
    bufs[n++] = (struct vbuf){d->header, sizeof *d->header, false};
    if (data_len)
        bufs[n++] = (struct vbuf){d->data, data_len, device_writes};
    bufs[n++] = (struct vbuf){d->status, 1, true};
    uint16_t head = virtq_add(&d->q, bufs, n);
    virtq_notify(&d->q);
    uint32_t id, len;
    if (!virtq_wait_used(&d->q, REQUEST_TIMEOUT_SECONDS, &id, &len))
        fail("blk request type %u sector %lu on %lx: no completion", type, sector, d->dev.base);
    if (id != head)
        fail("blk request completed id %u, expected head %u", id, head);
    virtio_check_status(&d->dev, "after a request");
    return *d->status;
}

static void setup(struct drive *d)
{
    virtio_negotiate(&d->dev, VIRTIO_BLK_F_RO | VIRTIO_BLK_F_FLUSH);
    virtq_setup(&d->dev, &d->q, 0);
    virtio_driver_ok(&d->dev);
    d->header = dma_alloc(sizeof *d->header, 16);
    d->data = dma_alloc(SECTOR_SIZE, 512);
    d->status = dma_alloc(1, 1);
}

static void expect_sector(struct drive *d, uint64_t sector, uint32_t mul, uint32_t add, const char *magic)
{
    static uint8_t want[SECTOR_SIZE];
    fill_pattern(want, mul, add, magic);
    memset(d->data, 0, SECTOR_SIZE);
    uint8_t s = request(d, VIRTIO_BLK_T_IN, sector, SECTOR_SIZE, true);
    if (s != VIRTIO_BLK_S_OK)
        fail("read of sector %lu on %lx: status %u", sector, d->dev.base, s);
    for (uint32_t i = 0; i < SECTOR_SIZE; i++)
        if (d->data[i] != want[i])
            fail("sector %lu on %lx differs at byte %u: %x, expected %x", sector, d->dev.base, i, d->data[i], want[i]);
}

static void test_rw(struct drive *d)
{
    uint64_t capacity = virtio_config32(&d->dev, VIRTIO_BLK_CONFIG_CAPACITY) |
                        (uint64_t)virtio_config32(&d->dev, VIRTIO_BLK_CONFIG_CAPACITY + 4) << 32;
    printf("blk: rw drive at %lx: %lu sectors\n", d->dev.base, capacity);
    if (capacity < 2)
        fail("rw drive reports capacity %lu sectors; the test needs 2", capacity);
    expect_sector(d, 0, 13, 7, MAGIC_RW);
    printf("blk: sector 0 holds the rw pattern\n");

    fill_pattern(d->data, 31, 1, MAGIC_WRITTEN);
    uint8_t s = request(d, VIRTIO_BLK_T_OUT, 1, SECTOR_SIZE, false);
    if (s != VIRTIO_BLK_S_OK)
        fail("write of sector 1: status %u", s);
    expect_sector(d, 1, 31, 1, MAGIC_WRITTEN);
    printf("blk: sector 1 written and read back\n");

    if (d->dev.features & VIRTIO_BLK_F_FLUSH) {
        s = request(d, VIRTIO_BLK_T_FLUSH, 0, 0, false);
        if (s != VIRTIO_BLK_S_OK)
            fail("flush: status %u", s);
        printf("blk: flushed\n");
    } else {
        printf("blk: device does not offer VIRTIO_BLK_F_FLUSH\n");
    }

    memset(d->data, 0, SECTOR_SIZE);
    s = request(d, VIRTIO_BLK_T_GET_ID, 0, VIRTIO_BLK_ID_BYTES, true);
    if (s == VIRTIO_BLK_S_OK) {
        char id[VIRTIO_BLK_ID_BYTES + 1];
        memcpy(id, d->data, VIRTIO_BLK_ID_BYTES);
        id[VIRTIO_BLK_ID_BYTES] = 0;
        printf("blk: id '%s'\n", id);
    } else if (s == VIRTIO_BLK_S_UNSUPP) {
        printf("blk: get-id unsupported\n");
    } else {
        fail("get-id: status %u", s);
    }
}

static void test_ro(struct drive *d)
{
    printf("blk: ro drive at %lx\n", d->dev.base);
    expect_sector(d, 0, 13, 7, MAGIC_RO);
    printf("blk: sector 0 holds the ro pattern\n");
    fill_pattern(d->data, 31, 1, MAGIC_WRITTEN);
    uint8_t s = request(d, VIRTIO_BLK_T_OUT, 0, SECTOR_SIZE, false);
    if (s != VIRTIO_BLK_S_IOERR)
        fail("write to the read-only drive: status %u, expected VIRTIO_BLK_S_IOERR (%u)", s, VIRTIO_BLK_S_IOERR);
    expect_sector(d, 0, 13, 7, MAGIC_RO);
    printf("blk: write to the read-only drive refused with IOERR, sector unchanged\n");
}

void scenario_blk(void)
{
    static struct drive drives[MAX_DRIVES];
    int count = 0;
    while (count < MAX_DRIVES && virtio_find(VIRTIO_ID_BLOCK, count, &drives[count].dev))
        count++;
    struct drive *rw = NULL, *ro = NULL;
    for (int i = 0; i < count; i++) {
        setup(&drives[i]);
        if (drives[i].dev.features & VIRTIO_BLK_F_RO)
            ro = ro ? ro : &drives[i];
        else
            rw = rw ? rw : &drives[i];
    }
    if (!rw || !ro)
        fail("found %d virtio-blk devices; the test needs one read-write and one read-only (VIRTIO_BLK_F_RO)", count);
    test_rw(rw);
    test_ro(ro);
    virtio_expect_interrupts(&rw->dev);
    virtio_expect_interrupts(&ro->dev);
}
