#ifndef CRTPRING_H
#define CRTPRING_H
/* Only pointers to the system's types: this header includes no system header, so Swift sees
   msghdr from Glibc alone. */
struct msghdr;

/// Batched datagram I/O for the channel loop over io_uring (liburing): a tick's receives, one
/// per socket, go to the kernel in one io_uring_enter, and so do its sends. Each operation
/// carries MSG_DONTWAIT, so an empty socket completes at once with -EAGAIN instead of waiting.
/// Nothing here allocates after hl_ring_create.
typedef struct hl_ring hl_ring;

/// A ring for up to `entries` operations per submission; NULL (errno set) when the kernel
/// refuses io_uring (disabled by sysctl, seccomp, too old).
hl_ring *hl_ring_create(unsigned entries);
void hl_ring_destroy(hl_ring *ring);

/// A table of `count` registered files (empty slots), so that operations name a socket by its
/// slot and the kernel skips looking the descriptor up on each one. 0 or -errno.
int hl_ring_files(hl_ring *ring, unsigned count);

/// Puts `fd` in slot `slot` (-1 empties it; the ring drops its reference). 0 or -errno.
int hl_ring_file_set(hl_ring *ring, unsigned slot, int fd);

/// One recvmsg per element: msgs[i] on fds[i], or on registered slot fixed[i] when that is
/// >= 0. results[i] = octets received, or -errno (-EAGAIN: nothing waiting). Returns the
/// number of io_uring_enter calls made, or -errno.
int hl_ring_recvmsg_batch(hl_ring *ring, const int *fds, const int *fixed, struct msghdr *msgs, int *results, unsigned n);

/// One sendmsg per element, as above.
int hl_ring_sendmsg_batch(hl_ring *ring, const int *fds, const int *fixed, struct msghdr *msgs, int *results, unsigned n);

/// Operations per submission the ring holds.
unsigned hl_ring_entries(const hl_ring *ring);
#endif
