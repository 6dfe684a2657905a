/* escpos.c - see escpos.h. A ticket is built in one growable byte buffer.
 * Text reaches it only through wrap(), and only after encode() has turned
 * it into code page bytes >= 0x20 (never 0x7f), so the only control bytes
 * on a ticket are the commands written here with cmd() and put(), and LF.
 * One byte is one printed character in these single-byte code pages, so
 * lines are measured in encoded bytes. */
#include "escpos.h"

#include <iconv.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ESC 0x1b
#define GS 0x1d
#define QTY_MAX 99999

const escpos_codepage *escpos_codepage_find(const char *name)
{
    static const escpos_codepage pages[] = {
        {"cp437", 0, "CP437"}, {"cp850", 2, "CP850"}, {"cp858", 19, "CP858"}, {"cp1252", 16, "CP1252"},
    };
    if (!name) return NULL;
    for (size_t i = 0; i < sizeof pages / sizeof *pages; i++)
        if (strcmp(pages[i].name, name) == 0) return &pages[i];
    return NULL;
}

/* A byte buffer: growable (fixed 0; p malloc'd, owned by whoever builds it)
 * or the caller's cap bytes (fixed 1). A put that does not fit, or runs out
 * of memory, writes nothing and sets `failed`; every later put fails too. */
typedef struct {
    unsigned char *p;
    size_t len, cap;
    int fixed, failed;
} bytes;

