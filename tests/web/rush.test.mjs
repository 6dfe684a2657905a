// rush: 40 open orders on the kitchen page, on a 1280x800 tablet and a
// 1920x1080 TV, in real headless Chromium against the real bus. The screen
// never scrolls; the bump-bar keys alone flip through pages that together
// show all 40 orders (PgDn, →, + forward, wrapping round; PgUp, ← back; Home,
// End); each page's "+N more" is the number of orders not on it; a ticket
// too tall for what is left of a column continues at the top of the next one;
// every ticket on a page is inside the screen; the selection keys 1-9 pick
// tickets of the visible page. Screenshots: build/screenshots/rush-tablet.png
// and rush-tv.png.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { startBus, posDevice, makeOrder, ROOT } from '../lib/harness.mjs';
import { openDevice, openLive, until, armSound } from './browser.mjs';

const SHOTS = path.join(process.env.KB_BUILD_DIR || path.join(ROOT, 'build'), 'screenshots');
const N = 40;
const MENU = [['Margherita', 'oven'], ['Calzone', 'oven'], ['Cola', 'bar'], ['Tiramisu', 'cold'], ['Caesar salad', 'cold'],
    ['Garlic bread', 'oven'], ['Lemonade', 'bar'], ['Quattro formaggi', 'oven']];

let bus, pos;
const devices = [];
const orders = [];

/** Order i: 1 to 6 items, every 9th a long one (14 items), order 20 taller than any column (34). */
function order(i) {
    const count = i === 20 ? 34 : i % 9 === 4 ? 14 : 1 + ((i * 5) % 6);
    const items = Array.from({ length: count }, (_, k) => {
        const [name, station] = MENU[(i + k) % MENU.length];
        return { name, qty: 1 + ((i + k) % 3), station, ...(k % 4 === 1 ? { modifiers: ['no onions', 'extra basil'] } : {}) };
    });
    return makeOrder('pizza', { order_number: String(101 + i), items,
        table: String(1 + (i % 20)), priority: i === 7 ? 'rush' : 'normal', ...(i % 6 === 0 ? { notes: 'allergy: nuts' } : {}) });
}

before(async () => {
    bus = await startBus();
    pos = await posDevice(bus, 'pizza');
});

after(async () => {
    if (process.env.KB_WEB_LOGS) for (const d of devices) console.log(d.logs.join('\n'));
    await pos?.client.endAsync();
    await Promise.all(devices.map((d) => d.close()));
    await bus?.stop();
});

/** What the page shows now: its page, the order numbers of its tickets, and layout facts. */
function snapshot(page) {
    return page.evaluate(() => {
        const root = document.querySelector('#cards').getBoundingClientRect();
        const frags = [...document.querySelectorAll('#cards .ticket')].map((t) => {
            const r = t.getBoundingClientRect();
            return { n: t.dataset.order ?? t.dataset.cont, cont: t.classList.contains('cont'), left: r.left, right: r.right, top: r.top, bottom: r.bottom };
        });
        const more = document.querySelector('[data-testid=more]');
        return {
            paging: window.__kb.paging(), frags, root: { left: root.left, right: root.right, top: root.top, bottom: root.bottom },
            more: more.hidden ? null : more.textContent, pageinfo: document.querySelector('[data-testid=pageinfo]').textContent,
            scroll: { h: document.documentElement.scrollHeight, ih: innerHeight, w: document.documentElement.scrollWidth, iw: innerWidth,
                y: scrollY, x: scrollX, body: document.body.scrollHeight },
        };
    });
}

function assertFits(s, where) {
    assert.ok(s.scroll.h <= s.scroll.ih, `${where}: scrollHeight ${s.scroll.h} > innerHeight ${s.scroll.ih}`);
    assert.ok(s.scroll.w <= s.scroll.iw, `${where}: scrollWidth ${s.scroll.w} > innerWidth ${s.scroll.iw}`);
    assert.ok(s.scroll.body <= s.scroll.ih, `${where}: the body scrolls (${s.scroll.body})`);
    assert.equal(s.scroll.y + s.scroll.x, 0, `${where}: scrolled`);
    for (const f of s.frags) {
        assert.ok(f.bottom <= s.root.bottom + 0.5 && f.right <= s.root.right + 0.5 && f.top >= s.root.top - 0.5,
            `${where}: ticket ${f.n} ${f.cont ? '(cont.) ' : ''}is not inside the cards area: ${JSON.stringify(f)} vs ${JSON.stringify(s.root)}`);
    }
}

/** Presses `key` and waits for the page to change to `want`. */
async function flipTo(page, key, want) {
    await page.keyboard.press(key);
    await until(page, (w) => window.__kb.paging().page === w && window.__kb.paging().settled, want, { what: `${key} to show page ${want + 1}` });
}

