/* ack_queue.h - acks that wait until their change is durable and delivered.
 *
 * An accepted change is acked only when both hold: its journal batch is
 * committed (epoch <= committed epoch) and the sink has confirmed delivery
 * of the retained state (`delivery`, 0 once confirmed or when there is none;
 * for MQTT the PUBACK of that message id). Pure: no I/O.
 * Entries stay in arrival order, so their epochs never decrease along the
 * queue; confirmations nearly always match an entry near the head. */
#ifndef KB_ACK_QUEUE_H
#define KB_ACK_QUEUE_H

#include <stdint.h>

#include "ack.h"

typedef struct ack_entry {
    struct ack_entry *next;
    uint64_t epoch;
    int delivery; /* the sink's delivery token still awaited (MQTT: the PUBACK's message id), 0 if none */
    int64_t seq;
    order_status status;
    int duplicate;
    double started_ms; /* monotonic time the request arrived */
    kb_origin from; /* who asked, and where the ack goes */
    char order_number[ORDER_NUMBER_MAX + 1];
} ack_entry;

typedef struct {
    ack_entry *head, *tail;
    long length;
    /* Entries still waiting for a confirmation, by token (a 16-bit MQTT
     * message id, so one slot per possible id): most PUBACKs are
     * for events and acks, which are not in the queue, and must not cost a
     * walk of it. Allocated on first use (512 KiB of address space, touched
     * only where ids are in use). */
    ack_entry **by_delivery;
} ack_queue;

/* Takes ownership of a calloc'd entry; -1 (entry not taken) if out of memory. */
int ack_queue_push(ack_queue *q, ack_entry *e);
/* 1 if the confirmation was for a queued entry (which may now be ready), else 0. */
int ack_queue_delivered(ack_queue *q, int delivery);
/* Removes and returns the first entry that is ready, or NULL. */
ack_entry *ack_queue_pop_ready(ack_queue *q, uint64_t committed_epoch);
/* Removes and returns the first entry of `epoch` (a failed batch), or NULL. */
ack_entry *ack_queue_pop_epoch(ack_queue *q, uint64_t epoch);
void ack_queue_clear(ack_queue *q);

#endif
