/* counter_service: the counter service of the bare-metal test guest (tests/guests/counter.cpp) as
 * a Linux program for the Debian guest's initramfs, speaking exactly the same UDP protocol, so the
 * same client (tools/emulator/counter_client.py) and the same failover checks work against both:
 *
 *   request payload "inc <id>"        (at least 5 bytes; <id> decimal, read up to the first non-digit)
 *   reply payload   "ok <id> <value>\n" from the service's port to the client's address and port
 *
 * Each new request increments a counter kept in the process's memory (so it lives in guest RAM and
 * travels with every checkpoint) and the reply carries the new value. A request repeating the id
 * of the previous one (a client retry after a lost reply) gets the same answer again without
 * counting twice. Anything else is ignored.
 *
 *   counter_service [PORT]     (default 7777)
 *
 * Built static (gcc -static) by tests/guests/linux/fetch_assets.sh.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static uint64_t counter;
static uint64_t last_id = ~0ull; /* as counter.cpp: no request seen yet */
static uint64_t last_value;

/* The reply to one datagram, or 0 when it is not a request (counter.cpp's answer_udp). */
static size_t answer(const unsigned char *data, size_t len, char *reply, size_t room) {
    if (len < 5 || memcmp(data, "inc ", 4) != 0) return 0;
    uint64_t id = 0;
    for (size_t i = 4; i < len && data[i] >= '0' && data[i] <= '9'; ++i) id = id * 10 + (uint64_t)(data[i] - '0');
    if (id != last_id) { /* a new request counts; a retry gets the same answer */
        last_id = id;
        last_value = ++counter;
    }
    int n = snprintf(reply, room, "ok %llu %llu\n", (unsigned long long)id, (unsigned long long)last_value);
    return n > 0 && (size_t)n < room ? (size_t)n : 0;
}

int main(int argc, char **argv) {
    unsigned long port = 7777;
    if (argc > 2 || (argc == 2 && (port = strtoul(argv[1], NULL, 10)) == 0) || port > 65535) {
        fprintf(stderr, "usage: counter_service [PORT]\n");
        return 2;
    }
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    if (fd < 0) {
        perror("counter_service: socket");
        return 1;
    }
    struct sockaddr_in self;
    memset(&self, 0, sizeof self);
    self.sin_family = AF_INET;
    self.sin_port = htons((uint16_t)port);
    self.sin_addr.s_addr = htonl(INADDR_ANY);
    if (bind(fd, (struct sockaddr *)&self, sizeof self) != 0) {
        fprintf(stderr, "counter_service: cannot bind UDP port %lu: %s\n", port, strerror(errno));
        return 1;
    }
    printf("counter: serving UDP port %lu\n", port);
    fflush(stdout);
    for (;;) {
        unsigned char buf[2048];
        char reply[64];
        struct sockaddr_in from;
        socklen_t from_len = sizeof from;
        ssize_t got = recvfrom(fd, buf, sizeof buf, 0, (struct sockaddr *)&from, &from_len);
        if (got < 0) {
            if (errno == EINTR) continue;
            perror("counter_service: recvfrom");
            return 1;
        }
        size_t n = answer(buf, (size_t)got, reply, sizeof reply);
        if (n != 0) (void)sendto(fd, reply, n, 0, (struct sockaddr *)&from, from_len);
    }
}
