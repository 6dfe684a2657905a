// escpos.mjs - a strict ESC/POS decoder for tests: turns the bytes a kitchen
// printer received back into tickets, lines and text attributes, so a test can
// check what would have been printed. Written from the ESC/POS command
// reference, independently of the bridge's encoder.
//
// Deliberately small and strict: only the commands the bridge is meant to
// send are known (ESC @, ESC t, ESC a, ESC E, ESC d, GS !, GS B, GS V, LF,
// CR); any other control byte, an ESC/GS followed by an unknown byte, or an
// unsupported argument throws an Error naming the byte offset and value, so
// garbage fails the test. Not supported: images, barcodes, QR codes, status
// requests, underline, fonts, tabs, multi-byte (CJK) code pages, and code
// pages other than 0 (cp437), 2 (cp850), 16 (windows-1252) and 19 (cp858).
//
// decodeEscPos(bytes) -> { tickets: [{ lines, cut: true }], rest: { lines, cut: false } }
// Each cut ends a ticket. `rest` holds what follows the last cut (a job still
// being sent): its lines include the pending text not yet ended by LF. A
// command cut short by the end of the bytes is not an error (the sender may
// be mid-write); the rest then carries `truncated: true`.
//
// A line is { text, align, bold, width, height, reverse, segments }, segments
// being runs of text with equal attributes. A line is bold/reverse when all
// of its non-blank segments are (false when there are none); width/height are
// the largest over its segments (1 when it has none); align is the alignment
// in force when the line was printed.
import iconv from 'iconv-lite';

const ESC = 0x1b, GS = 0x1d, LF = 0x0a, CR = 0x0d;
const CODE_PAGES = { 0: 'cp437', 2: 'cp850', 16: 'cp1252', 19: 'cp858' };
const ALIGNS = { 0: 'left', 1: 'center', 2: 'right', 48: 'left', 49: 'center', 50: 'right' };
const hex = (b) => `0x${b.toString(16).padStart(2, '0')}`;

const tables = new Map(); // code page name -> the 128 characters of 0x80..0xFF
function upperHalf(name) {
  if (!tables.has(name)) {
    const bytes = Buffer.from(Array.from({ length: 128 }, (_, i) => 0x80 + i));
    tables.set(name, Array.from(iconv.decode(bytes, name)));
  }
  return tables.get(name);
}

const initial = () => ({ align: 'left', bold: false, width: 1, height: 1, reverse: false, codePage: 'cp437' });

function makeLine(segments, align) {
  const nonBlank = segments.filter((s) => s.text.trim() !== '');
  const all = (key) => nonBlank.length > 0 && nonBlank.every((s) => s[key]);
  return {
    text: segments.map((s) => s.text).join(''),
    align,
    bold: all('bold'),
    width: Math.max(1, ...segments.map((s) => s.width)),
    height: Math.max(1, ...segments.map((s) => s.height)),
    reverse: all('reverse'),
    segments,
  };
}

