#include <sys/socket.h>
#include <liburing.h>
#include "CRTPRing.h"
#include <errno.h>
#include <stdlib.h>
#include <string.h>

struct hl_ring {
    struct io_uring ring;
    unsigned entries;
};

hl_ring *hl_ring_create(unsigned entries) {
    hl_ring *r = calloc(1, sizeof(*r));
    if (!r) { errno = ENOMEM; return NULL; }
    struct io_uring_params p;
    memset(&p, 0, sizeof(p));
    // Completions need no interrupt of the loop thread (it reaps them itself). Not
    // SINGLE_ISSUER: the ring is made on the thread that starts the loop, used on the loop's.
    p.flags = IORING_SETUP_COOP_TASKRUN | IORING_SETUP_CQSIZE;
    p.cq_entries = entries * 2;
    int e = io_uring_queue_init_params(entries, &r->ring, &p);
    if (e < 0) {
        // Older kernels: no COOP_TASKRUN.
        memset(&p, 0, sizeof(p));
        p.flags = IORING_SETUP_CQSIZE;
        p.cq_entries = entries * 2;
        e = io_uring_queue_init_params(entries, &r->ring, &p);
    }
    if (e < 0) { free(r); errno = -e; return NULL; }
    r->entries = entries;
    return r;
}

void hl_ring_destroy(hl_ring *r) {
    if (!r) return;
    io_uring_queue_exit(&r->ring);
    free(r);
}

unsigned hl_ring_entries(const hl_ring *r) { return r->entries; }

int hl_ring_files(hl_ring *r, unsigned count) {
    return io_uring_register_files_sparse(&r->ring, count);
}

int hl_ring_file_set(hl_ring *r, unsigned slot, int fd) {
    int e = io_uring_register_files_update(&r->ring, slot, &fd, 1);
    return e == 1 ? 0 : (e < 0 ? e : -EIO);
}

static int batch(hl_ring *r, const int *fds, const int *fixed, struct msghdr *msgs, int *results, unsigned n, int send) {
    int enters = 0;
    unsigned done = 0;
    while (done < n) {
        unsigned chunk = n - done;
        if (chunk > r->entries) chunk = r->entries;
        for (unsigned i = 0; i < chunk; i++) {
            struct io_uring_sqe *sqe = io_uring_get_sqe(&r->ring);
            if (!sqe) { chunk = i; break; }
            unsigned k = done + i;
            int f = fixed[k] >= 0 ? fixed[k] : fds[k];
            if (send) io_uring_prep_sendmsg(sqe, f, &msgs[k], MSG_DONTWAIT);
            else io_uring_prep_recvmsg(sqe, f, &msgs[k], MSG_DONTWAIT);
            if (fixed[k] >= 0) sqe->flags |= IOSQE_FIXED_FILE;
            io_uring_sqe_set_data64(sqe, k);
        }
        if (chunk == 0) return -EBUSY;
        int s;
        do { s = io_uring_submit_and_wait(&r->ring, chunk); } while (s == -EINTR);
        if (s < 0) return s;
        enters++;
        unsigned seen = 0;
        while (seen < chunk) {
            struct io_uring_cqe *cqe;
            unsigned head, count = 0;
            io_uring_for_each_cqe(&r->ring, head, cqe) {
                results[io_uring_cqe_get_data64(cqe)] = cqe->res;
                count++;
            }
            io_uring_cq_advance(&r->ring, count);
            seen += count;
            if (seen < chunk) {
                // MSG_DONTWAIT operations complete inline; should one still be pending, wait for it.
                int w;
                do { w = io_uring_wait_cqe(&r->ring, &cqe); } while (w == -EINTR);
                if (w < 0) return w;
            }
        }
        done += chunk;
    }
    return enters;
}

int hl_ring_recvmsg_batch(hl_ring *r, const int *fds, const int *fixed, struct msghdr *msgs, int *results, unsigned n) {
    return batch(r, fds, fixed, msgs, results, n, 0);
}

int hl_ring_sendmsg_batch(hl_ring *r, const int *fds, const int *fixed, struct msghdr *msgs, int *results, unsigned n) {
    return batch(r, fds, fixed, msgs, results, n, 1);
}
