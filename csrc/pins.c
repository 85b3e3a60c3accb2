/*
 * pins.c — the process-wide registry of what holds bytes of segment files:
 * read mappings (zero-copy views) and slices (sendfile ranges).  A handle
 * that would shrink a file (truncate, a recovery cut) asks here first, so no
 * access through a view and no sendfile in flight can meet bytes that were
 * cut away or replaced — whichever handle, open or closed, the pin came from.
 */
#include <sys/mman.h>
#include <stdlib.h>

#include "storage.h"

static pthread_mutex_t registry_mu = PTHREAD_MUTEX_INITIALIZER;
static sc_pin *registry;

void sc_pin_register(sc_pin *pin, uint64_t dev, uint64_t ino, uint64_t end) {
    pin->dev = dev;
    pin->ino = ino;
    pin->end = end;
    pthread_mutex_lock(&registry_mu);
    pin->prev = NULL;
    pin->next = registry;
    if (registry) registry->prev = pin;
    registry = pin;
    pthread_mutex_unlock(&registry_mu);
}

void sc_pin_unregister(sc_pin *pin) {
    pthread_mutex_lock(&registry_mu);
    if (pin->prev) pin->prev->next = pin->next;
    else registry = pin->next;
    if (pin->next) pin->next->prev = pin->prev;
    pthread_mutex_unlock(&registry_mu);
}

int sc_pins_cover(uint64_t dev, uint64_t ino, uint64_t position, const sc_pin *except) {
    int covered = 0;
    pthread_mutex_lock(&registry_mu);
    for (const sc_pin *p = registry; p && !covered; p = p->next)
        if (p != except && p->dev == dev && p->ino == ino && p->end > position) covered = 1;
    pthread_mutex_unlock(&registry_mu);
    return covered;
}

void sc_map_retain(sc_map *map) { atomic_fetch_add_explicit(&map->refs, 1, memory_order_relaxed); }

void sc_map_release(sc_map *map) {
    if (!map) return;
    if (atomic_fetch_sub_explicit(&map->refs, 1, memory_order_acq_rel) == 1) {
        sc_pin_unregister(&map->pin);
        munmap(map->addr, map->len);
        free(map);
    }
}
