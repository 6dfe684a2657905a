// kitchen_screen: the kitchen display's station filter, all-day counts and
// age colours, in real headless Chromium against the real bus. Orders come
// from an MQTT POS (tests/lib/harness.mjs); thresholds are set in seconds
// through the page's URL so the colours change within the test. The amber
// window (1 s to 3 s) is two of the page's 1 s ticks wide: a tick that runs
// late under load must not jump a card from plain straight to red.
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
