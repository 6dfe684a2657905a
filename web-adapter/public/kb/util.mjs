// kb/util.mjs - small pure helpers shared by the adapter's modules.

/** A JSON payload: undefined for an empty one (a cleared retained message),
 *  null for one that is not JSON. */
export function safeJson(buf) {
    if (!buf || buf.length === 0) return undefined;      // empty retained = cleared
    try {
        const text = typeof buf === 'string' ? buf : new TextDecoder().decode(buf);
        return JSON.parse(text);
    } catch {
        return null;
    }
}

/** 12 hex digits. */
export function randomId() {
    const a = new Uint8Array(6);
    (globalThis.crypto || { getRandomValues: (x) => x.map(() => Math.random() * 256) }).getRandomValues(a);
    return [...a].map((b) => b.toString(16).padStart(2, '0')).join('');
}
