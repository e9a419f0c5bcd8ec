// edge-session demo page. Plain browser JavaScript, no framework; talks to the worker's JSON API.
// The session cookie is HttpOnly: this script never sees it, it only sees the API's answers.
'use strict';

(() => {
  const $ = (id) => document.getElementById(id);

  const els = {
    status: $('status'),
    loginCard: $('login-card'),
    loginForm: $('login-form'),
    loginButton: $('login-button'),
    username: $('username'),
    password: $('password'),
    sessionCard: $('session-card'),
    user: $('session-user'),
    createdAt: $('created-at'),
    envelopeCountdown: $('envelope-countdown'),
    envelopeAt: $('envelope-at'),
    idleCountdown: $('idle-countdown'),
    idleAt: $('idle-at'),
    absoluteCountdown: $('absolute-countdown'),
    absoluteAt: $('absolute-at'),
    generation: $('generation'),
    handle: $('handle'),
    sessionData: $('session-data'),
    dataForm: $('data-form'),
    theme: $('theme'),
    note: $('note'),
    btnSaveData: $('btn-save-data'),
    devicesCard: $('devices-card'),
    sessionsBody: $('sessions-body'),
    lastResponse: $('last-response'),
    btnMe: $('btn-me'),
    btnRotate: $('btn-rotate'),
    btnSessions: $('btn-sessions'),
    btnLogout: $('btn-logout'),
    btnRevokeOthers: $('btn-revoke-others'),
  };

  let session = null; // the last session view the API returned

  // ---- helpers ----------------------------------------------------------------------------------

  function setStatus(text, kind = 'info') {
    els.status.textContent = text;
    els.status.dataset.kind = kind;
  }

  const timeFormat = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'medium' });
  const formatTime = (ms) => timeFormat.format(new Date(ms));

  function formatRemaining(ms) {
    if (ms <= 0) return 'expired';
    const total = Math.ceil(ms / 1000);
    const h = Math.floor(total / 3600);
    const m = Math.floor((total % 3600) / 60);
    const s = total % 60;
    if (h > 0) return `in ${h}h ${String(m).padStart(2, '0')}m ${String(s).padStart(2, '0')}s`;
    if (m > 0) return `in ${m}m ${String(s).padStart(2, '0')}s`;
    return `in ${s}s`;
  }

  async function api(method, path, body) {
    const init = { method, credentials: 'same-origin', cache: 'no-store', headers: { accept: 'application/json' } };
    if (body !== undefined) {
      init.headers['content-type'] = 'application/json';
      init.body = JSON.stringify(body);
    }
    let res;
    try {
      res = await fetch(path, init);
    } catch (err) {
      els.lastResponse.textContent = `${method} ${path}\nnetwork error: ${err.message}`;
      return { status: 0, data: null };
    }
    let data = null;
    try {
      data = await res.json();
    } catch {
      data = null;
    }
    els.lastResponse.textContent = `${method} ${path} → ${res.status}\n${JSON.stringify(data, null, 2)}`;
    return { status: res.status, data };
  }

  const shortHandle = (handle) => (handle ? `${handle.slice(0, 12)}…` : '–');

  const reasonOf = (data) => (data && typeof data.reason === 'string' ? data.reason : data && data.error) || 'unknown';

  // ---- rendering --------------------------------------------------------------------------------

  // The page's colours follow the session's `theme` (the system preference when there is none).
  function applyTheme(theme) {
    if (theme === 'light' || theme === 'dark') document.documentElement.dataset.theme = theme;
    else delete document.documentElement.dataset.theme;
  }

  function showData(data) {
    els.sessionData.textContent = data ? JSON.stringify(data) : 'none';
    els.theme.value = data && data.theme === 'dark' ? 'dark' : 'light';
    els.note.value = data && typeof data.note === 'string' ? data.note : '';
    applyTheme(data && data.theme);
  }

  function showLoggedIn(view) {
    session = view;
    els.user.textContent = view.userId;
    els.createdAt.textContent = formatTime(view.createdAt);
    els.envelopeAt.textContent = formatTime(view.envelopeExpiresAt);
    els.idleAt.textContent = formatTime(view.idleExpiresAt);
    els.absoluteAt.textContent = formatTime(view.absoluteExpiresAt);
    els.generation.textContent = String(view.generation ?? 0);
    els.handle.textContent = shortHandle(view.handle);
    els.handle.title = view.handle || '';
    showData(view.data);
    els.loginCard.hidden = true;
    els.sessionCard.hidden = false;
    tick();
  }

  function showLoggedOut() {
    session = null;
    els.sessionCard.hidden = true;
    els.devicesCard.hidden = true;
    els.sessionsBody.replaceChildren();
    els.loginCard.hidden = false;
    applyTheme(null);
  }

  function setCountdown(el, deadline) {
    const left = deadline - Date.now();
    el.textContent = formatRemaining(left);
    el.classList.toggle('expired', left <= 0);
  }

  function tick() {
    if (!session) return;
    setCountdown(els.envelopeCountdown, session.envelopeExpiresAt);
    if (session.envelopeExpiresAt <= Date.now()) els.envelopeCountdown.textContent = 'expired (refreshed on the next request)';
    setCountdown(els.idleCountdown, session.idleExpiresAt);
    setCountdown(els.absoluteCountdown, session.absoluteExpiresAt);
  }

  // The server could not complete a request (503): the store or the revocation hub failed, or the
  // store holds a corrupt revocation cutoff. That says nothing against the session, and the server
  // kept the cookie: stay logged in.
  function unavailable(what, data) {
    const reason = reasonOf(data);
    const part = reason === 'hub_unavailable' ? 'revocation hub' : 'session store';
    setStatus(`${what} (503): ${reason}. The server's ${part} is unavailable; you are still logged in, try again.`, 'error');
  }

  // A request the server refused because of the session: show why and go back to the login form.
  function rejectedBy(data) {
    setStatus(`Rejected: ${reasonOf(data)}`, 'error');
    showLoggedOut();
  }

  function renderSessions(list) {
    const rows = list.map((s) => {
      const tr = document.createElement('tr');
      tr.dataset.handle = s.handle;
      tr.dataset.testid = s.current ? 'session-row-current' : 'session-row';
      if (s.current) tr.className = 'current';

      const device = document.createElement('td');
      device.className = 'ua';
      device.textContent = s.userAgent || 'Unknown device';
      if (s.current) {
        const badge = document.createElement('span');
        badge.className = 'badge current';
        badge.textContent = 'This device';
        device.append(' ', badge);
      }
      const created = document.createElement('td');
      created.textContent = formatTime(s.createdAt);
      const seen = document.createElement('td');
      seen.textContent = formatTime(s.lastSeenAt);
      const action = document.createElement('td');
      if (!s.current) {
        const btn = document.createElement('button');
        btn.type = 'button';
        btn.className = 'small danger';
        btn.textContent = 'Revoke';
        btn.dataset.testid = 'revoke-session';
        btn.setAttribute('aria-label', `Revoke session started ${formatTime(s.createdAt)}`);
        btn.addEventListener('click', () => revoke(s.handle));
        action.append(btn);
      }
      tr.append(device, created, seen, action);
      return tr;
    });
    els.sessionsBody.replaceChildren(...rows);
    els.devicesCard.hidden = false;
  }

  // ---- actions ----------------------------------------------------------------------------------

  async function busy(button, fn) {
    button.disabled = true;
    try {
      await fn();
    } finally {
      button.disabled = false;
    }
  }

  async function loadMe({ quiet = false } = {}) {
    const { status, data } = await api('GET', '/api/me');
    if (status === 200) {
      showLoggedIn(data);
      if (!quiet) setStatus(`Protected API says: you are ${data.userId}.`, 'ok');
      else setStatus(`Welcome back, ${data.userId}.`, 'ok');
    } else if (status === 401 && reasonOf(data) === 'missing') {
      showLoggedOut();
      setStatus(quiet ? 'Not logged in.' : 'Rejected: missing (not logged in).', quiet ? 'info' : 'error');
    } else if (status === 401) {
      rejectedBy(data);
    } else if (status === 503) {
      unavailable('Protected API failed', data);
    } else {
      setStatus(`Request failed (${status}): ${reasonOf(data)}`, 'error');
    }
  }

  async function login(event) {
    event.preventDefault();
    const username = els.username.value.trim();
    const password = els.password.value;
    await busy(els.loginButton, async () => {
      const { status, data } = await api('POST', '/api/login', { username, password });
      if (status === 200) {
        els.password.value = '';
        showLoggedIn(data);
        setStatus(`Logged in as ${data.userId}.`, 'ok');
      } else {
        setStatus(`Login failed: ${reasonOf(data)}`, 'error');
      }
    });
  }

  // A 503 from rotate or save: with `session`, the new session was stored (and its cookie set) but
  // the old ID could not be retired; without it, nothing changed.
  function rotationUnavailable(what, data) {
    if (data && data.session) {
      showLoggedIn(data.session);
      setStatus(`${what} incomplete: new session ID ${shortHandle(data.session.handle)} in use, but the old one could not be retired (503: ${reasonOf(data)}). Rotate again when the store is back.`, 'error');
    } else {
      unavailable(`${what} failed, nothing changed`, data);
    }
  }

  async function rotate() {
    await busy(els.btnRotate, async () => {
      const { status, data } = await api('POST', '/api/rotate');
      if (status === 200) {
        showLoggedIn(data);
        setStatus('Session ID rotated: the old cookie no longer works.', 'ok');
      } else if (status === 401) {
        rejectedBy(data);
      } else if (status === 503) {
        rotationUnavailable('Rotate', data);
      } else {
        setStatus(`Rotate failed (${status}): ${reasonOf(data)}`, 'error');
      }
    });
  }

  // Saves the preferences as the session's data: the server rotates the session to carry them.
  async function saveData(event) {
    event.preventDefault();
    const next = { theme: els.theme.value };
    const note = els.note.value.trim();
    if (note !== '') next.note = note;
    await busy(els.btnSaveData, async () => {
      const before = session && session.handle;
      const { status, data } = await api('POST', '/api/data', { data: next });
      if (status === 200) {
        showLoggedIn(data);
        setStatus(`Preferences saved. The session ID was rotated (handle ${shortHandle(before)} → ${shortHandle(data.handle)}): the old cookie no longer works.`, 'ok');
      } else if (status === 400) {
        setStatus(`Preferences not saved: ${reasonOf(data)} (session data is a JSON object of at most 1024 bytes).`, 'error');
      } else if (status === 401) {
        rejectedBy(data);
      } else if (status === 503) {
        rotationUnavailable('Saving preferences', data);
      } else {
        setStatus(`Saving preferences failed (${status}): ${reasonOf(data)}`, 'error');
      }
    });
  }

  async function logout() {
    await busy(els.btnLogout, async () => {
      const { status, data } = await api('POST', '/api/logout');
      if (status === 200) {
        showLoggedOut();
        setStatus('Logged out: the session was destroyed on the server.', 'info');
      } else if (status === 503) {
        // The server cleared this browser's cookie, but could not end the session in the store.
        showLoggedOut();
        setStatus(`Logout incomplete (503): ${reasonOf(data)}. This browser's cookie was deleted, but the server could not end the session; revoke it from another device when the store is back.`, 'error');
      } else {
        setStatus(`Logout failed (${status}): ${reasonOf(data)}`, 'error');
      }
    });
  }

  // Loads and shows the session list; true when it was shown.
  async function listSessions() {
    const { status, data } = await api('GET', '/api/sessions');
    if (status === 200) {
      renderSessions(data);
      setStatus(`You have ${data.length} active session${data.length === 1 ? '' : 's'}.`, 'ok');
      return true;
    }
    if (status === 401) {
      rejectedBy(data);
    } else if (status === 503) {
      unavailable('Listing sessions failed', data);
    } else {
      setStatus(`Listing sessions failed (${status}): ${reasonOf(data)}`, 'error');
    }
    return false;
  }

  async function revoke(handle) {
    const { status, data } = await api('DELETE', `/api/sessions/${encodeURIComponent(handle)}`);
    if (status === 200) {
      setStatus('Session revoked: that device is logged out.', 'ok');
      await listSessions();
      setStatus('Session revoked: that device is logged out.', 'ok');
    } else if (status === 401) {
      rejectedBy(data);
    } else if (status === 404) {
      setStatus('That session no longer exists.', 'error');
      await listSessions();
    } else if (status === 503) {
      unavailable('Revoking failed', data);
    } else {
      setStatus(`Revoking failed (${status}): ${reasonOf(data)}`, 'error');
    }
  }

  // "Log out other sessions": every other session of this user ends; this one stays. The list is
  // reloaded (it then shows this device only) and the status says how many were ended.
  async function revokeOthers() {
    await busy(els.btnRevokeOthers, async () => {
      const { status, data } = await api('POST', '/api/sessions/revoke-others');
      if (status === 200) {
        const n = data && Number.isSafeInteger(data.revoked) ? data.revoked : 0;
        const done = `Logged out ${n} other session${n === 1 ? '' : 's'}. Only this device is still logged in.`;
        // The status is set once the list shows the result (listSessions sets its own first).
        if (await listSessions()) setStatus(done, 'ok');
        else if (session) setStatus(`${done} The session list could not be refreshed.`, 'error');
      } else if (status === 401) {
        rejectedBy(data);
      } else if (status === 503) {
        unavailable('Logging out other sessions failed', data);
      } else {
        setStatus(`Logging out other sessions failed (${status}): ${reasonOf(data)}`, 'error');
      }
    });
  }

  els.loginForm.addEventListener('submit', login);
  els.dataForm.addEventListener('submit', saveData);
  els.btnMe.addEventListener('click', () => busy(els.btnMe, () => loadMe()));
  els.btnRotate.addEventListener('click', rotate);
  els.btnLogout.addEventListener('click', logout);
  els.btnSessions.addEventListener('click', () => busy(els.btnSessions, listSessions));
  els.btnRevokeOthers.addEventListener('click', revokeOthers);

  setInterval(tick, 1000);
  loadMe({ quiet: true });
})();
