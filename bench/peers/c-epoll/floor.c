/*
 * The C floor of riptide's benchmarks: one thread, level-triggered epoll, non-blocking sockets
 * with TCP_NODELAY. `echo` writes back what it reads; `http` is a minimal HTTP/1.1 responder
 * that counts "\r\n\r\n" across reads and answers each request with one canned response, all
 * responses of one read in one write (what gnet-benchmarks and TechEmpower's top entries do).
 *
 *   cc -O2 -o floor floor.c && ./floor echo 9001
 */
#define _GNU_SOURCE
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <arpa/inet.h>
#include <unistd.h>

#define MAX_FDS 65536
#define BATCH 64

static const char RESPONSE[] =
    "HTTP/1.1 200 OK\r\nServer: c\r\nContent-Type: text/plain\r\nContent-Length: 13\r\n\r\nHello, World!";
#define RESPONSE_LEN (sizeof(RESPONSE) - 1)

/* Bytes a peer would not take yet; allocated only while something is pending. */
struct pending {
    char *buf;
    size_t len;
};

static struct pending pend[MAX_FDS];
static unsigned char match_state[MAX_FDS]; /* how much of "\r\n\r\n" the last read ended with */
static char responses[RESPONSE_LEN * BATCH];
static int epfd;

static void drop(int fd) {
    free(pend[fd].buf);
    pend[fd].buf = NULL;
    pend[fd].len = 0;
    match_state[fd] = 0;
    close(fd);
}

/* Writes `data` (after anything pending); keeps the rest and asks for EPOLLOUT. Returns -1 when the connection failed. */
static int send_all(int fd, const char *data, size_t len) {
    if (pend[fd].len == 0) {
        while (len > 0) {
            ssize_t n = write(fd, data, len);
            if (n < 0) {
                if (errno == EAGAIN) break;
                if (errno == EINTR) continue;
                return -1;
            }
            data += n;
            len -= (size_t)n;
        }
        if (len == 0) return 0;
        struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT, .data.fd = fd};
        epoll_ctl(epfd, EPOLL_CTL_MOD, fd, &ev);
    }
    char *grown = realloc(pend[fd].buf, pend[fd].len + len);
    if (!grown) return -1;
    memcpy(grown + pend[fd].len, data, len);
    pend[fd].buf = grown;
    pend[fd].len += len;
    return 0;
}

static int flush_pending(int fd) {
    size_t off = 0;
    while (off < pend[fd].len) {
        ssize_t n = write(fd, pend[fd].buf + off, pend[fd].len - off);
        if (n < 0) {
            if (errno == EAGAIN) break;
            if (errno == EINTR) continue;
            return -1;
        }
        off += (size_t)n;
    }
    memmove(pend[fd].buf, pend[fd].buf + off, pend[fd].len - off);
    pend[fd].len -= off;
    if (pend[fd].len == 0) {
        free(pend[fd].buf);
        pend[fd].buf = NULL;
        struct epoll_event ev = {.events = EPOLLIN, .data.fd = fd};
        epoll_ctl(epfd, EPOLL_CTL_MOD, fd, &ev);
    }
    return 0;
}

/* Counts complete requests in `buf`, carrying the "\r\n\r\n" match across reads. */
static size_t count_requests(int fd, const char *buf, size_t len) {
    static const char want[4] = {'\r', '\n', '\r', '\n'};
    unsigned s = match_state[fd];
    size_t n = 0;
    for (size_t i = 0; i < len; i++) {
        if (buf[i] == want[s]) {
            if (++s == 4) {
                n++;
                s = 0;
            }
        } else {
            s = buf[i] == '\r' ? 1 : 0;
        }
    }
    match_state[fd] = (unsigned char)s;
    return n;
}

int main(int argc, char **argv) {
    if (argc != 3 || (strcmp(argv[1], "echo") != 0 && strcmp(argv[1], "http") != 0)) {
        fprintf(stderr, "usage: floor echo|http PORT\n");
        return 2;
    }
    int http = strcmp(argv[1], "http") == 0;
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    for (int i = 0; i < BATCH; i++) memcpy(responses + i * RESPONSE_LEN, RESPONSE, RESPONSE_LEN);

    int lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    int one = 1;
    setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(argv[2]))};
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(lfd, (struct sockaddr *)&addr, sizeof addr) < 0 || listen(lfd, 4096) < 0) {
        perror("bind/listen");
        return 1;
    }
    epfd = epoll_create1(0);
    struct epoll_event lev = {.events = EPOLLIN, .data.fd = lfd};
    epoll_ctl(epfd, EPOLL_CTL_ADD, lfd, &lev);
    printf("c-epoll %s listening on 127.0.0.1:%s\n", argv[1], argv[2]);
    fflush(stdout);

    static char buf[256 * 1024];
    struct epoll_event events[512];
    for (;;) {
        int n = epoll_wait(epfd, events, 512, -1);
        if (n < 0 && errno != EINTR) return 1;
        for (int i = 0; i < n; i++) {
            int fd = events[i].data.fd;
            if (fd == lfd) {
                for (;;) {
                    int c = accept4(lfd, NULL, NULL, SOCK_NONBLOCK);
                    if (c < 0) break;
                    if (c >= MAX_FDS) {
                        close(c);
                        continue;
                    }
                    setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
                    struct epoll_event ev = {.events = EPOLLIN, .data.fd = c};
                    epoll_ctl(epfd, EPOLL_CTL_ADD, c, &ev);
                }
                continue;
            }
            if ((events[i].events & EPOLLOUT) && flush_pending(fd) < 0) {
                drop(fd);
                continue;
            }
            if (!(events[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR))) continue;
            ssize_t r = read(fd, buf, sizeof buf);
            if (r == 0 || (r < 0 && errno != EAGAIN && errno != EINTR)) {
                drop(fd);
                continue;
            }
            if (r < 0) continue;
            int failed = 0;
            if (!http) {
                failed = send_all(fd, buf, (size_t)r);
            } else {
                for (size_t reqs = count_requests(fd, buf, (size_t)r); reqs > 0 && !failed;) {
                    size_t k = reqs < BATCH ? reqs : BATCH;
                    failed = send_all(fd, responses, k * RESPONSE_LEN);
                    reqs -= k;
                }
            }
            if (failed) drop(fd);
        }
    }
}
