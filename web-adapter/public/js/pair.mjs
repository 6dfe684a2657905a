// The pairing page (/pair), opened on the tablet being set up: from the QR
// code or link of the device hub (/pair?code=K7PX3MWQ), or typed by hand.
// It sends the code once (POST /api/pair, no session), stores the login the
// bridge made where the device's page looks for it (localStorage
// "kb:login:<pos|kitchen|board>", {"username", "password"}: js/common.mjs
// login() and js/board.mjs), and replaces itself with that page. A refused
// code gets a page that says why and what to do; nothing is retried without
// a tap, and the code leaves the address bar before it is sent, so a reload
// cannot send it again.
import { codeProblem, groupCode, loginKey, normaliseCode, pairError, safePage } from './admin-view.mjs';

const $ = (sel) => document.querySelector(sel);
const SECTIONS = { busy: '#busy', ask: '#ask', failed: '#failed', done: '#done' };

// Test and support hooks: what the page did; nothing is simulated.
const kb = window.__kb = { state: 'starting', attempts: 0, error: null, paired: null };

function show(state) {
    for (const [name, sel] of Object.entries(SECTIONS)) $(sel).hidden = name !== state;
    const card = $('#card');
    card.dataset.state = state;
    card.className = `pair-card${state === 'failed' ? ' error' : state === 'done' ? ' ok' : ''}`;
    kb.state = state;
}

function ask(message = '', code = '') {
    show('ask');
    const input = $('#code');
    if (code) input.value = groupCode(code);
    $('#ask-error').textContent = message;
    setTimeout(() => input.focus(), 0);
}

let lastCode = '';
function fail({ title, text }, code, canRetry) {
    lastCode = code;
    kb.error = { title, text };
    $('#error-title').textContent = title;
    $('#error-text').textContent = text;
    $('#retry').hidden = !canRetry;
    show('failed');
}

async function pair(code) {
    show('busy');
    $('#busy-text').textContent = `Code ${groupCode(code)}`;
    kb.attempts++;
    let res, body = null;
    try {
        res = await fetch('/api/pair', {
            method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ code }),
            credentials: 'same-origin', cache: 'no-store',
        });
        body = await res.json().catch(() => null);
    } catch (err) {
        return fail({ title: 'Cannot reach the server',
            text: `This tablet cannot reach the Kitchen Bus server (${err.message}). Check that it is on the outlet’s Wi-Fi, then try again.` }, code, true);
    }
    if (!res.ok) return fail(pairError(res.status, body, code), code, res.status >= 500);
    const key = loginKey(body?.role);
    const page = safePage(body?.page, body?.role);
    if (!key || !page || !body.username || typeof body.password !== 'string') {
        return fail({ title: 'Pairing failed',
            text: `The server paired this tablet as “${body?.username ?? '?'}”, a ${body?.role ?? 'unknown'} device, which has no screen to open here. Ask the manager.` },
        code, false);
    }
    try {
        localStorage.setItem(key, JSON.stringify({ username: body.username, password: body.password }));
    } catch (err) {
        return fail({ title: 'Cannot save the login',
            text: `This browser would not keep the login (${err.message}); a private window cannot. Open the link in a normal window and ask the manager for a new code.` },
        code, false);
    }
    kb.paired = { username: body.username, role: body.role, page };
    const what = body.role === 'kitchen' && body.station ? `the ${body.station} station screen` : body.role === 'expo' ? 'the expo screen'
        : body.role === 'board' ? 'the pickup board' : body.role === 'pos' ? 'the POS' : 'the kitchen screen';
    $('#done-text').textContent = `This tablet is now ${body.username}. Opening ${what}…`;
    show('done');
    location.replace(page);
}

function submitTyped(ev) {
    ev.preventDefault();
    const code = normaliseCode($('#code').value);
    const problem = codeProblem(code);
    if (problem) { $('#ask-error').textContent = problem; return; }
    pair(code);
}

function start() {
    $('#code-form').addEventListener('submit', submitTyped);
    $('#other').addEventListener('click', () => ask());
    $('#retry').addEventListener('click', () => lastCode && pair(lastCode));
    const params = new URLSearchParams(location.search);
    const given = params.get('code');
    if (given == null) return ask();
    // The code is sent at most once from the address: a reload shows the form.
    history.replaceState(null, '', location.pathname);
    const code = normaliseCode(given);
    const problem = codeProblem(code);
    if (problem) {
        return fail({ title: 'Not a pairing code', text: `The link’s code “${given}” cannot be a pairing code. ${problem} Scan the QR code again, or type the code.` },
            code, false);
    }
    return pair(code);
}

start();
