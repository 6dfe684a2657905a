/* escpos_test.c - kitchen tickets in ESC/POS (model/escpos.c), pure. Every
 * ticket is read back by a strict decoder that knows only the commands the
 * renderer may send (ESC @, t, a, E, d; GS !, B, V; LF) and rejects any
 * other control byte, so order text that tried to inject a command shows up
 * as a decoding failure or as a stray command counted below. Also: the code
 * page conversion (transliteration, emoji, controls, bad UTF-8), the
 * layout, wrapping to the paper width, a 200-item order, and orders of
 * the wrong shape.
 *
 * Transliteration needs a UTF-8 LC_CTYPE locale: main() sets C.UTF-8 as the
 * bridge's main() does. */
#include <locale.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "escpos.h"

#include "check.h"

/* ---- the decoder -------------------------------------------------------- */

#define LINE_TEXT_MAX 256
#define LINES_MAX 4096

typedef struct {
    char text[LINE_TEXT_MAX]; /* NUL-terminated, cut at LINE_TEXT_MAX - 1 */
    size_t len;               /* the line's real length in characters */
    int size, bold, reverse, align; /* as set at the line's first character */
} tline;

typedef struct {
    tline lines[LINES_MAX];
    int n;
    int inits, codepages, esc_t, feeds, feed_n, cuts;
    int sizes_bad;       /* a GS ! other than 0x00 or 0x11 */
    size_t esc_cmds, gs_cmds; /* commands read, by their first byte */
} decoded;

static decoded dec; /* large: one at a time */

/* Reads a ticket into dec; 0, or -1 with the reason on stderr. A ticket must
 * start with ESC @ ESC t n, end with GS V 66 0, and end every line with LF. */
static int decode(const unsigned char *b, size_t n)
{
    memset(&dec, 0, sizeof dec);
    int size = 0, bold = 0, reverse = 0, align = 0, open = 0;
    tline *cur = &dec.lines[0];
    if (n < 9 || memcmp(b, "\x1b\x40\x1b\x74", 4) != 0 || memcmp(b + n - 4, "\x1d\x56\x42\x00", 4) != 0) {
        fprintf(stderr, "decode: no ESC @ ESC t at the start or no cut at the end\n");
        return -1;
    }
    for (size_t i = 0; i < n;) {
        unsigned char c = b[i];
        size_t left = n - i, at = i;
        if (c == 0x1b && left >= 2 && b[i + 1] == '@') {
            dec.inits++, i += 2;
        } else if (c == 0x1b && left >= 3 && b[i + 1] == 't') {
            dec.codepages++, dec.esc_t = b[i + 2], i += 3;
        } else if (c == 0x1b && left >= 3 && b[i + 1] == 'a' && b[i + 2] <= 2) {
            align = b[i + 2], i += 3;
        } else if (c == 0x1b && left >= 3 && b[i + 1] == 'E' && b[i + 2] <= 1) {
            bold = b[i + 2], i += 3;
        } else if (c == 0x1b && left >= 3 && b[i + 1] == 'd') {
            dec.feeds++, dec.feed_n = b[i + 2], i += 3;
        } else if (c == 0x1d && left >= 3 && b[i + 1] == '!' && (b[i + 2] & 0xee) == 0) {
            size = b[i + 2], i += 3;
            if (size != 0 && size != 0x11) dec.sizes_bad++;
        } else if (c == 0x1d && left >= 3 && b[i + 1] == 'B' && b[i + 2] <= 1) {
            reverse = b[i + 2], i += 3;
        } else if (c == 0x1d && left == 4 && b[i + 1] == 'V' && b[i + 2] == 66 && b[i + 3] == 0) {
            dec.cuts++, i += 4;
        } else if (c == 0x0a) {
            if (dec.n >= LINES_MAX - 1) {
                fprintf(stderr, "decode: too many lines\n");
                return -1;
            }
            if (!open) cur->size = size, cur->bold = bold, cur->reverse = reverse, cur->align = align;
            cur = &dec.lines[++dec.n];
            open = 0, i++;
        } else if (c < 0x20 || c == 0x7f) {
            fprintf(stderr, "decode: stray byte 0x%02x at %zu\n", c, i);
            return -1;
        } else {
            if (!open) cur->size = size, cur->bold = bold, cur->reverse = reverse, cur->align = align;
            open = 1;
            if (cur->len < LINE_TEXT_MAX - 1) cur->text[cur->len] = (char)c;
            cur->len++, i++;
        }
        if (c == 0x1b && i > at) dec.esc_cmds++;
        if (c == 0x1d && i > at) dec.gs_cmds++;
    }
    if (open) {
        fprintf(stderr, "decode: text after the last LF\n");
        return -1;
    }
    if (dec.inits != 1 || dec.codepages != 1 || dec.cuts != 1) {
        fprintf(stderr, "decode: %d ESC @, %d ESC t, %d cuts\n", dec.inits, dec.codepages, dec.cuts);
        return -1;
    }
    return 0;
}

