// stations: kitchen stations, the expo and the pickup board (contract 1.2),
// on a real broker and the real bridge, over MQTT and the legacy gateway.
// The demo registry's pizza has stations oven/cold/bar, a device for each,
// pizza-expo and court-board (every tenant); burger has no stations.
//
// Absence ("no cold view", "no retained view left") is checked against a
// marker: the bridge publishes an order's state and then each station's view
// in the order of the tenant's stations on one connection, and the broker
// delivers one subscriber's messages in that order; a fresh subscriber gets
// its retained messages before the retained info of a later SUBSCRIBE.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import {
  startBus, mqttClient, subscribe, publish, waitMessage, waitFor, parse, posDevice, kitchenDevice, makeOrder,
  legacyClient, orderTopic, eventsTopic, stationViewTopic, boardTopic, stationDevice, expoDevice, boardDevice,
} from '../lib/harness.mjs';

let bus;
before(async () => { bus = await startBus(); });
after(async () => { await bus?.stop(); });

const itemNames = (doc) => doc.items.map((i) => i.name);
/** The last message on `topic` a client received, parsed (null: cleared). */
const latest = (client, topic) => {
  const all = client.received.filter((m) => m.topic === topic);
  return all.length ? parse(all[all.length - 1]) : undefined;
};
/** Waits until the client's latest message on `topic` matches. */
const waitLatest = (client, topic, match, what, timeout = 5000) =>
  waitFor(() => { const d = latest(client, topic); return d !== undefined && match(d) ? d ?? true : false; },
    { timeout, what });
/** The retained messages a new subscriber to `filters` gets (info topic as the end marker). */
async function retainedSnapshot(device, filters) {
  const c = await mqttClient(bus, device);
  try {
    const g = await subscribe(c, filters);
    assert.ok(g.every((q) => q < 128), `${device} may read ${filters}`);
    await subscribe(c, [`outlet/device/${device}/info`]);
    await waitMessage(c, (m) => m.topic === `outlet/device/${device}/info`, { what: `${device}'s info marker` });
    return c.received.filter((m) => m.retain && !m.topic.startsWith('outlet/device/'));
  } finally {
    await c.endAsync();
  }
}

const pizzaOrder = (extra = {}) => makeOrder('pizza', {
  items: [
    { name: 'Margherita', qty: 2, station: 'oven', modifiers: ['extra cheese'] },
    { name: 'Lemonade', qty: 1, station: 'bar' },
    { name: 'Garlic bread', qty: 1 }, // no station: the tenant's first, oven
  ],
  notes: 'no onions', table: '7', customer_name: 'Budi', ...extra,
});

test('routing: each station view holds only its items, no view for a station without items, '
  + 'the order carries its stations; a station not in the list is invalid_field; burger is unchanged', async () => {
  const admin = await mqttClient(bus, 'admin');
  assert.deepEqual(await subscribe(admin, ['outlet/tenant/+/stations/#', 'outlet/tenant/+/orders/+']), [1, 1]);
  const oven = await stationDevice(bus, 'pizza', 'oven');
  const bar = await stationDevice(bus, 'pizza', 'bar');
  const pos = await posDevice(bus, 'pizza');
  const order = pizzaOrder();
  const n = order.order_number;
  const ack = await pos.submit(order);
  assert.equal(ack.result, 'accepted');

  const ovenView = parse(await waitMessage(oven.client, (m) => m.topic === stationViewTopic('pizza', 'oven', n), { what: 'the oven view' }));
  const barView = parse(await waitMessage(bar.client, (m) => m.topic === stationViewTopic('pizza', 'bar', n), { what: 'the bar view' }));
  assert.deepEqual(itemNames(ovenView), ['Margherita', 'Garlic bread'], 'oven: its items and the one without a station');
  assert.deepEqual(itemNames(barView), ['Lemonade']);
  assert.deepEqual(ovenView.items[0], order.items[0], 'items are passed as the POS sent them');
  for (const v of [ovenView, barView]) {
    for (const k of ['order_number', 'table', 'customer_name', 'notes', 'tenant_id']) assert.deepEqual(v[k], order[k], `view keeps ${k}`);
    assert.equal(v.seq, ack.seq);
    assert.equal(v.status, 'new');
    assert.deepEqual(v.stations, { oven: 'new', bar: 'new' });
  }
  assert.equal(ovenView.station, 'oven');
  assert.equal(barView.station, 'bar');

  // The whole order: every item, and the stations that have items in it.
  const whole = parse(await waitMessage(admin, (m) => m.topic === orderTopic('pizza', n), { what: 'the whole order' }));
  assert.deepEqual(whole.items, order.items);
  assert.deepEqual(whole.stations, { oven: 'new', bar: 'new' });
  // No cold view: the bridge publishes oven, cold, bar in that order.
  await waitMessage(admin, (m) => m.topic === stationViewTopic('pizza', 'bar', n), { what: 'the bar view at admin' });
  assert.deepEqual(admin.received.filter((m) => m.topic.includes('/stations/') && m.topic.endsWith(`/${n}`)).map((m) => m.topic),
    [stationViewTopic('pizza', 'oven', n), stationViewTopic('pizza', 'bar', n)]);

  // Retained: a screen that comes later gets its view; cold gets nothing for this order.
  const ovenLate = await retainedSnapshot('pizza-oven', [stationViewTopic('pizza', 'oven', '+')]);
  assert.deepEqual(itemNames(parse(ovenLate.find((m) => m.topic === stationViewTopic('pizza', 'oven', n)))), ['Margherita', 'Garlic bread']);
  const coldLate = await retainedSnapshot('pizza-cold', [stationViewTopic('pizza', 'cold', '+')]);
  assert.equal(coldLate.filter((m) => m.topic.endsWith(`/${n}`)).length, 0, 'no cold view of an order without cold items');

  // A station that is not the tenant's (or not a string) is refused; nothing is published for it.
  for (const [station, detail] of [['grill', /items\[1\]\.station/], [42, /items\[1\]\.station/], ['Oven', /items\[1\]\.station/]]) {
    const bad = makeOrder('pizza', { items: [{ name: 'Margherita', qty: 1, station: 'oven' }, { name: 'Steak', qty: 1, station }] });
    const r = await pos.submit(bad);
    assert.equal(r.result, 'rejected', `station ${JSON.stringify(station)}`);
    assert.equal(r.error, 'invalid_field');
    assert.match(r.detail, detail);
    const good = pizzaOrder();
    assert.equal((await pos.submit(good)).result, 'accepted');
    await waitMessage(admin, (m) => m.topic === stationViewTopic('pizza', 'bar', good.order_number), { what: 'the marker order' });
    assert.equal(admin.received.filter((m) => m.topic.endsWith(`/${bad.order_number}`)).length, 0,
      `nothing published for the refused order (station ${JSON.stringify(station)})`);
  }
  // station: null is "no station": the first.
  const nullStation = makeOrder('pizza', { items: [{ name: 'Focaccia', qty: 1, station: null }] });
  assert.equal((await pos.submit(nullStation)).result, 'accepted');
  const nv = parse(await waitMessage(oven.client, (m) => m.topic === stationViewTopic('pizza', 'oven', nullStation.order_number), { what: 'the null-station view' }));
  assert.deepEqual(itemNames(nv), ['Focaccia']);
  assert.deepEqual(nv.stations, { oven: 'new' });

  // A tenant without stations: no "stations" field, no views, an item's station is free text.
  const burgerPos = await posDevice(bus, 'burger');
  const burger = makeOrder('burger', { items: [{ name: 'Cheeseburger', qty: 1, station: 'grill' }, { name: 'Fries', qty: 1 }] });
  assert.equal((await burgerPos.submit(burger)).result, 'accepted');
  const bdoc = parse(await waitMessage(admin, (m) => m.topic === orderTopic('burger', burger.order_number), { what: 'the burger order' }));
  assert.equal('stations' in bdoc, false, 'no stations field for a tenant without stations');
  assert.deepEqual(bdoc.items, burger.items);
  // A station report on an order without stations: unknown_station.
  const burgerK = await kitchenDevice(bus, 'burger');
  const bseen = burgerK.client.received.length;
  await publish(burgerK.client, 'outlet/tenant/burger/kitchen/burger-kitchen/status', { order_number: burger.order_number, station: 'grill', status: 'ready' });
  const br = parse(await waitMessage(burgerK.client, (m, i) => i >= bseen && m.topic.endsWith('/burger-kitchen/ack'), { what: 'the burger ack' }));
  assert.deepEqual([br.result, br.error], ['rejected', 'unknown_station']);
  await burgerK.client.endAsync();
  const marker = pizzaOrder();
  assert.equal((await pos.submit(marker)).result, 'accepted');
  await waitMessage(admin, (m) => m.topic === stationViewTopic('pizza', 'bar', marker.order_number), { what: 'the marker order' });
  assert.equal(admin.received.filter((m) => m.topic.startsWith('outlet/tenant/burger/stations/')).length, 0, 'no burger views');

  await Promise.all([admin.endAsync(), oven.client.endAsync(), bar.client.endAsync(), pos.client.endAsync(), burgerPos.client.endAsync()]);
});

