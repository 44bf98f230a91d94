/* mmds: the metadata service (MMDS V2) over virtio-net, the way a guest's own stack reaches it:
 *   ARP for 169.254.169.254, then per request one TCP connection to port 80 (SYN, SYN-ACK, ACK, the request,
 *   in-order data ACKed segment by segment, FIN both ways) carrying HTTP/1.1 with `Connection: close`:
 *   PUT /latest/api/token with X-metadata-token-ttl-seconds, then GET <kindling.mmds_path> with X-metadata-token;
 *   the body must equal kindling.expect. With kindling.mmds_token=none the GET goes without a token and must be
 *   refused with 401. IPv4 and TCP checksums of every frame received are verified.
 * Kindling-only: QEMU has no metadata service. */
#include "virtio.h"

#define VIRTIO_NET_F_MAC (1UL << 5)
#define VIRTIO_NET_CONFIG_MAC 0
#define VIRTIO_NET_HDR_SIZE 12
#define QUEUE_RX 0
#define QUEUE_TX 1
#define RX_BUFFERS 8
#define RX_BUFFER_SIZE 2048
#define TX_BUFFER_SIZE 1536
#define ETH_ALEN 6
#define ETH_HLEN 14
#define ETH_ZLEN 60
#define ETHERTYPE_IPV4 0x0800
#define ETHERTYPE_ARP 0x0806
#define ARP_LEN 28
#define ARP_REQUEST 1
#define ARP_REPLY 2
#define IPV4_HLEN 20
#define IPPROTO_TCP 6
#define IP_TTL 64
#define IP_DONT_FRAGMENT 0x4000
#define TCP_HLEN 20
#define TCP_FIN 0x01
#define TCP_SYN 0x02
#define TCP_RST 0x04
#define TCP_PSH 0x08
#define TCP_ACK 0x10
#define TCP_WINDOW 4096
#define HTTP_PORT 80
#define FIRST_LOCAL_PORT 49152
#define MMDS_IP 0xA9FEA9FEu  /* 169.254.169.254 */
#define GUEST_IP 0xA9FE0002u /* 169.254.0.2 */
#define TX_TIMEOUT_SECONDS 20
#define REPLY_TIMEOUT_SECONDS 40
#define RESPONSE_MAX 2048
#define VALUE_MAX 256
#define TOKEN_TTL "60"
#define DEFAULT_PATH "/latest/meta-data/secret"

static struct virtio_dev dev;
static struct virtq rxq, txq;
static uint8_t *rx_buffers[RX_BUFFERS];
static uint8_t *tx_buffer;
static uint8_t mac[ETH_ALEN];
static uint8_t mmds_mac[ETH_ALEN];
static uint16_t next_port = FIRST_LOCAL_PORT;

static uint16_t get16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }
static uint32_t get32(const uint8_t *p) { return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3]; }
static void put16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)(v >> 8); p[1] = (uint8_t)v; }
static void put32(uint8_t *p, uint32_t v) { put16(p, (uint16_t)(v >> 16)); put16(p + 2, (uint16_t)v); }

/* RFC 1071 sum of big-endian 16-bit words (an odd last byte is the high half of a word). */
static uint32_t sum16(const uint8_t *p, uint32_t n, uint32_t sum)
{
    for (uint32_t i = 0; i + 1 < n; i += 2)
        sum += get16(p + i);
    if (n & 1)
        sum += (uint32_t)p[n - 1] << 8;
    return sum;
}

static uint16_t fold(uint32_t sum)
{
    while (sum >> 16)
        sum = (sum & 0xFFFF) + (sum >> 16);
    return (uint16_t)~sum;
}

static uint32_t pseudo_header(uint32_t src, uint32_t dst, uint32_t tcp_len)
{
    return (src >> 16) + (src & 0xFFFF) + (dst >> 16) + (dst & 0xFFFF) + IPPROTO_TCP + tcp_len;
}

