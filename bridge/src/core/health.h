/* health.h - the bridge's health document and Prometheus metrics, read
 * from the status registry (status.h), the pipeline and the journal.
 *
 * Health is "ok" only while the bridge has its broker connection and can
 * write its journal; otherwise "degraded" (HTTP 503). While not connected,
 * "broker" says why: "connecting" (no attempt has finished yet), "refused"
 * (a CONNACK refusal) or "unreachable", with "broker_reason";
 * "broker_since" is when that state began. These only read: the MQTT
 * adapter's health publisher keeps the same document retained on
 * outlet/bridge/health. */
#ifndef KB_HEALTH_H
#define KB_HEALTH_H

#include "order_pipeline.h"
#include "registry.h"
#include "status.h"
#include "text_buf.h"

/* Returns a malloc'd JSON document (NULL if out of memory); *ok is 1 when healthy. */
char *health_json(const kb_status *s, kb_pipeline *p, const registry *r, int *ok);
/* Appends the core's Prometheus text exposition to t (text_buf.h: a
 * failure shows at text_buf_take). */
void metrics_text(text_buf *t, const kb_status *s, kb_pipeline *p);

#endif
