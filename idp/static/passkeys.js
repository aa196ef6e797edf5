/*
 * Passkeys in the browser: create one, sign in with one (button or identifier autofill).
 *
 * No framework, no build step, no inline script (the CSP allows scripts from 'self' only).
 * The page works without this file: every passkey element is rendered with the `hidden`
 * attribute and only revealed here, once the browser is known to support WebAuthn.
 *
 * Markup it looks for (see docs/passkeys.md):
 *   <meta name="csrf-token" content="…">            (else the page's input[name=csrf_token])
 *   <button type="button" hidden data-passkey="signin"
 *           data-options-url="…" data-verify-url="…">Se connecter avec une clé d'accès</button>
 *   <input … autocomplete="username webauthn">        (turns on conditional mediation)
 *   <button type="button" hidden data-passkey="register"
 *           data-options-url="…" data-verify-url="…">Créer une clé d'accès</button>
 *   <p hidden data-passkey="info">…</p>              (any other element shown when supported)
 *   <p data-passkey-status role="alert" hidden></p>  (messages)
 *
 * It also sets the cookie `passkey_capable` (1 or 0): the server offers to create a
 * passkey after a sign-in only to browsers that said 1.
 *
 * Protocol: POST options-url (JSON body {}) → WebAuthn options as JSON (base64url fields).
 * POST verify-url with the credential as JSON → {"redirect": url} or {"message": text}
 * on success; a 4xx with {"error": code, "message": text} otherwise. Both POSTs carry the
 * CSRF token in the X-CSRFToken header (what Flask-WTF reads).
 */
