/*
 * A fork-join thread pool owned by its caller.
 *
 * hop_pool_run() runs one task on every worker at once and returns when all have finished.
 * The calling thread is worker 0, so a pool of one thread starts no thread at all.
 */
#ifndef HOP_THREADS_H
#define HOP_THREADS_H

#include "hop/base.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct hop_pool hop_pool;

/* A task body: worker is 0 to workers - 1. */
typedef void (*hop_pool_task)(void *arg, int worker, int workers);

/* Starts threads - 1 worker threads (threads 1 to 256). */
hop_status hop_pool_new(hop_pool **pool, int threads, hop_error *err);
void hop_pool_free(hop_pool *pool);
int hop_pool_threads(const hop_pool *pool);

/* Runs task(arg, w, workers) for every worker w and waits for all of them. */
void hop_pool_run(hop_pool *pool, hop_pool_task task, void *arg);

/* Splits [0, count) into workers near-equal ranges, each a multiple of align but the last. */
void hop_pool_range(long count, long align, int worker, int workers, long *begin, long *end);

#ifdef __cplusplus
}
#endif

#endif
