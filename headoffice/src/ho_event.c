/* ho_event.c - see ho_event.h. */
#include "ho_event.h"

#include <stdio.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "charset.h"
#include "clock.h"
#include "errbuf.h"
#include "json_util.h"

#define PREFIX "kitchen-bus/outlets/"

static int id_valid(const char *s) { return charset_is(s, HO_ID_MAX, CHARSET_LOWER | CHARSET_DIGITS, "_-"); }

/* Copies the next topic level (up to '/' or the end) into dst; returns
 * what follows it, or NULL if it is empty or too long. */
static const char *level(const char *p, char *dst, size_t len)
{
    const char *end = strchr(p, '/');
    size_t n = end ? (size_t)(end - p) : strlen(p);
    if (n == 0 || n >= len) return NULL;
    memcpy(dst, p, n);
    dst[n] = '\0';
    return end ? end + 1 : p + n;
}

static int parse_topic(const char *topic, ho_event *e)
{
    if (strncmp(topic, PREFIX, strlen(PREFIX)) != 0) return -1;
    const char *p = level(topic + strlen(PREFIX), e->outlet, sizeof e->outlet);
    if (!p || !id_valid(e->outlet)) return -1;
    if (strncmp(p, "outlet/tenant/", 14) == 0) {
        p = level(p + 14, e->tenant, sizeof e->tenant);
        if (!p || strcmp(p, "events") != 0) return -1;
        e->replay = 0;
    } else if (strncmp(p, "replay/", 7) == 0) {
        p = level(p + 7, e->tenant, sizeof e->tenant);
        if (!p || *p) return -1;
        e->replay = 1;
    } else {
        return -1;
    }
    return id_valid(e->tenant) ? 0 : -1;
}

static int whole(const cJSON *v, int64_t *out)
{
    if (!cJSON_IsNumber(v) || v->valuedouble < 1 || v->valuedouble > 9007199254740991.0 ||
        v->valuedouble != (double)(int64_t)v->valuedouble)
        return -1;
    *out = (int64_t)v->valuedouble;
    return 0;
}

static int text(const cJSON *doc, const char *key, char *dst, size_t len, int required)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(doc, key);
    if (!cJSON_IsString(v)) return required ? -1 : (dst[0] = '\0', 0);
    if (strlen(v->valuestring) >= len) return -1;
    memcpy(dst, v->valuestring, strlen(v->valuestring) + 1);
    return 0;
}

int ho_event_parse(const char *topic, const void *payload, size_t len, ho_event *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    if (parse_topic(topic, out) != 0) return errbuf_set(err, errlen, "not an events or replay topic");
    cJSON *doc = json_parse_exact(payload, len);
    int rc = -1;
    if (!cJSON_IsObject(doc)) errbuf_set(err, errlen, "%s/%s: the event is not a JSON object", out->outlet, out->tenant);
    else if (whole(cJSON_GetObjectItemCaseSensitive(doc, "seq"), &out->seq) != 0)
        errbuf_set(err, errlen, "%s/%s: the event has no seq", out->outlet, out->tenant);
    else if (text(doc, "event", out->event, sizeof out->event, 1) || text(doc, "status", out->status, sizeof out->status, 1) ||
             text(doc, "order_number", out->order_number, sizeof out->order_number, 1) ||
             text(doc, "at", out->at, sizeof out->at, 0))
        errbuf_set(err, errlen, "%s/%s seq %lld: event, status or order_number missing or too long", out->outlet,
                   out->tenant, (long long)out->seq);
    else
        rc = 0;
    if (rc == 0) {
        const cJSON *cs = cJSON_GetObjectItemCaseSensitive(doc, "created_seq");
        if (cs && whole(cs, &out->created_seq) != 0) out->created_seq = 0;
        if (strcmp(out->event, "created") == 0) out->created_seq = out->seq;
        if (out->at[0] && kb_iso_parse_ms(out->at) < 0) out->at[0] = '\0'; /* stored as unknown, never a bad cast */
    }
    cJSON_Delete(doc);
    return rc;
}

int ho_seen_topic(char *buf, size_t len, const char *outlet, const char *tenant)
{
    int n = snprintf(buf, len, PREFIX "%s/seen/%s", outlet, tenant);
    return n < 0 || (size_t)n >= len ? -1 : 0;
}

int ho_seen_doc(char *buf, size_t len, int64_t seq)
{
    int n = snprintf(buf, len, "{\"seq\":%lld}", (long long)seq);
    return n < 0 || (size_t)n >= len ? -1 : 0;
}