test('per-station progress: parts move the order, the last part ready makes it ready in exactly one event, '
  + 'recall, duplicate, wrong_station, unknown_station, the expo serves and the views and the board clear', async () => {
  const expo = await expoDevice(bus, 'pizza');
  const oven = await stationDevice(bus, 'pizza', 'oven');
  const bar = await stationDevice(bus, 'pizza', 'bar');
  const whole = await kitchenDevice(bus, 'pizza'); // unbound: may name any station
  const board = await boardDevice(bus, 'court-board', ['pizza']);
  const pos = await posDevice(bus, 'pizza');
  const order = pizzaOrder();
  const n = order.order_number;
  const barOnly = makeOrder('pizza', { items: [{ name: 'Espresso', qty: 1, station: 'bar' }] });
  const created = await pos.submit(order);
  assert.equal((await pos.submit(barOnly)).result, 'accepted');
  const state = () => latest(expo.client, orderTopic('pizza', n));
  const waitState = (match, what) => waitLatest(expo.client, orderTopic('pizza', n), (d) => d && match(d), what);
  const boardHas = (d) => ({ preparing: d.preparing.includes(n), ready: d.ready.some((r) => r.number === n) });

  // oven starts: the order becomes preparing, in one change.
  let a = await oven.report(n, 'preparing');
  assert.deepEqual([a.result, a.status, a.seq], ['accepted', 'preparing', created.seq + 2]);
  let s = await waitState((d) => d.seq === a.seq, 'the order after oven preparing');
  assert.equal(s.status, 'preparing');
  assert.deepEqual(s.stations, { oven: 'preparing', bar: 'new' });
  const ovenV = parse(await waitMessage(oven.client, (m) => m.topic === stationViewTopic('pizza', 'oven', n) && parse(m)?.seq === a.seq, { what: 'the oven view moved' }));
  assert.deepEqual(ovenV.stations, { oven: 'preparing', bar: 'new' });
  assert.deepEqual(itemNames(ovenV), ['Margherita', 'Garlic bread']);
  let ev = await waitFor(() => expo.events(n).find((e) => e.seq === a.seq), { what: 'the event of oven preparing' });
  assert.deepEqual([ev.event, ev.status, ev.previous, ev.station, ev.station_status, ev.by],
    ['status', 'preparing', 'new', 'oven', 'preparing', 'pizza-oven']);
  let doc = await board.waitDoc('pizza', (d) => boardHas(d).preparing, { what: 'the board to show the order preparing' });
  assert.equal(doc.ready.some((r) => r.number === n), false);
  assert.equal(doc.preparing.includes(barOnly.order_number), false, 'a new order is left out of the board');

  // oven ready: the order stays preparing.
  a = await oven.report(n, 'ready');
  assert.deepEqual([a.result, a.status], ['accepted', 'preparing']);
  const ovenReadySeq = a.seq;
  s = await waitState((d) => d.seq === a.seq, 'the order after oven ready');
  assert.equal(s.status, 'preparing');
  assert.deepEqual(s.stations, { oven: 'ready', bar: 'new' });
  ev = await waitFor(() => expo.events(n).find((e) => e.seq === a.seq), { what: 'the event of oven ready' });
  assert.deepEqual([ev.event, ev.status, ev.station, ev.station_status, 'previous' in ev], ['station', 'preparing', 'oven', 'ready', false]);

  // A re-sent report is a duplicate: nothing moves.
  a = await oven.report(n, 'ready');
  assert.deepEqual([a.result, a.seq, a.status], ['duplicate', ovenReadySeq, 'preparing']);
  // The bound kitchen's whole-order "ready" is its part: a duplicate too.
  a = await oven.report(n, 'ready', { station: null });
  assert.deepEqual([a.result, a.seq], ['duplicate', ovenReadySeq]);
  // Another station's part: wrong_station, whether the order has it or not.
  for (const st of ['bar', 'cold']) {
    a = await oven.report(n, 'ready', { station: st });
    assert.deepEqual([a.result, a.error], ['rejected', 'wrong_station'], `pizza-oven reporting ${st}`);
  }
  // A station the order lacks (cold), or that the tenant lacks (grill): unknown_station.
  for (const st of ['cold', 'grill']) {
    a = await sendStation(whole.client, 'pizza-kitchen', n, st, 'ready');
    assert.deepEqual([a.result, a.error], ['rejected', 'unknown_station'], `pizza-kitchen reporting ${st}`);
  }
  a = await oven.report(barOnly.order_number, 'preparing');
  assert.deepEqual([a.result, a.error], ['rejected', 'unknown_station'], 'oven on a bar-only order');
  // A station reports preparing or ready, nothing else.
  for (const st of ['accepted', 'served', 'cancelled', 'new']) {
    a = await oven.report(n, st);
    assert.deepEqual([a.result, a.error], ['rejected', 'invalid_field'], `a station reporting ${st}`);
  }
  assert.equal(state().seq, ovenReadySeq, 'no refused report changed the order');
  assert.deepEqual(state().stations, { oven: 'ready', bar: 'new' });

  // bar ready, the last part: the order is ready, in exactly one change.
  a = await bar.report(n, 'ready');
  assert.deepEqual([a.result, a.status, a.seq], ['accepted', 'ready', ovenReadySeq + 1]);
  const readySeq = a.seq;
  s = await waitState((d) => d.seq === readySeq, 'the order ready');
  assert.equal(s.status, 'ready');
  assert.deepEqual(s.stations, { oven: 'ready', bar: 'ready' });
  doc = await board.waitDoc('pizza', (d) => boardHas(d).ready, { what: 'the board to show the order ready' });
  assert.equal(doc.preparing.includes(n), false);
  const entry = doc.ready.find((r) => r.number === n);
  assert.deepEqual(Object.keys(entry).sort(), ['number', 'since'], 'no pickup_name without board_names');
  assert.equal(entry.since, s.updated_at, 'since: when it became ready');

  // Recall at the bar: the order goes back to preparing.
  let from = board.docs('pizza').length;
  a = await bar.report(n, 'preparing');
  assert.deepEqual([a.result, a.status, a.seq], ['accepted', 'preparing', readySeq + 1]);
  const recallSeq = a.seq;
  s = await waitState((d) => d.seq === recallSeq, 'the recalled order');
  assert.deepEqual([s.status, s.stations], ['preparing', { oven: 'ready', bar: 'preparing' }]);
  ev = await waitFor(() => expo.events(n).find((e) => e.seq === recallSeq), { what: 'the recall event' });
  assert.deepEqual([ev.event, ev.status, ev.previous, ev.station, ev.station_status], ['status', 'preparing', 'ready', 'bar', 'preparing']);
  // Events on one connection arrive in order, so every event up to the recall is here now.
  const between = expo.events(n).filter((e) => e.seq > ovenReadySeq && e.seq < recallSeq);
  assert.equal(between.length, 1, `exactly one event between oven ready and the recall: ${JSON.stringify(between)}`);
  assert.deepEqual([between[0].event, between[0].status, between[0].previous, between[0].seq, between[0].station, between[0].by],
    ['status', 'ready', 'preparing', readySeq, 'bar', 'pizza-bar']);
  assert.equal(expo.events(n).filter((e) => e.status === 'ready').length, 1, 'one event with status ready');
  assert.equal(expo.client.received.filter((m) => m.topic === eventsTopic('pizza') && parse(m).seq === readySeq).length, 1, 'one event for that seq');
  doc = await board.waitDoc('pizza', (d) => boardHas(d).preparing, { from, what: 'the board to show the recalled order preparing' });
  assert.equal(doc.ready.some((r) => r.number === n), false);

  // bar ready again, and the expo serves it: every view cleared, the board drops it.
  a = await bar.report(n, 'ready');
  assert.deepEqual([a.result, a.status], ['accepted', 'ready']);
  const again = await board.waitDoc('pizza', (d) => boardHas(d).ready, { from, what: 'the board to show the order ready again' });
  const readyAgain = await waitState((d) => d.seq === a.seq, 'the order ready again');
  assert.equal(again.ready.find((r) => r.number === n).since, readyAgain.updated_at, 'ready again: a new since');
  assert.ok(Date.parse(readyAgain.updated_at) >= Date.parse(entry.since));
  from = board.docs('pizza').length;
  a = await expo.setStatus(n, 'served');
  assert.deepEqual([a.result, a.status], ['accepted', 'served']);
  await waitLatest(oven.client, stationViewTopic('pizza', 'oven', n), (d) => d === null, 'the oven view cleared');
  await waitLatest(bar.client, stationViewTopic('pizza', 'bar', n), (d) => d === null, 'the bar view cleared');
  await waitLatest(expo.client, orderTopic('pizza', n), (d) => d === null, 'the order cleared');
  ev = await waitFor(() => expo.events(n).find((e) => e.event === 'closed'), { what: 'the closed event' });
  assert.deepEqual([ev.status, ev.previous, ev.by], ['served', 'ready', 'pizza-expo']);
  doc = await board.waitDoc('pizza', (d) => !boardHas(d).preparing && !boardHas(d).ready, { from, what: 'the board to drop the served order' });
  for (const d of board.docs('pizza')) {
    assert.deepEqual(Object.keys(d).sort(), ['preparing', 'ready', 'tenant', 'tenant_name'], 'a board document holds numbers only');
    assert.equal(d.tenant_name, 'Pizza Paradise');
  }
  const snap = await retainedSnapshot('pizza-oven', [stationViewTopic('pizza', 'oven', '+')]);
  assert.equal(snap.filter((m) => m.topic.endsWith(`/${n}`)).length, 0, 'no retained oven view of the served order');
  // A closed order takes no more reports.
  a = await oven.report(n, 'preparing');
  assert.deepEqual([a.result, a.error], ['rejected', 'order_closed']);

  await Promise.all([expo, oven, bar, whole, board, pos].map((d) => d.client.endAsync()));
});