async function rush(name, viewport, shot) {
    const d = await openDevice({ name, viewport });
    devices.push(d);
    const page = await d.page();
    await openLive(page, bus.url('/kitchen'), 'pizza-kitchen');
    await until(page, (n) => window.__kb.paging().total === n, N, { timeout: 10000, what: `all ${N} orders laid out` });
    await armSound(page);
    await until(page, () => document.querySelector('[data-testid=arm]').hidden && window.__kb.paging().settled, null,
        { what: 'the layout for the screen without the sound banner' });
    const first = await snapshot(page);
    const pages = first.paging.pages;
    assert.ok(pages > 1, `${name}: ${N} orders need more than one page (got ${pages})`);
    mkdirSync(SHOTS, { recursive: true });
    await page.screenshot({ path: path.join(SHOTS, shot) });

    // Forward through every page with the bump-bar keys alone, and round to the first again.
    const seen = new Set();
    const keys = ['PageDown', 'ArrowRight', '+'];
    let splitSeen = false;
    for (let p = 0; p < pages; p++) {
        const s = p === 0 ? first : await snapshot(page);
        assert.equal(s.paging.page, p);
        assertFits(s, `${name} page ${p + 1}`);
        const shown = [...new Set(s.frags.map((f) => f.n))];
        assert.deepEqual(shown, s.paging.shown, `${name} page ${p + 1}: the tickets in the DOM are the page's`);
        assert.ok(shown.length > 0);
        shown.forEach((n) => seen.add(n));
        assert.equal(s.more, `+${N - shown.length} more`, `${name} page ${p + 1}: the hidden count`);
        assert.equal(s.pageinfo, `Page ${p + 1}/${pages}`);
        // A continuation sits in a column to the right of its ticket's head (or tops the page, continued from the last).
        for (const c of s.frags.filter((f) => f.cont)) {
            const head = s.frags.find((f) => f.n === c.n && !f.cont);
            if (head) { assert.ok(c.left > head.left, `${c.n}: its continuation is in a later column`); splitSeen = true; }
            assert.ok(Math.abs(c.top - s.root.top) < 1, `${c.n}: a continuation starts at the top of a column`);
        }
        await flipTo(page, keys[p % keys.length], (p + 1) % pages);
    }
    assert.equal(seen.size, N, `${name}: every order reachable with the keyboard (${seen.size} distinct seen)`);
    assert.ok(splitSeen, `${name}: a tall ticket continues in the next column`);

    // Back and to the ends.
    await flipTo(page, 'PageUp', pages - 1);
    await flipTo(page, 'ArrowLeft', pages - 2);
    await flipTo(page, 'Home', 0);
    await flipTo(page, 'End', pages - 1);
    await flipTo(page, 'Home', 0);

    // The selection keys pick tickets of the visible page: '1' on page 2 is page 2's first ticket.
    await flipTo(page, 'PageDown', 1);
    const onTwo = (await snapshot(page)).paging.shown;
    await page.keyboard.press('1');
    await until(page, (n) => document.querySelector('#cards .card.selected')?.dataset.order === n, onTwo[0],
        { what: `'1' to select ${onTwo[0]}, the first ticket of page 2` });
    assert.equal(await page.locator(`#cards .card[data-order="${onTwo[0]}"] .slot`).innerText(), '1');
    if (onTwo.length >= 2) {
        await page.keyboard.press('2');
        await until(page, (n) => document.querySelector('#cards .card.selected')?.dataset.order === n, onTwo[1],
            { what: `'2' to select ${onTwo[1]}` });
    }
    await page.keyboard.press('Escape');
    assertFits(await snapshot(page), `${name} at the end`);
    return { page, pages };
}

test('40 open orders are submitted', async () => {
    for (let i = 0; i < N; i++) {
        const o = order(i);
        orders.push(o);
        assert.equal((await pos.submit(o)).result, 'accepted');
    }
});

test('a 1280x800 tablet: no scrolling, every order reachable with the keys, the hidden count right', async () => {
    const { page } = await rush('tablet', { width: 1280, height: 800 }, 'rush-tablet.png');
    // Enter bumps on the visible page: the first ticket of page 2, not the oldest order.
    await flipTo(page, 'Home', 0);
    await flipTo(page, 'PageDown', 1);
    const target = (await snapshot(page)).paging.shown[0];
    assert.notEqual(target, orders[0].order_number);
    await page.keyboard.press('Enter');
    await until(page, (n) => window.__kb.cards().find((c) => c.order_number === n)?.status === 'accepted', target,
        { what: `Enter to accept ${target}, the first ticket of the visible page` });
    assert.equal(await page.evaluate((n) => window.__kb.cards().find((c) => c.order_number === n).status, orders[0].order_number), 'new');
});

test('a 1920x1080 TV: no scrolling, every order reachable with the keys, the hidden count right', async () => {
    await rush('tv', { width: 1920, height: 1080 }, 'rush-tv.png');
});
