/* order_status.h - the order lifecycle, as a pure state machine.
 *
 *   new -> accepted -> preparing -> ready -> served
 *   ready -> preparing                (recall)
 *   any open state -> cancelled
 *
 * served and cancelled are closed: nothing leaves them. Every rule about which
 * status may follow which lives here and nowhere else. */
#ifndef KB_ORDER_STATUS_H
#define KB_ORDER_STATUS_H

#include <stdbool.h>

typedef enum {
    ORDER_STATUS_INVALID = 0,
    ORDER_STATUS_NEW,
    ORDER_STATUS_ACCEPTED,
    ORDER_STATUS_PREPARING,
    ORDER_STATUS_READY,
    ORDER_STATUS_SERVED,
    ORDER_STATUS_CANCELLED
} order_status;

/* Parses a status name ("preparing"); ORDER_STATUS_INVALID if unknown. */
order_status order_status_parse(const char *name);
const char *order_status_name(order_status s);
bool order_status_is_open(order_status s);
/* True if an order may move from `from` to `to` (from != to). */
bool order_status_can_move(order_status from, order_status to);

#endif
