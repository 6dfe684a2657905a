/* fuzz_topics.c - libFuzzer harness for topic parsing and the status names:
 * the input is a topic, then the same bytes as a status name. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "order_status.h"
#include "topics.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    if (!text) return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    topic_info t;
    if (topic_parse(text, &t) == TOPIC_ORDER_STATE && !order_number_valid(t.order_number)) abort();
    order_status s = order_status_parse(text);
    for (int to = ORDER_STATUS_NEW; to <= ORDER_STATUS_CANCELLED; to++) order_status_can_move(s, (order_status)to);
    free(text);
    return 0;
}
