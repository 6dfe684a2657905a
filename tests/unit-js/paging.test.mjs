// paging: the kitchen screen's rush layout arithmetic (web-adapter/public/js/paging.mjs)
// in plain Node: columns filled top to bottom, a tall ticket continuing in the
// next column, whole tickets moving to the next page, a page-tall ticket split
// across pages, the "+N more" count, page flips and the selection keys of a page.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { PUBLIC } from './adapter.mjs';
import { stripComments } from './c-source.mjs';
import { layoutPages, clampPage, flipPage, pageOfTicket, hiddenCount, slotKey, slotTicket, columnCount } from '../../web-adapter/public/js/paging.mjs';

const O = { columns: 3, height: 100, gap: 10, contHead: 5, chrome: 0 };
const t = (...units) => ({ units });
/** Every fragment of a layout as [page, col, ticket, from, to]. */
const frags = (pages) => pages.flatMap((pg, p) => pg.columns.flatMap((c, ci) => c.map((f) => [p, ci, f.ticket, f.from, f.to])));

test('short tickets fill a column top to bottom, then the next', () => {
    const pages = layoutPages([t(40), t(40), t(40), t(40)], O);
    assert.equal(pages.length, 1);
    // 40 + 10 + 40 = 90 fits; a third (90 + 10 + 40) does not: next column.
    assert.deepEqual(frags(pages), [[0, 0, 0, 0, 1], [0, 0, 1, 0, 1], [0, 1, 2, 0, 1], [0, 1, 3, 0, 1]]);
    assert.deepEqual(pages[0].tickets, [0, 1, 2, 3]);
    assert.deepEqual(pages[0].columns[0].map((f) => f.top), [0, 50]);
});

test('a tall ticket continues at the top of the next column instead of pushing the rest down', () => {
    // Ticket 1 (4 pieces of 20) has 50 px left in column 0: two pieces there, the rest next door.
    const pages = layoutPages([t(40), t(20, 20, 20, 20), t(30)], O);
    assert.equal(pages.length, 1);
    assert.deepEqual(frags(pages), [[0, 0, 0, 0, 1], [0, 0, 1, 0, 2], [0, 1, 1, 2, 4], [0, 1, 2, 0, 1]]);
    const [head, rest] = [pages[0].columns[0][1], pages[0].columns[1][0]];
    assert.deepEqual([head.cont, head.more, rest.cont, rest.more], [false, true, true, false]);
    assert.equal(rest.height, 5 + 40, 'a continuation carries its small header');
    assert.deepEqual(pages[0].tickets, [0, 1, 2], 'a split ticket is listed once');
});

test('a short ticket (splitMin) moves whole to the next column; a taller one continues', () => {
    // 40 px left in column 0; ticket 1 is 50 px in two pieces.
    const split = layoutPages([t(50), t(25, 25)], O);
    assert.deepEqual(frags(split), [[0, 0, 0, 0, 1], [0, 0, 1, 0, 1], [0, 1, 1, 1, 2]]);
    const whole = layoutPages([t(50), t(25, 25)], { ...O, splitMin: 50 });
    assert.deepEqual(frags(whole), [[0, 0, 0, 0, 1], [0, 1, 1, 0, 2]]);
    const tall = layoutPages([t(50), t(25, 25, 25)], { ...O, splitMin: 50 });
    assert.deepEqual(frags(tall), [[0, 0, 0, 0, 1], [0, 0, 1, 0, 1], [0, 1, 1, 1, 3]], 'taller than splitMin: it continues');
    // In the last column it goes to the next page whole.
    const last = layoutPages([t(100), t(100), t(50), t(25, 25)], { ...O, splitMin: 50 });
    assert.deepEqual(last.map((p) => p.tickets), [[0, 1, 2], [3]]);
});

test('a ticket starts in a column only if its first piece fits there', () => {
    const pages = layoutPages([t(70), t(30, 10)], O);
    // 70 + 10 + 30 > 100: ticket 1 starts at the top of column 1.
    assert.deepEqual(frags(pages), [[0, 0, 0, 0, 1], [0, 1, 1, 0, 2]]);
});

test('a ticket that does not fit what is left of the page moves whole to the next page', () => {
    const tickets = [t(90), t(90), t(60), t(60, 60)];
    const pages = layoutPages(tickets, O);
    // Page 0: 90 | 90 | 60, then ticket 3 would need columns 3 and 4: it goes to page 1.
    assert.equal(pages.length, 2);
    assert.deepEqual(pages.map((p) => p.tickets), [[0, 1, 2], [3]]);
    assert.deepEqual(frags(pages).filter((f) => f[2] === 3), [[1, 0, 3, 0, 1], [1, 1, 3, 1, 2]]);
});

