/*
 * pool.c — the budget of open segment files and mapped bytes of a log set.
 * Resident segments sit on a circular list; when the set holds more
 * descriptors or mapped bytes than its budget, a CLOCK hand walks the list
 * and closes the files of segments no reader has pinned and none touched
 * since the hand last passed (a pin sets the segment's referenced bit).  An
 * evicted segment keeps everything it knows in memory and reopens its files
 * when next pinned.  Segments a reader holds are never evicted, so a budget
 * can be exceeded while that many are in use.
 */
#include "storage.h"

void sc_pool_init(sc_pool *pool, uint32_t max_files, uint64_t max_mapped) {
    pthread_mutex_init(&pool->mu, NULL);
    pool->hand = NULL;
    pool->resident = 0;
    pool->files = 0;
    pool->mapped = 0;
    pool->max_files = max_files;
    pool->max_mapped = max_mapped;
}

void sc_pool_destroy(sc_pool *pool) { pthread_mutex_destroy(&pool->mu); }

static uint64_t mapped_cost(sc_segment *seg) {
    return sc_segment_size(seg) + seg->oindex.reserved + seg->tindex.reserved;
}

static void evict_over_budget_locked(sc_pool *pool) {
    /* Two passes at most: the first may only clear referenced bits. */
    size_t steps = pool->resident * 2;
    while ((pool->files > pool->max_files || pool->mapped > pool->max_mapped) && pool->hand &&
           steps-- > 0) {
        sc_segment *seg = pool->hand;
        pool->hand = seg->lru_next;
        if (atomic_exchange_explicit(&seg->referenced, 0, memory_order_relaxed)) continue;
        if (atomic_load(&seg->res) != SC_RES_RESIDENT) continue; /* pinned */
        if (sc_segment_evict(seg)) sc_pool_remove_locked(pool, seg);
    }
}

void sc_pool_add(sc_pool *pool, sc_segment *seg) {
    pthread_mutex_lock(&pool->mu);
    if (seg->lru_next == NULL) {
        if (pool->hand) {
            /* Insert just behind the hand: the last place it will look. */
            sc_segment *h = pool->hand;
            seg->lru_next = h;
            seg->lru_prev = h->lru_prev;
            h->lru_prev->lru_next = seg;
            h->lru_prev = seg;
        } else {
            seg->lru_next = seg->lru_prev = seg;
            pool->hand = seg;
        }
        seg->pool_files = 1 + (seg->wfd >= 0);
        seg->pool_cost = mapped_cost(seg);
        pool->resident++;
        pool->files += seg->pool_files;
        pool->mapped += seg->pool_cost;
    }
    atomic_store_explicit(&seg->referenced, 1, memory_order_relaxed);
    evict_over_budget_locked(pool);
    pthread_mutex_unlock(&pool->mu);
}

void sc_pool_remove_locked(sc_pool *pool, sc_segment *seg) {
    if (seg->lru_next == NULL) return;
    if (seg->lru_next == seg) {
        pool->hand = NULL;
    } else {
        seg->lru_prev->lru_next = seg->lru_next;
        seg->lru_next->lru_prev = seg->lru_prev;
        if (pool->hand == seg) pool->hand = seg->lru_next;
    }
    seg->lru_next = seg->lru_prev = NULL;
    pool->resident--;
    pool->files -= seg->pool_files;
    pool->mapped -= seg->pool_cost;
}

void sc_pool_remove(sc_pool *pool, sc_segment *seg) {
    pthread_mutex_lock(&pool->mu);
    sc_pool_remove_locked(pool, seg);
    pthread_mutex_unlock(&pool->mu);
}

void sc_pool_update(sc_pool *pool, sc_segment *seg) {
    pthread_mutex_lock(&pool->mu);
    if (seg->lru_next != NULL) {
        pool->files -= seg->pool_files;
        pool->mapped -= seg->pool_cost;
        seg->pool_files = 1 + (seg->wfd >= 0);
        seg->pool_cost = mapped_cost(seg);
        pool->files += seg->pool_files;
        pool->mapped += seg->pool_cost;
    }
    evict_over_budget_locked(pool);
    pthread_mutex_unlock(&pool->mu);
}

void sc_pool_enforce(sc_pool *pool) {
    pthread_mutex_lock(&pool->mu);
    evict_over_budget_locked(pool);
    pthread_mutex_unlock(&pool->mu);
}
