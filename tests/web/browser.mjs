// browser.mjs - Debian's Chromium through playwright-core for the web tests.
// Each context gets a fresh user-data-dir (its own localStorage and IndexedDB),
// like a separate tablet. The bus itself comes from tests/lib/harness.mjs.
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';

export const CHROMIUM = process.env.KB_CHROMIUM || '/usr/bin/chromium';
export const CHROMIUM_ARGS = [
    '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync',
];

/** A browser "device": a persistent context on a fresh profile directory. */
export async function openDevice({ viewport = { width: 1280, height: 800 }, name = 'device' } = {}) {
    const dir = mkdtempSync(path.join(os.tmpdir(), `kb-chromium-${name}-`));
    const context = await chromium.launchPersistentContext(dir, {
        executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS, viewport,
    });
    const logs = [];
    const watch = (page) => {
        page.on('console', (m) => logs.push(`[${name}] ${m.type()}: ${m.text()}`));
        page.on('pageerror', (e) => logs.push(`[${name}] PAGE ERROR: ${e.message}`));
    };
    context.on('page', watch);
    for (const p of context.pages()) watch(p);
    return {
        context, logs, dir,
        async page() { return context.pages()[0] || context.newPage(); },
        async close() {
            await context.close().catch(() => {});
            rmSync(dir, { recursive: true, force: true });
        },
    };
}

/** Resolves when `fn` (run in the page) is truthy; rejects after `timeout` ms. */
export function until(page, fn, arg, { timeout = 5000, what = 'a condition in the page' } = {}) {
    return page.waitForFunction(fn, arg, { timeout, polling: 20 }).catch((err) => {
        throw new Error(`timed out after ${timeout} ms waiting for ${what}: ${err.message.split('\n')[0]}`);
    });
}

/** Logs in through the login form (the way a person sets up a tablet). */
export async function loginWithForm(page, url, username, password = username) {
    await page.goto(url);
    await page.waitForSelector('#login:not([hidden])', { timeout: 5000 });
    await page.fill('[data-testid=login-user]', username);
    await page.fill('[data-testid=login-pass]', password);
    await page.click('[data-testid=login-submit]');
    await until(page, () => window.__kb?.state === 'live', null, { timeout: 10000, what: `${username} to be live` });
}

/** Opens a page already logged in through ?user= (remembered afterwards). */
export async function openLive(page, url, username, password = username) {
    const sep = url.includes('?') ? '&' : '?';
    await page.goto(`${url}${sep}user=${encodeURIComponent(username)}&pass=${encodeURIComponent(password)}`);
    await until(page, () => window.__kb?.state === 'live', null, { timeout: 10000, what: `${username} to be live` });
}

/** POS page: puts items in the cart and sends the order; returns its order number. */
export async function posSubmit(page, { items = ['Margherita'], table, customer, notes, rush = false, modifiers = {} } = {}) {
    const before = await page.evaluate(() => window.__kb.recent().map((r) => r.order_number));
    for (const it of items) await page.click(`[data-item="${it}"]`);
    for (const [it, text] of Object.entries(modifiers)) await page.fill(`#cart input[aria-label="modifiers for ${it}"]`, text);
    if (table) await page.fill('#table', table);
    if (customer) await page.fill('#customer', customer);
    if (notes) await page.fill('#notes', notes);
    if (rush) await page.selectOption('#priority', 'rush');
    await page.click('[data-testid=submit]');
    const handle = await until(page, (prev) => window.__kb.recent().find((r) => !prev.includes(r.order_number))?.order_number,
        before, { what: 'the new order in the POS list' });
    return handle.jsonValue();
}

/** POS page: the status the POS shows for an order. */
export function posStatus(page, n) {
    return page.evaluate((num) => window.__kb.recent().find((r) => r.order_number === num)?.status, n);
}

/** Waits until the POS shows `status` for order `n`. */
export function untilPosStatus(page, n, status, opts = {}) {
    return until(page, ([num, st]) => window.__kb.recent().find((r) => r.order_number === num)?.status === st,
        [n, status], { what: `the POS to show ${n} as ${status}`, ...opts });
}

/** Kitchen page: waits for the card of order `n` (optionally with a status). */
export function untilCard(page, n, status, opts = {}) {
    return until(page, ([num, st]) => {
        const c = document.querySelector(`#cards .card[data-order="${num}"]`);
        return c && (!st || c.dataset.status === st);
    }, [n, status], { what: `the kitchen card ${n}${status ? ` (${status})` : ''}`, ...opts });
}

export function cardNumbers(page) {
    return page.evaluate(() => [...document.querySelectorAll('#cards .card')].map((c) => c.dataset.order));
}

/** Kitchen page: the one tap that arms the alert sound (any earlier tap, such as
 *  the login button, already did it: then the banner is gone). */
export async function armSound(page) {
    if (await page.isVisible('[data-testid=arm]')) await page.click('[data-testid=arm]');
    await until(page, () => window.__kb.soundArmed, null, { what: 'sound to be armed' });
}