/** A station report from any kitchen: {order_number, station, status} on its status topic. */
async function sendStation(client, device, number, station, status) {
  const seen = client.received.length;
  await publish(client, `outlet/tenant/pizza/kitchen/${device}/status`, { order_number: number, station, status });
  return parse(await waitMessage(client, (m, i) => i >= seen && m.topic === `outlet/tenant/pizza/kitchen/${device}/ack`
    && JSON.parse(m.payload).order_number === number, { what: `the ack for ${number}` }));
}

test('whole-order moves: the expo or an unbound kitchen moves every part with the order; a station screen may not close it', async () => {
  const expo = await expoDevice(bus, 'pizza');
  const oven = await stationDevice(bus, 'pizza', 'oven');
  const bar = await stationDevice(bus, 'pizza', 'bar');
  const whole = await kitchenDevice(bus, 'pizza');
  const pos = await posDevice(bus, 'pizza');
  const order = pizzaOrder();
  const n = order.order_number;
  assert.equal((await pos.submit(order)).result, 'accepted');
  const stateAt = (seq, what) => waitLatest(expo.client, orderTopic('pizza', n), (d) => d && d.seq === seq, what);

  // A station screen's receipt (accepted) is the whole order's, as today.
  let a = await oven.report(n, 'accepted', { station: null });
  assert.deepEqual([a.result, a.status], ['accepted', 'accepted']);
  assert.deepEqual((await stateAt(a.seq, 'accepted')).stations, { oven: 'new', bar: 'new' });
  // Closing is the expo's or the POS's.
  for (const st of ['served', 'cancelled']) {
    a = await oven.report(n, st, { station: null });
    assert.deepEqual([a.result, a.error], ['rejected', 'wrong_station'], `a station screen sending ${st}`);
  }
  a = await bar.report(n, 'preparing');
  assert.deepEqual([a.result, a.status], ['accepted', 'preparing']);
  // The expo moves the whole order to ready: every part is ready.
  a = await expo.setStatus(n, 'ready');
  assert.deepEqual([a.result, a.status], ['accepted', 'ready']);
  let s = await stateAt(a.seq, 'ready by the expo');
  assert.deepEqual(s.stations, { oven: 'ready', bar: 'ready' });
  const ovenView = await waitLatest(oven.client, stationViewTopic('pizza', 'oven', n), (d) => d && d.seq === a.seq, 'the oven view ready');
  assert.deepEqual([ovenView.status, ovenView.stations.oven], ['ready', 'ready']);
  // A whole-order recall: every part preparing again.
  a = await whole.setStatus(n, 'preparing');
  assert.deepEqual([a.result, a.status], ['accepted', 'preparing']);
  s = await stateAt(a.seq, 'recalled by the kitchen');
  assert.deepEqual(s.stations, { oven: 'preparing', bar: 'preparing' });
  // The lifecycle still holds for the expo.
  a = await expo.setStatus(n, 'served');
  assert.deepEqual([a.result, a.error], ['rejected', 'illegal_transition']);
  // The POS cancels: the order and every view are cleared.
  const seen = pos.client.received.length;
  await publish(pos.client, `outlet/tenant/pizza/pos/pizza-pos/submit`, { order_number: n, action: 'cancel' });
  a = parse(await waitMessage(pos.client, (m, i) => i >= seen && m.topic.endsWith('/ack') && parse(m).order_number === n, { what: 'the cancel ack' }));
  assert.deepEqual([a.result, a.status], ['accepted', 'cancelled']);
  await waitLatest(oven.client, stationViewTopic('pizza', 'oven', n), (d) => d === null, 'the oven view cleared');
  await waitLatest(bar.client, stationViewTopic('pizza', 'bar', n), (d) => d === null, 'the bar view cleared');
  await waitLatest(expo.client, orderTopic('pizza', n), (d) => d === null, 'the order cleared');

  // The expo may bump a part too (it names the station), and a part may go
  // from new straight to ready: the last one takes the order with it.
  const single = makeOrder('pizza', { items: [{ name: 'Espresso', qty: 1, station: 'bar' }] });
  assert.equal((await pos.submit(single)).result, 'accepted');
  const seenExpo = expo.client.received.length;
  await publish(expo.client, `outlet/tenant/pizza/expo/pizza-expo/status`, { order_number: single.order_number, station: 'bar', status: 'ready' });
  a = parse(await waitMessage(expo.client, (m, i) => i >= seenExpo && m.topic === 'outlet/tenant/pizza/expo/pizza-expo/ack', { what: 'the expo ack' }));
  assert.deepEqual([a.result, a.status], ['accepted', 'ready']);
  const ev = await waitFor(() => expo.events(single.order_number).find((e) => e.seq === a.seq), { what: 'the event' });
  assert.deepEqual([ev.event, ev.previous, ev.status, ev.station, ev.by], ['status', 'new', 'ready', 'bar', 'pizza-expo']);
  await Promise.all([expo, oven, bar, whole, pos].map((d) => d.client.endAsync()));
});

