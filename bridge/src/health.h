/* health.h - the bridge's health document and Prometheus metrics.
 *
 * Health is "ok" only while the bridge has its broker connection and can
 * write its journal; otherwise "degraded" (HTTP 503). The same document is
 * kept retained on outlet/bridge/health by the MQTT link, which reads it:
 * health never publishes; a change marks it (health_changed) and the link
 * re-publishes it at its next tick, and at every connect.
 * While not connected, "broker" says why: "connecting" (no attempt has
 * finished yet), "refused" (a CONNACK refusal) or "unreachable", with
 * "broker_reason"; "broker_since" is when that state began. */
#ifndef KB_HEALTH_H
#define KB_HEALTH_H

#include "bridge.h"

/* Returns a malloc'd JSON document; *ok is 1 when healthy. */
char *health_json(bridge *b, int *ok);
/* Returns a malloc'd Prometheus text exposition. */
char *metrics_text(bridge *b);
/* The health document changed (journal state, broker access): the MQTT
 * link re-publishes it retained within a tick (100 ms). */
void health_changed(bridge *b);
void health_journal_failed(bridge *b, const char *why);
void health_journal_recovered(bridge *b);
void health_record_ack_latency(bridge *b, double ms);

#endif
