// The page script for passkeys, served as /login/static/passkeys.js (scripts come from this origin only; no inline
// script anywhere). It needs @simplewebauthn/browser's bundle (/login/static/webauthn.js) loaded before it. Pages
// mark what it drives with data attributes; without JavaScript or WebAuthn those parts stay hidden.
export const PASSKEYS_SCRIPT_PATH = '/login/static/passkeys.js';
export const WEBAUTHN_SCRIPT_PATH = '/login/static/webauthn.js';

export const PASSKEYS_SCRIPT = `'use strict';
(() => {
  const W = window.SimpleWebAuthnBrowser;
  if (!W || !W.browserSupportsWebAuthn()) return;
  for (const el of document.querySelectorAll('[data-passkey]')) el.hidden = false;
  const status = document.getElementById('passkey-status');
  const say = (text) => {
    if (!status) return;
    status.textContent = text;
    status.hidden = text === '';
  };
  const post = async (url, body) => {
    const res = await fetch(url, {
      method: 'POST',
      credentials: 'same-origin',
      headers: { 'Content-Type': 'application/json', Accept: 'application/json' },
      body: JSON.stringify(body ?? {}),
    });
    let data = {};
    try {
      data = await res.json();
    } catch {}
    return { ok: res.ok, data };
  };
  // A refusal may say where to go instead (a change to the account that needs a fresh sign-in first).
  const go = (result, fallback) => {
    if (result.ok) window.location.assign(result.data.redirect || fallback);
    else if (result.data.redirect) window.location.assign(result.data.redirect);
    else say(result.data.error || 'That did not work. Please try again.');
  };

  // Sign in: the button, and passkeys offered in the email field's autofill where the browser can.
  const login = document.querySelector('[data-passkey-login]');
  if (login) {
    const rd = login.getAttribute('data-rd') || undefined;
    const signIn = async (autofill) => {
      const options = await post('/login/passkey/options');
      if (!options.ok) {
        if (!autofill) say(options.data.error || 'Passkeys are not available right now.');
        return;
      }
      let response;
      try {
        response = await W.startAuthentication({ optionsJSON: options.data, useBrowserAutofill: autofill });
      } catch (err) {
        if (!autofill && err && err.name !== 'AbortError') say('No passkey was used.');
        return;
      }
      go(await post('/login/passkey/verify', { response, rd }), '/');
    };
    login.addEventListener('click', () => void signIn(false));
    W.browserSupportsWebAuthnAutofill().then((yes) => {
      if (yes) void signIn(true);
    });
  }

  // Create a passkey: on the account page (a form with a name) or from an invite link (a button).
  const create = async (optionsUrl, verifyUrl, extra, fallback) => {
    say('');
    const options = await post(optionsUrl);
    if (!options.ok && options.data.redirect) return go(options);
    if (!options.ok) return say(options.data.error || 'Passkeys are not available right now.');
    let response;
    try {
      response = await W.startRegistration({ optionsJSON: options.data });
    } catch (err) {
      return say(err && err.name === 'InvalidStateError' ? 'This authenticator already holds a passkey for this account.' : 'No passkey was created.');
    }
    go(await post(verifyUrl, { response, ...extra }), fallback);
  };
  const register = document.querySelector('form[data-passkey-register]');
  if (register) {
    register.addEventListener('submit', (event) => {
      event.preventDefault();
      const name = register.querySelector('input[name="name"]');
      void create('/login/account/passkeys/options', '/login/account/passkeys', { name: name ? name.value : '' }, '/login/account');
    });
  }
  const enroll = document.querySelector('[data-passkey-enroll]');
  if (enroll) {
    enroll.addEventListener('click', () => {
      const rd = enroll.getAttribute('data-rd') || undefined;
      void create(enroll.getAttribute('data-options'), enroll.getAttribute('data-verify'), { rd }, '/');
    });
  }
})();
`;
