/* Fork-join thread pool: workers sleep on a condition variable between runs. */
#include <pthread.h>
#include <stdlib.h>

#include "hop/threads.h"

#define POOL_MAX_THREADS 256

typedef struct pool_worker {
    hop_pool *pool;
    int index;
    pthread_t thread;
} pool_worker;

struct hop_pool {
    int threads;
    pool_worker *workers; /* threads - 1 entries; worker 0 is the caller */
    pthread_mutex_t lock;
    pthread_cond_t start;
    pthread_cond_t done;
    unsigned long generation; /* incremented by every run */
    int pending;              /* workers still running the current task */
    int stopping;
    hop_pool_task task;
    void *arg;
};

static void *worker_main(void *data)
{
    pool_worker *self = data;
    hop_pool *pool = self->pool;
    unsigned long seen = 0;

    pthread_mutex_lock(&pool->lock);
    for (;;) {
        while (pool->generation == seen && !pool->stopping)
            pthread_cond_wait(&pool->start, &pool->lock);
        if (pool->stopping)
            break;
        seen = pool->generation;
        hop_pool_task task = pool->task;
        void *arg = pool->arg;
        pthread_mutex_unlock(&pool->lock);

        task(arg, self->index, pool->threads);

        pthread_mutex_lock(&pool->lock);
        if (--pool->pending == 0)
            pthread_cond_signal(&pool->done);
    }
    pthread_mutex_unlock(&pool->lock);
    return NULL;
}

static void pool_stop(hop_pool *pool, int started)
{
    pthread_mutex_lock(&pool->lock);
    pool->stopping = 1;
    pthread_cond_broadcast(&pool->start);
    pthread_mutex_unlock(&pool->lock);
    for (int i = 0; i < started; i++)
        pthread_join(pool->workers[i].thread, NULL);
}

hop_status hop_pool_new(hop_pool **out, int threads, hop_error *err)
{
    *out = NULL;
    if (threads < 1 || threads > POOL_MAX_THREADS)
        return hop_error_set(err, HOP_ERR_ARG, "thread pool: %d threads is invalid; use 1 to %d",
                             threads, POOL_MAX_THREADS);

    hop_pool *pool = calloc(1, sizeof *pool);
    if (!pool)
        return hop_error_set(err, HOP_ERR_NOMEM, "thread pool: out of memory");
    pool->threads = threads;
    pool->workers = calloc((size_t)threads, sizeof *pool->workers);
    if (!pool->workers) {
        free(pool);
        return hop_error_set(err, HOP_ERR_NOMEM, "thread pool: out of memory");
    }
    pthread_mutex_init(&pool->lock, NULL);
    pthread_cond_init(&pool->start, NULL);
    pthread_cond_init(&pool->done, NULL);

    for (int i = 0; i < threads - 1; i++) {
        pool->workers[i].pool = pool;
        pool->workers[i].index = i + 1;
        if (pthread_create(&pool->workers[i].thread, NULL, worker_main, &pool->workers[i]) != 0) {
            pool_stop(pool, i);
            pool->threads = 0;
            hop_pool_free(pool);
            return hop_error_set(err, HOP_ERR_NOMEM, "thread pool: could not start thread %d of %d",
                                 i + 2, threads);
        }
    }
    *out = pool;
    return HOP_OK;
}

void hop_pool_free(hop_pool *pool)
{
    if (!pool)
        return;
    if (pool->threads > 1)
        pool_stop(pool, pool->threads - 1);
    pthread_mutex_destroy(&pool->lock);
    pthread_cond_destroy(&pool->start);
    pthread_cond_destroy(&pool->done);
    free(pool->workers);
    free(pool);
}

int hop_pool_threads(const hop_pool *pool)
{
    return pool ? pool->threads : 1;
}

void hop_pool_run(hop_pool *pool, hop_pool_task task, void *arg)
{
    if (!pool || pool->threads == 1) {
        task(arg, 0, 1);
        return;
    }
    pthread_mutex_lock(&pool->lock);
    pool->task = task;
    pool->arg = arg;
    pool->pending = pool->threads - 1;
    pool->generation++;
    pthread_cond_broadcast(&pool->start);
    pthread_mutex_unlock(&pool->lock);

    task(arg, 0, pool->threads);

    pthread_mutex_lock(&pool->lock);
    while (pool->pending > 0)
        pthread_cond_wait(&pool->done, &pool->lock);
    pthread_mutex_unlock(&pool->lock);
}

void hop_pool_range(long count, long align, int worker, int workers, long *begin, long *end)
{
    if (align < 1)
        align = 1;
    long blocks = (count + align - 1) / align;
    long b0 = blocks * worker / workers, b1 = blocks * (worker + 1) / workers;
    *begin = b0 * align < count ? b0 * align : count;
    *end = b1 * align < count ? b1 * align : count;
}