static void post_rx(uint32_t i)
{
    struct vbuf b = {rx_buffers[i], RX_BUFFER_SIZE, true};
    rxq.next_desc = (uint16_t)i; /* descriptor i always carries buffer i */
    virtq_add(&rxq, &b, 1);
    virtq_notify(&rxq);
}

/* Sends the frame built at tx_buffer + header (length without the virtio-net header). */
static void transmit(uint32_t frame_len)
{
    if (frame_len < ETH_ZLEN) {
        memset(tx_buffer + VIRTIO_NET_HDR_SIZE + frame_len, 0, ETH_ZLEN - frame_len);
        frame_len = ETH_ZLEN;
    }
    memset(tx_buffer, 0, VIRTIO_NET_HDR_SIZE);
    struct vbuf b = {tx_buffer, VIRTIO_NET_HDR_SIZE + frame_len, false};
    uint16_t head = virtq_add(&txq, &b, 1);
    virtq_notify(&txq);
    uint32_t id, len;
    if (!virtq_wait_used(&txq, TX_TIMEOUT_SECONDS, &id, &len) || id != head)
        fail("a transmitted frame was not returned on the TX used ring");
}

/* The next received frame (Ethernet header first) in buffer *id, or NULL at the deadline. Repost *id after use. */
static uint8_t *receive(uint64_t deadline, uint32_t *id, uint32_t *frame_len)
{
    uint32_t len;
    while (!past(deadline)) {
        if (!virtq_wait_used(&rxq, 1, id, &len))
            continue;
        if (*id >= RX_BUFFERS)
            fail("RX used element names descriptor %u, not one of the %u posted", *id, RX_BUFFERS);
        *frame_len = len > VIRTIO_NET_HDR_SIZE ? len - VIRTIO_NET_HDR_SIZE : 0;
        return rx_buffers[*id] + VIRTIO_NET_HDR_SIZE;
    }
    return NULL;
}

static void resolve_mmds_mac(void)
{
    uint8_t *f = tx_buffer + VIRTIO_NET_HDR_SIZE;
    memset(f, 0xFF, ETH_ALEN);
    memcpy(f + ETH_ALEN, mac, ETH_ALEN);
    put16(f + 12, ETHERTYPE_ARP);
    uint8_t *a = f + ETH_HLEN;
    put16(a, 1);
    put16(a + 2, ETHERTYPE_IPV4);
    a[4] = ETH_ALEN;
    a[5] = 4;
    put16(a + 6, ARP_REQUEST);
    memcpy(a + 8, mac, ETH_ALEN);
    put32(a + 14, GUEST_IP);
    memset(a + 18, 0, ETH_ALEN);
    put32(a + 24, MMDS_IP);
    transmit(ETH_HLEN + ARP_LEN);

    uint64_t deadline = deadline_after_seconds(REPLY_TIMEOUT_SECONDS);
    uint32_t id, len;
    uint8_t *r;
    while ((r = receive(deadline, &id, &len))) {
        bool reply = len >= ETH_HLEN + ARP_LEN && get16(r + 12) == ETHERTYPE_ARP && get16(r + ETH_HLEN + 6) == ARP_REPLY &&
                     get32(r + ETH_HLEN + 14) == MMDS_IP && memcmp(r + ETH_HLEN + 18, mac, ETH_ALEN) == 0;
        if (reply)
            memcpy(mmds_mac, r + ETH_HLEN + 8, ETH_ALEN);
        post_rx(id);
        if (reply) {
            printf("mmds: 169.254.169.254 is at %02x:%02x:%02x:%02x:%02x:%02x\n", mmds_mac[0], mmds_mac[1], mmds_mac[2],
                   mmds_mac[3], mmds_mac[4], mmds_mac[5]);
            return;
        }
    }
    fail("no ARP reply for 169.254.169.254");
}

struct tcp_conn {
    uint16_t port;
    uint32_t snd_nxt;
    uint32_t rcv_nxt;
};

