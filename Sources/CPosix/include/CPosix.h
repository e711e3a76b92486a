// CPosix: the few Linux calls Swift's Glibc module does not expose well.
// Symbols are prefixed CPosix_. epoll_event is packed on x86_64,
// so it is copied into an unpacked struct here rather than imported as is.
#ifndef CPOSIX_H
#define CPOSIX_H

// No _GNU_SOURCE here: it would change the layout of system structs as Glibc's module sees them.
#include <stdint.h>
#include <sys/uio.h>
#include <sys/types.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>

typedef struct CPosix_event {
    uint64_t data;
    uint32_t events;
} CPosix_event;

extern const uint32_t CPosix_EPOLLIN;
extern const uint32_t CPosix_EPOLLOUT;
extern const uint32_t CPosix_EPOLLERR;
extern const uint32_t CPosix_EPOLLHUP;
extern const uint32_t CPosix_EPOLLRDHUP;

int CPosix_epoll_create(void);
int CPosix_epoll_add(int epfd, int fd, uint32_t events, uint64_t data);
int CPosix_epoll_mod(int epfd, int fd, uint32_t events, uint64_t data);
int CPosix_epoll_del(int epfd, int fd);
int CPosix_epoll_wait(int epfd, CPosix_event *events, int maxevents, int timeout_ms);

int CPosix_timerfd_create(void);
/// Arms a one-shot timer `ns` nanoseconds from now (0 disarms); `interval_ns` > 0 repeats.
int CPosix_timerfd_arm(int fd, uint64_t ns, uint64_t interval_ns);
/// Reads the expiry count; returns 0 when nothing was pending.
uint64_t CPosix_timerfd_drain(int fd);

int CPosix_eventfd_create(void);
int CPosix_eventfd_signal(int fd);
uint64_t CPosix_eventfd_drain(int fd);

/// Blocks SIGINT, SIGTERM, SIGHUP and SIGPIPE in the calling thread (inherited by threads it
/// creates afterwards) and returns a non-blocking signalfd that reports the first three.
int CPosix_signalfd_for_shutdown(void);
/* Blocks SIGINT, SIGTERM and SIGHUP in the calling thread: call before any thread starts, so
   that every thread inherits the mask and only the loop's signalfd ever sees them. */
void CPosix_block_shutdown_signals(void);
/// Reads one signal number from a signalfd, or -1.
int CPosix_signalfd_read(int fd);
void CPosix_ignore_sigpipe(void);

/// Batch receive (recvmmsg): up to `n` datagrams, one per iov; fills each source address,
/// its length, and the datagram length. Returns the count, or -1 with errno.
int CPosix_recvmmsg(int fd, struct iovec *iovs, struct sockaddr_storage *addrs, socklen_t *addrlens,
                    unsigned int *lens, unsigned int n);
/// Batch send (sendmmsg): datagram i is iovs[i] to addrs[i]. Returns how many were sent.
int CPosix_sendmmsg(int fd, struct iovec *iovs, const struct sockaddr_storage *addrs, const socklen_t *addrlens,
                    unsigned int n);

int CPosix_set_nonblocking(int fd);
/// accept4 with SOCK_NONBLOCK | SOCK_CLOEXEC.
int CPosix_accept(int fd, struct sockaddr_storage *addr, socklen_t *len);
int CPosix_errno(void);
/// Names the calling thread for the kernel (top -H, /proc/PID/task/*/comm); at most 15 octets.
int CPosix_set_thread_name(const char *name);
/// The calling thread to SCHED_FIFO at `priority` (1-99): 0, or the errno (EPERM without
/// CAP_SYS_NICE or an RLIMIT_RTPRIO that allows it).
int CPosix_thread_set_fifo(int priority);
/// The calling thread back to ordinary scheduling (SCHED_OTHER): 0 or the errno.
int CPosix_thread_set_normal(void);
/// The calling thread's kernel id (/proc/self/task/TID).
int CPosix_gettid(void);
uint64_t CPosix_monotonic_ns(void);

#endif
