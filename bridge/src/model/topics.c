/* topics.c - parsing and building topics (see topics.h). */
#include "topics.h"

#include <stdio.h>
#include <string.h>

/* Splits `topic` into at most `max` levels, in place in `copy`. */
static int split(char *copy, char **levels, int max)
{
    int n = 0;
    char *p = copy;
    while (n < max) {
        levels[n++] = p;
        char *slash = strchr(p, '/');
        if (!slash) return n;
        *slash = '\0';
        p = slash + 1;
    }
    return max + 1; /* too many levels */
}

static int copy_id(char *dst, const char *src)
{
    if (!registry_id_valid(src)) return 0;
    memcpy(dst, src, strlen(src) + 1);
    return 1;
}

topic_kind topic_parse(const char *topic, topic_info *out)
{
    memset(out, 0, sizeof *out);
    if (strcmp(topic, TOPIC_DYNSEC_RESPONSE) == 0) return out->kind = TOPIC_DYNSEC_REPLY;
    char copy[TOPIC_MAX];
    if (strlen(topic) >= sizeof copy) return TOPIC_OTHER;
    strcpy(copy, topic);
    char *lv[7];
    int n = split(copy, lv, 7);
    if (n == 4 && strcmp(lv[0], "outlet") == 0 && strcmp(lv[1], "uplink") == 0 && strcmp(lv[2], "seen") == 0 &&
        copy_id(out->tenant, lv[3]))
        return out->kind = TOPIC_UPLINK_SEEN;
    if (n == 4 && strcmp(lv[0], "outlet") == 0 && strcmp(lv[1], "board") == 0 && strcmp(lv[3], "presence") == 0 &&
        copy_id(out->device, lv[2])) {
        strcpy(out->role, "board");
        return out->kind = TOPIC_PRESENCE;
    }
    if (n < 5 || strcmp(lv[0], "outlet") != 0 || strcmp(lv[1], "tenant") != 0) return TOPIC_OTHER;
    if (!copy_id(out->tenant, lv[2])) return TOPIC_OTHER;
    if (n == 5 && strcmp(lv[3], "orders") == 0 && order_number_valid(lv[4])) {
        strcpy(out->order_number, lv[4]);
        return out->kind = TOPIC_ORDER_STATE;
    }
    if (n == 7 && strcmp(lv[3], "stations") == 0 && strcmp(lv[5], "orders") == 0 && copy_id(out->station, lv[4]) &&
        order_number_valid(lv[6])) {
        strcpy(out->order_number, lv[6]);
        return out->kind = TOPIC_STATION_VIEW;
    }
    if (n != 6 || !copy_id(out->device, lv[4])) return TOPIC_OTHER;
    if (strcmp(lv[3], "pos") == 0 && strcmp(lv[5], "submit") == 0) return out->kind = TOPIC_POS_SUBMIT;
    if (strcmp(lv[3], "kitchen") == 0 && strcmp(lv[5], "status") == 0)
        return out->kind = TOPIC_KITCHEN_STATUS;
    if (strcmp(lv[3], "expo") == 0 && strcmp(lv[5], "status") == 0) return out->kind = TOPIC_EXPO_STATUS;
    if (strcmp(lv[5], "presence") == 0 &&
        (strcmp(lv[3], "pos") == 0 || strcmp(lv[3], "kitchen") == 0 || strcmp(lv[3], "expo") == 0)) {
        strcpy(out->role, lv[3]);
        return out->kind = TOPIC_PRESENCE;
    }
    return TOPIC_OTHER;
}

static int fits(int n, size_t len) { return n >= 0 && (size_t)n < len ? 0 : -1; }

int topic_ack(char *buf, size_t len, const char *tenant, device_role role, const char *device)
{
    return fits(snprintf(buf, len, "outlet/tenant/%s/%s/%s/ack", tenant, device_role_name(role), device),
                len);
}

int topic_device_in(char *buf, size_t len, const char *tenant, device_role role, const char *device)
{
    return fits(snprintf(buf, len, "outlet/tenant/%s/%s/%s/%s", tenant, device_role_name(role), device,
                         role == DEVICE_POS ? "submit" : "status"),
                len);
}

int topic_order(char *buf, size_t len, const char *tenant, const char *order_number)
{
    return fits(snprintf(buf, len, "outlet/tenant/%s/orders/%s", tenant, order_number), len);
}

int topic_events(char *buf, size_t len, const char *tenant)
{
    return fits(snprintf(buf, len, "outlet/tenant/%s/events", tenant), len);
}

int topic_device_info(char *buf, size_t len, const char *device)
{
    return fits(snprintf(buf, len, "outlet/device/%s/info", device), len);
}

int topic_uplink_replay(char *buf, size_t len, const char *tenant)
{
    return fits(snprintf(buf, len, "outlet/uplink/replay/%s", tenant), len);
}

int topic_station_order(char *buf, size_t len, const char *tenant, const char *station, const char *order_number)
{
    return fits(snprintf(buf, len, "outlet/tenant/%s/stations/%s/orders/%s", tenant, station, order_number), len);
}

int topic_board(char *buf, size_t len, const char *tenant)
{
    return fits(snprintf(buf, len, "outlet/board/%s", tenant), len);
}

int topic_presence(char *buf, size_t len, const char *tenant, device_role role, const char *device)
{
    if (!tenant) return fits(snprintf(buf, len, "outlet/%s/%s/presence", device_role_name(role), device), len);
    return fits(snprintf(buf, len, "outlet/tenant/%s/%s/%s/presence", tenant, device_role_name(role), device), len);
}

int topic_tenant_presence(char *buf, size_t len, const char *tenant)
{
    return fits(snprintf(buf, len, "outlet/tenant/%s/+/+/presence", tenant), len);
}
