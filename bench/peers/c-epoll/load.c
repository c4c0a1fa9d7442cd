/*
 * A second echo load generator, in C, for checking the suite's Rust one (crates/riptide-bench):
 * one thread, level-triggered epoll, blocking nowhere. Each connection keeps `depth` messages of
 * `size` bytes in flight; every echoed message must carry the sequence number it was sent with.
 * Per readable connection it makes one read() and one write(): no read until EAGAIN, no
 * per-message allocation, so it makes fewer syscalls per round trip than riptide-bench (2
 * against 3) and can offer a server more load from the same core. A connection without an echo
 * for a second counts as a stall.
 *
 * Flags and output match `riptide-bench echo`, so the runner drives either one
 * (`npm run bench -- --loadgen c`): a `{"phase":"measure"}` line after the warm-up, then one
 * JSON result line.
 *
 *   cc -O2 -o load load.c && ./load echo --addr 127.0.0.1:9001 --conns 50 --size 64
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_DEPTH 1024
/* Latency histogram: 1 µs buckets up to 100 ms, the last bucket holds everything slower. */
#define BUCKETS 100000
/* A connection without an echo for this long counts as one stall (riptide-bench's rule). */
#define STALL_NS 1000000000u

struct client {
    int fd;
    uint64_t next_seq;   /* sequence number of the next message to send */
    uint64_t expect_seq; /* sequence number the next echoed message must carry */
    size_t have;         /* bytes of a partly received message */
    unsigned char *out;  /* bytes not yet written */
    size_t out_len;
    size_t out_cap;
    int watching_out; /* EPOLLOUT is on while out_len > 0 */
    uint64_t progress_ns; /* when an echo last completed (or the run started) */
    int stalled;          /* counted as stalled since its last progress */
    uint64_t sent_ns[MAX_DEPTH]; /* send time of each message in flight, ring by sequence */
};

static uint64_t hist[BUCKETS];
static uint64_t recorded;

static uint64_t now_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

static double cpu_seconds(void) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
}

static double quantile_us(double q) {
    if (recorded == 0) return 0;
    uint64_t want = (uint64_t)(q * (double)recorded);
    uint64_t seen = 0;
    for (size_t i = 0; i < BUCKETS; i++) {
        seen += hist[i];
        if (seen > want) return (double)i;
    }
    return BUCKETS;
}

static void fail(const char *what) {
    fprintf(stderr, "%s: %s\n", what, strerror(errno));
    exit(1);
}

/* Appends `n` messages of `size` bytes carrying the next sequence numbers to `c->out`. */
static void queue(struct client *c, size_t size, int n, uint64_t at) {
    if (c->out_len + size * (size_t)n > c->out_cap) {
        c->out_cap = (c->out_len + size * (size_t)n) * 2;
        c->out = realloc(c->out, c->out_cap);
        if (!c->out) fail("realloc");
    }
    for (int i = 0; i < n; i++) {
        unsigned char *m = c->out + c->out_len;
        memset(m, 0xa5, size);
        memcpy(m, &c->next_seq, 8);
        c->sent_ns[c->next_seq % MAX_DEPTH] = at;
        c->next_seq++;
        c->out_len += size;
    }
}

/* Writes what `c->out` holds; keeps what the socket did not take. */
static void flush(struct client *c) {
    size_t off = 0;
    while (off < c->out_len) {
        ssize_t n = write(c->fd, c->out + off, c->out_len - off);
        if (n < 0) {
            if (errno == EAGAIN) break;
            if (errno == EINTR) continue;
            fail("write");
        }
        off += (size_t)n;
    }
    memmove(c->out, c->out + off, c->out_len - off);
    c->out_len -= off;
}

/* Asks for EPOLLOUT while `c` holds unwritten bytes, and stops asking once it holds none. */
static void watch_out(int epfd, struct client *c, uint32_t id) {
    int want = c->out_len > 0;
    if (want == c->watching_out) return;
    struct epoll_event ev = {.events = EPOLLIN | (want ? EPOLLOUT : 0), .data.u32 = id};
    epoll_ctl(epfd, EPOLL_CTL_MOD, c->fd, &ev);
    c->watching_out = want;
}

static double arg_num(int argc, char **argv, const char *name, double dflt) {
    for (int i = 2; i + 1 < argc; i += 2)
        if (strcmp(argv[i], name) == 0) return atof(argv[i + 1]);
    return dflt;
}

static const char *arg_str(int argc, char **argv, const char *name) {
    for (int i = 2; i + 1 < argc; i += 2)
        if (strcmp(argv[i], name) == 0) return argv[i + 1];
    return NULL;
}