/* The index of the first line that is exactly `text`, or -1. */
static int find_line(const char *text)
{
    for (int i = 0; i < dec.n; i++)
        if (dec.lines[i].len == strlen(text) && strcmp(dec.lines[i].text, text) == 0) return i;
    return -1;
}

static int count_lines(const char *text)
{
    int k = 0;
    for (int i = 0; i < dec.n; i++)
        if (strcmp(dec.lines[i].text, text) == 0) k++;
    return k;
}

/* 1 if every line fits the paper: width at normal size, width/2 at double. */
static int lines_fit(int width)
{
    for (int i = 0; i < dec.n; i++) {
        size_t room = (size_t)(dec.lines[i].size == 0x11 ? width / 2 : width);
        if (dec.lines[i].len > room) {
            fprintf(stderr, "line %d is %zu wide, room %zu: \"%s\"\n", i, dec.lines[i].len, room, dec.lines[i].text);
            return 0;
        }
    }
    return 1;
}

static int is_banner(int i)
{
    return i >= 0 && dec.lines[i].reverse && dec.lines[i].bold && dec.lines[i].size == 0x11 && dec.lines[i].align == 1;
}

/* ---- helpers ------------------------------------------------------------ */

static const escpos_codepage *cp858(void) { return escpos_codepage_find("cp858"); }

static escpos_ticket ticket_of(escpos_kind kind, const char *cp, int width)
{
    escpos_ticket t = {kind, 0, width, escpos_codepage_find(cp), "Pizza Place", NULL, "10:02"};
    return t;
}

/* Renders and decodes; 0 if both worked (the caller owns dec). */
static int render_decoded(const cJSON *order, const escpos_ticket *t)
{
    unsigned char *out = NULL;
    size_t len = 0;
    int rc = escpos_render(order, t, &out, &len);
    CHECK(rc == 0 && out != NULL && len > 0);
    if (rc != 0 || !out) return -1;
    int d = decode(out, len);
    CHECK(d == 0);
    free(out);
    return d;
}

/* The offset of the first `s` in b[0..n), or (size_t)-1. */
static size_t find_bytes(const unsigned char *b, size_t n, const char *s)
{
    size_t k = strlen(s);
    for (size_t i = 0; i + k <= n; i++)
        if (memcmp(b + i, s, k) == 0) return i;
    return (size_t)-1;
}

static cJSON *parse_json(const char *text)
{
    cJSON *j = cJSON_Parse(text);
    CHECK(j != NULL);
    return j;
}

static int encodes_to(const char *cp, const char *utf8, const char *want)
{
    unsigned char buf[256];
    size_t n = escpos_encode(escpos_codepage_find(cp), utf8, buf, sizeof buf);
    int ok = n == strlen(want) && memcmp(buf, want, n) == 0;
    if (!ok) {
        fprintf(stderr, "encode(%s, \"%s\") gave %zu bytes:", cp, utf8, n);
        for (size_t i = 0; i < n; i++) fprintf(stderr, " %02x", buf[i]);
        fprintf(stderr, "\n");
    }
    return ok;
}

static const char margherita[] =
    "{\"order_number\":\"A-1001\",\"order_type\":\"dine_in\",\"table\":\"12\",\"customer_name\":\"Ana\","
    "\"notes\":\"No nuts\",\"items\":[{\"name\":\"Margherita\",\"qty\":2,\"modifiers\":[\"extra cheese\"],"
    "\"notes\":\"well done\"},{\"product_name\":\"Cr\\u00e8me br\\u00fbl\\u00e9e\",\"quantity\":1}]}";

/* ---- tests -------------------------------------------------------------- */

static void test_codepages(void)
{
    const escpos_codepage *p = escpos_codepage_find("cp437");
    CHECK(p && p->esc_t == 0 && strcmp(p->iconv_name, "CP437") == 0);
    p = escpos_codepage_find("cp850");
    CHECK(p && p->esc_t == 2 && strcmp(p->iconv_name, "CP850") == 0);
    p = escpos_codepage_find("cp858");
    CHECK(p && p->esc_t == 19 && strcmp(p->iconv_name, "CP858") == 0);
    p = escpos_codepage_find("cp1252");
    CHECK(p && p->esc_t == 16 && strcmp(p->iconv_name, "CP1252") == 0);
    CHECK(escpos_codepage_find("utf8") == NULL);
    CHECK(escpos_codepage_find("CP858") == NULL);
    CHECK(escpos_codepage_find("") == NULL);
    CHECK(escpos_codepage_find(NULL) == NULL);
}

