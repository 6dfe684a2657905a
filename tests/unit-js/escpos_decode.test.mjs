// escpos_decode: the test-side ESC/POS decoder (tests/lib/escpos.mjs) on
// hand-built byte sequences - every command it knows, attribute runs, code
// pages, tickets split at cuts, and the errors it throws on garbage - and the
// fake network printer (tests/lib/fake_printer.mjs): a normal job with
// half-close, a stalled printer that never reads, and one that goes down and
// comes back on the same port.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import net from 'node:net';
import { decodeEscPos, findLine, ticketPicture, ticketText } from '../lib/escpos.mjs';
import { startPrinter } from '../lib/fake_printer.mjs';

const ESC = 0x1b, GS = 0x1d, LF = 0x0a;
/** Bytes from numbers, arrays and ASCII strings. */
const bytes = (...parts) => Buffer.concat(parts.map((p) => (typeof p === 'string' ? Buffer.from(p, 'latin1') : Buffer.from([].concat(p)))));
const CUT = [GS, 0x56, 0x00];
const one = (...parts) => {
    const { tickets, rest } = decodeEscPos(bytes(...parts, CUT));
    assert.equal(tickets.length, 1);
    assert.deepEqual(rest, { lines: [], cut: false });
    return tickets[0];
};

test('plain text lines, CR ignored, an empty line kept, the default attributes', () => {
    const t = one('Hello\r', LF, LF, 'World', LF);
    assert.deepEqual(t.lines.map((l) => l.text), ['Hello', '', 'World']);
    assert.deepEqual(t.lines[0], {
        text: 'Hello', align: 'left', bold: false, width: 1, height: 1, reverse: false,
        segments: [{ text: 'Hello', bold: false, width: 1, height: 1, reverse: false }],
    });
    assert.deepEqual(t.lines[1], { text: '', align: 'left', bold: false, width: 1, height: 1, reverse: false, segments: [] });
    assert.equal(t.cut, true);
});

test('ESC a: alignment by 0/1/2 and 48/49/50, the one in force when the line is printed', () => {
    const t = one([ESC, 0x61, 1], 'c', LF, [ESC, 0x61, 2], 'r', LF, [ESC, 0x61, 48], 'l', LF,
        [ESC, 0x61, 49], 'C', LF, [ESC, 0x61, 50], 'R', LF, [ESC, 0x61, 0], 'x', [ESC, 0x61, 2], LF);
    assert.deepEqual(t.lines.map((l) => [l.text, l.align]),
        [['c', 'center'], ['r', 'right'], ['l', 'left'], ['C', 'center'], ['R', 'right'], ['x', 'right']]);
    assert.throws(() => decodeEscPos(bytes([ESC, 0x61, 3])), /offset 0/);
});

test('ESC E, GS !, GS B: bold, size and reverse, as runs within a line', () => {
    const t = one('a', [ESC, 0x45, 1], 'b', [GS, 0x21, 0x11], 'c', [GS, 0x42, 1], 'd', [ESC, 0x45, 0], [GS, 0x21, 0], [GS, 0x42, 0], 'e', LF);
    const [line] = t.lines;
    assert.equal(line.text, 'abcde');
    assert.deepEqual(line.segments, [
        { text: 'a', bold: false, width: 1, height: 1, reverse: false },
        { text: 'b', bold: true, width: 1, height: 1, reverse: false },
        { text: 'c', bold: true, width: 2, height: 2, reverse: false },
        { text: 'd', bold: true, width: 2, height: 2, reverse: true },
        { text: 'e', bold: false, width: 1, height: 1, reverse: false },
    ]);
    assert.equal(line.bold, false, 'not every segment is bold');
    assert.equal(line.reverse, false);
    assert.deepEqual([line.width, line.height], [2, 2], 'the largest size on the line');
});

