/* vsock: a guest-initiated stream to the host (CID 2) on port `kindling.vsock_port=` (default 52000), as Linux's
 * virtio_transport does it: REQUEST, RESPONSE, RW "KINDLING-VSOCK-ECHO ping", the host's echo back, SHUTDOWN.
 * With Firecracker-style hybrid vsock the host side is the Unix socket `<uds_path>_<port>`, which echoes. */
#include "virtio.h"

#define VIRTIO_VSOCK_CONFIG_GUEST_CID 0
#define VIRTIO_VSOCK_TYPE_STREAM 1
#define VIRTIO_VSOCK_OP_REQUEST 1
#define VIRTIO_VSOCK_OP_RESPONSE 2
#define VIRTIO_VSOCK_OP_RST 3
#define VIRTIO_VSOCK_OP_SHUTDOWN 4
#define VIRTIO_VSOCK_OP_RW 5
#define VIRTIO_VSOCK_OP_CREDIT_UPDATE 6
#define VIRTIO_VSOCK_OP_CREDIT_REQUEST 7
#define VIRTIO_VSOCK_SHUTDOWN_RCV 1
#define VIRTIO_VSOCK_SHUTDOWN_SEND 2
#define VMADDR_CID_HOST 2
#define QUEUE_RX 0
#define QUEUE_TX 1
#define QUEUE_EVENT 2
#define RX_BUFFERS 4
#define RX_PAYLOAD_SIZE 4096
#define GUEST_PORT 1234
#define DEFAULT_HOST_PORT 52000
#define BUF_ALLOC (64 * 1024)
#define MESSAGE "KINDLING-VSOCK-ECHO ping"
#define TIMEOUT_SECONDS 30

struct virtio_vsock_hdr {
    uint64_t src_cid;
    uint64_t dst_cid;
    uint32_t src_port;
    uint32_t dst_port;
    uint32_t len;
    uint16_t type;
    uint16_t op;
    uint32_t flags;
    uint32_t buf_alloc;
    uint32_t fwd_cnt;
} __attribute__((packed));

static struct virtio_dev dev;
static struct virtq rxq, txq, eventq;
static uint8_t *rx_buffers[RX_BUFFERS];
static uint64_t guest_cid;
static uint32_t host_port, fwd_cnt;

static void post_rx(uint32_t i)
{
    struct vbuf b = {rx_buffers[i], sizeof(struct virtio_vsock_hdr) + RX_PAYLOAD_SIZE, true};
    rxq.next_desc = (uint16_t)i; /* single-descriptor chains: descriptor i always carries buffer i */
    virtq_add(&rxq, &b, 1);
    virtq_notify(&rxq);
}

static void send_packet(uint16_t op, uint32_t flags, const void *payload, uint32_t len)
{
    static struct virtio_vsock_hdr *hdr;
    static uint8_t *data;
    if (!hdr) {
        hdr = dma_alloc(sizeof *hdr, 16);
        data = dma_alloc(RX_PAYLOAD_SIZE, 16);
    }
    *hdr = (struct virtio_vsock_hdr){guest_cid, VMADDR_CID_HOST, GUEST_PORT, host_port, len, VIRTIO_VSOCK_TYPE_STREAM,
                                     op, flags, BUF_ALLOC, fwd_cnt};
    struct vbuf bufs[2] = {{hdr, sizeof *hdr, false}, {data, len, false}};
    if (len)
        memcpy(data, payload, len);
    uint16_t head = virtq_add(&txq, bufs, len ? 2 : 1);
    virtq_notify(&txq);
    uint32_t id;
    if (!virtq_wait_used(&txq, TIMEOUT_SECONDS, &id, NULL) || id != head)
        fail("vsock TX of op %u was not returned on the used ring", op);
}