/** Decodes an ESC/POS byte stream (Buffer or Uint8Array); throws on anything it does not know. */
export function decodeEscPos(bytes) {
  const buf = Buffer.from(bytes);
  const tickets = [];
  let st = initial();
  let lines = [];
  let segments = [];
  let truncated = false;

  const fail = (at, why) => { throw new Error(`escpos: ${why} at offset ${at}`); };
  const put = (ch) => {
    const last = segments[segments.length - 1];
    if (last && last.bold === st.bold && last.width === st.width && last.height === st.height && last.reverse === st.reverse) {
      last.text += ch;
    } else {
      segments.push({ text: ch, bold: st.bold, width: st.width, height: st.height, reverse: st.reverse });
    }
  };
  const endLine = () => { lines.push(makeLine(segments, st.align)); segments = []; };
  const emptyLine = () => lines.push(makeLine([], st.align));

  let i = 0;
  while (i < buf.length) {
    const at = i;
    const b = buf[i];
    if (b >= 0x20 && b <= 0x7e) { put(String.fromCharCode(b)); i += 1; continue; }
    if (b >= 0x80) { put(upperHalf(st.codePage)[b - 0x80]); i += 1; continue; }
    if (b === LF) { endLine(); i += 1; continue; }
    if (b === CR) { i += 1; continue; }
    if (b !== ESC && b !== GS) fail(at, `unexpected control byte ${hex(b)}`);

    const prefix = b === ESC ? 'ESC' : 'GS';
    // Needs `n` bytes from offset i (the command and its arguments).
    const have = (n) => { if (i + n > buf.length) { truncated = true; return false; } return true; };
    if (!have(2)) break;
    const cmd = buf[i + 1];
    const name = `${prefix} ${String.fromCharCode(cmd)}`;
    const arg = () => buf[i + 2];

    if (b === ESC && cmd === 0x40) { // ESC @: initialize, the buffered text is dropped
      st = initial();
      segments = [];
      i += 2;
    } else if (b === ESC && cmd === 0x74) { // ESC t n: code page
      if (!have(3)) break;
      const page = CODE_PAGES[arg()];
      if (!page) fail(at, `${name}: unsupported code page ${arg()} (${hex(arg())})`);
      st.codePage = page;
      i += 3;
    } else if (b === ESC && cmd === 0x61) { // ESC a n: alignment
      if (!have(3)) break;
      const align = ALIGNS[arg()];
      if (!align) fail(at, `${name}: bad alignment ${arg()} (${hex(arg())})`);
      st.align = align;
      i += 3;
    } else if (b === ESC && cmd === 0x45) { // ESC E n: emphasis
      if (!have(3)) break;
      st.bold = (arg() & 1) === 1;
      i += 3;
    } else if (b === ESC && cmd === 0x64) { // ESC d n: print the line, feed n lines
      if (!have(3)) break;
      endLine();
      for (let k = 0; k < arg(); k += 1) emptyLine();
      i += 3;
    } else if (b === GS && cmd === 0x21) { // GS ! n: character size
      if (!have(3)) break;
      st.width = ((arg() >> 4) & 7) + 1;
      st.height = (arg() & 7) + 1;
      i += 3;
    } else if (b === GS && cmd === 0x42) { // GS B n: white/black reverse
      if (!have(3)) break;
      st.reverse = (arg() & 1) === 1;
      i += 3;
    } else if (b === GS && cmd === 0x56) { // GS V m [n]: cut
      if (!have(3)) break;
      const m = arg();
      let size;
      if ([0, 1, 48, 49].includes(m)) size = 3;
      else if (m === 65 || m === 66) size = 4;
      else fail(at, `${name}: bad cut mode ${m} (${hex(m)})`);
      if (!have(size)) break;
      if (segments.length) endLine();
      tickets.push({ lines, cut: true });
      lines = [];
      i += size;
    } else {
      fail(at, `unknown command ${prefix} ${hex(cmd)} (${hex(b)} ${hex(cmd)})`);
    }
  }

  if (segments.length) endLine();
  const rest = { lines, cut: false };
  if (truncated) rest.truncated = true;
  return { tickets, rest };
}

/** A ticket's text, one line per line, without its trailing empty lines. */
export function ticketText(ticket) {
  const texts = ticket.lines.map((l) => l.text);
  while (texts.length && texts[texts.length - 1] === '') texts.pop();
  return texts.join('\n');
}

/** The ticket as it sits on paper `columns` characters wide: a centred or right-aligned line is
 * indented as the printer places it (a double-width character takes two columns), attributes are
 * not shown, trailing blank lines are dropped. For showing a ticket to people (the README). */
export function ticketPicture(ticket, columns) {
  const rows = ticket.lines.map((l) => {
    const free = columns - l.text.length * l.width;
    const indent = l.align === 'center' ? Math.floor(free / 2) : l.align === 'right' ? free : 0;
    return (' '.repeat(Math.max(0, indent)) + l.text).trimEnd();
  });
  while (rows.length && rows[rows.length - 1] === '') rows.pop();
  return rows.join('\n');
}

/** The first line whose text matches `re` (a RegExp, or a string found as a substring), else undefined. */
export function findLine(ticket, re) {
  return ticket.lines.find((l) => (typeof re === 'string' ? l.text.includes(re) : l.text.search(re) !== -1));
}