int main(int argc, char **argv) {
    const char *addr_arg = argc > 1 ? arg_str(argc, argv, "--addr") : NULL;
    if (argc < 4 || argc % 2 != 0 || strcmp(argv[1], "echo") != 0 || !addr_arg) {
        fprintf(stderr, "usage: load echo --addr HOST:PORT [--conns 50] [--size 64] [--depth 1] [--duration 5] [--warmup 1]\n");
        return 2;
    }
    int conns = (int)arg_num(argc, argv, "--conns", 50);
    size_t size = (size_t)arg_num(argc, argv, "--size", 64);
    int depth = (int)arg_num(argc, argv, "--depth", 1);
    double duration = arg_num(argc, argv, "--duration", 5);
    double warmup = arg_num(argc, argv, "--warmup", 1);
    if (conns < 1 || size < 8 || depth < 1 || depth > MAX_DEPTH || duration <= 0 || warmup < 0) {
        fprintf(stderr, "load: conns >= 1, size >= 8, 1 <= depth <= %d, duration > 0, warmup >= 0\n", MAX_DEPTH);
        return 2;
    }
    char host[64];
    const char *colon = strrchr(addr_arg, ':');
    if (!colon || (size_t)(colon - addr_arg) >= sizeof host) {
        fprintf(stderr, "load: --addr must be HOST:PORT\n");
        return 2;
    }
    memcpy(host, addr_arg, (size_t)(colon - addr_arg));
    host[colon - addr_arg] = 0;
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(colon + 1))};
    if (inet_pton(AF_INET, host, &sa.sin_addr) != 1) {
        fprintf(stderr, "load: %s is not an IPv4 address\n", host);
        return 2;
    }

    int epfd = epoll_create1(0);
    struct client *clients = calloc((size_t)conns, sizeof *clients);
    if (!clients) fail("calloc");
    int one = 1;
    uint64_t t0 = now_ns();
    for (int i = 0; i < conns; i++) {
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0) fail("connect");
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) < 0) fail("fcntl");
        clients[i].fd = fd;
        struct epoll_event ev = {.events = EPOLLIN, .data.u32 = (uint32_t)i};
        epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev);
    }
    for (int i = 0; i < conns; i++) {
        clients[i].progress_ns = t0;
        queue(&clients[i], size, depth, t0);
        flush(&clients[i]);
    }

    uint64_t measure_from = t0 + (uint64_t)(warmup * 1e9);
    uint64_t end = measure_from + (uint64_t)(duration * 1e9);
    int measuring = 0;
    double cpu_at_start = 0;
    uint64_t messages = 0;
    uint64_t stalls = 0;
    uint64_t stall_check = t0;
    size_t bufsize = 256 * 1024;
    unsigned char *buf = malloc(bufsize);
    struct epoll_event events[1024];
    for (;;) {
        uint64_t now = now_ns();
        if (now >= end) break;
        if (!measuring && now >= measure_from) {
            measuring = 1;
            cpu_at_start = cpu_seconds();
            printf("{\"phase\":\"measure\"}\n");
            fflush(stdout);
        }
        int n = epoll_wait(epfd, events, 1024, 100);
        if (n < 0) {
            if (errno == EINTR) continue;
            fail("epoll_wait");
        }
        now = now_ns();
        for (int e = 0; e < n; e++) {
            struct client *c = &clients[events[e].data.u32];
            if (events[e].events & EPOLLOUT) {
                flush(c);
                watch_out(epfd, c, events[e].data.u32);
            }
            if (!(events[e].events & (EPOLLIN | EPOLLHUP | EPOLLERR))) continue;
            ssize_t r = read(c->fd, buf, bufsize);
            if (r == 0) {
                fprintf(stderr, "load: the server closed a connection\n");
                return 1;
            }
            if (r < 0) {
                if (errno == EAGAIN || errno == EINTR) continue;
                fail("read");
            }
            /* Each whole message: check its sequence number (its first 8 bytes), record its round trip. */
            size_t off = 0;
            int done = 0;
            while (off < (size_t)r) {
                size_t take = size - c->have < (size_t)r - off ? size - c->have : (size_t)r - off;
                if (c->have < 8) {
                    size_t hdr = 8 - c->have < take ? 8 - c->have : take;
                    for (size_t k = 0; k < hdr; k++) {
                        if (buf[off + k] != (unsigned char)(c->expect_seq >> (8 * (c->have + k)))) {
                            fprintf(stderr, "load: corrupt echo of message %llu\n", (unsigned long long)c->expect_seq);
                            return 1;
                        }
                    }
                }
                c->have += take;
                off += take;
                if (c->have == size) {
                    uint64_t sent = c->sent_ns[c->expect_seq % MAX_DEPTH];
                    c->expect_seq++;
                    c->have = 0;
                    c->progress_ns = now;
                    c->stalled = 0;
                    done++;
                    if (measuring && sent >= measure_from) {
                        uint64_t us = (now - sent) / 1000;
                        hist[us < BUCKETS ? us : BUCKETS - 1]++;
                        recorded++;
                        messages++;
                    }
                }
            }
            if (done > 0) {
                queue(c, size, done, now);
                flush(c);
            }
            watch_out(epfd, c, (uint32_t)(c - clients));
        }
        if (measuring && now - stall_check >= 100000000u) {
            stall_check = now;
            for (int i = 0; i < conns; i++) {
                if (!clients[i].stalled && now - clients[i].progress_ns >= STALL_NS) {
                    clients[i].stalled = 1;
                    stalls++;
                }
            }
        }
    }
    double cpu = cpu_seconds() - cpu_at_start;
    printf("{\"workload\":\"echo\",\"conns\":%d,\"size\":%zu,\"depth\":%d,\"seconds\":%g,\"messages\":%llu,\"rate\":%.1f,"
           "\"p50_us\":%.1f,\"p99_us\":%.1f,\"p999_us\":%.1f,\"stalls\":%llu,\"loadgen_cpu_s\":%.3f}\n",
           conns, size, depth, duration, (unsigned long long)messages, (double)messages / duration, quantile_us(0.5),
           quantile_us(0.99), quantile_us(0.999), (unsigned long long)stalls, cpu);
    return 0;
}