/* The next packet for our connection; copies its payload out and reposts the buffer. */
static struct virtio_vsock_hdr receive(uint8_t *payload, uint32_t cap)
{
    uint32_t id, len;
    if (!virtq_wait_used(&rxq, TIMEOUT_SECONDS, &id, &len))
        fail("vsock: nothing received within the wait");
    if (id >= RX_BUFFERS || len < sizeof(struct virtio_vsock_hdr))
        fail("vsock RX used element id %u len %u is malformed", id, len);
    struct virtio_vsock_hdr h;
    memcpy(&h, rx_buffers[id], sizeof h);
    if (h.len > len - sizeof h || h.len > cap)
        fail("vsock RX packet claims %u payload bytes in a %u-byte completion", h.len, len);
    memcpy(payload, rx_buffers[id] + sizeof h, h.len);
    post_rx(id);
    return h;
}

void scenario_vsock(void)
{
    uint64_t port = DEFAULT_HOST_PORT;
    cmdline_get_u64("kindling.vsock_port", &port);
    host_port = (uint32_t)port;
    if (!virtio_find(VIRTIO_ID_VSOCK, 0, &dev))
        fail("no virtio-vsock device");
    virtio_negotiate(&dev, 0);
    virtq_setup(&dev, &rxq, QUEUE_RX);
    virtq_setup(&dev, &txq, QUEUE_TX);
    virtq_setup(&dev, &eventq, QUEUE_EVENT);
    virtio_driver_ok(&dev);
    guest_cid = virtio_config32(&dev, VIRTIO_VSOCK_CONFIG_GUEST_CID) |
                (uint64_t)virtio_config32(&dev, VIRTIO_VSOCK_CONFIG_GUEST_CID + 4) << 32;
    printf("vsock: guest CID %lu, connecting to host port %u\n", guest_cid, host_port);
    for (uint32_t i = 0; i < RX_BUFFERS; i++) {
        rx_buffers[i] = dma_alloc(sizeof(struct virtio_vsock_hdr) + RX_PAYLOAD_SIZE, 16);
        post_rx(i);
    }

    static uint8_t payload[RX_PAYLOAD_SIZE];
    send_packet(VIRTIO_VSOCK_OP_REQUEST, 0, NULL, 0);
    struct virtio_vsock_hdr h = receive(payload, sizeof payload);
    if (h.op == VIRTIO_VSOCK_OP_RST)
        fail("vsock: the host refused the connection to port %u (RST)", host_port);
    if (h.op != VIRTIO_VSOCK_OP_RESPONSE || h.src_port != host_port || h.dst_port != GUEST_PORT)
        fail("vsock: expected RESPONSE %u->%u, got op %u %u->%u", host_port, GUEST_PORT, h.op, h.src_port, h.dst_port);
    printf("vsock: connected\n");

    send_packet(VIRTIO_VSOCK_OP_RW, 0, MESSAGE, sizeof MESSAGE - 1);
    static char echo[sizeof MESSAGE];
    uint32_t got = 0;
    while (got < sizeof MESSAGE - 1) {
        h = receive(payload, sizeof payload);
        if (h.op == VIRTIO_VSOCK_OP_CREDIT_REQUEST) {
            send_packet(VIRTIO_VSOCK_OP_CREDIT_UPDATE, 0, NULL, 0);
            continue;
        }
        if (h.op == VIRTIO_VSOCK_OP_CREDIT_UPDATE)
            continue;
        if (h.op != VIRTIO_VSOCK_OP_RW)
            fail("vsock: expected the echo (RW), got op %u after %u bytes", h.op, got);
        if (got + h.len > sizeof MESSAGE - 1)
            fail("vsock: the echo is longer than what was sent");
        memcpy(echo + got, payload, h.len);
        got += h.len;
        fwd_cnt += h.len;
    }
    echo[got] = 0;
    if (memcmp(echo, MESSAGE, got) != 0)
        fail("vsock: echo '%s' differs from '%s'", echo, MESSAGE);
    printf("vsock: echoed '%s'\n", echo);
    send_packet(VIRTIO_VSOCK_OP_SHUTDOWN, VIRTIO_VSOCK_SHUTDOWN_RCV | VIRTIO_VSOCK_SHUTDOWN_SEND, NULL, 0);
    virtio_expect_interrupts(&dev);
}
