/* topics.h - the one place that knows the MQTT topic layout (docs/CONTRACT.md).
 *
 *   outlet/tenant/<t>/pos/<d>/submit        POS -> bridge
 *   outlet/tenant/<t>/pos/<d>/ack           bridge -> POS
 *   outlet/tenant/<t>/kitchen/<d>/status    kitchen -> bridge
 *   outlet/tenant/<t>/kitchen/<d>/ack       bridge -> kitchen
 *   outlet/tenant/<t>/orders/<order>        retained order state
 *   outlet/tenant/<t>/events                change events
 *   outlet/device/<d>/info                  retained device identity
 *   outlet/bridge/health                    retained bridge health
 *   outlet/uplink/seen/<t>                  retained, from head office
 *   outlet/uplink/replay/<t>                re-sent events, to head office
 *   outlet/tenant/<t>/<role>/<d>/presence   retained, the device's own: online or not
 *   outlet/board/<d>/presence               the same for a pickup board */
#ifndef KB_TOPICS_H
#define KB_TOPICS_H

#include <stddef.h>

#include "order_validate.h"
#include "registry.h"

#define TOPIC_MAX 256
#define TOPIC_SUB_SUBMIT "outlet/tenant/+/pos/+/submit"
#define TOPIC_SUB_STATUS "outlet/tenant/+/kitchen/+/status"
#define TOPIC_SUB_EXPO_STATUS "outlet/tenant/+/expo/+/status"
#define TOPIC_SUB_STATION_VIEWS "outlet/tenant/+/stations/+/orders/+"
#define TOPIC_SUB_ORDERS "outlet/tenant/+/orders/+"
#define TOPIC_SUB_UPLINK_SEEN "outlet/uplink/seen/+"
#define TOPIC_SUB_PRESENCE "outlet/tenant/+/+/+/presence"
#define TOPIC_SUB_BOARD_PRESENCE "outlet/board/+/presence"
#define TOPIC_BROKER_LOG_NOTICE "$SYS/broker/log/N"
#define TOPIC_SUB_BROKER_CONNECTIONS "$SYS/broker/connection/+/state" /* the broker's bridges: "1" up, "0" down */
#define TOPIC_SUB_UPLINK_STATE "kitchen-bus/outlets/+/uplink" /* the same, where docs/UPLINK.md puts it */
#define TOPIC_HEALTH "outlet/bridge/health"
#define TOPIC_DYNSEC "$CONTROL/dynamic-security/v1"
#define TOPIC_DYNSEC_RESPONSE "$CONTROL/dynamic-security/v1/response"

typedef enum {
    TOPIC_OTHER,
    TOPIC_POS_SUBMIT,
    TOPIC_KITCHEN_STATUS,
    TOPIC_ORDER_STATE,
    TOPIC_EXPO_STATUS,
    TOPIC_STATION_VIEW, /* a station's retained view of an order */
    TOPIC_DYNSEC_REPLY,
    TOPIC_UPLINK_SEEN,
    TOPIC_PRESENCE /* a device's presence; tenant "" for a board */
} topic_kind;

typedef struct {
    topic_kind kind;
    char tenant[REGISTRY_ID_MAX + 1];
    char device[REGISTRY_ID_MAX + 1];          /* POS_SUBMIT, KITCHEN_STATUS, PRESENCE */
    char role[16];                           /* PRESENCE: pos, kitchen, expo, board */
    char order_number[ORDER_NUMBER_MAX + 1]; /* ORDER_STATE, STATION_VIEW */
    char station[REGISTRY_ID_MAX + 1];       /* STATION_VIEW */
} topic_info;

/* Classifies an incoming topic; ids that break the registry rules give OTHER. */
topic_kind topic_parse(const char *topic, topic_info *out);

/* Builders return 0, or -1 if the result would not fit. */
/* Where a device sends: .../pos/<d>/submit or .../kitchen/<d>/status. */
int topic_device_in(char *buf, size_t len, const char *tenant, device_role role, const char *device);
int topic_ack(char *buf, size_t len, const char *tenant, device_role role, const char *device);
int topic_order(char *buf, size_t len, const char *tenant, const char *order_number);
int topic_events(char *buf, size_t len, const char *tenant);
int topic_device_info(char *buf, size_t len, const char *device);
int topic_uplink_replay(char *buf, size_t len, const char *tenant);
/* A station's retained view of an order: outlet/tenant/<t>/stations/<s>/orders/<n>. */
int topic_station_order(char *buf, size_t len, const char *tenant, const char *station, const char *order_number);
/* A tenant's pickup board document: outlet/board/<t>. */
int topic_board(char *buf, size_t len, const char *tenant);
/* Device d's presence: outlet/tenant/<t>/<role>/<d>/presence, or
 * outlet/board/<d>/presence for a board (tenant NULL). */
int topic_presence(char *buf, size_t len, const char *tenant, device_role role, const char *device);
/* What a tenant's devices read of their tenant's presence. */
int topic_tenant_presence(char *buf, size_t len, const char *tenant);

#endif