test('a closing order goes once, not retained, to each of its stations\' views (cancelled or served, its items only), then the retained clear; '
  + 'a later subscriber gets nothing for it', async () => {
  // Retain As Published: the broker keeps the retain flag of live messages, so
  // the closing view (not retained) and the clear (retained) can be told apart.
  const oven = await mqttClient(bus, 'pizza-oven');
  const filter = stationViewTopic('pizza', 'oven', '+');
  assert.deepEqual((await oven.subscribeAsync([filter], { qos: 1, rap: true })).map((g) => g.qos), [1]);
  const expo = await expoDevice(bus, 'pizza');
  const pos = await posDevice(bus, 'pizza');
  const order = pizzaOrder();
  const n = order.order_number;
  const topic = stationViewTopic('pizza', 'oven', n);
  const mine = () => oven.received.filter((m) => m.topic === topic);
  const created = await pos.submit(order);
  assert.equal(created.result, 'accepted');
  await waitFor(() => mine().length === 1, { what: 'the oven view' });
  assert.equal(mine()[0].retain, true, 'the view is retained');

  const cancel = await pos.submit({ order_number: n, action: 'cancel' });
  assert.deepEqual([cancel.result, cancel.status], ['accepted', 'cancelled']);
  await waitFor(() => mine().some((m) => m.payload === ''), { what: 'the oven view cleared' });
  const after = mine().slice(1);
  assert.equal(after.length, 2, `one closing view, then the clear: ${JSON.stringify(after)}`);
  const [closing, clear] = after;
  assert.equal(closing.retain, false, 'the closing view is not retained');
  const doc = parse(closing);
  assert.deepEqual([doc.order_number, doc.status, doc.seq, doc.station], [n, 'cancelled', cancel.seq, 'oven']);
  assert.deepEqual(itemNames(doc), ['Margherita', 'Garlic bread'], 'only the oven\'s items');
  for (const k of ['table', 'customer_name', 'notes']) assert.deepEqual(doc[k], order[k], `the closing view keeps ${k}`);
  assert.deepEqual([clear.payload, clear.retain], ['', true], 'then the empty retained clear');
  assert.equal(mine().length, 3);

  // A subscriber joining afterwards gets nothing for the order: the closing view was not kept.
  const late = await retainedSnapshot('pizza-oven', [filter]);
  assert.deepEqual(late.filter((m) => m.topic === topic), [], 'nothing retained for it');
  const late2 = await mqttClient(bus, 'pizza-oven');
  await late2.subscribeAsync([filter], { qos: 1, rap: true });
  await subscribe(late2, ['outlet/device/pizza-oven/info']);
  await waitMessage(late2, (m) => m.topic === 'outlet/device/pizza-oven/info', { what: 'the info marker' });
  assert.deepEqual(late2.received.filter((m) => m.topic === topic), [], 'no message at all for it');

  // Served: the same closing view, with its status, once on each station that has items.
  const bar = await mqttClient(bus, 'pizza-bar');
  await bar.subscribeAsync([stationViewTopic('pizza', 'bar', '+')], { qos: 1, rap: true });
  const served = pizzaOrder();
  const s = served.order_number;
  assert.equal((await pos.submit(served)).result, 'accepted');
  let a;
  for (const st of ['accepted', 'preparing', 'ready']) {
    a = await expo.setStatus(s, st);
    assert.deepEqual([a.result, a.status], ['accepted', st]);
  }
  a = await expo.setStatus(s, 'served');
  assert.deepEqual([a.result, a.status], ['accepted', 'served']);
  for (const [c, st, items] of [[oven, 'oven', ['Margherita', 'Garlic bread']], [bar, 'bar', ['Lemonade']]]) {
    const t = stationViewTopic('pizza', st, s);
    await waitFor(() => c.received.some((m) => m.topic === t && m.payload === ''), { what: `the ${st} view of ${s} cleared` });
    const msgs = c.received.filter((m) => m.topic === t);
    const closingAt = msgs.findIndex((m) => m.payload && parse(m).status === 'served');
    assert.ok(closingAt >= 0, `a served closing view on ${st}`);
    assert.deepEqual(msgs.slice(closingAt).map((m) => [m.retain, m.payload === '' ? null : parse(m).status]), [[false, 'served'], [true, null]],
      `${st}: the closing view, then the clear, and nothing else`);
    assert.deepEqual(itemNames(parse(msgs[closingAt])), items);
    assert.equal(parse(msgs[closingAt]).seq, a.seq);
  }
  late2.end(true);
  await Promise.all([oven, bar, expo.client, pos.client].map((c) => c.endAsync()));
});