static void tcp_send(const struct tcp_conn *c, uint32_t seq, uint8_t flags, const char *data, uint32_t n)
{
    uint8_t *f = tx_buffer + VIRTIO_NET_HDR_SIZE;
    if (ETH_HLEN + IPV4_HLEN + TCP_HLEN + n > TX_BUFFER_SIZE - VIRTIO_NET_HDR_SIZE)
        fail("TCP payload of %u bytes does not fit one frame", n);
    memcpy(f, mmds_mac, ETH_ALEN);
    memcpy(f + ETH_ALEN, mac, ETH_ALEN);
    put16(f + 12, ETHERTYPE_IPV4);
    uint8_t *ip = f + ETH_HLEN;
    memset(ip, 0, IPV4_HLEN);
    ip[0] = 0x45;
    put16(ip + 2, (uint16_t)(IPV4_HLEN + TCP_HLEN + n));
    put16(ip + 4, (uint16_t)seq);
    put16(ip + 6, IP_DONT_FRAGMENT);
    ip[8] = IP_TTL;
    ip[9] = IPPROTO_TCP;
    put32(ip + 12, GUEST_IP);
    put32(ip + 16, MMDS_IP);
    put16(ip + 10, fold(sum16(ip, IPV4_HLEN, 0)));
    uint8_t *t = ip + IPV4_HLEN;
    memset(t, 0, TCP_HLEN);
    put16(t, c->port);
    put16(t + 2, HTTP_PORT);
    put32(t + 4, seq);
    put32(t + 8, (flags & TCP_ACK) ? c->rcv_nxt : 0);
    t[12] = (TCP_HLEN / 4) << 4;
    t[13] = flags;
    put16(t + 14, TCP_WINDOW);
    memcpy(t + TCP_HLEN, data, n);
    put16(t + 16, fold(sum16(t, TCP_HLEN + n, pseudo_header(GUEST_IP, MMDS_IP, TCP_HLEN + n))));
    transmit(ETH_HLEN + IPV4_HLEN + TCP_HLEN + n);
}

/* A checked segment of connection c from the metadata service: its TCP header, or NULL for any other frame. */
static const uint8_t *tcp_segment(const struct tcp_conn *c, const uint8_t *f, uint32_t len, uint32_t *payload_len)
{
    if (len < ETH_HLEN + IPV4_HLEN + TCP_HLEN || get16(f + 12) != ETHERTYPE_IPV4)
        return NULL;
    const uint8_t *ip = f + ETH_HLEN;
    uint32_t ihl = (uint32_t)(ip[0] & 0xF) * 4, total = get16(ip + 2);
    if (ip[9] != IPPROTO_TCP || get32(ip + 12) != MMDS_IP || get32(ip + 16) != GUEST_IP)
        return NULL;
    if (ip[0] >> 4 != 4 || ihl < IPV4_HLEN || total < ihl + TCP_HLEN || ETH_HLEN + total > len)
        fail("malformed IPv4 header from the metadata service (ihl %u, total %u, frame %u)", ihl, total, len);
    if (fold(sum16(ip, ihl, 0)) != 0)
        fail("bad IPv4 header checksum from the metadata service");
    const uint8_t *t = ip + ihl;
    uint32_t tcp_len = total - ihl, doff = (uint32_t)(t[12] >> 4) * 4;
    if (fold(sum16(t, tcp_len, pseudo_header(MMDS_IP, GUEST_IP, tcp_len))) != 0)
        fail("bad TCP checksum from the metadata service");
    if (get16(t) != HTTP_PORT || get16(t + 2) != c->port)
        return NULL;
    if (doff < TCP_HLEN || doff > tcp_len)
        fail("bad TCP data offset %u from the metadata service", doff);
    *payload_len = tcp_len - doff;
    return t;
}