test('line bold/reverse need every non-blank segment; GS ! splits width and height; only bit 0 counts for E and B', () => {
    const t = one([ESC, 0x45, 3], [GS, 0x42, 0xff], 'TABLE 4', [ESC, 0x45, 2], [GS, 0x42, 2], '   ', LF,
        [GS, 0x21, 0x70], 'w', LF, [GS, 0x21, 0x07], 'h', LF, [GS, 0x21, 0x12], 'x', LF);
    assert.equal(t.lines[0].bold, true, 'the plain trailing blanks do not count');
    assert.equal(t.lines[0].reverse, true);
    assert.equal(t.lines[0].segments.length, 2);
    assert.deepEqual(t.lines.slice(1).map((l) => [l.text, l.width, l.height]), [['w', 8, 1], ['h', 1, 8], ['x', 2, 3]]);
    const blank = one([ESC, 0x45, 1], '  ', LF);
    assert.equal(blank.lines[0].bold, false, 'a line of blanks only is not bold');
});

test('ESC d n: prints the pending line then n empty lines, with the current alignment', () => {
    const t = one([ESC, 0x61, 1], 'Total', [ESC, 0x64, 3], [ESC, 0x64, 0], 'x', LF);
    assert.deepEqual(t.lines.map((l) => [l.text, l.align]),
        [['Total', 'center'], ['', 'center'], ['', 'center'], ['', 'center'], ['', 'center'], ['x', 'center']]);
});

test('GS V: every cut form; a cut prints the pending line; attributes survive a cut', () => {
    for (const cut of [[GS, 0x56, 0], [GS, 0x56, 1], [GS, 0x56, 48], [GS, 0x56, 49], [GS, 0x56, 65, 3], [GS, 0x56, 66, 0]]) {
        const { tickets, rest } = decodeEscPos(bytes([ESC, 0x45, 1], 'A', LF, 'B', cut, 'C', LF));
        assert.deepEqual(tickets.map(ticketText), ['A\nB'], `cut ${cut}`);
        assert.equal(rest.lines[0].text, 'C');
        assert.equal(rest.lines[0].bold, true);
    }
    assert.throws(() => decodeEscPos(bytes('x', [GS, 0x56, 2])), /offset 1/);
});

test('code pages: cp437 by default, cp858 via ESC t 19 (é ò €), cp850 and windows-1252', () => {
    assert.equal(one([0x82], LF).lines[0].text, 'é', 'cp437 0x82');
    assert.equal(one([ESC, 0x74, 19], 'Caf', 0x82, ' ', 0x95, ' 5', 0xd5, LF).lines[0].text, 'Café ò 5€');
    assert.equal(one([0xd5], LF).lines[0].text, '╒', 'cp437 0xD5 is not the euro');
    assert.equal(one([ESC, 0x74, 2], 0xd5, LF).lines[0].text, 'ı', 'cp850 0xD5');
    assert.equal(one([ESC, 0x74, 16], 0x80, 0xe9, LF).lines[0].text, '€é', 'windows-1252');
    assert.equal(one([ESC, 0x74, 19], 0x82, [ESC, 0x74, 0], 0x82, 0xd5, LF).lines[0].text, 'éé╒', 'per byte, the page in force');
    assert.throws(() => decodeEscPos(bytes('ab', [ESC, 0x74, 5])), (e) => e.message.includes('offset 2') && e.message.includes('0x05'));
});

test('ESC @ resets alignment, bold, size, reverse and code page, and drops pending text', () => {
    const t = one([ESC, 0x61, 2], [ESC, 0x45, 1], [GS, 0x21, 0x11], [GS, 0x42, 1], [ESC, 0x74, 19], 'kept', LF,
        'dropped', [ESC, 0x40], 'new', 0xd5, LF);
    assert.deepEqual(t.lines.map((l) => l.text), ['kept', 'new╒']);
    assert.deepEqual(t.lines[0], {
        text: 'kept', align: 'right', bold: true, width: 2, height: 2, reverse: true,
        segments: [{ text: 'kept', bold: true, width: 2, height: 2, reverse: true }],
    });
    assert.deepEqual(t.lines[1], {
        text: 'new╒', align: 'left', bold: false, width: 1, height: 1, reverse: false,
        segments: [{ text: 'new╒', bold: false, width: 1, height: 1, reverse: false }],
    });
});

