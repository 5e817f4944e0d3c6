// counter: the counter service the failover tests talk to. A UDP server on the virtio-net card
// (ARP answered too): each request increments a counter kept in guest memory and the reply
// carries the new value. Requests carry an id; a request repeated with the same id (a client
// retry after a lost reply) gets the same answer again without counting twice, so a client that
// retries sees 1, 2, 3, ... whatever happens to the machines underneath.
//   ip=A.B.C.D (10.0.2.15)  port=N (7777)
// Request payload: "inc <id>"; reply: "ok <id> <counter>".
#include "lib/guest.hpp"
#include "lib/virtio_net_driver.hpp"

namespace {

guest::VirtioNet net;
uint64_t counter = 0;
uint64_t last_id = ~0ull;
uint64_t last_value = 0;
uint8_t ip[4] = {10, 0, 2, 15};
uint16_t port = 7777;
uint8_t out[1514];

uint16_t be16(const uint8_t* p) { return static_cast<uint16_t>(p[0] << 8 | p[1]); }
void put16(uint8_t* p, uint16_t v) {
    p[0] = static_cast<uint8_t>(v >> 8);
    p[1] = static_cast<uint8_t>(v);
}
bool same(const uint8_t* a, const uint8_t* b, uint32_t n) {
    for (uint32_t i = 0; i < n; ++i) {
        if (a[i] != b[i]) return false;
    }
    return true;
}
void copy(uint8_t* d, const uint8_t* s, uint32_t n) {
    for (uint32_t i = 0; i < n; ++i) d[i] = s[i];
}

uint16_t ip_checksum(const uint8_t* p, uint32_t n) {
    uint32_t sum = 0;
    for (uint32_t i = 0; i + 1 < n; i += 2) sum += be16(p + i);
    while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
    return static_cast<uint16_t>(~sum);
}

void answer_arp(const uint8_t* f, uint32_t len) {
    // Ethernet (14) + ARP (28): request (op 1) for our address.
    if (len < 42 || be16(f + 20) != 1 || !same(f + 38, ip, 4)) return;
    copy(out, f + 6, 6);          // to the asker
    copy(out + 6, net.mac(), 6);  // from us
    put16(out + 12, 0x0806);
    copy(out + 14, f + 14, 6);    // htype, ptype, hlen, plen
    put16(out + 20, 2);           // reply
    copy(out + 22, net.mac(), 6);
    copy(out + 28, ip, 4);
    copy(out + 32, f + 22, 10);   // the asker's MAC and IP
    net.send(out, 42);
}

uint32_t append_number(uint8_t* p, uint64_t v) {
    char digits[20];
    uint32_t n = 0;
    do {
        digits[n++] = static_cast<char>('0' + v % 10);
        v /= 10;
    } while (v != 0);
    for (uint32_t i = 0; i < n; ++i) p[i] = static_cast<uint8_t>(digits[n - 1 - i]);
    return n;
}

void answer_udp(const uint8_t* f, uint32_t len) {
    if (len < 42 || f[23] != 17 || !same(f + 30, ip, 4)) return;
    uint32_t ihl = (f[14] & 0xf) * 4u;
    const uint8_t* udp = f + 14 + ihl;
    if (14 + ihl + 8 > len || be16(udp + 2) != port) return;
    uint32_t data_len = be16(udp + 4) - 8u;
    const uint8_t* data = udp + 8;
    if (data + data_len > f + len || data_len < 5 || !same(data, reinterpret_cast<const uint8_t*>("inc "), 4)) return;
    uint64_t id = 0;
    for (uint32_t i = 4; i < data_len && data[i] >= '0' && data[i] <= '9'; ++i) id = id * 10 + (data[i] - '0');
    if (id != last_id) {  // a new request counts; a retry gets the same answer
        last_id = id;
        last_value = ++counter;
    }
    // Reply: Ethernet, IPv4 (20), UDP (8), "ok <id> <value>\n".
    uint8_t* payload = out + 42;
    uint32_t n = 0;
    payload[n++] = 'o';
    payload[n++] = 'k';
    payload[n++] = ' ';
    n += append_number(payload + n, id);
    payload[n++] = ' ';
    n += append_number(payload + n, last_value);
    payload[n++] = '\n';
    copy(out, f + 6, 6);
    copy(out + 6, net.mac(), 6);
    put16(out + 12, 0x0800);
    uint8_t* iph = out + 14;
    iph[0] = 0x45;
    iph[1] = 0;
    put16(iph + 2, static_cast<uint16_t>(20 + 8 + n));
    put16(iph + 4, 0);
    put16(iph + 6, 0x4000);  // don't fragment
    iph[8] = 64;
    iph[9] = 17;
    put16(iph + 10, 0);
    copy(iph + 12, ip, 4);
    copy(iph + 16, f + 26, 4);
    put16(iph + 10, ip_checksum(iph, 20));
    uint8_t* u = out + 34;
    put16(u, port);
    copy(u + 2, udp, 2);  // to the client's port
    put16(u + 4, static_cast<uint16_t>(8 + n));
    put16(u + 6, 0);      // no UDP checksum (allowed for IPv4)
    net.send(out, 42 + n);
}

bool parse_ip(const char* cmdline) {
    // ip=a.b.c.d
    const char* p = cmdline;
    for (; *p != '\0'; ++p) {
        if ((p == cmdline || p[-1] == ' ') && p[0] == 'i' && p[1] == 'p' && p[2] == '=') break;
    }
    if (*p == '\0') return true;
    p += 3;
    for (int i = 0; i < 4; ++i) {
        uint32_t v = 0;
        if (*p < '0' || *p > '9') return false;
        while (*p >= '0' && *p <= '9') v = v * 10 + static_cast<uint32_t>(*p++ - '0');
        if (v > 255 || (i < 3 && *p++ != '.')) return false;
        ip[i] = static_cast<uint8_t>(v);
    }
    return true;
}

}  // namespace

extern "C" uint32_t guest_main(const char* cmdline, uintptr_t) {
    uint64_t p = 0;
    if (guest::arg_number(cmdline, "port", p)) port = static_cast<uint16_t>(p);
    if (!parse_ip(cmdline)) {
        guest::line("counter: bad ip=");
        return 2;
    }
    if (!net.init(tandem::guest_abi::kVirtioNetMmio)) {
        guest::line("counter: no virtio-net device");
        return 3;
    }
    guest::puts("counter: serving UDP port ");
    guest::put_dec(port);
    guest::puts(" at ");
    for (int i = 0; i < 4; ++i) {
        guest::put_dec(ip[i]);
        if (i < 3) guest::putc('.');
    }
    guest::line("");
    for (;;) {
        uint32_t len = 0;
        const uint8_t* f = net.receive(len);
        if (f == nullptr) {
            asm volatile("pause");
            continue;
        }
        if (len >= 14 && be16(f + 12) == 0x0806) answer_arp(f, len);
        if (len >= 14 && be16(f + 12) == 0x0800) answer_udp(f, len);
        net.release();
    }
}