/* One HTTP exchange on a fresh connection: the response (status line on) into resp, NUL-terminated. */
static uint32_t http_exchange(const char *request, char *resp)
{
    struct tcp_conn c = {.port = next_port++, .snd_nxt = 0, .rcv_nxt = 0};
    uint32_t iss = 0x4B440000u + c.port;
    tcp_send(&c, iss, TCP_SYN, "", 0);
    c.snd_nxt = iss + 1;

    uint64_t deadline = deadline_after_seconds(REPLY_TIMEOUT_SECONDS);
    uint32_t id, len, plen, got = 0;
    bool established = false, peer_fin = false, request_acked = false;
    uint8_t *f;
    uint32_t request_len = (uint32_t)strlen(request);
    while (!(peer_fin && request_acked) && (f = receive(deadline, &id, &len))) {
        const uint8_t *t = tcp_segment(&c, f, len, &plen);
        if (!t) {
            post_rx(id);
            continue;
        }
        uint8_t flags = t[13];
        uint32_t seq = get32(t + 4), ack = get32(t + 8);
        const uint8_t *payload = t + (t[12] >> 4) * 4;
        if (flags & TCP_RST)
            fail("the metadata service reset the connection from port %u", c.port);
        if (!established) {
            bool synack = (flags & (TCP_SYN | TCP_ACK)) == (TCP_SYN | TCP_ACK) && ack == iss + 1;
            post_rx(id);
            if (!synack)
                continue;
            established = true;
            c.rcv_nxt = seq + 1;
            tcp_send(&c, c.snd_nxt, TCP_ACK, "", 0);
            tcp_send(&c, c.snd_nxt, TCP_ACK | TCP_PSH, request, request_len);
            c.snd_nxt += request_len;
            continue;
        }
        if ((flags & TCP_ACK) && (int32_t)(ack - c.snd_nxt) >= 0)
            request_acked = true;
        if (seq == c.rcv_nxt && !peer_fin) {
            if (got + plen > RESPONSE_MAX - 1)
                fail("the response is longer than %d bytes", RESPONSE_MAX - 1);
            memcpy(resp + got, payload, plen);
            got += plen;
            c.rcv_nxt += plen;
            if (flags & TCP_FIN) {
                c.rcv_nxt++;
                peer_fin = true;
            }
        }
        post_rx(id);
        if (plen || (flags & TCP_FIN))
            tcp_send(&c, c.snd_nxt, TCP_ACK, "", 0); /* in order: acknowledges it; else re-ACKs what we have */
    }
    if (!established)
        fail("no SYN-ACK from 169.254.169.254:80 to port %u", c.port);
    if (!peer_fin || !request_acked)
        fail("the connection from port %u did not end with the server's FIN (%u bytes received, request %s)", c.port,
             got, request_acked ? "acknowledged" : "not acknowledged");

    /* Our FIN; the server's ACK of it closes the connection on both sides. */
    tcp_send(&c, c.snd_nxt, TCP_FIN | TCP_ACK, "", 0);
    c.snd_nxt++;
    bool closed = false;
    deadline = deadline_after_seconds(REPLY_TIMEOUT_SECONDS);
    while (!closed && (f = receive(deadline, &id, &len))) {
        const uint8_t *t = tcp_segment(&c, f, len, &plen);
        closed = t && (t[13] & TCP_ACK) && get32(t + 8) == c.snd_nxt;
        post_rx(id);
    }
    if (!closed)
        fail("the server did not acknowledge the FIN from port %u", c.port);
    resp[got] = 0;
    return got;
}

/* Status code and body of an HTTP/1.1 response; the body must be exactly Content-Length bytes. */
static uint32_t parse_response(char *resp, uint32_t n, const char **body)
{
    if (n < 12 || strncmp(resp, "HTTP/1.1 ", 9) != 0)
        fail("not an HTTP/1.1 response: '%s'", resp);
    uint32_t status = (uint32_t)parse_u64(resp + 9, NULL);
    uint32_t head = 0;
    while (head + 4 <= n && memcmp(resp + head, "\r\n\r\n", 4) != 0)
        head++;
    if (head + 4 > n)
        fail("the response has no end of headers: '%s'", resp);
    const char *cl = NULL;
    for (uint32_t i = 0; i + 16 < head; i++)
        if (resp[i] == '\n' && strncmp(resp + i + 1, "Content-Length: ", 16) == 0)
            cl = resp + i + 17;
    if (!cl)
        fail("the response has no Content-Length: '%s'", resp);
    uint32_t length = (uint32_t)parse_u64(cl, NULL);
    *body = resp + head + 4;
    if (n - (head + 4) != length)
        fail("Content-Length %u but %u body bytes", length, n - (head + 4));
    return status;
}