static void put(bytes *b, const void *s, size_t n)
{
    if (b->failed || n == 0) return;
    if (n > b->cap - b->len) {
        size_t cap = b->cap ? b->cap : 512;
        while (!b->fixed && cap <= SIZE_MAX / 2 && n > cap - b->len) cap *= 2;
        unsigned char *np = b->fixed || n > cap - b->len ? NULL : realloc(b->p, cap);
        if (!np) {
            b->failed = 1;
            return;
        }
        b->p = np;
        b->cap = cap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
}

static void cmd(bytes *b, int c0, int c1, int n)
{
    unsigned char s[3] = {(unsigned char)c0, (unsigned char)c1, (unsigned char)n};
    put(b, s, sizeof s);
}

/* The code point at s (n >= 1 bytes left), its length in *k; -1 (and *k 1)
 * for an invalid, overlong, surrogate or cut-short sequence. */
static long utf8_next(const unsigned char *s, size_t n, size_t *k)
{
    unsigned c = s[0];
    size_t want;
    long cp, min;
    *k = 1;
    if (c < 0x80) return (long)c;
    if (c >= 0xc2 && c <= 0xdf) want = 2, cp = c & 0x1f, min = 0x80;
    else if (c >= 0xe0 && c <= 0xef) want = 3, cp = c & 0x0f, min = 0x800;
    else if (c >= 0xf0 && c <= 0xf4) want = 4, cp = c & 0x07, min = 0x10000;
    else return -1;
    if (n < want) return -1;
    for (size_t i = 1; i < want; i++) {
        if ((s[i] & 0xc0) != 0x80) return -1;
        cp = cp << 6 | (s[i] & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return -1;
    *k = want;
    return cp;
}

/* Emoji, pictographs and the joiners and selectors that build them. */
static int is_pictograph(long cp)
{
    return cp >= 0x1f000 || (cp >= 0x2600 && cp <= 0x27bf) || (cp >= 0x2b00 && cp <= 0x2bff) ||
           (cp >= 0xfe00 && cp <= 0xfe0f) || cp == 0x200d || cp == 0x20e3;
}

static iconv_t open_cd(const escpos_codepage *cp)
{
    char to[64];
    if (!cp->iconv_name || snprintf(to, sizeof to, "%s//TRANSLIT", cp->iconv_name) >= (int)sizeof to) return (iconv_t)-1;
    return iconv_open(to, "UTF-8");
}

/* Appends utf8 in cd's code page to b, one character at a time, so that a
 * character iconv refuses costs one '?' and nothing else. */
static void encode(iconv_t cd, const char *utf8, bytes *b)
{
    const unsigned char *s = (const unsigned char *)utf8;
    size_t n = strlen(utf8);
    while (n > 0 && !b->failed) {
        size_t k;
        long cp = utf8_next(s, n, &k);
        if (cp < 0) {
            put(b, "?", 1);
        } else if (cp < 0x20 || cp == 0x7f || (cp >= 0x80 && cp < 0xa0)) {
            put(b, " ", 1);
        } else if (cp < 0x80) {
            put(b, s, 1);
        } else if (!is_pictograph(cp)) {
            char in[4], conv[64];
            char *ip = in, *op = conv;
            size_t il = k, ol = sizeof conv;
            memcpy(in, s, k);
            size_t r = iconv(cd, &ip, &il, &op, &ol);
            if (r != (size_t)-1) r = iconv(cd, NULL, NULL, &op, &ol);
            if (r == (size_t)-1 || il != 0) {
                iconv(cd, NULL, NULL, NULL, NULL);
                put(b, "?", 1);
            } else {
                size_t got = sizeof conv - ol;
                for (size_t i = 0; i < got; i++)
                    if ((unsigned char)conv[i] < 0x20 || (unsigned char)conv[i] == 0x7f) conv[i] = '?';
                put(b, conv, got);
            }
        }
        s += k;
        n -= k;
    }
}

size_t escpos_encode(const escpos_codepage *cp, const char *utf8, unsigned char *buf, size_t cap)
{
    if (!cp || !utf8 || (!buf && cap)) return 0;
    iconv_t cd = open_cd(cp);
    if (cd == (iconv_t)-1) return 0;
    bytes b = {buf, 0, cap, 1, 0};
    encode(cd, utf8, &b);
    iconv_close(cd);
    return b.len;
}

/* ---- the ticket --------------------------------------------------------- */

typedef struct {
    bytes out;  /* the ticket */
    bytes line; /* the encoded text of the line being built */
    iconv_t cd;
    size_t width;
    int align; /* the alignment set last: ESC @ makes it 0, left */
} ticket;

/* Prints s[0..n) (encoded, n >= 1) as lines of at most `width` characters:
 * a break goes at the last space that fits (never in the first `keep`
 * bytes, the line's own prefix such as "2 x "), or hard inside a word
 * longer than a line. Spaces at a break are dropped; continuation lines
 * start with `indent` spaces. */
static void wrap(bytes *out, const unsigned char *s, size_t n, size_t width, size_t keep, size_t indent)
{
    static const char spaces[] = "                ";
    if (indent >= sizeof spaces || indent >= width / 2) indent = 0;
    size_t pos = 0;
    int first = 1;
    do {
        size_t room = first ? width : width - indent, end, next;
        if (n - pos <= room) {
            end = next = n;
        } else {
            size_t lo = first ? keep : pos, at = pos + room;
            while (at > lo && s[at] != ' ') at--;
            if (at > lo) end = at, next = at + 1;
            else end = next = pos + room;
        }
        while (end > pos && s[end - 1] == ' ') end--;
        if (!first) put(out, spaces, indent);
        put(out, s + pos, end - pos);
        put(out, "\n", 1);
        for (pos = next; pos < n && s[pos] == ' '; pos++) {}
        first = 0;
    } while (pos < n);
}

static void add(ticket *c, const char *utf8) { encode(c->cd, utf8, &c->line); }

/* Prints the line built so far in its style (align 0 left, 1 centre; big:
 * double width and height, width/2 characters a line), resets all but the
 * alignment after it, and starts a new line. */
static void print_line(ticket *c, int align, int bold, int reverse, int big, size_t keep, size_t indent)
{
    bytes *o = &c->out;
    if (c->line.len == 0) return;
    if (align != c->align) cmd(o, ESC, 'a', align);
    c->align = align;
    if (reverse) cmd(o, GS, 'B', 1);
    if (bold) cmd(o, ESC, 'E', 1);
    if (big) cmd(o, GS, '!', 0x11);
    wrap(o, c->line.p, c->line.len, big ? c->width / 2 : c->width, keep, indent);
    if (big) cmd(o, GS, '!', 0);
    if (bold) cmd(o, ESC, 'E', 0);
    if (reverse) cmd(o, GS, 'B', 0);
    c->line.len = 0;
}

static void banner(ticket *c, const char *text)
{
    add(c, text);
    print_line(c, 1, 1, 1, 1, 0, 0);
}

/* "<label><value>" left-aligned, if value is a non-empty string. */
static void labelled(ticket *c, const char *label, const char *value)
{
    if (!value || !*value) return;
    add(c, label);
    add(c, value);
    print_line(c, 0, 0, 0, 0, 0, 0);
}

/* A full-width line of `pattern` (at least ESCPOS_WIDTH_MAX characters). */
static void rule(ticket *c, const char *pattern)
{
    put(&c->line, pattern, c->width);
    print_line(c, 0, 0, 0, 0, 0, 0);
}

#define DASHES "----------------------------------------------------------------"

/* A non-empty string field of obj, else NULL. */
static const char *field(const cJSON *obj, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    return cJSON_IsString(v) && v->valuestring[0] ? v->valuestring : NULL;
}

static long item_qty(const cJSON *item)
{
    const cJSON *q = cJSON_GetObjectItemCaseSensitive(item, "qty");
    if (!cJSON_IsNumber(q)) q = cJSON_GetObjectItemCaseSensitive(item, "quantity");
    if (!cJSON_IsNumber(q) || !(q->valuedouble >= 1 && q->valuedouble <= QTY_MAX)) return 1;
    long v = (long)q->valuedouble;
    return (double)v == q->valuedouble ? v : 1;
}

/* An item, its modifiers and notes; returns its quantity. */
static long print_item(ticket *c, const cJSON *item)
{
    const char *name = field(item, "name");
    if (!name) name = field(item, "product_name");
    long qty = item_qty(item);
    char pre[32];
    size_t np = (size_t)snprintf(pre, sizeof pre, "%ld x ", qty);
    add(c, pre);
    add(c, name ? name : "?");
    print_line(c, 0, 1, 0, 0, np, np);
    const cJSON *mods = cJSON_GetObjectItemCaseSensitive(item, "modifiers"), *m;
    if (cJSON_IsArray(mods)) {
        cJSON_ArrayForEach(m, mods) {
            if (!cJSON_IsString(m) || !m->valuestring[0]) continue;
            add(c, "   + ");
            add(c, m->valuestring);
            print_line(c, 0, 0, 0, 0, 5, 5);
        }
    }
    const char *notes = field(item, "notes");
    if (notes) {
        add(c, "   ! ");
        add(c, notes);
        print_line(c, 0, 0, 0, 0, 5, 5);
    }
    return qty;
}

static void order_body(ticket *c, const cJSON *order, const escpos_ticket *t)
{
    const char *num = field(order, "order_number"), *prio = field(order, "priority");
    add(c, "#");
    add(c, num ? num : "?");
    print_line(c, 1, 1, 0, 1, 0, 0);
    if (prio && strcmp(prio, "rush") == 0) banner(c, "RUSH");

    const char *type = field(order, "order_type"), *table = field(order, "table");
    if (type) { /* "dine_in" -> "Dine in" */
        add(c, type);
        for (size_t i = 0; i < c->line.len; i++)
            if (c->line.p[i] == '_') c->line.p[i] = ' ';
        if (c->line.len && c->line.p[0] >= 'a' && c->line.p[0] <= 'z') c->line.p[0] -= 'a' - 'A';
    }
    if (type && table) add(c, " - ");
    if (table) {
        add(c, "Table ");
        add(c, table);
    }
    print_line(c, 0, 0, 0, 0, 0, 0); /* nothing when neither is there */
    labelled(c, "Customer: ", field(order, "customer_name"));
    labelled(c, "Station: ", t->station);
    labelled(c, "Time: ", t->time_text);
    labelled(c, "Note: ", field(order, "notes"));
    rule(c, DASHES);

    long long total = 0;
    const cJSON *items = cJSON_GetObjectItemCaseSensitive(order, "items"), *item;
    if (cJSON_IsArray(items)) {
        cJSON_ArrayForEach(item, items) {
            if (cJSON_IsObject(item)) total += print_item(c, item);
        }
    }
    rule(c, DASHES);
    char foot[48];
    snprintf(foot, sizeof foot, "%lld item%s", total, total == 1 ? "" : "s");
    add(c, foot);
    print_line(c, 1, 0, 0, 0, 0, 0);
}

/* ESCPOS_TEST without an order: what the printer is set to, and whether
 * its paper width and code page are right. */
static void test_body(ticket *c, const escpos_ticket *t)
{
    char s[96];
    labelled(c, "Station: ", t->station);
    labelled(c, "Time: ", t->time_text);
    snprintf(s, sizeof s, "Code page: %s (ESC t %d)", t->codepage->name, t->codepage->esc_t);
    labelled(c, "", s);
    snprintf(s, sizeof s, "Width: %zu characters", c->width);
    labelled(c, "", s);
    rule(c, DASHES);
    rule(c, "1234567890123456789012345678901234567890123456789012345678901234");
    labelled(c, "", "Sample: Cr\xc3\xa8me br\xc3\xbbl\xc3\xa9" "e, \xc3\x91o\xc3\xb1o, \xe2\x82\xac" "5");
    rule(c, DASHES);
}

int escpos_render(const cJSON *order, const escpos_ticket *t, unsigned char **out, size_t *len)
{
    static const char *const banners[] = {NULL, "CANCELLED", "FROM SCREEN", "TEST PRINT"};
    if (out) *out = NULL;
    if (len) *len = 0;
    if (!out || !len || !t || !t->codepage || t->codepage->esc_t < 0 || t->codepage->esc_t > 255 || t->width < ESCPOS_WIDTH_MIN || t->width > ESCPOS_WIDTH_MAX ||
        (unsigned)t->kind > ESCPOS_TEST || (!order && t->kind != ESCPOS_TEST))
        return -1;
    ticket c = {.width = (size_t)t->width};
    c.cd = open_cd(t->codepage);
    if (c.cd == (iconv_t)-1) return -1;

    put(&c.out, "\x1b@", 2);
    cmd(&c.out, ESC, 't', t->codepage->esc_t);
    if (banners[t->kind]) banner(&c, banners[t->kind]);
    if (t->reprint) banner(&c, "REPRINT");
    if (t->heading) {
        add(&c, t->heading);
        print_line(&c, 1, 1, 0, 0, 0, 0);
    }
    if (order) order_body(&c, order, t);
    else test_body(&c, t);
    cmd(&c.out, ESC, 'd', 3);
    put(&c.out, "\x1d\x56\x42\x00", 4);

    iconv_close(c.cd);
    free(c.line.p);
    if (c.out.failed || c.line.failed) {
        free(c.out.p);
        return -1;
    }
    *out = c.out.p;
    *len = c.out.len;
    return 0;
}
