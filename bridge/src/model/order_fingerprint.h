/* order_fingerprint.h - the identity of a submitted order's content.
 *
 * A POS re-sends an order byte for byte when its outbox retries; a POS that
 * numbers its orders per day sends a different order under a number it used
 * before. The fingerprint tells the two apart: SHA-256 over the canonical
 * JSON of the object the POS submitted, before the bridge adds anything.
 * Canonical: object keys sorted by their bytes (a key given twice keeps its
 * order of appearance), no whitespace, strings and numbers as cJSON prints
 * them. So key order and spacing do not count; every value, unknown fields
 * and the POS's own created_at included, does.
 *
 * Pure: no I/O and no state; unit-tested on its own. */
#ifndef KB_ORDER_FINGERPRINT_H
#define KB_ORDER_FINGERPRINT_H

#include <cjson/cJSON.h>

#define ORDER_FINGERPRINT_HEX 64

/* The fields the bridge sets on an order; never part of a fingerprint. */
extern const char *const order_bridge_fields[];

/* Writes the lowercase hex SHA-256 of `order`'s canonical form, without the
 * bridge's fields at its top level, into out (ORDER_FINGERPRINT_HEX + 1
 * bytes). Returns 0, or -1 if out of memory. */
int order_fingerprint(const cJSON *order, char out[ORDER_FINGERPRINT_HEX + 1]);

#endif
