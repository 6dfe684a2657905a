/* escpos.h - one kitchen ticket as the bytes an Epson TM-T88-compatible
 * thermal printer takes (ESC/POS). Pure: no I/O, no global state; the
 * caller sends the bytes.
 *
 * Invariants of every ticket: it starts with ESC @ and ESC t <code page>,
 * ends with ESC d 3 and GS V 66 0 (feed and partial cut), and holds no
 * control byte but the renderer's own commands (ESC @, ESC t, ESC a, ESC E,
 * GS !, GS B, ESC d, GS V) and LF. Order text is untrusted: it is converted
 * to the code page first (control characters as spaces), so it can never
 * put an ESC or GS byte on the ticket, and wrapped so that no line is wider
 * than the paper (width characters at normal size, width/2 at double size).
 *
 * Locale: transliteration (iconv "//TRANSLIT") of letters outside Latin-1,
 * such as "ở", only works once the process has a UTF-8 LC_CTYPE locale:
 * main() must call setlocale(LC_CTYPE, "C.UTF-8") before the first ticket.
 * Without it such letters print as '?'. */
#ifndef KB_ESCPOS_H
#define KB_ESCPOS_H

#include <stddef.h>

#include <cjson/cJSON.h>

#define ESCPOS_WIDTH_MIN 24
#define ESCPOS_WIDTH_MAX 64

/* A printer code page: its name in the registry, the n of ESC t n that
 * selects it, and the iconv name the text is converted to. */
typedef struct { const char *name; int esc_t; const char *iconv_name; } escpos_codepage;

/* "cp437" (ESC t 0, iconv "CP437"), "cp850" (2, "CP850"), "cp858" (19, "CP858"), "cp1252" (16, "CP1252"); NULL for any other name. Static storage.
 * Names match exactly (lower case); name may be NULL (then NULL). The result
 * is never freed. */
const escpos_codepage *escpos_codepage_find(const char *name);

/* Why the ticket is printed: a new order, its cancellation, a reprint asked
 * for on a kitchen screen, or a printer's test page. */
typedef enum { ESCPOS_NEW, ESCPOS_CANCELLED, ESCPOS_FROM_SCREEN, ESCPOS_TEST } escpos_kind;

/* What the ticket looks like; every pointer is borrowed for the call only. */
typedef struct {
    escpos_kind kind;
    int reprint;                     /* 1: a REPRINT banner too */
    int width;                       /* characters per line at normal size, ESCPOS_WIDTH_MIN..MAX */
    const escpos_codepage *codepage;
    const char *heading;             /* the tenant's name (or, for ESCPOS_TEST, the printer's name); may be NULL */
    const char *station;             /* NULL: whole order; else a "Station: <id>" line */
    const char *time_text;           /* e.g. "10:02", already formatted by the caller; may be NULL */
} escpos_ticket;

/* Renders `order` (may be NULL only for ESCPOS_TEST) into one ticket ending in a cut.
 * On 0, *out is malloc'd (caller frees) and *len its length; on -1 (out of memory, bad arguments) *out is NULL.
 * `order` and `t` are borrowed and not changed. Bad arguments: t, out or len
 * NULL; no code page, or one with esc_t outside 0..255; a width outside
 * ESCPOS_WIDTH_MIN..MAX; an unknown kind; no order for another kind than
 * ESCPOS_TEST. A code page iconv cannot open also gives -1. Fields of the
 * wrong JSON type are skipped; an item that is not an object is not printed;
 * an item's missing name prints "?" and a missing or invalid quantity (not
 * an integer 1..99999) "1". ESCPOS_TEST without an order prints the code
 * page, the width, a ruler of the full width and a sample of accented text
 * instead of an order. */
int escpos_render(const cJSON *order, const escpos_ticket *t, unsigned char **out, size_t *len);

/* Appends `utf8` converted to the code page to buf: for tests and for escpos.c itself. Returns bytes written
 * (at most cap), characters the code page lacks transliterated (iconv "//TRANSLIT"), emoji and pictographs
 * dropped, anything still unconvertible as '?', control characters (< 0x20, 0x7f) as a space. Never emits a
 * byte below 0x20 and never a raw UTF-8 multi-byte sequence.
 * cp and utf8 (NUL-terminated) are borrowed; buf is the caller's, cap bytes
 * long (may be NULL when cap is 0), written from buf[0] and not
 * NUL-terminated. A character that does not fit whole ends the text there.
 * C1 controls (U+0080..U+009F) print as a space too, and bytes 0x7f never
 * appear. Dropped: U+1F000 and
 * above, U+2600..U+27BF, U+2B00..U+2BFF, U+FE00..U+FE0F, U+200D, U+20E3.
 * Returns 0 if cp or utf8 is NULL or iconv cannot open the code page. */
size_t escpos_encode(const escpos_codepage *cp, const char *utf8, unsigned char *buf, size_t cap);

#endif
