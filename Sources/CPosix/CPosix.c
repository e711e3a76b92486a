#define _GNU_SOURCE 1
#include "CPosix.h"
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>
#include <pthread.h>
#include <sched.h>

const uint32_t CPosix_EPOLLIN = EPOLLIN;
const uint32_t CPosix_EPOLLOUT = EPOLLOUT;
const uint32_t CPosix_EPOLLERR = EPOLLERR;
const uint32_t CPosix_EPOLLHUP = EPOLLHUP;
const uint32_t CPosix_EPOLLRDHUP = EPOLLRDHUP;

int CPosix_epoll_create(void) { return epoll_create1(EPOLL_CLOEXEC); }

static int ctl(int epfd, int op, int fd, uint32_t events, uint64_t data) {
    struct epoll_event ev;
    memset(&ev, 0, sizeof ev);
    ev.events = events;
    ev.data.u64 = data;
    return epoll_ctl(epfd, op, fd, &ev);
}
int CPosix_epoll_add(int epfd, int fd, uint32_t events, uint64_t data) { return ctl(epfd, EPOLL_CTL_ADD, fd, events, data); }
int CPosix_epoll_mod(int epfd, int fd, uint32_t events, uint64_t data) { return ctl(epfd, EPOLL_CTL_MOD, fd, events, data); }
int CPosix_epoll_del(int epfd, int fd) { return ctl(epfd, EPOLL_CTL_DEL, fd, 0, 0); }

int CPosix_epoll_wait(int epfd, CPosix_event *out, int maxevents, int timeout_ms) {
    struct epoll_event evs[256];
    if (maxevents > 256) maxevents = 256;
    int n;
    do { n = epoll_wait(epfd, evs, maxevents, timeout_ms); } while (n < 0 && errno == EINTR);
    for (int i = 0; i < n; i++) { out[i].data = evs[i].data.u64; out[i].events = evs[i].events; }
    return n;
}

int CPosix_timerfd_create(void) { return timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC); }

int CPosix_timerfd_arm(int fd, uint64_t ns, uint64_t interval_ns) {
    struct itimerspec its;
    memset(&its, 0, sizeof its);
    its.it_value.tv_sec = (time_t)(ns / 1000000000ull);
    its.it_value.tv_nsec = (long)(ns % 1000000000ull);
    its.it_interval.tv_sec = (time_t)(interval_ns / 1000000000ull);
    its.it_interval.tv_nsec = (long)(interval_ns % 1000000000ull);
    return timerfd_settime(fd, 0, &its, NULL);
}

uint64_t CPosix_timerfd_drain(int fd) {
    uint64_t n = 0;
    if (read(fd, &n, sizeof n) != sizeof n) return 0;
    return n;
}

int CPosix_eventfd_create(void) { return eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC); }
int CPosix_eventfd_signal(int fd) { uint64_t one = 1; return (int)write(fd, &one, sizeof one); }
uint64_t CPosix_eventfd_drain(int fd) {
    uint64_t n = 0;
    if (read(fd, &n, sizeof n) != sizeof n) return 0;
    return n;
}

void CPosix_block_shutdown_signals(void) {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
}

int CPosix_signalfd_for_shutdown(void) {
    CPosix_block_shutdown_signals();
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGHUP);
    signal(SIGPIPE, SIG_IGN);
    return signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
}

int CPosix_signalfd_read(int fd) {
    struct signalfd_siginfo si;
    if (read(fd, &si, sizeof si) != sizeof si) return -1;
    return (int)si.ssi_signo;
}

void CPosix_ignore_sigpipe(void) { signal(SIGPIPE, SIG_IGN); }

#define CPOSIX_MAX_BATCH 64

int CPosix_recvmmsg(int fd, struct iovec *iovs, struct sockaddr_storage *addrs, socklen_t *addrlens,
                    unsigned int *lens, unsigned int n) {
    struct mmsghdr msgs[CPOSIX_MAX_BATCH];
    if (n > CPOSIX_MAX_BATCH) n = CPOSIX_MAX_BATCH;
    memset(msgs, 0, sizeof(struct mmsghdr) * n);
    for (unsigned int i = 0; i < n; i++) {
        msgs[i].msg_hdr.msg_iov = &iovs[i];
        msgs[i].msg_hdr.msg_iovlen = 1;
        msgs[i].msg_hdr.msg_name = &addrs[i];
        msgs[i].msg_hdr.msg_namelen = sizeof(struct sockaddr_storage);
    }
    int r;
    do { r = recvmmsg(fd, msgs, n, MSG_DONTWAIT, NULL); } while (r < 0 && errno == EINTR);
    for (int i = 0; i < r; i++) { lens[i] = msgs[i].msg_len; addrlens[i] = msgs[i].msg_hdr.msg_namelen; }
    return r;
}

int CPosix_sendmmsg(int fd, struct iovec *iovs, const struct sockaddr_storage *addrs, const socklen_t *addrlens,
                    unsigned int n) {
    struct mmsghdr msgs[CPOSIX_MAX_BATCH];
    if (n > CPOSIX_MAX_BATCH) n = CPOSIX_MAX_BATCH;
    memset(msgs, 0, sizeof(struct mmsghdr) * n);
    for (unsigned int i = 0; i < n; i++) {
        msgs[i].msg_hdr.msg_iov = &iovs[i];
        msgs[i].msg_hdr.msg_iovlen = 1;
        msgs[i].msg_hdr.msg_name = (void *)&addrs[i];
        msgs[i].msg_hdr.msg_namelen = addrlens[i];
    }
    int r;
    do { r = sendmmsg(fd, msgs, n, MSG_DONTWAIT); } while (r < 0 && errno == EINTR);
    return r;
}

int CPosix_set_nonblocking(int fd) {
    int fl = fcntl(fd, F_GETFL, 0);
    if (fl < 0) return -1;
    return fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

int CPosix_errno(void) { return errno; }

uint64_t CPosix_monotonic_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

int CPosix_accept(int fd, struct sockaddr_storage *addr, socklen_t *len) {
    return accept4(fd, (struct sockaddr *)addr, len, SOCK_NONBLOCK | SOCK_CLOEXEC);
}
int CPosix_set_thread_name(const char *name) { return pthread_setname_np(pthread_self(), name); }

int CPosix_thread_set_fifo(int priority) {
    struct sched_param p;
    memset(&p, 0, sizeof p);
    p.sched_priority = priority;
    return pthread_setschedparam(pthread_self(), SCHED_FIFO, &p);
}

int CPosix_gettid(void) { return (int)gettid(); }

int CPosix_thread_set_normal(void) {
    struct sched_param p;
    memset(&p, 0, sizeof p);
    return pthread_setschedparam(pthread_self(), SCHED_OTHER, &p);
}
