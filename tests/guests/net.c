/* net: sends one Ethernet frame with a known payload, then waits for a frame the host sends in reply.
 *   TX: broadcast, EtherType 0x88B5 (IEEE local experimental), payload "KINDLING-NET-TX from the guest".
 *   RX: the first frame with EtherType 0x88B5 whose payload starts "KINDLING-NET-RX"; its payload text is printed
 *       as `net: received '<text>'`. Other frames (the host's own IPv6 chatter on a TAP) are skipped. */
#include "virtio.h"

#define VIRTIO_NET_F_MAC (1UL << 5)
#define VIRTIO_NET_CONFIG_MAC 0
#define VIRTIO_NET_HDR_SIZE 12 /* struct virtio_net_hdr_v1 (with num_buffers): VERSION_1 always uses it */
#define QUEUE_RX 0
#define QUEUE_TX 1
#define RX_BUFFERS 8
#define RX_BUFFER_SIZE 2048
#define ETH_ALEN 6
#define ETH_HLEN 14
#define ETH_ZLEN 60
#define ETHERTYPE_KINDLING 0x88B5
#define TX_PAYLOAD "KINDLING-NET-TX from the guest"
#define RX_PREFIX "KINDLING-NET-RX"
#define TX_TIMEOUT_SECONDS 20
#define RX_TIMEOUT_SECONDS 40
#define RX_TEXT_MAX 64

static struct virtio_dev dev;
static struct virtq rxq, txq;
static uint8_t *rx_buffers[RX_BUFFERS];

static void post_rx(uint32_t i)
{
    struct vbuf b = {rx_buffers[i], RX_BUFFER_SIZE, true};
    rxq.next_desc = (uint16_t)i; /* single-descriptor chains: descriptor i always carries buffer i */
    virtq_add(&rxq, &b, 1);
}

void scenario_net(void)
{
    if (!virtio_find(VIRTIO_ID_NET, 0, &dev))
        fail("no virtio-net device");
    virtio_negotiate(&dev, VIRTIO_NET_F_MAC);
    virtq_setup(&dev, &rxq, QUEUE_RX);
    virtq_setup(&dev, &txq, QUEUE_TX);
    virtio_driver_ok(&dev);

    uint8_t mac[ETH_ALEN] = {0x02, 0x00, 0x00, 0x00, 0x00, 0x01};
    if (dev.features & VIRTIO_NET_F_MAC)
        for (int i = 0; i < ETH_ALEN; i++)
            mac[i] = virtio_config8(&dev, VIRTIO_NET_CONFIG_MAC + (uint32_t)i);
    printf("net: mac %02x:%02x:%02x:%02x:%02x:%02x\n", mac[0], mac[1], mac[2], mac[3], mac[4], mac[5]);

    /* RX buffers first, each its own one-descriptor chain: descriptor i is buffer i. */
    for (uint32_t i = 0; i < RX_BUFFERS; i++) {
        rx_buffers[i] = dma_alloc(RX_BUFFER_SIZE, 16);
        post_rx(i);
    }
    virtq_notify(&rxq);

    uint8_t *tx = dma_alloc(VIRTIO_NET_HDR_SIZE + ETH_ZLEN, 16);
    uint8_t *frame = tx + VIRTIO_NET_HDR_SIZE;
    memset(frame, 0xFF, ETH_ALEN);
    memcpy(frame + ETH_ALEN, mac, ETH_ALEN);
    frame[12] = ETHERTYPE_KINDLING >> 8;
    frame[13] = ETHERTYPE_KINDLING & 0xFF;
    memcpy(frame + ETH_HLEN, TX_PAYLOAD, sizeof TX_PAYLOAD - 1);
    struct vbuf b = {tx, VIRTIO_NET_HDR_SIZE + ETH_ZLEN, false};
    uint16_t head = virtq_add(&txq, &b, 1);
    virtq_notify(&txq);
    uint32_t id, len;
    if (!virtq_wait_used(&txq, TX_TIMEOUT_SECONDS, &id, &len) || id != head)
        fail("the transmitted frame was not returned on the TX used ring");
    printf("net: sent '%s'\n", TX_PAYLOAD);

    uint64_t deadline = deadline_after_seconds(RX_TIMEOUT_SECONDS);
    uint32_t skipped = 0;
    while (!past(deadline)) {
        if (!virtq_wait_used(&rxq, 1, &id, &len))
            continue;
        if (id >= RX_BUFFERS)
            fail("RX used element names descriptor %u, not one of the %u posted", id, RX_BUFFERS);
        uint8_t *f = rx_buffers[id] + VIRTIO_NET_HDR_SIZE;
        uint32_t flen = len > VIRTIO_NET_HDR_SIZE ? len - VIRTIO_NET_HDR_SIZE : 0;
        uint32_t prefix = sizeof RX_PREFIX - 1;
        if (flen >= ETH_HLEN + prefix && f[12] == (ETHERTYPE_KINDLING >> 8) && f[13] == (ETHERTYPE_KINDLING & 0xFF) &&
            memcmp(f + ETH_HLEN, RX_PREFIX, prefix) == 0) {
            char text[RX_TEXT_MAX + 1];
            uint32_t n = 0;
            while (n < RX_TEXT_MAX && ETH_HLEN + n < flen && f[ETH_HLEN + n] >= 0x20 && f[ETH_HLEN + n] < 0x7F) {
                text[n] = (char)f[ETH_HLEN + n];
                n++;
            }
            text[n] = 0;
            printf("net: received '%s' (%u bytes, %u other frames skipped)\n", text, flen, skipped);
            virtio_expect_interrupts(&dev);
            return;
        }
        skipped++;
        post_rx(id);
        virtq_notify(&rxq);
    }
    fail("no frame with EtherType %x and payload '%s...' arrived (%u other frames)", ETHERTYPE_KINDLING, RX_PREFIX,
         skipped);
}