static void test_encode(void)
{
    CHECK(encodes_to("cp858", "Cr\xc3\xa8me br\xc3\xbbl\xc3\xa9" "e", "Cr\x8a" "me br\x96l\x82" "e"));
    CHECK(encodes_to("cp858", "Ph\xe1\xbb\x9f b\xc3\xb2", "Pho b\x95"));
    CHECK(encodes_to("cp858", "\xe2\x80\x9cx\xe2\x80\x9d \xe2\x80\x94 \xe2\x82\xac" "5", "\"x\" -- \xd5" "5"));
    CHECK(encodes_to("cp437", "plain ASCII", "plain ASCII"));
    /* emoji and pictographs, with their selectors and joiners, are dropped */
    CHECK(encodes_to("cp858", "Pizza \xf0\x9f\x8d\x95!", "Pizza !"));
    CHECK(encodes_to("cp858", "a\xe2\x9d\xa4\xef\xb8\x8f" "b", "ab"));                          /* heart + VS16 */
    CHECK(encodes_to("cp858", "c\xf0\x9f\x91\xa8\xe2\x80\x8d\xf0\x9f\x8d\xb3" "d", "cd"));      /* cook (ZWJ) */
    CHECK(encodes_to("cp858", "\xf0\x9f\x91\x8d\xf0\x9f\x8f\xbd" "ok", "ok"));                  /* skin tone */
    CHECK(encodes_to("cp858", "1\xef\xb8\x8f\xe2\x83\xa3", "1"));                               /* keycap */
    CHECK(encodes_to("cp858", "\xe2\xac\x9b", ""));                                             /* U+2B1B */
    /* controls print as spaces; bad UTF-8 as '?' */
    CHECK(encodes_to("cp858", "a\x01" "b\x1b" "c\x7f" "d\te\nf\rg", "a b c d e f g"));
    CHECK(encodes_to("cp858", "x\xc2\x85y", "x y"));                                           /* C1 NEL */
    CHECK(encodes_to("cp858", "a\xff" "b", "a?b"));
    CHECK(encodes_to("cp858", "a\xc3" "b", "a?b"));                                            /* cut short */
    CHECK(encodes_to("cp858", "a\xc0\xaf" "b", "a??b"));                                        /* overlong */
    CHECK(encodes_to("cp858", "a\xed\xa0\x80" "b", "a???b"));                                   /* surrogate */
    CHECK(encodes_to("cp858", "\xe4\xb8\xad", "?"));                                            /* CJK */

    /* what no input may give: bytes below 0x20, 0x7f, raw UTF-8 */
    static const char *const texts[] = {
        "\xe2\x82\xac \xc2\xbd \xe2\x84\xa2 \xc2\xa9 \xe2\x80\xa6 \xc3\x9f \xc5\x93 \xe2\x82\xa9 \xc2\xa0",
        "\xe2\x8c\x82 \xe2\x98\xba \xe2\x99\xa5 \xe2\x86\x90 \xe2\x80\xa2 \xe2\x97\x8b \xe2\x88\x9e",
        "\xd0\x91\xd0\xbe\xd1\x80\xd1\x89 \xce\xb1\xce\xb2 \xd7\xa9 \xd8\xb9 \xe0\xb8\x81",
    };
    static const char *const pages[] = {"cp437", "cp850", "cp858", "cp1252"};
    for (size_t p = 0; p < 4; p++) {
        for (size_t i = 0; i < sizeof texts / sizeof *texts; i++) {
            unsigned char buf[512];
            size_t n = escpos_encode(escpos_codepage_find(pages[p]), texts[i], buf, sizeof buf);
            int clean = n > 0;
            for (size_t k = 0; k < n; k++)
                if (buf[k] < 0x20 || buf[k] == 0x7f) clean = 0;
            CHECK(clean);
        }
    }
    /* cp437 has no euro: transliterated, never a raw UTF-8 sequence */
    unsigned char buf[16];
    size_t n = escpos_encode(escpos_codepage_find("cp437"), "\xe2\x82\xac", buf, sizeof buf);
    CHECK(n >= 1 && memchr(buf, 0xe2, n) == NULL);

    /* the cap: whole characters only */
    CHECK(escpos_encode(cp858(), "abcdef", buf, 4) == 4 && memcmp(buf, "abcd", 4) == 0);
    CHECK(escpos_encode(cp858(), "ab\xe2\x80\x94", buf, 3) == 2); /* "--" does not fit after "ab" */
    CHECK(escpos_encode(cp858(), "abc", NULL, 0) == 0);
    CHECK(escpos_encode(cp858(), "abc", NULL, 5) == 0);
    CHECK(escpos_encode(NULL, "abc", buf, sizeof buf) == 0);
    CHECK(escpos_encode(cp858(), NULL, buf, sizeof buf) == 0);
    CHECK(escpos_encode(cp858(), "", buf, sizeof buf) == 0);
}

