/* fuzz_order_validate.c - libFuzzer harness for the order validator.
 * The first byte picks the source (POS or kitchen); the rest is the payload,
 * exactly as it would arrive from MQTT (no NUL terminator). */
#include <stddef.h>
#include <stdint.h>

#include "order_validate.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    order_source source = data[0] & 1 ? ORDER_SOURCE_KITCHEN : ORDER_SOURCE_POS;
    order_request req;
    order_rejection rej;
    if (order_request_parse((const char *)data + 1, size - 1, source, "pizza", &req, &rej) == KB_OK)
        order_request_free(&req);
    return 0;
}
