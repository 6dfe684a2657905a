// kb/device.mjs - what a browser remembers about its device: localStorage (the
// client id, the last device info) and the Web Locks that keep two tabs of one
// device from sharing a client id.
import { randomId } from './util.mjs';

/** localStorage, or null where there is none (or it is blocked). */
export function storage() {
    try { return typeof localStorage !== 'undefined' ? localStorage : null; } catch { return null; }
}

/** A stable MQTT client id for this device on this browser (kept in localStorage). */
export function stableClientId(username) {
    const ls = storage();
    const key = `kb:client-id:${username}`;
    let id = ls?.getItem(key);
    if (!id) {
        id = `kb-${username}-${randomId()}`.slice(0, 64);
        ls?.setItem(key, id);
    }
    return id;
}

/** A new order number: short, unique enough per POS, valid per the contract. */
export function newOrderNumber(prefix = 'W') {
    const t = Date.now().toString(36).toUpperCase().slice(-6);
    return `${prefix}-${t}${randomId().slice(0, 3).toUpperCase()}`;
}

/** Holds the Web Lock named after `clientId` for as long as this page lives
 *  (until release()). Resolves {owned: false} when another tab holds it. */
export async function lockClientId(clientId) {
    if (typeof navigator === 'undefined' || !navigator.locks) return { owned: true, release: undefined };
    let release;
    const owned = await new Promise((resolve) => {
        navigator.locks.request(`kitchen-bus:${clientId}`, { ifAvailable: true }, (lock) => {
            resolve(Boolean(lock));
            return lock ? new Promise((r) => { release = r; }) : undefined;
        }).catch(() => resolve(true));
    });
    return { owned, release };
}

/** The client id of a second tab of a device: its own, short-lived session. */
export function tabClientId(clientId) {
    return `${clientId.slice(0, 50)}-tab${randomId().slice(0, 6)}`;
}

export function loadInfo(username) {
    return storage()?.getItem(`kb:info:${username}`);
}

export function saveInfo(username, doc) {
    storage()?.setItem(`kb:info:${username}`, JSON.stringify(doc));
}
