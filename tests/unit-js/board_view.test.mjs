// board_view: the pickup board's rendering logic (web-adapter/public/js/board-view.mjs)
// in plain Node: cleaning the bridge's board documents, the groups a screen
// shows, which numbers just turned ready, what is said aloud, the ready
// numbers' look by age, the rows' sizes and the fitting search.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
    FRESH_MS, OLD_MS, announcement, boardGroups, cleanDoc, largestFitting, moreLabel, newlyReady, readyStage, rowWeights,
} from '../../web-adapter/public/js/board-view.mjs';

const doc = (tenant, preparing, ready, extra = {}) => cleanDoc({ tenant, tenant_name: `${tenant} name`, preparing, ready, ...extra });

test('cleanDoc keeps the board fields as strings and drops anything else', () => {
    const d = cleanDoc({
        tenant: 'pizza', tenant_name: 'Pizza Paradise', preparing: ['17', 18, null, { x: 1 }, ''],
        ready: [{ number: '16', since: '2026-12-01T10:00:00Z', name: 'Ana', table: '4' }, { since: 'x' }, 'junk', { number: 15 }],
        items: [{ name: 'Margherita' }], customer_name: 'Budi',
    });
    assert.deepEqual(d, {
        tenant: 'pizza', tenant_name: 'Pizza Paradise', preparing: ['17', '18'],
        ready: [{ number: '16', since: '2026-12-01T10:00:00Z', name: 'Ana' }, { number: '15', since: '', name: '' }],
    });
    assert.equal(cleanDoc(null), null);
    assert.equal(cleanDoc('text'), null);
    assert.deepEqual(cleanDoc({}), { tenant: '', tenant_name: '', preparing: [], ready: [] });
});

test('boardGroups: one group per tenant of the info, in its order; ready newest first', () => {
    const docs = new Map([
        ['burger', doc('burger', ['B1'], [])],
        ['pizza', doc('pizza', ['17', '18'], [
            { number: '14', since: '2026-12-01T10:00:00Z' },
            { number: '16', since: '2026-12-01T10:02:00Z', name: 'Ana' },
            { number: '15', since: '2026-12-01T10:01:00Z' }])],
    ]);
    const groups = boardGroups([{ id: 'pizza', name: 'P' }, { id: 'burger', name: 'B' }, { id: 'noodle', name: 'Noodle House' }, {}], docs);
    assert.deepEqual(groups.map((g) => [g.id, g.name, g.known]), [['pizza', 'pizza name', true], ['burger', 'burger name', true], ['noodle', 'Noodle House', false]]);
    assert.deepEqual(groups[0].preparing, ['17', '18']);
    assert.deepEqual(groups[0].ready.map((r) => r.number), ['16', '15', '14']);
    assert.deepEqual(groups[0].ready[0], { number: '16', since: '2026-12-01T10:02:00Z', name: 'Ana' });
    assert.deepEqual(groups[2].preparing, []);
    // The same since (or none): the later entry of the document leads.
    const same = boardGroups([{ id: 't' }], new Map([['t', doc('t', [], [{ number: 'a' }, { number: 'b' }])]]));
    assert.deepEqual(same[0].ready.map((r) => r.number), ['b', 'a']);
    assert.equal(same[0].name, 't name');
    assert.deepEqual(boardGroups(undefined, new Map()), []);
});

test('newlyReady: the numbers that were not ready in the previous document, none on the first one', () => {
    const a = doc('pizza', ['17', '18'], [{ number: '16' }]);
    const b = doc('pizza', ['18'], [{ number: '16' }, { number: '17' }]);
    assert.deepEqual(newlyReady(undefined, a), []);
    assert.deepEqual(newlyReady(a, b).map((r) => r.number), ['17']);
    assert.deepEqual(newlyReady(b, b), []);
    assert.deepEqual(newlyReady(b, null), []);
    // Recalled and ready again: called again.
    const recalled = doc('pizza', ['17', '18'], [{ number: '16' }]);
    assert.deepEqual(newlyReady(recalled, b).map((r) => r.number), ['17']);
});

test('announcement: "Order 16, Pizza Paradise", with the pickup name when there is one', () => {
    assert.equal(announcement({ number: '16' }, 'Pizza Paradise'), 'Order 16, Pizza Paradise');
    assert.equal(announcement({ number: '16', name: 'Ana' }, 'Pizza Paradise'), 'Order 16 for Ana, Pizza Paradise');
    assert.equal(announcement({ number: 'A-7' }, ''), 'Order A-7');
});

test('readyStage by the clock it is given: fresh, plain, then old', () => {
    const since = '2026-12-01T10:00:00.000Z';
    const t = Date.parse(since);
    assert.equal(readyStage(since, t), 'fresh');
    assert.equal(readyStage(since, t + FRESH_MS - 1), 'fresh');
    assert.equal(readyStage(since, t + FRESH_MS), '');
    assert.equal(readyStage(since, t + OLD_MS - 1), '');
    assert.equal(readyStage(since, t + OLD_MS), 'old');
    assert.equal(readyStage('', t), '');
    assert.equal(readyStage('not a time', t), '');
});

test('rowWeights: a quiet tenant takes its line, a busy one grows with the square root of what it shows', () => {
    const g = (p, r) => ({ preparing: Array(p).fill('x'), ready: Array(r).fill({}) });
    assert.deepEqual(rowWeights([g(0, 0), g(1, 0), g(16, 0), g(0, 8), g(25, 2)]),
        ['auto', 'minmax(0, 1.5fr)', 'minmax(0, 4fr)', 'minmax(0, 4fr)', 'minmax(0, 5fr)']);
});

test('largestFitting finds the edge of a monotone predicate', () => {
    const calls = [];
    const edge = (e) => (n) => { calls.push(n); return n <= e; };
    assert.equal(largestFitting(16, 360, edge(97)), 97);
    assert.ok(calls.length <= 12, `binary search, ${calls.length} probes`);
    assert.equal(largestFitting(16, 360, edge(1000)), 360);
    assert.equal(largestFitting(16, 360, edge(3)), 16, 'nothing fits: the low end');
    assert.equal(largestFitting(0, 14, edge(0)), 0);
    assert.equal(largestFitting(0, 14, edge(13)), 13);
    assert.equal(largestFitting(20, 10, edge(50)), 20, 'an empty range: the low end');
    assert.equal(largestFitting(15.5, 40.7, edge(30)), 30);
    assert.equal(moreLabel(7), '+7 more');
});