static void test_layout(void)
{
    cJSON *order = parse_json(margherita);
    escpos_ticket t = ticket_of(ESCPOS_NEW, "cp858", 42);
    unsigned char *out = NULL;
    size_t len = 0;
    CHECK(escpos_render(order, &t, &out, &len) == 0 && out);
    if (!out) {
        cJSON_Delete(order);
        return;
    }
    CHECK(len > 8 && memcmp(out, "\x1b\x40\x1b\x74\x13", 5) == 0);
    CHECK(memcmp(out + len - 7, "\x1b\x64\x03\x1d\x56\x42\x00", 7) == 0);
    /* the order number right after GS ! 0x11 (and ESC E 1) */
    size_t num = find_bytes(out, len, "#A-1001");
    CHECK(num != (size_t)-1 && num >= 6 && memcmp(out + num - 6, "\x1b\x45\x01\x1d\x21\x11", 6) == 0);
    CHECK(decode(out, len) == 0);
    free(out);

    CHECK(dec.esc_t == 19 && dec.feeds == 1 && dec.feed_n == 3 && dec.sizes_bad == 0);
    int heading = find_line("Pizza Place"), number = find_line("#A-1001");
    CHECK(heading == 0 && dec.lines[heading].bold && dec.lines[heading].align == 1 && dec.lines[heading].size == 0);
    CHECK(number == 1 && dec.lines[number].size == 0x11 && dec.lines[number].bold && dec.lines[number].align == 1);
    CHECK(find_line("RUSH") == -1 && find_line("CANCELLED") == -1 && find_line("REPRINT") == -1);
    int info = find_line("Dine in - Table 12");
    CHECK(info == 2 && dec.lines[info].align == 0 && !dec.lines[info].bold && dec.lines[info].size == 0);
    CHECK(find_line("Customer: Ana") == 3);
    CHECK(find_line("Time: 10:02") == 4);
    CHECK(find_line("Note: No nuts") == 5);
    CHECK(find_line("Station: oven") == -1);
    char rule[43];
    memset(rule, '-', 42);
    rule[42] = 0;
    CHECK(find_line(rule) == 6 && count_lines(rule) == 2);
    int item = find_line("2 x Margherita");
    CHECK(item == 7 && dec.lines[item].bold && dec.lines[item].size == 0);
    CHECK(find_line("   + extra cheese") == 8 && !dec.lines[8].bold);
    CHECK(find_line("   ! well done") == 9);
    CHECK(find_line("1 x Cr\x8a" "me br\x96l\x82" "e") == 10 && dec.lines[10].bold);
    int foot = find_line("3 items");
    CHECK(foot == 12 && dec.lines[foot].align == 1 && dec.n == 13);
    CHECK(lines_fit(42));

    /* a station's ticket, the fields one at a time */
    t.station = "oven";
    t.heading = NULL;
    t.time_text = NULL;
    cJSON_DeleteItemFromObject(order, "table");
    cJSON_DeleteItemFromObject(order, "notes");
    cJSON_ReplaceItemInObject(order, "customer_name", cJSON_CreateString(""));
    if (render_decoded(order, &t) == 0) {
        CHECK(find_line("#A-1001") == 0 && find_line("Dine in") == 1 && find_line("Station: oven") == 2);
        CHECK(find_line("Pizza Place") == -1);
        for (int i = 0; i < dec.n; i++) {
            CHECK(strncmp(dec.lines[i].text, "Customer", 8) != 0);
            CHECK(strncmp(dec.lines[i].text, "Time", 4) != 0 && strncmp(dec.lines[i].text, "Note", 4) != 0);
        }
    }
    cJSON_ReplaceItemInObject(order, "order_type", cJSON_CreateString("take_away_now"));
    cJSON_AddStringToObject(order, "table", "T4");
    cJSON_DeleteItemFromObject(order, "items");
    cJSON *items = cJSON_AddArrayToObject(order, "items");
    cJSON *one = cJSON_CreateObject();
    cJSON_AddStringToObject(one, "name", "Tea");
    cJSON_AddItemToArray(items, one);
    if (render_decoded(order, &t) == 0) {
        CHECK(find_line("Take away now - Table T4") == 1);
        CHECK(find_line("1 x Tea") >= 0 && find_line("1 item") >= 0);
    }
    cJSON_DeleteItemFromObject(order, "order_type");
    if (render_decoded(order, &t) == 0) CHECK(find_line("Table T4") == 1);
    cJSON_Delete(order);
}

