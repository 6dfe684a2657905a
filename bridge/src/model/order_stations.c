/* order_stations.c - see order_stations.h. */
#include "order_stations.h"

#include <stdio.h>
#include <string.h>

const char *order_item_station(const cJSON *item, const char *first)
{
    const cJSON *st = cJSON_GetObjectItemCaseSensitive(item, "station");
    return cJSON_IsString(st) ? st->valuestring : first;
}

kb_error order_assign_stations(cJSON *order, const registry_tenant *t, order_rejection *rej)
{
    if (t->n_stations == 0) return KB_OK;
    int has[REGISTRY_STATIONS_MAX] = {0};
    const cJSON *items = cJSON_GetObjectItemCaseSensitive(order, "items");
    const cJSON *item;
    int i = 0;
    cJSON_ArrayForEach(item, items) {
        const cJSON *st = cJSON_GetObjectItemCaseSensitive(item, "station");
        int at = st && !cJSON_IsNull(st) ? (cJSON_IsString(st) ? registry_station_index(t, st->valuestring) : -1) : 0;
        if (at < 0) {
            rej->error = KB_ERR_INVALID_FIELD;
            snprintf(rej->detail, sizeof rej->detail, "items[%d].station must be one of the tenant's stations", i);
            return KB_ERR_INVALID_FIELD;
        }
        has[at] = 1;
        i++;
    }
    cJSON *map = cJSON_CreateObject();
    for (int s = 0; map && s < t->n_stations; s++)
        if (has[s]) cJSON_AddStringToObject(map, t->stations[s], order_status_name(ORDER_STATUS_NEW));
    cJSON_DeleteItemFromObjectCaseSensitive(order, "stations");
    if (!map || !cJSON_AddItemToObject(order, "stations", map)) {
        cJSON_Delete(map);
        rej->error = KB_ERR_JOURNAL_UNAVAILABLE;
        snprintf(rej->detail, sizeof rej->detail, "out of memory");
        return KB_ERR_JOURNAL_UNAVAILABLE;
    }
    return KB_OK;
}

order_status order_station_status(const cJSON *order, const char *station)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(order, "stations"), station);
    return cJSON_IsString(v) ? order_status_parse(v->valuestring) : ORDER_STATUS_INVALID;
}

/* Sets every part that `only_from` allows (INVALID: every part) to `to`. */
static void set_parts(cJSON *order, order_status only_from, order_status to)
{
    cJSON *map = cJSON_GetObjectItemCaseSensitive(order, "stations");
    cJSON *part;
    cJSON_ArrayForEach(part, map) {
        if (!cJSON_IsString(part)) continue;
        if (only_from != ORDER_STATUS_INVALID && order_status_parse(part->valuestring) != only_from) continue;
        cJSON_SetValuestring(part, order_status_name(to));
    }
}

station_move order_station_move(cJSON *order, order_status from, const char *station, order_status to,
                                order_status *order_to)
{
    cJSON *map = cJSON_GetObjectItemCaseSensitive(order, "stations");
    cJSON *part = cJSON_GetObjectItemCaseSensitive(map, station);
    if (!cJSON_IsString(part)) return STATION_UNKNOWN;
    if (order_status_parse(part->valuestring) == to) return STATION_UNCHANGED;
    if (!cJSON_SetValuestring(part, order_status_name(to))) return STATION_UNKNOWN;
    int all_ready = 1;
    const cJSON *p;
    cJSON_ArrayForEach(p, map)
        if (!cJSON_IsString(p) || order_status_parse(p->valuestring) != ORDER_STATUS_READY) all_ready = 0;
    if (all_ready) *order_to = ORDER_STATUS_READY;
    else if (from == ORDER_STATUS_NEW || from == ORDER_STATUS_ACCEPTED || from == ORDER_STATUS_READY)
        *order_to = ORDER_STATUS_PREPARING;
    else *order_to = from;
    return STATION_MOVED;
}

void order_stations_follow(cJSON *order, order_status from, order_status to)
{
    if (to == ORDER_STATUS_READY) set_parts(order, ORDER_STATUS_INVALID, ORDER_STATUS_READY);
    else if (from == ORDER_STATUS_READY && to == ORDER_STATUS_PREPARING)
        set_parts(order, ORDER_STATUS_INVALID, ORDER_STATUS_PREPARING);
}

char *order_station_view(const cJSON *order, const char *station, const char *first)
{
    if (order_station_status(order, station) == ORDER_STATUS_INVALID) return NULL;
    cJSON *view = cJSON_Duplicate(order, 1);
    cJSON *items = cJSON_GetObjectItemCaseSensitive(view, "items");
    for (int i = cJSON_GetArraySize(items) - 1; i >= 0; i--)
        if (strcmp(order_item_station(cJSON_GetArrayItem(items, i), first), station) != 0)
            cJSON_DeleteItemFromArray(items, i);
    if (view) cJSON_AddStringToObject(view, "station", station);
    char *text = view ? cJSON_PrintUnformatted(view) : NULL;
    cJSON_Delete(view);
    return text;
}
