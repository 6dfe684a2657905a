/* order_service.h - the one code path every order change takes.
 *
 *   request -> validate (order_validate.c) -> look up (journal.c)
 *     -> publish event + retained state (order_publish.c)   deliver first
 *     -> write into the open journal batch                  in parallel
 *     -> queue the ack (ack_queue.c)
 *   order_service_flush(): commit the batch (one fsync for all of it), then
 *     send every ack whose change is committed and PUBACKed.
 *
 * MQTT submits and legacy WebSocket frames (legacy_gateway.c) both enter
 * here; `reply` says where the ack goes. A change that opens a journal batch
 * calls b->commit_soon (the app schedules order_service_flush for the next
 * turn of the event loop), so a batch is committed promptly whichever
 * transport opened it. */
#ifndef KB_ORDER_SERVICE_H
#define KB_ORDER_SERVICE_H

#include <stddef.h>
#include <stdint.h>

#include "bridge.h"

/* Where an ack or rejection goes: the device's MQTT ack topic, or else the
 * legacy WebSocket connection with this id (legacy_gateway.c). */
#define ORDER_REPLY_MQTT 0u

/* Handles one message from `device` of `tenant`. The device must be in the
 * registry with that tenant; the role decides what it may ask for. */
void order_service_handle(bridge *b, const char *tenant, const char *device, const void *payload,
                          size_t len, uint32_t reply);
/* The same for a device the caller vouches for: an anonymous legacy client
 * in open mode, which is in no registry. */
void order_service_handle_as(bridge *b, const char *tenant, const registry_device *dev,
                             const void *payload, size_t len, uint32_t reply);
/* A legacy kitchen's receipt of an order (payload: a status request for
 * "accepted"): a new order becomes accepted; any later state is answered
 * duplicate with that state, after the batch holding it is committed. */
void order_service_receipt(bridge *b, const char *tenant, const registry_device *dev, const void *payload,
                           size_t len, uint32_t reply);
/* A rejection decided before the request reached the pipeline (an order
 * no tenant has); sent at once, as every rejection is: it changes nothing. */
void order_service_reject(bridge *b, const char *tenant, const registry_device *dev, uint32_t reply,
                          const char *order_number, kb_error e, const char *detail);
/* The tenant's highest seq so far (kept in memory; the journal's on first use). */
int64_t order_service_last_seq(bridge *b, const char *tenant);
/* Commits the open journal batch and sends the acks that became ready. */
void order_service_flush(bridge *b);
/* The broker PUBACKed message `mid`. */
void order_service_puback(bridge *b, int mid);
/* Re-publishes every open order's retained state from the journal. */
void order_service_republish_open(bridge *b);
/* A retained order message the broker holds: correct it if the journal
 * disagrees (closed, unknown, or an older seq). */
void order_service_reconcile(bridge *b, const char *tenant, const char *order_number,
                             const void *payload, size_t len);
void order_service_shutdown(bridge *b);

#endif
