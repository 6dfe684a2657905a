// kb/link.mjs - the connection to the broker: one MQTT.js client (passed in as
// `connect`, so this module loads no MQTT itself), our own capped, jittered
// reconnect backoff, and the rules for the state a screen shows (live,
// degraded, offline).
export const LIVE = 'live';
export const DEGRADED = 'degraded';
export const OFFLINE = 'offline';

/** CONNACK / reason codes that mean the broker refused this login. */
export const REFUSED = {
    134: 'bad username or password', 135: 'not authorized', 4: 'bad username or password',
    5: 'not authorized', 136: 'server unavailable', 137: 'server busy', 138: 'banned',
};

/** An MQTT.js error as {message, refused} (refused: the broker refused the login). */
export function describeError(err) {
    const code = err && (err.code ?? err.reasonCode);
    return {
        message: REFUSED[code] ? `login refused: ${REFUSED[code]}` : (err?.message || String(err)),
        refused: Boolean(REFUSED[code]),
    };
}

/** The delay before reconnect attempt number `attempt` (0 first): doubling from
 *  minMs, capped at maxMs, then jittered into its upper half. */
export function backoffDelay(attempt, minMs, maxMs, random = Math.random) {
    const base = Math.min(maxMs, minMs * 2 ** Math.min(attempt, 10));
    return Math.round(base / 2 + random() * base / 2);
}

/**
 * The state a device is in, with the reason to show.
 *   offline:  no connection to the broker
 *   degraded: connected, but not (yet) able to get an order through: no device
 *             info, not subscribed, bridge health unknown or not ok, or the
 *             bridge cannot write its journal (`retrying`)
 *   live:     broker and bridge up
 */
export function connectionState({ connected, lastError, nextRetryAt, info, subscribed, health, retrying = false }, now = Date.now()) {
    if (!connected) {
        let reason = lastError || 'connecting to the broker';
        if (nextRetryAt && nextRetryAt > now) {
            reason += `; retrying in ${Math.ceil((nextRetryAt - now) / 1000)} s`;
        }
        return { state: OFFLINE, reason };
    }
    if (!info) return { state: DEGRADED, reason: 'waiting for the bridge to publish this device\'s info' };
    if (!subscribed) return { state: DEGRADED, reason: lastError || 'subscribing' };
    const h = health;
    if (!h) return { state: DEGRADED, reason: 'bridge health unknown' };
    if (h.status !== 'ok') {
        return { state: DEGRADED, reason: `bridge ${h.status}${h.broker && h.broker !== 'connected' ? ` (broker ${h.broker})` : ''}: orders are queued` };
    }
    if (lastError && retrying) return { state: DEGRADED, reason: lastError };
    return { state: LIVE, reason: 'broker and bridge up' };
}

/**
 * One MQTT 5 connection with a persistent session that reconnects itself.
 *   new Link({ connect: mqtt.connect, url, options, backoffMinMs, backoffMaxMs,
 *              on: { connect(connack, epoch), close(wasConnected, restarted), error(err), message(topic, payload, packet), retry() } })
 * `epoch` counts connections; `connected`, `attempt`, `nextRetryAt` are public.
 * `options.will` (optional) is the MQTT last will; setWill() changes it for the
 * next connection, restart() makes that connection now, and `willAtConnect`
 * is the will the current connection was made with (null: none).
 */
export class Link {
    constructor({ connect, url, options, backoffMinMs = 500, backoffMaxMs = 10000, on = {},
        setTimeout: setTimer = globalThis.setTimeout, clearTimeout: clearTimer = globalThis.clearTimeout,
        now = Date.now, random = Math.random }) {
        this.connectFn = connect;
        this.url = url;
        this.options = options;
        this.backoffMinMs = backoffMinMs;
        this.backoffMaxMs = backoffMaxMs;
        this.on = on;
        this.setTimer = (fn, ms) => setTimer(fn, ms);
        this.clearTimer = (id) => clearTimer(id);
        this.now = now;
        this.random = random;
        this.client = null;
        this.connected = false;
        this.epoch = 0;                                          // connection counter
        this.attempt = 0;
        this.nextRetryAt = undefined;
        this.reconnectTimer = null;
        this.closedByUser = false;
        this.restarting = false;                                 // restart(): the next close is ours
        this.willAtConnect = null;
    }

