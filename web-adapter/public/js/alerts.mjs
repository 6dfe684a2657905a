// The kitchen display's alerts: the new-order and cancel sounds (Web Audio, no
// sound file), speech and browser notifications, and the buttons that arm or
// switch them. Every one counts into the page's test and support hooks
// (window.__kb): alertsPlayed, cancelAlertsPlayed, alertsMissed, spoken,
// notified, soundArmed. They count real calls; nothing is simulated.
import { $ } from './common.mjs';

const SPEECH_KEY = 'kb:kitchen:speech';
const NOTIFY_KEY = 'kb:kitchen:notify';
/** New orders arriving within this long of the first one sound once. */
const BURST_MS = 400;

/** `hooks` is window.__kb (the counters are added to it); `toast(msg, bad)` shows a message. */
export function createAlerts(hooks, { toast }) {
    Object.assign(hooks, { alertsPlayed: 0, cancelAlertsPlayed: 0, alertsMissed: 0, spoken: [], notified: 0, soundArmed: false });
    let audio = null;
    let batchTimer = null;
    let batchCount = 0;

    function arm() {
        try {
            if (!audio) audio = new (window.AudioContext || window.webkitAudioContext)();
            const p = audio.resume();
            // A silent blip inside the gesture unlocks audio on iOS/Android tablets too.
            const o = audio.createOscillator(); const g = audio.createGain();
            g.gain.value = 0; o.connect(g).connect(audio.destination); o.start(); o.stop(audio.currentTime + 0.01);
            Promise.resolve(p).then(show, show);
        } catch (err) {
            toast(`Sound unavailable: ${err.message}`, true);
        }
        show();
    }

    function soundOn() { return Boolean(audio && audio.state === 'running'); }

    /** The sound button and the "sound is off" banner. */
    function show() {
        const on = soundOn();
        hooks.soundArmed = on;
        const b = $('#sound');
        b.dataset.armed = String(on);
        b.textContent = on ? 'Sound ON' : 'Sound OFF';
        $('#arm').hidden = on;
    }

    function tone(freq, start, dur, type = 'sine', vol = 0.35) {
        const o = audio.createOscillator();
        const g = audio.createGain();
        o.type = type;
        o.frequency.value = freq;
        const t = audio.currentTime + start;
        g.gain.setValueAtTime(0.0001, t);
        g.gain.exponentialRampToValueAtTime(vol, t + 0.02);
        g.gain.exponentialRampToValueAtTime(0.0001, t + dur);
        o.connect(g).connect(audio.destination);
        o.start(t);
        o.stop(t + dur + 0.05);
    }

    /** Plays the alert for one order ('new' or 'cancel'); returns whether it sounded. */
    function play(kind) {
        if (!soundOn()) { hooks.alertsMissed++; show(); return false; }
        if (kind === 'cancel') {
            tone(660, 0, 0.25, 'square', 0.25); tone(440, 0.3, 0.25, 'square', 0.25); tone(330, 0.6, 0.45, 'square', 0.25);
            hooks.cancelAlertsPlayed++;
        } else {
            tone(880, 0, 0.18); tone(1175, 0.2, 0.18); tone(1568, 0.4, 0.35);
            hooks.alertsPlayed++;
        }
        return true;
    }

    function speak(text) {
        if (localStorage.getItem(SPEECH_KEY) !== '1' || !('speechSynthesis' in window)) return;
        try {
            const u = new SpeechSynthesisUtterance(text);
            u.rate = 0.95;
            speechSynthesis.speak(u);
            hooks.spoken.push(text);
        } catch { /* no voice available */ }
    }

    function notify(title, body, tag) {
        if (localStorage.getItem(NOTIFY_KEY) !== '1' || !('Notification' in window) || Notification.permission !== 'granted') return;
        try { new Notification(title, { body, tag, requireInteraction: false }); hooks.notified++; } catch { /* some tablets only allow it from a service worker */ }
    }

    /** One alert per new order; a burst after an outage is one sound, not twenty. */
    function newOrder({ speech, title, body, tag }) {
        batchCount++;
        if (!batchTimer) {
            play('new');
            batchTimer = setTimeout(() => { batchTimer = null; if (batchCount > 1) toast(`${batchCount} new orders`); batchCount = 0; }, BURST_MS);
        }
        speak(speech);
        notify(title, body, tag);
    }

    function toggle(btn, key, onEnable) {
        const set = (on) => { btn.setAttribute('aria-pressed', String(on)); localStorage.setItem(key, on ? '1' : '0'); };
        set(localStorage.getItem(key) === '1');
        btn.addEventListener('click', async () => {
            const on = btn.getAttribute('aria-pressed') !== 'true';
            if (on && onEnable && !(await onEnable())) return;
            set(on);
        });
    }

    /** The arm banner, the sound button, and any tap arming the sound. */
    function installSound() {
        $('#arm').addEventListener('click', arm);
        $('#sound').addEventListener('click', () => (soundOn() ? audio.suspend().then(show) : arm()));
        document.addEventListener('pointerdown', () => { if (!soundOn()) arm(); }, { capture: true });
    }

    /** The Voice and Notify switches. */
    function installSwitches() {
        toggle($('#speech'), SPEECH_KEY, async () => 'speechSynthesis' in window || (toast('No voice on this device', true), false));
        toggle($('#notify'), NOTIFY_KEY, async () => {
            if (!('Notification' in window)) { toast('Notifications not supported here', true); return false; }
            const p = await Notification.requestPermission();
            if (p !== 'granted') toast('Notifications blocked by the browser', true);
            return p === 'granted';
        });
    }

    return { arm, soundOn, show, play, speak, notify, newOrder, installSound, installSwitches };
}
