/* ack_queue.c - see ack_queue.h. */
#include "ack_queue.h"

#include <stdlib.h>

#define MID_SLOTS 65536 /* MQTT message ids are 16 bits */

int ack_queue_push(ack_queue *q, ack_entry *e)
{
    if (e->delivery) {
        if (!q->by_delivery && !(q->by_delivery = calloc(MID_SLOTS, sizeof *q->by_delivery))) return -1;
        q->by_delivery[e->delivery & (MID_SLOTS - 1)] = e;
    }
    e->next = NULL;
    if (q->tail) q->tail->next = e;
    else q->head = e;
    q->tail = e;
    q->length++;
    return 0;
}

int ack_queue_delivered(ack_queue *q, int delivery)
{
    if (!q->by_delivery) return 0;
    ack_entry **slot = &q->by_delivery[delivery & (MID_SLOTS - 1)];
    int cleared = *slot && (*slot)->delivery == delivery;
    if (cleared) (*slot)->delivery = 0;
    *slot = NULL;
    return cleared;
}

/* 1 = take this entry, 0 = look further, -1 = stop looking. */
typedef int (*match_fn)(const ack_entry *e, uint64_t epoch);

static ack_entry *pop_first(ack_queue *q, match_fn match, uint64_t epoch)
{
    ack_entry *prev = NULL;
    for (ack_entry *e = q->head; e; prev = e, e = e->next) {
        int m = match(e, epoch);
        if (m < 0) return NULL;
        if (m == 0) continue;
        if (prev) prev->next = e->next;
        else q->head = e->next;
        if (q->tail == e) q->tail = prev;
        q->length--;
        e->next = NULL;
        if (e->delivery && q->by_delivery && q->by_delivery[e->delivery & (MID_SLOTS - 1)] == e)
            q->by_delivery[e->delivery & (MID_SLOTS - 1)] = NULL;
        return e;
    }
    return NULL;
}

/* Epochs never decrease along the queue, so the first entry of an
 * uncommitted batch ends the search. */
static int is_ready(const ack_entry *e, uint64_t committed)
{
    if (e->epoch > committed) return -1;
    return e->delivery == 0;
}
static int in_epoch(const ack_entry *e, uint64_t epoch) { return e->epoch == epoch; }

ack_entry *ack_queue_pop_ready(ack_queue *q, uint64_t committed_epoch)
{
    return pop_first(q, is_ready, committed_epoch);
}

ack_entry *ack_queue_pop_epoch(ack_queue *q, uint64_t epoch) { return pop_first(q, in_epoch, epoch); }

void ack_queue_clear(ack_queue *q)
{
    ack_entry *e = q->head;
    while (e) {
        ack_entry *next = e->next;
        free(e);
        e = next;
    }
    q->head = q->tail = NULL;
    q->length = 0;
    free(q->by_delivery);
    q->by_delivery = NULL;
}