(function () {
  "use strict";

  var conditional = null; // AbortController of the pending autofill request, if any

  function french() {
    return (document.documentElement.lang || "fr").toLowerCase().indexOf("en") !== 0;
  }

  var TEXT = {
    failed: [
      "La clé d'accès n'a pas pu être utilisée. Réessayez, ou connectez-vous avec votre mot de passe.",
      "The passkey could not be used. Try again, or sign in with your password."
    ],
    cancelled: ["Opération annulée.", "Cancelled."],
    exists: [
      "Cet appareil a déjà une clé d'accès pour votre compte.",
      "This device already has a passkey for your account."
    ]
  };

  function text(key) {
    return TEXT[key][french() ? 0 : 1];
  }

  function supported() {
    return typeof window.PublicKeyCredential === "function" &&
      !!navigator.credentials && typeof navigator.credentials.create === "function" &&
      typeof navigator.credentials.get === "function" && typeof window.fetch === "function";
  }

  // ----------------------------------------------------------------- base64url

  function fromB64url(value) {
    var b64 = value.replace(/-/g, "+").replace(/_/g, "/");
    while (b64.length % 4) { b64 += "="; }
    var raw = atob(b64);
    var bytes = new Uint8Array(raw.length);
    for (var i = 0; i < raw.length; i++) { bytes[i] = raw.charCodeAt(i); }
    return bytes.buffer;
  }

  function toB64url(buffer) {
    var bytes = new Uint8Array(buffer);
    var raw = "";
    for (var i = 0; i < bytes.length; i++) { raw += String.fromCharCode(bytes[i]); }
    return btoa(raw).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  function descriptors(list) {
    return (list || []).map(function (d) {
      var out = { type: d.type || "public-key", id: fromB64url(d.id) };
      if (d.transports) { out.transports = d.transports; }
      return out;
    });
  }

  function creationOptions(json) {
    var o = Object.assign({}, json);
    o.challenge = fromB64url(json.challenge);
    o.user = Object.assign({}, json.user, { id: fromB64url(json.user.id) });
    o.excludeCredentials = descriptors(json.excludeCredentials);
    return o;
  }

  function requestOptions(json) {
    var o = Object.assign({}, json);
    o.challenge = fromB64url(json.challenge);
    o.allowCredentials = descriptors(json.allowCredentials);
    return o;
  }

  // What every credential answer carries, plus its own ``response`` members.
  function credentialJSON(cred, response) {
    return {
      id: cred.id, rawId: toB64url(cred.rawId), type: cred.type,
      authenticatorAttachment: cred.authenticatorAttachment || null,
      clientExtensionResults: cred.getClientExtensionResults ? cred.getClientExtensionResults() : {},
      response: Object.assign({clientDataJSON: toB64url(cred.response.clientDataJSON)}, response)
    };
  }

  function registrationJSON(cred) {
    var r = cred.response;
    return credentialJSON(cred, {
      attestationObject: toB64url(r.attestationObject),
      transports: typeof r.getTransports === "function" ? r.getTransports() : []
    });
  }

  function assertionJSON(cred) {
    var r = cred.response;
    return credentialJSON(cred, {
      authenticatorData: toB64url(r.authenticatorData),
      signature: toB64url(r.signature),
      userHandle: r.userHandle ? toB64url(r.userHandle) : null
    });
  }

  // ----------------------------------------------------------------- server

  function csrfToken() {
    var meta = document.querySelector('meta[name="csrf-token"]');
    if (meta) { return meta.getAttribute("content"); }
    var input = document.querySelector('input[name="csrf_token"]');
    return input ? input.value : "";
  }

  function post(url, body) {
    return fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "Accept": "application/json",
                 "X-CSRFToken": csrfToken() },
      body: JSON.stringify(body || {})
    }).then(function (resp) {
      return resp.json().catch(function () { return {}; }).then(function (data) {
        if (!resp.ok) {
          var err = new Error(data.message || data.error || ("HTTP " + resp.status));
          err.server = data;
          throw err;
        }
        return data;
      });
    });
  }

  function say(message) {
    var box = document.querySelector("[data-passkey-status]");
    if (!box) { return; }
    box.textContent = message;
    box.hidden = !message;
  }

  function done(data) {
    if (data.redirect) {
      window.location.assign(data.redirect);
    } else {
      say(data.message || "");
    }
  }

  function explain(err) {
    if (err && err.name === "AbortError") { return; }
    if (err && err.name === "NotAllowedError") { say(text("cancelled")); return; }
    if (err && err.name === "InvalidStateError") { say(text("exists")); return; }
    var server = err && err.server;
    if (server && server.error === "fresh_proof_required" && server.redirect) {
      window.location.assign(server.redirect); // confirm identity, then come back
      return;
    }
    if (server && server.error === "unknown_credential" && server.credential_id &&
        typeof PublicKeyCredential.signalUnknownCredential === "function") {
      // The passkey was removed here: let the phone forget it too (best effort).
      PublicKeyCredential.signalUnknownCredential({
        rpId: server.rp_id, credentialId: server.credential_id
      }).catch(function () {});
    }
    say((server && server.message) || text("failed"));
  }

  // ----------------------------------------------------------------- ceremonies

  function register(button) {
    say("");
    stopConditional(); // one pending WebAuthn request at a time
    button.disabled = true;
    return post(button.dataset.optionsUrl)
      .then(function (json) {
        return navigator.credentials.create({ publicKey: creationOptions(json) });
      })
      .then(function (cred) { return post(button.dataset.verifyUrl, registrationJSON(cred)); })
      .then(done, explain)
      .then(function () { button.disabled = false; });
  }

  function authenticate(el) {
    return post(el.dataset.optionsUrl).then(function (json) {
      return navigator.credentials.get({ publicKey: requestOptions(json) });
    }).then(function (cred) {
      return post(el.dataset.verifyUrl, assertionJSON(cred));
    });
  }

  function stopConditional() {
    if (conditional) { conditional.abort(); conditional = null; }
  }

  // Autofill: one pending request, renewed before its challenge expires (the server's
  // challenges live about five minutes, the options' `timeout` says exactly).
  function startConditional(el) {
    stopConditional();
    var controller = new AbortController();
    conditional = controller;
    var renew = null;
    var picked = false;
    post(el.dataset.optionsUrl).then(function (json) {
      if (controller.signal.aborted) { return null; }
      renew = window.setTimeout(function () {
        if (conditional === controller) { startConditional(el); }
      }, Math.max((json.timeout || 300000) - 15000, 15000));
      return navigator.credentials.get({
        mediation: "conditional", publicKey: requestOptions(json), signal: controller.signal
      }).then(function (cred) {
        picked = true;
        window.clearTimeout(renew);
        return post(el.dataset.verifyUrl, assertionJSON(cred));
      }).then(done);
    }).catch(function (err) {
      window.clearTimeout(renew);
      if (err && err.name === "AbortError") { return; }
      // The autofill is silent until the customer picks a passkey: a browser declining
      // the background request must not replace the message of an earlier refusal.
      if (!picked) { return; }
      explain(err);
      // Offer autofill again after a refused passkey; not after a failure to get options
      // (that would loop on a server error).
      if (picked && conditional === controller) { startConditional(el); }
    });
  }

  function signIn(button) {
    say("");
    stopConditional(); // a browser allows one pending WebAuthn request at a time
    button.disabled = true;
    return authenticate(button).then(function (data) {
      button.disabled = false;
      done(data);
    }, function (err) {
      button.disabled = false;
      explain(err);
      maybeConditional(button); // autofill again, unless we are leaving the page
    });
  }

  function maybeConditional(el) {
    if (!document.querySelector('input[autocomplete~="webauthn"]')) { return; }
    if (typeof PublicKeyCredential.isConditionalMediationAvailable !== "function") { return; }
    PublicKeyCredential.isConditionalMediationAvailable().then(function (ok) {
      if (ok && !conditional && !el.disabled) { startConditional(el); }
    }).catch(function () {});
  }

  // Tell the server (a cookie, read only to decide whether to *offer* a passkey after a
  // sign-in) whether this browser can create one: WebAuthn plus a platform authenticator
  // (fingerprint, face, PIN) or a phone reachable by QR code (hybrid transport).
  function rememberCapability() {
    function set(value) {
      document.cookie = "passkey_capable=" + value + "; path=/; max-age=31536000; SameSite=Lax" +
        (window.location.protocol === "https:" ? "; Secure" : "");
    }
    if (!supported()) { set("0"); return; }
    var platform = typeof PublicKeyCredential.isUserVerifyingPlatformAuthenticatorAvailable === "function"
      ? PublicKeyCredential.isUserVerifyingPlatformAuthenticatorAvailable() : Promise.resolve(false);
    platform.then(function (yes) {
      if (yes || typeof PublicKeyCredential.getClientCapabilities !== "function") { return yes; }
      return PublicKeyCredential.getClientCapabilities().then(function (caps) {
        return !!(caps && (caps.passkeyPlatformAuthenticator || caps.hybridTransport));
      });
    }).then(function (yes) { set(yes ? "1" : "0"); }, function () { set("0"); });
  }

  function init() {
    rememberCapability();
    if (!supported()) { return; }
    document.documentElement.classList.add("passkeys");
    Array.prototype.forEach.call(document.querySelectorAll("[data-passkey]"), function (el) {
      el.hidden = false;
      var kind = el.getAttribute("data-passkey");
      if (kind === "register") {
        el.addEventListener("click", function (ev) { ev.preventDefault(); register(el); });
      } else if (kind === "signin") {
        el.addEventListener("click", function (ev) { ev.preventDefault(); signIn(el); });
      }
    });
    var signin = document.querySelector('[data-passkey="signin"]');
    if (signin) { maybeConditional(signin); }
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
}());