test('a station-bound kitchen over the legacy gateway bumps its part; legacy clients see whole-order statuses only', async () => {
  const lpos = await legacyClient(bus, { type: 'pos', id: 'POS-ST-1', username: 'pizza-pos' });
  const lovenC = await legacyClient(bus, { type: 'kitchen', id: 'OVEN-ST-1', username: 'pizza-oven' });
  const lwhole = await legacyClient(bus, { type: 'kitchen', id: 'KITCHEN-ST-1', username: 'pizza-kitchen' });
  const loven = lovenC;
  await Promise.all([lpos, loven, lwhole].map((c) => c.waitType('connected')));
  const expo = await expoDevice(bus, 'pizza');
  const bar = await stationDevice(bus, 'pizza', 'bar');
  const order = pizzaOrder();
  const n = order.order_number;
  const barOnly = makeOrder('pizza', { items: [{ name: 'Espresso', qty: 1, station: 'bar' }] });
  const state = (seq, what) => waitLatest(expo.client, orderTopic('pizza', n), (d) => d && d.seq === seq, what);

  // A legacy POS's order is routed as an MQTT one.
  lpos.send({ type: 'new_order', payload: order, timestamp: new Date().toISOString() });
  let a = await lpos.waitAck(n);
  assert.deepEqual([a.result, a.status], ['accepted', 'new']);
  assert.deepEqual((await state(a.seq, 'the legacy order')).stations, { oven: 'new', bar: 'new' });
  const bv = parse(await waitMessage(bar.client, (m) => m.topic === stationViewTopic('pizza', 'bar', n), { what: 'the bar view' }));
  assert.deepEqual(itemNames(bv), ['Lemonade']);
  const bad = makeOrder('pizza', { items: [{ name: 'Steak', qty: 1, station: 'grill' }] });
  lpos.send({ type: 'new_order', payload: bad, timestamp: new Date().toISOString() });
  a = await lpos.waitAck(bad.order_number);
  assert.deepEqual([a.result, a.error], ['rejected', 'invalid_field']);
  lpos.send({ type: 'new_order', payload: barOnly, timestamp: new Date().toISOString() });
  assert.equal((await lpos.waitAck(barOnly.order_number)).result, 'accepted');

  // The old kitchen's order_update preparing/ready is its part (it cannot name a station).
  const ovenUpdate = async (number, status) => {
    const from = loven.frames.length;
    loven.send({ type: 'order_update', payload: { order_number: number, status, updated_at: new Date().toISOString() } });
    return loven.waitAck(number, { from });
  };
  await loven.waitFrame((f) => f.type === 'new_order' && f.payload.order_number === n, { what: 'the order at the legacy oven' });
  // Its receipt is the whole order's, as before.
  let from = loven.frames.length;
  loven.send({ type: 'order_ack', payload: { order_number: n } });
  a = await loven.waitAck(n, { from });
  assert.deepEqual([a.result, a.status], ['accepted', 'accepted']);
  assert.deepEqual((await state(a.seq, 'the receipt')).stations, { oven: 'new', bar: 'new' });
  a = await ovenUpdate(n, 'preparing');
  assert.deepEqual([a.result, a.status], ['accepted', 'preparing']);
  let s = await state(a.seq, 'oven preparing (legacy)');
  assert.deepEqual([s.status, s.stations], ['preparing', { oven: 'preparing', bar: 'new' }]);
  a = await ovenUpdate(n, 'ready');
  assert.deepEqual([a.result, a.status], ['accepted', 'preparing'], 'ready is the oven part; the order waits for the bar');
  const ovenReadySeq = a.seq;
  s = await state(ovenReadySeq, 'oven ready (legacy)');
  assert.deepEqual([s.status, s.stations], ['preparing', { oven: 'ready', bar: 'new' }]);
  assert.deepEqual([(await ovenUpdate(n, 'ready')).result], ['duplicate']);
  a = await ovenUpdate(n, 'served');
  assert.deepEqual([a.result, a.error], ['rejected', 'wrong_station']);
  a = await ovenUpdate(barOnly.order_number, 'preparing');
  assert.deepEqual([a.result, a.error], ['rejected', 'unknown_station']);

  // The bar (MQTT) finishes: legacy clients see the order ready, once.
  a = await bar.report(n, 'ready');
  assert.deepEqual([a.result, a.status], ['accepted', 'ready']);
  const readySeq = a.seq;
  for (const c of [lpos, loven, lwhole]) {
    await c.waitFrame((f) => f.type === 'order_status_update' && f.payload.order_number === n && f.payload.seq === readySeq,
      { what: 'the ready update at a legacy client' });
    const updates = c.frames.filter((f) => f.type === 'order_status_update' && f.payload.order_number === n).map((f) => f.payload);
    // What an old client receives for a station change: the whole order's
    // status (unchanged when only a part moved) with the change's seq.
    assert.deepEqual(updates.map((u) => [u.status, u.seq]),
      [['accepted', ovenReadySeq - 2], ['preparing', ovenReadySeq - 1], ['preparing', ovenReadySeq], ['ready', readySeq]]);
    for (const u of updates) assert.deepEqual(Object.keys(u).sort(), ['order_number', 'seq', 'status', 'tenant_id', 'updated_at']);
  }
  await Promise.all([lpos.close(), loven.close(), lwhole.close(), expo.client.endAsync(), bar.client.endAsync()]);
});

