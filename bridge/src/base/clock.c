/* clock.c - see clock.h. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "clock.h"

double kb_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

void kb_iso_time(char *buf, size_t len) { kb_iso_from_ms(kb_wall_ms(), buf, len); }

void kb_iso_from_ms(long long ms, char *buf, size_t len)
{
    time_t s = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&s, &tm);
    char base[24];
    strftime(base, sizeof base, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(buf, len, "%s.%03dZ", base, (int)(ms % 1000));
}

/* The test clock: set (1), and the wall time it stands at. */
static int test_set;
static long long test_wall_ms;

void kb_clock_set_test(long long wall_ms)
{
    test_set = 1;
    test_wall_ms = wall_ms;
}

long long kb_wall_ms(void)
{
    if (test_set) return test_wall_ms;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The number in the n digits at s. */
static int field(const char *s, int n)
{
    int v = 0;
    for (int i = 0; i < n; i++) v = v * 10 + (s[i] - '0');
    return v;
}

long long kb_iso_parse_ms(const char *iso)
{
    /* Every field zero-padded, as kb_iso_from_ms writes it; the loop stops
     * at the first mismatch, so it never reads past a short string's end. */
    static const char layout[] = "dddd-dd-ddTdd:dd:dd";
    if (!iso) return -1;
    for (size_t i = 0; i < sizeof layout - 1; i++)
        if (layout[i] == 'd' ? iso[i] < '0' || iso[i] > '9' : iso[i] != layout[i]) return -1;
    struct tm tm = {.tm_year = field(iso, 4) - 1900, .tm_mon = field(iso + 5, 2) - 1, .tm_mday = field(iso + 8, 2),
                    .tm_hour = field(iso + 11, 2), .tm_min = field(iso + 14, 2), .tm_sec = field(iso + 17, 2)};
    const char *rest = iso + sizeof layout - 1;
    int ms = 0;
    if (*rest == '.') {
        int digits = 0;
        for (rest++; *rest >= '0' && *rest <= '9'; rest++, digits++)
            if (digits < 3) ms = ms * 10 + (*rest - '0');
        if (digits == 0) return -1;
        for (; digits < 3; digits++) ms *= 10;
    }
    if (strcmp(rest, "Z") != 0) return -1;
    /* A field out of range (month 13, 30 February, 24:00) is not such a
     * time: timegm would move it to another day, so it must come back as given. */
    struct tm given = tm;
    time_t t = timegm(&tm);
    if (t == (time_t)-1 || tm.tm_year != given.tm_year || tm.tm_mon != given.tm_mon || tm.tm_mday != given.tm_mday ||
        tm.tm_hour != given.tm_hour || tm.tm_min != given.tm_min || tm.tm_sec != given.tm_sec)
        return -1;
    return (long long)t * 1000 + ms;
}
