/* order_stations.h - an order's parts by kitchen station, and how the
 * stations' progress moves the whole order. Pure: no I/O.
 *
 * A tenant that lists stations (registry "stations") has every item of its
 * orders at one of them: the item's "station", or the tenant's first. The
 * order then carries "stations": {"oven": "new", "bar": "preparing"} for the
 * stations that have items in it, each "new", "preparing" or "ready".
 *
 * A station's report moves its part, and the order follows (one change,
 * one seq): the first part started, or a part recalled, makes an open
 * order "preparing"; the last part ready makes it "ready". A whole-order
 * move to ready marks every part ready; a whole-order recall (ready ->
 * preparing) marks every part preparing. */
#ifndef KB_ORDER_STATIONS_H
#define KB_ORDER_STATIONS_H

#include <cjson/cJSON.h>

#include "order_status.h"
#include "order_validate.h"
#include "registry.h"

/* On a new order of tenant t: check each item's station (its own, which
 * must be one of t's, or none: t's first) and add the "stations" map, every
 * part "new". Items are left as the POS sent them. A tenant without
 * stations leaves the order as it is. KB_OK, or KB_ERR_INVALID_FIELD with
 * rej filled. */
kb_error order_assign_stations(cJSON *order, const registry_tenant *t, order_rejection *rej);

/* An item's station: its own, or `first` (the tenant's first station). */
const char *order_item_station(const cJSON *item, const char *first);

typedef enum {
    STATION_MOVED,     /* the part moved; *order_to is the order's status after it */
    STATION_UNCHANGED, /* the part already has that status: a duplicate */
    STATION_UNKNOWN,   /* the order has no part for that station */
} station_move;

/* Moves `station`'s part of an open `order` (status `from`) to `to`
 * (preparing or ready) in the document. */
station_move order_station_move(cJSON *order, order_status from, const char *station, order_status to,
                                order_status *order_to);
/* A whole-order move to `to`: every part follows a move to ready, and a
 * recall (ready -> preparing). */
void order_stations_follow(cJSON *order, order_status from, order_status to);
/* The order as station `station` may see it (malloc'd JSON): only its items
 * (an item without a station is at `first`, the tenant's first station),
 * with "station": <station>. NULL if the order has no part there, or out of
 * memory. */
char *order_station_view(const cJSON *order, const char *station, const char *first);
/* The part's status, ORDER_STATUS_INVALID if the order has none there. */
order_status order_station_status(const cJSON *order, const char *station);

#endif