test('a stream with two cuts and an unfinished rest; ticketText and findLine', () => {
    const { tickets, rest } = decodeEscPos(bytes(
        [ESC, 0x40], 'Order 17', LF, [ESC, 0x45, 1], '2x Margherita', [ESC, 0x45, 0], LF, [ESC, 0x64, 2], [GS, 0x56, 66, 3],
        'Order 18', LF, '1x Soup', LF, CUT,
        'Order 19', LF, '3x Ta',
    ));
    assert.equal(tickets.length, 2);
    assert.equal(ticketText(tickets[0]), 'Order 17\n2x Margherita', 'the trailing feed is trimmed');
    assert.equal(ticketText(tickets[1]), 'Order 18\n1x Soup');
    assert.equal(findLine(tickets[0], /margherita/i).bold, true);
    assert.equal(findLine(tickets[0], 'Order').text, 'Order 17');
    const global = /r/g;
    assert.equal(findLine(tickets[0], global).text, 'Order 17');
    assert.equal(findLine(tickets[0], global).text, 'Order 17', 'a global RegExp gives the same answer twice');
    assert.equal(findLine(tickets[1], 'Pizza'), undefined);
    assert.equal(rest.cut, false);
    assert.equal(ticketText(rest), 'Order 19\n3x Ta', 'the pending text is part of the rest');
    assert.equal(rest.truncated, undefined);
    assert.deepEqual(decodeEscPos(Buffer.alloc(0)), { tickets: [], rest: { lines: [], cut: false } });
    assert.deepEqual(decodeEscPos(new Uint8Array([0x41, LF])).rest.lines.map((l) => l.text), ['A'], 'a Uint8Array too');
});

test('ticketPicture: centred and right-aligned lines placed on the paper\'s width, double width counted twice', () => {
    const t = one([ESC, 0x61, 1], 'Warung', LF, [GS, 0x21, 0x11], '#17', LF, [GS, 0x21, 0], [ESC, 0x61, 0], 'left  ', LF,
        [ESC, 0x61, 2], 'end', LF, [ESC, 0x61, 1], 'odd', LF, [ESC, 0x64, 2]);
    assert.equal(ticketPicture(t, 12), '   Warung\n   #17\nleft\n         end\n    odd', 'trailing spaces and feeds dropped');
    assert.equal(ticketPicture(one('much too long a line', LF), 12), 'much too long a line');
    assert.equal(ticketPicture(one([ESC, 0x61, 1], 'much too long a line', LF), 12), 'much too long a line', 'never a negative indent');
});

test('a command cut short at the end of the bytes is a truncated rest, not an error', () => {
    for (const tail of [[ESC], [ESC, 0x45], [GS, 0x56], [GS, 0x56, 65]]) {
        const { tickets, rest } = decodeEscPos(bytes('A', CUT, 'B', tail));
        assert.equal(tickets.length, 1);
        assert.equal(rest.truncated, true, `tail ${tail}`);
        assert.equal(ticketText(rest), 'B');
    }
});

test('garbage throws with the byte offset and value: stray control bytes, unknown ESC/GS commands', () => {
    const names = (offset, value) => (e) => e.message.includes(`offset ${offset}`) && e.message.includes(value);
    assert.throws(() => decodeEscPos(bytes('ab', 0x07, 'c')), names(2, '0x07'), 'BEL');
    assert.throws(() => decodeEscPos(bytes('abc', [ESC, 0x99])), names(3, '0x99'), 'ESC 0x99');
    assert.throws(() => decodeEscPos(bytes([GS, 0x6b, 0])), names(0, '0x6b'), 'GS k (barcode) is not supported');
    assert.throws(() => decodeEscPos(bytes('x', 0x7f)), names(1, '0x7f'), 'DEL');
    assert.throws(() => decodeEscPos(bytes(0x09)), names(0, '0x09'), 'HT');
    assert.throws(() => decodeEscPos(bytes(0x00)), names(0, '0x00'), 'NUL');
});

// --- the fake printer --------------------------------------------------------

/** Event waits below are bounded by the test's own deadline. */
const NET = { timeout: 20000 };

/** A test body run with a fresh printer, stopped afterwards (t.after needs Node 18.13). */
const withPrinter = (opts, body) => async () => {
    const printer = await startPrinter(opts);
    try { await body(printer); } finally { await printer.stop(); }
};

const connect = async (port) => {
    const sock = net.connect({ port, host: '127.0.0.1', allowHalfOpen: true });
    await once(sock, 'connect');
    return sock;
};