test('a ticket taller than a whole page continues on the next page; a piece taller than a column is clipped', () => {
    const giant = t(...Array(8).fill(45));                 // 2 pieces a column, 6 a page
    const pages = layoutPages([giant, t(20)], O);
    assert.equal(pages.length, 2);
    assert.deepEqual(pages.map((p) => p.tickets), [[0], [0, 1]]);
    const last = pages[0].columns[2][0];
    assert.deepEqual([last.from, last.to, last.more], [4, 6, true]);
    const next = pages[1].columns[0][0];
    assert.deepEqual([next.from, next.to, next.cont, next.more], [6, 8, true, false]);
    const tall = layoutPages([t(20), t(250)], O);
    assert.equal(tall.length, 1);
    assert.deepEqual(frags(tall), [[0, 0, 0, 0, 1], [0, 1, 1, 0, 1]]);
    assert.equal(tall[0].columns[1][0].height, 100, 'clipped to the column');
});

test('40 tickets: every one is on exactly one page, in order, and the counts add up', () => {
    const heights = Array.from({ length: 40 }, (_, i) => [30 + (i * 37) % 50, ...Array(i % 5).fill(15)]);
    const pages = layoutPages(heights.map((u) => t(...u)), { columns: 4, height: 400, gap: 8, contHead: 20, chrome: 4 });
    const seen = pages.flatMap((p) => p.tickets);
    assert.deepEqual(seen, [...Array(40).keys()]);
    for (let p = 0; p < pages.length; p++) {
        assert.equal(hiddenCount(pages, p, 40), 40 - pages[p].tickets.length);
        for (const col of pages[p].columns) {
            const bottom = col.length ? col[col.length - 1].top + col[col.length - 1].height : 0;
            assert.ok(bottom <= 400, `page ${p}: a column ends at ${bottom}`);
        }
    }
    for (let i = 0; i < 40; i++) assert.ok(pages[pageOfTicket(pages, i)].tickets.includes(i));
    // Every piece of every ticket is placed exactly once.
    for (let i = 0; i < 40; i++) {
        const parts = frags(pages).filter((f) => f[2] === i).map((f) => [f[3], f[4]]);
        assert.equal(parts[0][0], 0);
        assert.equal(parts[parts.length - 1][1], heights[i].length);
        for (let k = 1; k < parts.length; k++) assert.equal(parts[k][0], parts[k - 1][1]);
    }
});

test('no tickets: one empty page; odd options are made sane', () => {
    assert.deepEqual(layoutPages([], O), [{ columns: [[], [], []], tickets: [] }]);
    assert.equal(layoutPages([t(10)], { columns: 0, height: 0 }).length, 1);
    assert.equal(hiddenCount(layoutPages([], O), 0, 0), 0);
});

test('page flips wrap round; page numbers are clamped', () => {
    assert.equal(flipPage(0, 1, 3), 1);
    assert.equal(flipPage(2, 1, 3), 0);
    assert.equal(flipPage(0, -1, 3), 2);
    assert.equal(flipPage(5, 1, 1), 0);
    assert.equal(clampPage(7, 3), 2);
    assert.equal(clampPage(-1, 3), 0);
    assert.equal(clampPage(0, 0), 0);
});

test('the selection keys 1-9 and 0 pick the tickets of the visible page', () => {
    const pages = layoutPages(Array.from({ length: 14 }, () => t(45)), O);   // 6 a page
    assert.deepEqual(pages.map((p) => p.tickets.length), [6, 6, 2]);
    assert.equal(slotTicket(pages, 0, '1'), 0);
    assert.equal(slotTicket(pages, 1, '1'), 6);
    assert.equal(slotTicket(pages, 1, '6'), 11);
    assert.equal(slotTicket(pages, 1, '7'), -1, 'no 7th ticket on that page');
    assert.equal(slotTicket(pages, 2, '2'), 13);
    assert.equal(slotTicket(pages, 0, 'x'), -1);
    const ten = layoutPages(Array.from({ length: 12 }, () => t(10)), O);
    assert.equal(slotTicket(ten, 0, '0'), 9);
    assert.deepEqual([0, 8, 9, 10].map(slotKey), ['1', '9', '0', '']);
});

test('columns: as many of the minimum width as fit', () => {
    assert.equal(columnCount(1000, 233, 15), 4);
    assert.equal(columnCount(1000, 253, 15), 3);
    assert.equal(columnCount(100, 233, 15), 1);
    assert.equal(columnCount(0, 233), 1);
});

test('js/paging.mjs is pure: no imports, no browser I/O', () => {
    const code = stripComments(readFileSync(path.join(PUBLIC, 'js/paging.mjs'), 'utf8')).replace(/(['"`])(?:\\.|(?!\1).)*\1/g, '""');
    assert.doesNotMatch(code, /\bimport\b/);
    assert.doesNotMatch(code, /\b(document|window|localStorage|navigator|fetch|setTimeout|setInterval|Date)\b/);
});