static void test_rush(void)
{
    cJSON *order = parse_json(margherita);
    escpos_ticket t = ticket_of(ESCPOS_NEW, "cp858", 42);
    if (render_decoded(order, &t) == 0) CHECK(find_line("RUSH") == -1);
    cJSON_AddStringToObject(order, "priority", "normal");
    if (render_decoded(order, &t) == 0) CHECK(find_line("RUSH") == -1);
    cJSON_ReplaceItemInObject(order, "priority", cJSON_CreateString("rush"));
    if (render_decoded(order, &t) == 0) {
        int r = find_line("RUSH");
        CHECK(r == find_line("#A-1001") + 1 && is_banner(r) && count_lines("RUSH") == 1);
        CHECK(!dec.lines[r + 1].reverse && !dec.lines[r + 1].bold && dec.lines[r + 1].size == 0);
    }
    cJSON_ReplaceItemInObject(order, "priority", cJSON_CreateNumber(1));
    if (render_decoded(order, &t) == 0) CHECK(find_line("RUSH") == -1);
    cJSON_Delete(order);
}

static void test_banners(void)
{
    cJSON *order = parse_json(margherita);
    escpos_ticket t = ticket_of(ESCPOS_CANCELLED, "cp858", 42);
    if (render_decoded(order, &t) == 0) {
        int c = find_line("CANCELLED");
        CHECK(c == 0 && is_banner(c) && find_line("REPRINT") == -1 && find_line("Pizza Place") == 1);
        CHECK(!dec.lines[1].reverse && dec.lines[1].size == 0);
    }
    t.reprint = 1;
    if (render_decoded(order, &t) == 0) {
        CHECK(find_line("CANCELLED") == 0 && find_line("REPRINT") == 1 && is_banner(1));
        CHECK(find_line("Pizza Place") == 2 && !dec.lines[2].reverse && find_line("#A-1001") == 3);
    }
    t.kind = ESCPOS_NEW;
    if (render_decoded(order, &t) == 0) CHECK(find_line("REPRINT") == 0 && find_line("CANCELLED") == -1);
    t.kind = ESCPOS_FROM_SCREEN;
    t.reprint = 0;
    if (render_decoded(order, &t) == 0) CHECK(find_line("FROM SCREEN") == 0 && is_banner(0));

    /* a test page, without an order and with one */
    t = ticket_of(ESCPOS_TEST, "cp437", 32);
    t.heading = "Oven printer";
    if (render_decoded(NULL, &t) == 0) {
        CHECK(find_line("TEST PRINT") == 0 && is_banner(0) && find_line("Oven printer") == 1);
        CHECK(find_line("Code page: cp437 (ESC t 0)") >= 0 && find_line("Width: 32 characters") >= 0);
        CHECK(find_line("12345678901234567890123456789012") >= 0 && lines_fit(32) && dec.esc_t == 0);
    }
    if (render_decoded(order, &t) == 0) CHECK(find_line("TEST PRINT") == 0 && find_line("2 x Margherita") >= 0);
    cJSON_Delete(order);
}

