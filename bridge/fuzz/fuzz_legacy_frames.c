/* fuzz_legacy_frames.c - libFuzzer harness for the legacy frame translation:
 * the input is a frame from an old client; whatever it turns into must be
 * something the order validator can judge, and the frames built back for
 * old clients must be valid JSON. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "legacy_frames.h"

static void check_json(char *frame)
{
    if (!frame) return;
    cJSON *doc = cJSON_Parse(frame);
    if (!cJSON_IsObject(doc)) abort();
    cJSON_Delete(doc);
    free(frame);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    for (int from_pos = 0; from_pos < 2; from_pos++) {
        legacy_frame f;
        char detail[160];
        if (legacy_frame_parse((const char *)data, size, from_pos, &f, detail, sizeof detail) != LEGACY_OK) {
            check_json(legacy_frame_error(LEGACY_ERR_MALFORMED_JSON, detail, "T"));
            continue;
        }
        if (f.order_number[0] && !order_number_valid(f.order_number)) abort();
        if (f.request) {
            order_request req;
            order_rejection rej;
            order_request_parse(f.request, strlen(f.request), from_pos ? ORDER_SOURCE_POS : ORDER_SOURCE_KITCHEN,
                                "pizza", &req, &rej);
            if (req.order) {
                char *doc = cJSON_PrintUnformatted(req.order);
                if (doc) {
                    check_json(legacy_frame_new_order(doc, "T"));
                    check_json(legacy_frame_status_update(doc, "T"));
                }
                free(doc);
            }
            order_request_free(&req);
        }
        legacy_frame_free(&f);
    }
    return 0;
}
