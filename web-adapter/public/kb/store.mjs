// kb/store.mjs - a minimal store with the Svelte store contract (subscribe calls
// back at once and returns an unsubscribe function), so `$store` works in
// Svelte. Pure, imports nothing.
export function writable(value) {
    const subs = new Set();
    return {
        set(v) { value = v; for (const fn of [...subs]) fn(value); },
        update(fn) { this.set(fn(value)); },
        subscribe(fn) { subs.add(fn); fn(value); return () => subs.delete(fn); },
        get() { return value; },
    };
}