    start() {
        const o = this.options;
        this.client = this.connectFn(this.url, {
            clientId: o.clientId,
            username: o.username,
            password: o.password,
            protocolVersion: 5,
            clean: false,                                        // persistent session: QoS 1 queued while away
            properties: o.properties,                            // {sessionExpiryInterval}
            keepalive: o.keepalive,
            reconnectPeriod: 0,                                  // we reconnect ourselves, with capped backoff
            connectTimeout: 5000,
            resubscribe: false,                                  // we subscribe on every connect ourselves
            ...(o.will ? { will: o.will } : {}),                 // {topic, payload, qos, retain}
        });
        this.client.on('connect', (connack) => this._onConnect(connack));
        this.client.on('close', () => this._onClose());
        this.client.on('error', (err) => this.on.error?.(err));
        this.client.on('message', (topic, payload, packet) => this.on.message?.(topic, payload, packet));
        return this;
    }

    _onConnect(connack) {
        const epoch = ++this.epoch;
        this.connected = true;
        this.attempt = 0;
        this.willAtConnect = this.options.will || null;
        this.on.connect?.(connack, epoch);
    }

    _onClose() {
        const was = this.connected;
        const restarted = this.restarting && was;
        this.connected = false;
        this.restarting = false;
        this.on.close?.(was, restarted);
        if (!restarted) this.scheduleReconnect();
    }

    /** The last will of the next connection (null: none). MQTT.js reads its
     *  options at every CONNECT, so this takes effect at the next one. */
    setWill(will) {
        for (const o of [this.options, this.client?.options]) {
            if (!o) continue;
            if (will) o.will = will; else delete o.will;
        }
    }

    /** Connects again at once, on the same persistent session, with the options
     *  as they are now (a new will): a clean DISCONNECT, then CONNECT. Not
     *  connected, the next attempt takes the new options anyway. */
    restart() {
        if (this.closedByUser || !this.client || !this.connected) return;
        this.restarting = true;
        this.clearTimer(this.reconnectTimer);
        this.reconnectTimer = null;
        this.client.end(false, {}, () => {
            if (!this.closedByUser && !this.client.connected) this.client.reconnect();
        });
    }

    scheduleReconnect() {
        if (this.closedByUser || this.reconnectTimer) return;
        const delay = backoffDelay(this.attempt, this.backoffMinMs, this.backoffMaxMs, this.random);
        this.attempt++;
        this.nextRetryAt = this.now() + delay;
        this.reconnectTimer = this.setTimer(() => {
            this.reconnectTimer = null;
            if (!this.closedByUser && !this.client.connected) this.client.reconnect();
        }, delay);
        this.on.retry?.();
    }

    /** Try to reconnect now (e.g. the browser says it is back online). */
    reconnectNow() {
        if (this.closedByUser || this.client.connected) return;
        this.clearTimer(this.reconnectTimer);
        this.reconnectTimer = null;
        this.attempt = 0;
        this.client.reconnect();
    }

    /** Resolves with the grants; rejects if the broker refuses any of `topics`. */
    subscribe(topics) {
        return new Promise((resolve, reject) => {
            this.client.subscribe(topics, { qos: 1 }, (err, granted) => {
                if (err) return reject(err);
                const refused = (granted || []).filter((g) => g.qos >= 128);
                if (refused.length) return reject(new Error(`subscription refused: ${refused.map((g) => g.topic).join(', ')}`));
                resolve(granted);
            });
        });
    }

    /** QoS 1; done(err) on PUBACK. opts: {retain}. */
    publish(topic, body, done, opts = {}) {
        this.client.publish(topic, body, { qos: 1, ...opts }, done);
    }

    /** Stops reconnecting (for good, or until resume()). */
    stop() {
        this.closedByUser = true;
        this.clearTimer(this.reconnectTimer);
    }

    /** Reconnects again after stop() (a page back from the back/forward cache). */
    resume() {
        if (!this.closedByUser) return;
        this.closedByUser = false;
        this.reconnectNow();
    }

    /** Closes the connection; resolves when it is closed. `force`: drop the
     *  socket without a DISCONNECT (the broker then sends the will). */
    end(force = false) {
        return new Promise((r) => (this.client ? this.client.end(force, {}, r) : r()));
    }
}
