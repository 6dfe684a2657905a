// kitchen_screen: the kitchen display's station filter, all-day counts and
// age colours, in real headless Chromium against the real bus. Orders come
// from an MQTT POS (tests/lib/harness.mjs); thresholds are set in seconds
// through the page's URL so the colours change within the test. The amber
// window (1 s to 3 s) is two of the page's 1 s ticks wide: a tick that runs
// late under load must not jump a card from plain straight to red. A reused
// order number (a POS that numbers per day) shows as the new order it is.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startBus, posDevice, makeOrder } from '../lib/harness.mjs';
import { openDevice, openLive, until, untilCard, cardNumbers } from './browser.mjs';

let bus, dev, page, pos;
before(async () => {
  bus = await startBus();
  pos = await posDevice(bus, 'pizza');
  dev = await openDevice({ name: 'pizza-kitchen' });
  page = await dev.page();
  await openLive(page, bus.url('/kitchen?warn_s=1&late_s=3'), 'pizza-kitchen');
});
after(async () => {
  await pos?.client.endAsync();
  await dev?.close();
  await bus?.stop();
});

test('station filter and all-day counts follow the open orders', async () => {
  const oven = makeOrder('pizza', { items: [{ name: 'Margherita', qty: 2, station: 'oven' }] });
  const bar = makeOrder('pizza', { items: [{ name: 'Cola', qty: 3, station: 'bar' }, { name: 'Calzone', qty: 1, station: 'oven' }] });
  for (const o of [oven, bar]) assert.equal((await pos.submit(o)).result, 'accepted');
  for (const o of [oven, bar]) await untilCard(page, o.order_number);

  const allDay = () => page.evaluate(() => Object.fromEntries([...document.querySelectorAll('#allday li')]
    .map((li) => [li.dataset.item, Number(li.querySelector('b').textContent)])));
  assert.deepEqual(await allDay(), { Margherita: 2, Cola: 3, Calzone: 1 });

  await page.selectOption('#station', 'bar');
  await until(page, (n) => ![...document.querySelectorAll('#cards .card')].some((c) => c.dataset.order === n),
    oven.order_number, { what: 'the oven-only order to be filtered out' });
  assert.deepEqual(await cardNumbers(page), [bar.order_number]);
  assert.deepEqual(await allDay(), { Cola: 3 });

  await page.selectOption('#station', '');
  await until(page, () => document.querySelectorAll('#cards .card').length === 2, null, { what: 'both cards again' });
  assert.deepEqual(await allDay(), { Margherita: 2, Cola: 3, Calzone: 1 });
});

test('a card turns amber, then red, as it ages past the thresholds', async () => {
  const o = makeOrder('pizza', { items: [{ name: 'Diavola', qty: 1, station: 'oven' }] });
  await pos.submit(o);
  await untilCard(page, o.order_number);
  const cls = () => page.evaluate((n) => document.querySelector(`#cards .card[data-order="${n}"]`).className, o.order_number);
  await until(page, (n) => document.querySelector(`#cards .card[data-order="${n}"]`).classList.contains('age-warn'),
    o.order_number, { timeout: 4000, what: 'amber after 1 s' });
  assert.doesNotMatch(await cls(), /age-late/);
  await until(page, (n) => document.querySelector(`#cards .card[data-order="${n}"]`).classList.contains('age-late'),
    o.order_number, { timeout: 4000, what: 'red after 3 s' });
  assert.doesNotMatch(await cls(), /age-warn/);
});

test('a reused order number: the new order replaces the cancelled card, and a served number comes back as new', async () => {
  const number = `R-${process.pid}`;
  const first = makeOrder('pizza', { order_number: number, created_at: '2026-12-01T09:00:00Z', items: [{ name: 'Marinara', qty: 1, station: 'oven' }] });
  assert.equal((await pos.submit(first)).result, 'accepted');
  await untilCard(page, number, 'new');
  assert.equal((await pos.submit({ order_number: number, action: 'cancel' })).result, 'accepted');
  await untilCard(page, number, 'cancelled');
  // The next day's ticket under the same number, while the cancelled card is still up.
  const second = { ...first, created_at: '2026-12-02T09:00:00Z', items: [{ name: 'Quattro Formaggi', qty: 2, station: 'oven' }] };
  const ack = await pos.submit(second);
  assert.equal(ack.result, 'accepted');
  await untilCard(page, number, 'new');
  const card = () => page.evaluate((n) => {
    const c = document.querySelector(`#cards .card[data-order="${n}"]`);
    return { stamp: Boolean(c.querySelector('[data-testid=stamp]')), text: c.textContent, count: document.querySelectorAll(`#cards .card[data-order="${n}"]`).length };
  }, number);
  let shown = await card();
  assert.equal(shown.count, 1);
  assert.equal(shown.stamp, false, 'no CANCELLED stamp on the new order');
  assert.match(shown.text, /Quattro Formaggi/);
  // Served, the card goes; the number's next order is shown again, not deduplicated away.
  for (const s of ['accepted', 'preparing', 'ready', 'served']) {
    const moved = await page.evaluate(([n, st]) => window.__kb.bus.setStatus(n, st).then((x) => x.result), [number, s]);
    assert.equal(moved, 'accepted', `${number} -> ${s} from the kitchen page`);
  }
  await until(page, (n) => !document.querySelector(`#cards .card[data-order="${n}"]`), number, { what: 'the served card to go' });
  const third = { ...first, created_at: '2026-12-03T09:00:00Z', items: [{ name: 'Diavola', qty: 3, station: 'oven' }] };
  assert.equal((await pos.submit(third)).result, 'accepted');
  await untilCard(page, number, 'new');
  shown = await card();
  assert.equal(shown.count, 1);
  assert.match(shown.text, /Diavola/);
});