/* Order text full of ESC and GS: none of it may become a command. */
static void test_injection(void)
{
    cJSON *order = parse_json("{\"order_number\":\"X\\u001b@1\\u001d!\\u0011\",\"customer_name\":\"\\u001bd\\u0009\","
                              "\"notes\":\"\\u001dV\\u0042\\u0000\",\"items\":[{\"name\":\"A\\u001bd\\u0005\\u001dVB\","
                              "\"qty\":1,\"modifiers\":[\"\\u001bE\\u0001x\",\"\\u001dB\\u0001\"],"
                              "\"notes\":\"\\u001bt\\u0000\\u007f\"}]}");
    escpos_ticket t = ticket_of(ESCPOS_NEW, "cp858", 42);
    t.heading = "H\x1b@";
    t.station = "s\x1d!\x01";
    t.time_text = "\x1b" "a\x02";
    unsigned char *out = NULL;
    size_t len = 0;
    CHECK(escpos_render(order, &t, &out, &len) == 0 && out);
    if (out) {
        size_t esc = 0, gs = 0;
        for (size_t i = 0; i < len; i++) esc += out[i] == 0x1b, gs += out[i] == 0x1d;
        CHECK(decode(out, len) == 0);
        /* the renderer's own commands only: one init, one code page, one feed of 3 */
        CHECK(dec.feeds == 1 && dec.feed_n == 3 && dec.esc_t == 19 && dec.sizes_bad == 0);
        CHECK(find_line("#X @1 !") >= 0 && find_line("H @") >= 0 && find_line("Station: s !") >= 0);
        CHECK(find_line("1 x A d  VB") >= 0 && find_line("   +  E x") >= 0 && find_line("   +  B") >= 0);
        CHECK(find_line("Customer:  d") >= 0 && find_line("Time:  a") >= 0 && find_line("   !  t") >= 0);
        /* every ESC and GS byte is the first byte of a command the decoder read */
        CHECK(esc == dec.esc_cmds && gs == dec.gs_cmds);
        /* and those are the renderer's: 1 init, 1 code page, 1 feed, 1 cut; the rest pairs of
         * style commands around lines */
        CHECK(dec.inits == 1 && dec.codepages == 1 && dec.cuts == 1);
        free(out);
    }
    cJSON_Delete(order);
}

static void test_ascii_cp437(void)
{
    cJSON *order = parse_json(margherita);
    cJSON_DeleteItemFromArray(cJSON_GetObjectItem(order, "items"), 1); /* the one accented name */
    cJSON_AddStringToObject(order, "priority", "rush");
    escpos_ticket t = ticket_of(ESCPOS_CANCELLED, "cp437", 48);
    t.reprint = 1;
    t.station = "grill";
    unsigned char *out = NULL;
    size_t len = 0;
    CHECK(escpos_render(order, &t, &out, &len) == 0 && out);
    if (out) {
        int high = 0;
        for (size_t i = 0; i < len; i++) high += out[i] >= 0x80;
        CHECK(high == 0);
        CHECK(memcmp(out, "\x1b\x40\x1b\x74\x00", 5) == 0);
        CHECK(decode(out, len) == 0 && lines_fit(48));
        free(out);
    }
    cJSON_Delete(order);
}

/* The concatenation of lines [from, to) without spaces. */
static void squeeze(int from, int to, char *dst, size_t cap)
{
    size_t n = 0;
    for (int i = from; i < to; i++)
        for (size_t k = 0; k < dec.lines[i].len && k < LINE_TEXT_MAX - 1; k++)
            if (dec.lines[i].text[k] != ' ' && n + 1 < cap) dst[n++] = dec.lines[i].text[k];
    dst[n] = 0;
}

static void strip_spaces(const char *src, char *dst)
{
    for (; *src; src++)
        if (*src != ' ') *dst++ = *src;
    *dst = 0;
}

/* "word<digits>" or a run of 'W' (the long word, broken hard). */
static int is_word(const char *w)
{
    if (strncmp(w, "word", 4) == 0 && w[4]) {
        for (w += 4; *w; w++)
            if (*w < '0' || *w > '9') return 0;
        return 1;
    }
    if (*w != 'W') return 0;
    for (; *w; w++)
        if (*w != 'W') return 0;
    return 1;
}