static void append(char *dst, uint32_t *at, const char *s)
{
    uint32_t n = (uint32_t)strlen(s);
    if (*at + n >= RESPONSE_MAX)
        fail("request too long");
    memcpy(dst + *at, s, n + 1);
    *at += n;
}

void scenario_mmds(void)
{
    static char path[VALUE_MAX], expect[VALUE_MAX], token_mode[16], request[RESPONSE_MAX], resp[RESPONSE_MAX],
        token[VALUE_MAX];
    if (!cmdline_get("kindling.mmds_path", path, sizeof path))
        memcpy(path, DEFAULT_PATH, sizeof DEFAULT_PATH);
    bool with_token = !(cmdline_get("kindling.mmds_token", token_mode, sizeof token_mode) &&
                        strncmp(token_mode, "none", sizeof token_mode) == 0);
    if (with_token && !cmdline_get("kindling.expect", expect, sizeof expect))
        fail("no kindling.expect=<value> on the command line");

    if (!virtio_find(VIRTIO_ID_NET, 0, &dev))
        fail("no virtio-net device");
    virtio_negotiate(&dev, VIRTIO_NET_F_MAC);
    virtq_setup(&dev, &rxq, QUEUE_RX);
    virtq_setup(&dev, &txq, QUEUE_TX);
    virtio_driver_ok(&dev);
    if (!(dev.features & VIRTIO_NET_F_MAC))
        fail("the device offers no MAC address (VIRTIO_NET_F_MAC)");
    for (int i = 0; i < ETH_ALEN; i++)
        mac[i] = virtio_config8(&dev, VIRTIO_NET_CONFIG_MAC + (uint32_t)i);
    for (uint32_t i = 0; i < RX_BUFFERS; i++) {
        rx_buffers[i] = dma_alloc(RX_BUFFER_SIZE, 16);
        post_rx(i);
    }
    tx_buffer = dma_alloc(TX_BUFFER_SIZE, 16);

    resolve_mmds_mac();
    const char *body;
    uint32_t at = 0, n, status;
    if (with_token) {
        append(request, &at, "PUT /latest/api/token HTTP/1.1\r\nHost: 169.254.169.254\r\n"
                             "X-metadata-token-ttl-seconds: " TOKEN_TTL "\r\nConnection: close\r\n\r\n");
        n = http_exchange(request, resp);
        status = parse_response(resp, n, &body);
        if (status != 200)
            fail("PUT /latest/api/token: status %u, body '%s'", status, body);
        uint32_t token_len = (uint32_t)strlen(body);
        if (token_len == 0 || token_len >= sizeof token)
            fail("PUT /latest/api/token: a token of %u characters", token_len);
        memcpy(token, body, token_len + 1);
        printf("mmds: PUT /latest/api/token: 200, a token of %u characters\n", token_len);
    }

    at = 0;
    append(request, &at, "GET ");
    append(request, &at, path);
    append(request, &at, " HTTP/1.1\r\nHost: 169.254.169.254\r\n");
    if (with_token) {
        append(request, &at, "X-metadata-token: ");
        append(request, &at, token);
        append(request, &at, "\r\n");
    }
    append(request, &at, "Connection: close\r\n\r\n");
    n = http_exchange(request, resp);
    status = parse_response(resp, n, &body);
    if (!with_token) {
        if (status != 401)
            fail("GET %s without a token: status %u (expected 401), body '%s'", path, status, body);
        printf("mmds: GET %s without a token: 401 '%s'\n", path, body);
        return;
    }
    if (status != 200)
        fail("GET %s: status %u, body '%s'", path, status, body);
    if (strncmp(body, expect, VALUE_MAX) != 0)
        fail("GET %s: '%s', expected '%s'", path, body, expect);
    printf("mmds: GET %s: 200 '%s'\n", path, body);
}
