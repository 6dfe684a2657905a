/* order_status.c - see order_status.h for the lifecycle. */
#include "order_status.h"

#include <string.h>

static const char *const status_names[] = {
    [ORDER_STATUS_INVALID] = "invalid",
    [ORDER_STATUS_NEW] = "new",
    [ORDER_STATUS_ACCEPTED] = "accepted",
    [ORDER_STATUS_PREPARING] = "preparing",
    [ORDER_STATUS_READY] = "ready",
    [ORDER_STATUS_SERVED] = "served",
    [ORDER_STATUS_CANCELLED] = "cancelled",
};

order_status order_status_parse(const char *name)
{
    if (!name) return ORDER_STATUS_INVALID;
    for (int s = ORDER_STATUS_NEW; s <= ORDER_STATUS_CANCELLED; s++)
        if (strcmp(name, status_names[s]) == 0) return (order_status)s;
    return ORDER_STATUS_INVALID;
}

const char *order_status_name(order_status s)
{
    if (s < ORDER_STATUS_INVALID || s > ORDER_STATUS_CANCELLED) s = ORDER_STATUS_INVALID;
    return status_names[s];
}

bool order_status_is_open(order_status s)
{
    return s >= ORDER_STATUS_NEW && s <= ORDER_STATUS_READY;
}

bool order_status_can_move(order_status from, order_status to)
{
    if (!order_status_is_open(from) || to == from) return false;
    if (to == ORDER_STATUS_CANCELLED) return true;
    switch (from) {
    case ORDER_STATUS_NEW: return to == ORDER_STATUS_ACCEPTED;
    case ORDER_STATUS_ACCEPTED: return to == ORDER_STATUS_PREPARING;
    case ORDER_STATUS_PREPARING: return to == ORDER_STATUS_READY;
    case ORDER_STATUS_READY: return to == ORDER_STATUS_SERVED || to == ORDER_STATUS_PREPARING;
    default: return false;
    }
}
