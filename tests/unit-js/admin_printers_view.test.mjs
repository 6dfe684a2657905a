// admin_printers_view: the device hub's Printers panel, its pure logic
// (web-adapter/public/js/admin-view.mjs) in plain Node: GET /api/printers'
// answer as the page keeps it (docs/ADMIN-API.md "Printers"), and the texts
// of a printer's row: what it prints for, where it is, its mode, its state
// badge and whether the screens of what it prints for are on.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
    printerFor, printerMode, printerScreens, printerState, printerWhere, printersDoc,
} from '../../web-adapter/public/js/admin-view.mjs';

const tenantPrinter = {
    printer: 'pizza', tenant: 'pizza', station: null, address: '192.168.1.50:9100', mode: 'backup', state: 'ok', reachable: true,
    screens_on: false, pending: 0, printed: 3, last_printed_at: '2026-12-01T12:00:00.000Z', error: null,
};
const ovenPrinter = { ...tenantPrinter, printer: 'pizza/oven', station: 'oven', address: '192.168.1.51:9100', screens_on: true };
const cupsPrinter = { ...tenantPrinter, printer: 'lp', tenant: 'lp', address: undefined, cups: 'kitchen1' };

test('printersDoc keeps the answer\'s printers and its overall state; anything else is ok and no printer', () => {
    assert.deepEqual(printersDoc({ printing: 'ok', printers: [tenantPrinter, ovenPrinter] }),
        { printing: 'ok', printers: [tenantPrinter, ovenPrinter] });
    assert.equal(printersDoc({ printing: 'degraded', printers: [] }).printing, 'degraded');
    assert.deepEqual(printersDoc({}), { printing: 'ok', printers: [] });
    assert.deepEqual(printersDoc(null), { printing: 'ok', printers: [] });
    assert.deepEqual(printersDoc({ printing: 'weird', printers: 'x' }), { printing: 'ok', printers: [] });
    assert.deepEqual(printersDoc({ printers: [null, { printer: '' }, { printer: 7 }, ovenPrinter] }).printers, [ovenPrinter],
        'a printer without a key cannot have a row (nor a test print)');
});

test('what a printer prints for, and where it is', () => {
    assert.equal(printerFor(tenantPrinter), 'whole orders');
    assert.equal(printerFor(ovenPrinter), 'oven station');
    assert.equal(printerWhere(tenantPrinter), '192.168.1.50:9100');
    assert.equal(printerWhere(cupsPrinter), 'CUPS queue kitchen1');
    assert.equal(printerWhere({ printer: 'x' }), '—');
});

test('mode and state in words; an unknown one is shown, not hidden', () => {
    assert.match(printerMode('backup'), /^backup: prints when no screen is on$/);
    assert.match(printerMode('always'), /^always/);
    assert.match(printerMode('off'), /^off/);
    assert.equal(printerMode('later'), 'later');
    assert.equal(printerMode(undefined), '?');
    assert.deepEqual(['ok', 'degraded', 'off'].map(printerState), ['ok', 'degraded', 'off']);
    assert.equal(printerState('on fire'), 'unknown', 'a class suffix the CSS knows');
    assert.equal(printerState(undefined), 'unknown');
});

test('screens: on, none so it prints, or not known yet', () => {
    assert.equal(printerScreens(ovenPrinter), 'screens on');
    assert.equal(printerScreens(tenantPrinter), 'no screen: printing');
    assert.equal(printerScreens({ ...tenantPrinter, mode: 'always' }), 'no screen: printing');
    assert.equal(printerScreens({ ...tenantPrinter, mode: 'off' }), 'no screen (printer off)', 'an off printer prints nothing');
    assert.equal(printerScreens({ ...tenantPrinter, screens_on: null }), '—');
    assert.equal(printerScreens({ printer: 'x' }), '—');
});