test('fake printer, normal: records the bytes, sees the half-close and ends its side', NET, withPrinter({}, async (printer) => {
    assert.equal(printer.address, `127.0.0.1:${printer.port}`);
    const sock = await connect(printer.port);
    const eof = once(sock, 'end');
    sock.resume();
    sock.write(bytes([ESC, 0x40], 'Order 17', LF, CUT));
    sock.end(bytes('Order 18', LF));
    await eof; // the printer ended its side after ours
    await printer.waitFor((p) => p.connections[0]?.ended, { timeout: 5000, what: 'the printer to record the end' });
    assert.deepEqual(printer.tickets().map(ticketText), ['Order 17']);
    assert.deepEqual(printer.partials().map(ticketText), ['Order 18']);
    sock.destroy();
    await printer.waitFor((p) => p.connections[0].closed, { timeout: 5000, what: 'the connection to close' });
}));

test('fake printer, stall: accepts but never reads, so the writer backs up', NET, async () => {
    const printer = await startPrinter({ mode: 'stall' });
    const sock = await connect(printer.port);
    sock.on('error', () => {});
    try {
        await printer.waitFor((p) => p.connections.length === 1, { timeout: 5000, what: 'the connection to be accepted' });
        // 4 MB at a time; loopback kernel buffers can take a few MB, so more
        // rounds follow while 'drain' still comes. A negative can only be
        // watched for a while: the queue counts as stuck when 'drain' does not
        // come within 300 ms.
        const chunk = Buffer.alloc(64 * 1024, 0x41);
        const drainWithin = (ms) => new Promise((resolve) => {
            const timer = setTimeout(() => { sock.off('drain', onDrain); resolve(false); }, ms);
            const onDrain = () => { clearTimeout(timer); resolve(true); };
            sock.once('drain', onDrain);
        });
        let refused = 0, sent = 0, drained = true;
        for (let round = 0; drained && round < 16; round += 1) {
            for (let n = 0; n < 64; n += 1, sent += chunk.length) if (!sock.write(chunk)) refused += 1;
            drained = await drainWithin(300);
        }
        assert.ok(refused > 0, 'socket.write returned false');
        assert.equal(drained, false, `the queue never drained (${sent} B sent)`);
        const queued = sock.writableLength;
        assert.ok(queued > 0, `bytes stay queued in the client (${queued} B)`);
        assert.equal(await drainWithin(300), false, 'still stuck');
        assert.equal(sock.writableLength, queued, 'nothing more left the client');
        assert.equal(printer.connections[0].bytes.length, 0, 'the printer read nothing');
    } finally {
        sock.destroy();
        await printer.stop();
    }
});

test('fake printer, reset: the connection is destroyed at once', NET, withPrinter({ mode: 'reset' }, async (printer) => {
    const sock = net.connect(printer.port, '127.0.0.1');
    const errors = [];
    sock.on('error', (e) => errors.push(e.code));
    await new Promise((r) => sock.once('close', r)); // events.once would reject on the error
    assert.ok(errors.every((c) => c === 'ECONNRESET' || c === 'EPIPE'), `reset or closed (${errors})`);
    await printer.waitFor((p) => p.connections[0]?.closed, { timeout: 5000, what: 'the printer side to close' });
}));

test('fake printer, hold: keeps its side open until release()', NET, withPrinter({ mode: 'hold' }, async (printer) => {
    const sock = await connect(printer.port);
    sock.resume();
    let eof = false;
    const ended = once(sock, 'end').then(() => { eof = true; });
    sock.end(bytes('Order 20', LF, CUT));
    await printer.waitFor((p) => p.connections[0]?.ended, { timeout: 5000, what: 'the client end' });
    assert.equal(ticketText(printer.tickets()[0]), 'Order 20');
    assert.equal(eof, false, 'held: no EOF for the client yet');
    printer.release();
    await ended;
    sock.destroy();
}));

test('fake printer, down then normal: refused, then listening again on the same port', NET, withPrinter({}, async (printer) => {
    const { port } = printer;
    const first = await connect(port); // stays open across the outage
    await printer.setMode('down');
    const refused = net.connect(port, '127.0.0.1');
    const [err] = await once(refused, 'error');
    assert.equal(err.code, 'ECONNREFUSED');
    await printer.setMode('normal');
    assert.equal(printer.port, port);
    const again = await connect(port);
    await printer.waitFor((p) => p.connections.length === 2, { timeout: 5000, what: 'the second connection' });
    first.destroy();
    again.destroy();
}));