test('a station-bound legacy kitchen is sent only its station\'s orders and items', async () => {
  const pos = await posDevice(bus, 'pizza');
  const loven = await legacyClient(bus, { type: 'kitchen', id: 'OVEN-ST-2', username: 'pizza-oven' });
  await loven.waitType('connected');
  const both = pizzaOrder();
  const barOnly = makeOrder('pizza', { items: [{ name: 'Espresso', qty: 1, station: 'bar' }] });
  assert.equal((await pos.submit(barOnly)).result, 'accepted');
  assert.equal((await pos.submit(both)).result, 'accepted');
  try {
    const f = await loven.waitFrame((x) => x.type === 'new_order' && x.payload.order_number === both.order_number, { what: 'the order at the legacy oven' });
    assert.deepEqual(itemNames(f.payload), ['Margherita', 'Garlic bread'], 'only the oven items');
    assert.equal(loven.frames.filter((x) => JSON.stringify(x).includes(barOnly.order_number)).length, 0, 'nothing of a bar-only order');
  } finally {
    await Promise.all([loven.close(), pos.client.endAsync()]);
  }
});

test('the board: preparing holds accepted and preparing numbers oldest first, ready holds {number, since}, '
  + 'the pickup name only where the tenant sets board_names, ready numbers expire after KB_BOARD_READY_FOR', async () => {
  const readyFor = 2000;
  const b = await startBus({
    env: { KB_BOARD_READY_FOR: '2s' },
    registry: {
      outlet: { id: 'hall', name: 'Food Hall' }, demo: true,
      tenants: [
        { id: 'cafe', name: 'Cafe Named', board_names: true, stations: ['hot', 'drinks'],
          devices: [{ username: 'cafe-pos', role: 'pos' }, { username: 'cafe-kitchen', role: 'kitchen' },
            { username: 'cafe-drinks', role: 'kitchen', station: 'drinks' }] },
        { id: 'deli', name: 'Deli Plain', devices: [{ username: 'deli-pos', role: 'pos' }, { username: 'deli-kitchen', role: 'kitchen' }] },
      ],
      boards: [{ username: 'hall-board', tenants: '*' }],
    },
  });
  try {
    const board = await boardDevice(b, 'hall-board', ['cafe', 'deli']);
    // Every tenant's document is there at once, even empty.
    for (const t of ['cafe', 'deli']) {
      const d = await board.waitDoc(t, () => true, { what: `the retained board of ${t}` });
      assert.deepEqual([d.tenant, d.preparing, d.ready], [t, [], []]);
    }
    assert.equal(board.docs('cafe')[0].tenant_name, 'Cafe Named');
    const cafePos = await posDevice(b, 'cafe');
    const cafeK = await kitchenDevice(b, 'cafe');
    const deliPos = await posDevice(b, 'deli');
    const deliK = await kitchenDevice(b, 'deli');
    const o1 = makeOrder('cafe', { pickup_name: 'Ana', items: [{ name: 'Soup', qty: 1 }], customer_name: 'Ana Lim', table: '4', notes: 'hot' });
    const o2 = makeOrder('cafe', { pickup_name: 'Joe', items: [{ name: 'Tea', qty: 1, station: 'drinks' }] });
    const o3 = makeOrder('cafe', { items: [{ name: 'Cake', qty: 1 }] });
    const d1 = makeOrder('deli', { pickup_name: 'Bob', items: [{ name: 'Bagel', qty: 1 }] });
    for (const o of [o1, o2, o3]) assert.equal((await cafePos.submit(o)).result, 'accepted');
    assert.equal((await deliPos.submit(d1)).result, 'accepted');
    const cafeDocs = () => board.docs('cafe').length;
    // pickup_name is a first name: at most 32 bytes, shown as sent.
    const long = makeOrder('cafe', { pickup_name: `${'a'.repeat(31)}é`, items: [{ name: 'Soup', qty: 1 }] });
    const rl = await cafePos.submit(long);
    assert.deepEqual([rl.result, rl.error], ['rejected', 'invalid_field'], 'a 33-byte pickup_name');
    assert.match(rl.detail, /pickup_name/);
    const zoe = makeOrder('cafe', { pickup_name: `Zoë${'x'.repeat(28)}`, items: [{ name: 'Soup', qty: 1 }] }); // 32 bytes
    assert.equal((await cafePos.submit(zoe)).result, 'accepted');

    // Accepted later, created earlier: the board lists by arrival.
    assert.equal((await cafeK.setStatus(o2.order_number, 'accepted')).result, 'accepted');
    let doc = await board.waitDoc('cafe', (d) => d.preparing.includes(o2.order_number), { what: 'o2 preparing' });
    assert.deepEqual([doc.preparing, doc.ready], [[o2.order_number], []], 'new orders (o1, o3) are left out');
    let from = cafeDocs();
    assert.equal((await cafeK.setStatus(o1.order_number, 'accepted')).result, 'accepted');
    doc = await board.waitDoc('cafe', (d) => d.preparing.includes(o1.order_number), { from, what: 'o1 preparing' });
    assert.deepEqual(doc.preparing, [o1.order_number, o2.order_number], 'oldest first');
    from = cafeDocs();
    assert.equal((await cafeK.setStatus(o1.order_number, 'preparing')).result, 'accepted');
    assert.equal((await cafeK.setStatus(o3.order_number, 'accepted')).result, 'accepted');
    doc = await board.waitDoc('cafe', (d) => d.preparing.includes(o3.order_number), { from, what: 'o3 preparing' });
    assert.deepEqual(doc.preparing, [o1.order_number, o2.order_number, o3.order_number]);
    // A station's part (drinks, o2's only one) ready: the order is ready.
    const drinks = await stationDevice(b, 'cafe', 'drinks');
    const a2 = await drinks.report(o2.order_number, 'ready');
    assert.deepEqual([a2.result, a2.status], ['accepted', 'ready']);
    doc = await board.waitDoc('cafe', (d) => d.ready.some((r) => r.number === o2.order_number), { what: 'o2 ready' });
    assert.deepEqual(doc.preparing, [o1.order_number, o3.order_number]);
    const r2 = doc.ready.find((r) => r.number === o2.order_number);
    assert.deepEqual(Object.keys(r2).sort(), ['name', 'number', 'since']);
    assert.equal(r2.name, 'Joe', 'board_names: the pickup name beside the number');
    const readyState = parse(await waitMessage(cafeK.client, (m) => m.topic === orderTopic('cafe', o2.order_number) && parse(m)?.status === 'ready', { what: 'o2 ready state' }));
    assert.equal(r2.since, readyState.updated_at);
    const sinceMs = Date.parse(r2.since);

    for (const st of ['accepted', 'preparing', 'ready']) assert.equal((await cafeK.setStatus(zoe.order_number, st)).result, 'accepted');
    doc = await board.waitDoc('cafe', (d) => d.ready.some((r) => r.number === zoe.order_number), { what: 'zoe ready' });
    assert.equal(doc.ready.find((r) => r.number === zoe.order_number).name, zoe.pickup_name);
    from = cafeDocs();
    assert.equal((await (await posDevice(b, 'cafe')).submit({ order_number: zoe.order_number, action: 'cancel' })).result, 'accepted');
    doc = await board.waitDoc('cafe', (d) => !d.ready.some((r) => r.number === zoe.order_number), { from, what: 'a cancelled order off the board' });
    assert.deepEqual(doc.ready.map((r) => r.number), [o2.order_number]);

    // Deli does not set board_names: no name, though its POS sent one.
    for (const s of ['accepted', 'preparing', 'ready']) assert.equal((await deliK.setStatus(d1.order_number, s)).result, 'accepted');
    const dd = await board.waitDoc('deli', (d) => d.ready.some((r) => r.number === d1.order_number), { what: 'd1 ready' });
    assert.deepEqual(Object.keys(dd.ready.find((r) => r.number === d1.order_number)).sort(), ['number', 'since']);
    assert.deepEqual(dd.preparing, []);

    // Nothing but numbers, names where allowed, and times ever reaches the board.
    const leaks = ['Soup', 'Tea', 'Cake', 'Bagel', 'Ana Lim', 'hot', 'items', 'table', 'notes', 'customer_name'];
    for (const m of board.client.received) {
      for (const word of leaks) assert.equal(m.payload.includes(`"${word}"`), false, `${word} reached the board on ${m.topic}`);
    }

    // o2 expires from "ready" after 2 s; the order itself is still open and ready.
    const expired = await board.waitDoc('cafe', (d) => !d.ready.some((r) => r.number === o2.order_number),
      { from: board.docs('cafe').findIndex((d) => d.ready.some((r) => r.number === o2.order_number)), timeout: readyFor + 5000, what: 'o2 to leave ready' });
    const after = Date.now() - sinceMs;
    assert.ok(after >= readyFor - 50 && after < readyFor + 4000, `o2 left ready ${after} ms after it became ready`);
    assert.equal(expired.preparing.includes(o2.order_number), false);
    const snap = await mqttClient(b, 'cafe-kitchen');
    await subscribe(snap, [orderTopic('cafe', o2.order_number)]);
    assert.equal(parse(await waitMessage(snap, (m) => m.topic === orderTopic('cafe', o2.order_number), { what: 'o2 retained' })).status, 'ready');
    await snap.endAsync();
    // It does not come back at the next change of the tenant, nor after a bridge restart.
    from = cafeDocs();
    assert.equal((await cafeK.setStatus(o3.order_number, 'preparing')).result, 'accepted');
    assert.equal((await cafeK.setStatus(o3.order_number, 'ready')).result, 'accepted');
    doc = await board.waitDoc('cafe', (d) => d.ready.some((r) => r.number === o3.order_number), { from, what: 'o3 ready' });
    assert.deepEqual(doc.ready.map((r) => r.number), [o3.order_number], 'the expired o2 stays off');
    assert.equal('name' in doc.ready[0], false, 'no pickup_name sent: no name');
    from = cafeDocs();
    await b.stopBridge();
    await b.startBridge();
    doc = await board.waitDoc('cafe', () => true, { from, what: 'the board republished at the bridge\'s connect' });
    assert.deepEqual(doc.preparing, [o1.order_number]);
    assert.deepEqual(doc.ready.map((r) => r.number), [o3.order_number]);
    // Served: off the board at once.
    from = cafeDocs();
    assert.equal((await (await posDevice(b, 'cafe')).submit({ order_number: o3.order_number, action: 'status', status: 'served' })).result, 'accepted');
    doc = await board.waitDoc('cafe', (d) => !d.ready.some((r) => r.number === o3.order_number), { from, what: 'o3 off the board' });
    assert.deepEqual([doc.preparing, doc.ready], [[o1.order_number], []]);
    await Promise.all([board, cafePos, cafeK, deliPos, deliK, drinks].map((d) => d.client.endAsync().catch(() => {})));
  } finally {
    await b.stop();
  }
});