/* Long text wraps to the paper at every width, word by word, nothing lost. */
static void test_wrapping(void)
{
    static char name[2001], notes[2001], number[101], word[301];
    memset(word, 'W', 300);
    word[300] = 0;
    size_t n = 0;
    for (int i = 0; n < 1900; i++) n += (size_t)snprintf(name + n, sizeof name - n, "word%d ", i);
    snprintf(name + n, sizeof name - n, "%.*s", 90, word);
    for (n = 0; n < 2000; n++) notes[n] = (char)(n % 7 == 6 ? ' ' : 'a' + n % 26);
    notes[2000] = 0;
    memset(number, 'N', 100);
    number[100] = 0;

    cJSON *order = cJSON_CreateObject();
    cJSON_AddStringToObject(order, "order_number", number);
    cJSON_AddStringToObject(order, "customer_name", word);
    cJSON_AddStringToObject(order, "notes", notes);
    cJSON *items = cJSON_AddArrayToObject(order, "items");
    cJSON *it = cJSON_CreateObject();
    cJSON_AddStringToObject(it, "name", name);
    cJSON_AddNumberToObject(it, "qty", 12);
    cJSON *mods = cJSON_AddArrayToObject(it, "modifiers");
    cJSON_AddItemToArray(mods, cJSON_CreateString(word));
    cJSON_AddItemToArray(items, it);
    it = cJSON_CreateObject();
    cJSON_AddStringToObject(it, "name", word);
    cJSON_AddItemToArray(items, it);

    static const int widths[] = {24, 32, 42, 48, 64};
    for (size_t w = 0; w < sizeof widths / sizeof *widths; w++) {
        escpos_ticket t = ticket_of(ESCPOS_FROM_SCREEN, "cp858", widths[w]);
        t.reprint = 1;
        t.heading = notes;
        if (render_decoded(order, &t) != 0) continue;
        CHECK(lines_fit(widths[w]));
        /* the item: "12 x word0 ...", continuation lines indented by 5 */
        int first = -1, last = -1;
        for (int i = 0; i < dec.n; i++) {
            if (strncmp(dec.lines[i].text, "12 x word0 ", 11) == 0) first = i;
            if (first >= 0 && last < 0 && i > first && strncmp(dec.lines[i].text, "   + ", 5) == 0) last = i;
        }
        CHECK(first >= 0 && last > first + 1);
        if (first < 0 || last < 0) continue;
        int indented = 1;
        for (int i = first + 1; i < last; i++)
            if (strncmp(dec.lines[i].text, "     ", 5) != 0 || dec.lines[i].text[5] == ' ' || !dec.lines[i].bold)
                indented = 0;
        CHECK(indented);
        static char got[4096], want[4096], full[2100];
        snprintf(full, sizeof full, "12 x %s", name);
        squeeze(first, last, got, sizeof got);
        strip_spaces(full, want);
        CHECK(strcmp(got, want) == 0);
        /* words are kept whole where they fit: every word on the lines is one of the name's */
        int whole = 1;
        for (int i = first; i < last; i++) {
            char copy[LINE_TEXT_MAX];
            snprintf(copy, sizeof copy, "%s", dec.lines[i].text + (i == first ? 5 : 0));
            for (char *save = NULL, *tok = strtok_r(copy, " ", &save); tok; tok = strtok_r(NULL, " ", &save))
                if (!is_word(tok)) whole = 0, fprintf(stderr, "broken word \"%s\"\n", tok);
        }
        CHECK(whole);
        /* the order number at double size wraps at width/2 */
        int num = -1;
        for (int i = 0; i < dec.n && num < 0; i++)
            if (dec.lines[i].text[0] == '#') num = i;
        CHECK(num >= 0 && dec.lines[num].size == 0x11 && dec.lines[num].len == (size_t)widths[w] / 2);
        CHECK(count_lines("2 items") == 0 && find_line("13 items") >= 0);
    }
    cJSON_Delete(order);
}

static void test_200_items(void)
{
    cJSON *order = cJSON_CreateObject();
    cJSON_AddStringToObject(order, "order_number", "BIG-1");
    cJSON *items = cJSON_AddArrayToObject(order, "items");
    for (int i = 1; i <= 200; i++) {
        char name[32];
        snprintf(name, sizeof name, "Item %d", i);
        cJSON *it = cJSON_CreateObject();
        cJSON_AddStringToObject(it, "name", name);
        cJSON_AddNumberToObject(it, "qty", 1);
        cJSON_AddItemToArray(items, cJSON_CreateString("junk")); /* not an object: skipped */
        cJSON_AddItemToArray(items, it);
    }
    escpos_ticket t = ticket_of(ESCPOS_NEW, "cp1252", 42);
    if (render_decoded(order, &t) == 0) {
        int all = 1;
        for (int i = 1; i <= 200; i++) {
            char line[32];
            snprintf(line, sizeof line, "1 x Item %d", i);
            if (count_lines(line) != 1) all = 0;
        }
        CHECK(all);
        CHECK(find_line("200 items") >= 0 && dec.esc_t == 16);
    }
    cJSON_Delete(order);
}

