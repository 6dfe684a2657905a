/* fuzz_escpos.c - libFuzzer harness for the kitchen ticket renderer: any
 * order document, at any width and in each code page, renders without a
 * memory error, and no text byte of it is a control byte (order text can
 * never inject a printer command). The first input byte picks the width
 * and the code page, the rest is the order JSON. */
#include <locale.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "escpos.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int locale_set; /* as kb-bridge's main() does: transliteration needs it */
    if (!locale_set) {
        setlocale(LC_CTYPE, "C.UTF-8");
        locale_set = 1;
    }
    if (size < 1) return 0;
    static const char *const pages[] = {"cp437", "cp850", "cp858", "cp1252"};
    char *text = malloc(size);
    if (!text) return 0;
    memcpy(text, data + 1, size - 1);
    text[size - 1] = '\0';
    cJSON *order = cJSON_Parse(text);
    free(text);
    escpos_ticket t = {
        .kind = (escpos_kind)(data[0] % 4),
        .reprint = data[0] & 0x80,
        .width = ESCPOS_WIDTH_MIN + data[0] % (ESCPOS_WIDTH_MAX - ESCPOS_WIDTH_MIN + 1),
        .codepage = escpos_codepage_find(pages[(data[0] >> 5) & 3]),
        .heading = "Heading",
        .station = data[0] & 0x40 ? "oven" : NULL,
        .time_text = "10:02",
    };
    unsigned char *out = NULL;
    size_t len = 0;
    if (escpos_render(order, &t, &out, &len) == 0) {
        /* Walk the commands the renderer may send; every other byte is text
         * (>= 0x20) or LF. */
        for (size_t i = 0; i < len; i++) {
            unsigned char b = out[i];
            if (b == 0x1b || b == 0x1d) {
                unsigned char c = i + 1 < len ? out[i + 1] : 0;
                size_t args = b == 0x1b ? (c == '@' ? 0 : 1) : (c == 'V' ? 2 : 1);
                i += 1 + args;
                continue;
            }
            if (b < 0x20 && b != 0x0a) abort();
        }
        free(out);
    }
    cJSON_Delete(order);
    return 0;
}