test('views and boards come back after a broker lost its state; stale views (an old snapshot, or left without their order) are cleared or corrected', async () => {
  const pos = await posDevice(bus, 'pizza');
  const oven = await stationDevice(bus, 'pizza', 'oven');
  const open = pizzaOrder();
  const closing = pizzaOrder();
  for (const o of [open, closing]) assert.equal((await pos.submit(o)).result, 'accepted');
  const moved = await oven.report(open.order_number, 'preparing');
  assert.equal(moved.result, 'accepted');
  await Promise.all([pos.client.endAsync(), oven.client.endAsync()]);

  // A wiped broker: the bridge publishes every open order's views and every board again.
  await bus.killBroker();
  bus.wipeBrokerState();
  await bus.startBroker();
  await bus.waitHealthy();
  let snap = await retainedSnapshot('pizza-oven', [stationViewTopic('pizza', 'oven', '+')]);
  const view = snap.find((m) => m.topic === stationViewTopic('pizza', 'oven', open.order_number));
  assert.ok(view, 'the oven view of the open order is back');
  assert.deepEqual([parse(view).seq, parse(view).stations], [moved.seq, { oven: 'preparing', bar: 'new' }]);
  const boardSnap = await retainedSnapshot('court-board', [boardTopic('pizza')]);
  assert.ok(parse(boardSnap.find((m) => m.topic === boardTopic('pizza'))).preparing.includes(open.order_number), 'the board is back');

  // A clean stop snapshots the views of both; `closing` is then served, and a
  // SIGKILL before the next autosave brings its views back from the snapshot.
  await bus.stopBroker();
  await bus.startBroker();
  await bus.waitHealthy();
  const expo = await expoDevice(bus, 'pizza');
  for (const st of ['accepted', 'preparing', 'ready', 'served']) assert.equal((await expo.setStatus(closing.order_number, st)).result, 'accepted', st);
  await expo.client.endAsync();
  await bus.killBroker();
  await bus.startBroker();
  await bus.waitHealthy();
  for (const st of ['oven', 'bar']) {
    await waitFor(() => bus.bridgeLog().includes(`clearing stale station view pizza/${st}/${closing.order_number}`),
      { what: `the bridge to clear the stale ${st} view` });
  }
  // A marker order published after the clearing: once a late subscriber has
  // its view, the broker has sent every retained view it holds.
  const pos2 = await posDevice(bus, 'pizza');
  const marker = pizzaOrder();
  assert.equal((await pos2.submit(marker)).result, 'accepted');
  await pos2.client.endAsync();
  for (const st of ['oven', 'bar']) {
    const late = await mqttClient(bus, `pizza-${st}`);
    await subscribe(late, [stationViewTopic('pizza', st, '+')]);
    await waitMessage(late, (m) => m.topic === stationViewTopic('pizza', st, marker.order_number), { what: 'the marker view' });
    assert.equal(late.received.filter((m) => m.topic === stationViewTopic('pizza', st, closing.order_number) && m.payload !== '').length, 0,
      `no ${st} view of the served order`);
    assert.ok(late.received.some((m) => m.topic === stationViewTopic('pizza', st, open.order_number)), `the ${st} view of the open order stays`);
    await late.endAsync();
  }
  snap = await retainedSnapshot('court-board', [boardTopic('pizza')]);
  assert.equal(parse(snap.find((m) => m.topic === boardTopic('pizza'))).ready.some((r) => r.number === closing.order_number), false,
    'the served order is not on the board');

  // Views the broker holds without their order (written here with the
  // bridge's own account while it is down): one of an unknown order, one of
  // a station the open order has nothing for, and a stale one. At its
  // connect the bridge clears the first two and corrects the third.
  await bus.stopBridge();
  const forger = await mqttClient(bus, 'kb-bridge', readFileSync(path.join(bus.dir, 'broker/bridge.pw'), 'utf8').trim());
  const fake = (number, station, seq) => JSON.stringify({ order_number: number, items: [{ name: 'Forged', qty: 1 }], seq, station, status: 'new' });
  const forged = [
    [stationViewTopic('pizza', 'oven', 'GHOST-1'), fake('GHOST-1', 'oven', 1)],
    [stationViewTopic('pizza', 'cold', open.order_number), fake(open.order_number, 'cold', moved.seq)],
    [stationViewTopic('pizza', 'bar', open.order_number), fake(open.order_number, 'bar', 1)],
  ];
  for (const [topic, body] of forged) await publish(forger, topic, body, { retain: true });
  await forger.endAsync();
  await bus.startBridge();
  for (const what of ['pizza/oven/GHOST-1', `pizza/cold/${open.order_number}`]) {
    await waitFor(() => bus.bridgeLog().includes(`clearing stale station view ${what}`), { what: `the bridge to clear ${what}` });
  }
  const pos3 = await posDevice(bus, 'pizza');
  const marker2 = makeOrder('pizza', { items: [{ name: 'Marker', qty: 1, station: 'oven' }, { name: 'Marker', qty: 1, station: 'cold' }, { name: 'Marker', qty: 1, station: 'bar' }] });
  assert.equal((await pos3.submit(marker2)).result, 'accepted');
  await pos3.client.endAsync();
  const seen = {};
  for (const st of ['oven', 'cold', 'bar']) {
    const late = await mqttClient(bus, `pizza-${st}`);
    await subscribe(late, [stationViewTopic('pizza', st, '+')]);
    await waitMessage(late, (m) => m.topic === stationViewTopic('pizza', st, marker2.order_number), { what: 'the marker view' });
    seen[st] = late.received.filter((m) => m.payload !== '').map(parse);
    await late.endAsync();
  }
  assert.equal(seen.oven.some((v) => v.order_number === 'GHOST-1'), false, 'the view of an unknown order is cleared');
  assert.equal(seen.cold.some((v) => v.order_number === open.order_number), false, 'the view of a station the order lacks is cleared');
  const barView = seen.bar.find((v) => v.order_number === open.order_number);
  assert.deepEqual([barView.seq, itemNames(barView)], [moved.seq, ['Lemonade']], 'the stale view is corrected');
});