/* Orders of the wrong shape print what they can and never crash. */
static void test_odd_orders(void)
{
    static const char *const docs[] = {
        "{}",
        "[]",
        "\"just text\"",
        "42",
        "{\"order_number\":7,\"items\":{\"name\":\"x\"}}",
        "{\"order_number\":\"\",\"items\":\"pizza\",\"priority\":[\"rush\"]}",
        "{\"order_number\":\"Q\",\"order_type\":5,\"table\":12,\"customer_name\":null,\"notes\":{}}",
        "{\"order_number\":\"Q\",\"items\":[1,null,\"a\",[],true,{}]}",
        "{\"order_number\":\"Q\",\"items\":[{\"name\":5,\"qty\":\"2\",\"modifiers\":\"cheese\",\"notes\":3},"
        "{\"product_name\":\"P\",\"qty\":2.5},{\"name\":\"N\",\"qty\":-3},{\"name\":\"Z\",\"qty\":0},"
        "{\"name\":\"H\",\"qty\":1e300},{\"name\":\"M\",\"quantity\":4,\"modifiers\":[1,null,\"\",\"ok\",{}]},"
        "{\"name\":\"E\",\"qty\":\"x\",\"quantity\":3}]}",
    };
    for (size_t i = 0; i < sizeof docs / sizeof *docs; i++) {
        cJSON *order = parse_json(docs[i]);
        escpos_ticket t = ticket_of(ESCPOS_NEW, "cp850", 24);
        if (order && render_decoded(order, &t) == 0) {
            CHECK(lines_fit(24) && dec.esc_t == 2);
            CHECK(find_line("RUSH") == -1);
        }
        cJSON_Delete(order);
    }
    cJSON *order = parse_json(docs[0]);
    escpos_ticket t = ticket_of(ESCPOS_NEW, "cp850", 24);
    if (render_decoded(order, &t) == 0) CHECK(find_line("#?") >= 0 && find_line("0 items") >= 0);
    cJSON_Delete(order);
    order = parse_json(docs[7]);
    if (render_decoded(order, &t) == 0) CHECK(find_line("1 x ?") >= 0 && find_line("1 item") >= 0);
    cJSON_Delete(order);
    order = parse_json(docs[8]);
    if (render_decoded(order, &t) == 0) {
        CHECK(find_line("1 x ?") >= 0 && find_line("1 x P") >= 0 && find_line("1 x N") >= 0);
        CHECK(find_line("1 x Z") >= 0 && find_line("1 x H") >= 0 && find_line("4 x M") >= 0);
        CHECK(find_line("3 x E") >= 0 && find_line("   + ok") >= 0 && count_lines("   +") == 0);
        CHECK(find_line("12 items") >= 0);
    }
    cJSON_Delete(order);
}

static void test_bad_arguments(void)
{
    cJSON *order = parse_json(margherita);
    escpos_ticket t = ticket_of(ESCPOS_NEW, "cp858", 42);
    unsigned char sentinel = 0, *out = &sentinel;
    size_t len = 99;
    CHECK(escpos_render(order, NULL, &out, &len) == -1 && out == NULL && len == 0);
    CHECK(escpos_render(order, &t, NULL, &len) == -1);
    CHECK(escpos_render(order, &t, &out, NULL) == -1);
    out = &sentinel;
    CHECK(escpos_render(NULL, &t, &out, &len) == -1 && out == NULL);
    static const int widths[] = {0, 23, 65, -1};
    for (size_t i = 0; i < 4; i++) {
        t.width = widths[i];
        out = &sentinel;
        CHECK(escpos_render(order, &t, &out, &len) == -1 && out == NULL);
    }
    t.width = 42;
    t.codepage = NULL;
    CHECK(escpos_render(order, &t, &out, &len) == -1 && out == NULL);
    t.codepage = cp858();
    t.kind = (escpos_kind)9;
    CHECK(escpos_render(order, &t, &out, &len) == -1 && out == NULL);
    static const escpos_codepage bogus = {"bogus", 0, "NO-SUCH-CHARSET"};
    t.kind = ESCPOS_NEW;
    t.codepage = &bogus;
    CHECK(escpos_render(order, &t, &out, &len) == -1 && out == NULL);
    CHECK(escpos_encode(&bogus, "abc", &sentinel, 1) == 0);
    t = ticket_of(ESCPOS_NEW, "cp858", 24);
    CHECK(escpos_render(order, &t, &out, &len) == 0 && out && len > 0);
    free(out);
    t.width = 64;
    CHECK(escpos_render(order, &t, &out, &len) == 0 && out && len > 0);
    free(out);
    cJSON_Delete(order);
}

int main(void)
{
    CHECK(setlocale(LC_CTYPE, "C.UTF-8") != NULL);
    test_codepages();
    test_encode();
    test_layout();
    test_rush();
    test_banners();
    test_injection();
    test_ascii_cp437();
    test_wrapping();
    test_200_items();
    test_odd_orders();
    test_bad_arguments();
    return check_report();
}
