/* Leadstream website snippet, v1. No dependencies, no build step; docs/website.md.
 * <script src="https://API/js/v1/leadstream.js" data-write-key="KEY" defer></script>
 * Shares analytics.js's anonymous id (cookie ajs_anonymous_id), sends page views, offers
 * leadstream.track / identify, fills [data-leadstream-slot] elements and shows pop-ups.
 * Sends nothing while the page says tracking was declined: data-consent="declined" on the script,
 * <meta name="leadstream-consent" content="declined">, or window.leadstreamConsent = "declined".
 * With data-consent="required" it also waits for a grant (window.leadstreamConsent = "granted", or
 * leadstream.consent(true)); events sent after a grant say so (context.consent.categoryPreferences). */
(function (w, d) {
  "use strict";
  if (w.leadstream && w.leadstream.loaded) return;
  var script = d.currentScript || d.querySelector('script[src*="/js/v1/leadstream.js"]');
  var attr = function (name) { return script ? script.getAttribute(name) : null; };
  var api = (attr("data-api") || (script ? new URL(script.src, d.baseURI).origin : "")).replace(/\/$/, "");
  var writeKey = attr("data-write-key");
  var COOKIE = "ajs_anonymous_id";
  var queue = (w.leadstream && w.leadstream.q) || [];
  var popupOpen = false;

  function says(value) {
    var meta = d.querySelector('meta[name="leadstream-consent"]');
    return attr("data-consent") === value || w.leadstreamConsent === value ||
      (meta && meta.getAttribute("content") === value);
  }

  function granted() { return !says("declined") && says("granted"); }

  function declined() { return says("declined") || (says("required") && !granted()); }

  function readCookie(name) {
    var parts = d.cookie ? d.cookie.split(/;\s*/) : [];
    for (var i = 0; i < parts.length; i++) {
      var at = parts[i].indexOf("=");
      if (parts[i].slice(0, at) === name) return decodeURIComponent(parts[i].slice(at + 1));
    }
    return null;
  }

  function unquote(value) {
    if (value && value.charAt(0) === '"') { try { return JSON.parse(value); } catch (e) { return null; } }
    return value;
  }

  function uuid() {
    if (w.crypto && w.crypto.randomUUID) return w.crypto.randomUUID();
    return "xxxxxxxx-xxxx-4xxx-yxxx-xxxxxxxxxxxx".replace(/[xy]/g, function (c) {
      var r = (Math.random() * 16) | 0;
      return (c === "x" ? r : (r & 3) | 8).toString(16);
    });
  }

  function anonymousId() {
    var stored = null;
    try { stored = unquote(w.localStorage.getItem(COOKIE)); } catch (e) { stored = null; }
    var id = unquote(readCookie(COOKIE)) || stored;
    if (!id) id = uuid();
    if (!declined()) {
      d.cookie = COOKIE + "=" + encodeURIComponent(id) + "; path=/; max-age=31536000; SameSite=Lax" +
        (location.protocol === "https:" ? "; Secure" : "");
    }
    return id;
  }

  function send(path, body, json) {
    return fetch(api + path, {
      method: "POST", credentials: "omit", keepalive: true,
      headers: { "Content-Type": json ? "application/json" : "text/plain" }, body: JSON.stringify(body)
    });
  }

  function context() {
    return { page: { url: location.href, path: location.pathname, search: location.search,
      title: d.title, referrer: d.referrer }, library: { name: "leadstream.js", version: "1" } };
  }

  function call(type, fields) {
    if (declined() || !writeKey) return Promise.resolve(false);
    var message = { type: type, writeKey: writeKey, anonymousId: anonymousId(), messageId: "ls-" + uuid(),
      timestamp: new Date().toISOString(), context: context() };
    for (var key in fields) if (Object.prototype.hasOwnProperty.call(fields, key)) message[key] = fields[key];
    if (granted()) message.context.consent = { categoryPreferences: { tracking: true } };
    return send("/v1/" + type, message, false).then(function (r) { return r.ok; });
  }

  function get(path) {
    return fetch(api + path, { credentials: "omit" }).then(function (r) { return r.ok ? r.json() : null; });
  }

  function fillSlots() {
    var slots = d.querySelectorAll("[data-leadstream-slot]:not([data-filled])");
    Array.prototype.forEach.call(slots, function (el) {
      var id = encodeURIComponent(el.getAttribute("data-leadstream-slot"));
      get("/w/slots/" + id + "?anonymousId=" + encodeURIComponent(anonymousId())).then(function (slot) {
        if (slot) { el.innerHTML = slot.html; el.setAttribute("data-variant", slot.variant || "default"); }
      });
    });
  }

  function fillForms() {
    var holders = d.querySelectorAll("[data-leadstream-form]:not([data-filled])");
    Array.prototype.forEach.call(holders, function (el) {
      var id = encodeURIComponent(el.getAttribute("data-leadstream-form"));
      get("/w/forms/" + id + "?anonymousId=" + encodeURIComponent(anonymousId())).then(function (reply) {
        if (!reply) return;
        el.innerHTML = reply.html;
        el.setAttribute("data-filled", "snippet");
        var form = el.querySelector("form");
        form.addEventListener("submit", function (event) { event.preventDefault(); submitForm(form, el); });
      });
    });
  }

  function popupEvent(popup, type) {
    return send("/w/popups/" + encodeURIComponent(popup.popupId) + "/events",
      { type: type, eventId: uuid(), anonymousId: anonymousId() }, true);
  }

  function showPopup(popup) {
    if (popupOpen || declined()) return;
    popupOpen = true;
    var box = d.createElement("div");
    box.className = "ls-popup";
    box.setAttribute("role", "dialog");
    box.setAttribute("data-popup", popup.popupId);
    box.style.cssText = "position:fixed;inset:0;background:rgba(0,0,0,.45);display:flex;align-items:center;" +
      "justify-content:center;z-index:2147483647";
    var inner = d.createElement("div");
    inner.style.cssText = "background:#fff;max-width:28rem;padding:1.5rem;border-radius:8px;position:relative";
    inner.innerHTML = popup.html;
    var close = d.createElement("button");
    close.type = "button";
    close.className = "ls-popup-close";
    close.setAttribute("aria-label", "Close");
    close.textContent = "\u00d7";
    close.style.cssText = "position:absolute;top:.3rem;right:.5rem;border:0;background:none;font-size:1.4rem";
    close.onclick = function () { box.remove(); popupOpen = false; };
    inner.appendChild(close);
    box.appendChild(inner);
    d.body.appendChild(box);
    popupEvent(popup, "impression");
    Array.prototype.forEach.call(inner.querySelectorAll("a"), function (a) {
      a.addEventListener("click", function () { popupEvent(popup, "click"); });
    });
    var form = inner.querySelector("form");
    if (form) form.addEventListener("submit", function (event) { event.preventDefault(); submitForm(form, inner); });
  }

  function submitForm(form, holder) {
    var values = { anonymousId: anonymousId(), page_url: location.href };
    Array.prototype.forEach.call(form.elements, function (el) {
      if (!el.name) return;
      if (el.type === "checkbox") { if (el.checked) values[el.name] = "on"; } else values[el.name] = el.value;
    });
    Array.prototype.forEach.call(form.querySelectorAll(".ls-field-error"), function (e) { e.remove(); });
    var action = form.getAttribute("action") || "";
    fetch(action.charAt(0) === "/" ? api + action : action, { method: "POST", credentials: "omit", headers: { "Content-Type": "application/json" },
      body: JSON.stringify(values) }).then(function (r) {
      return r.json().then(function (body) { return { status: r.status, body: body }; });
    }).then(function (reply) {
      if (reply.status === 200) {
        if (reply.body.redirectUrl) { location.href = reply.body.redirectUrl; return; }
        var done = d.createElement("p");
        done.className = "ls-thanks";
        done.textContent = reply.body.message || "Thank you!";
        form.replaceWith(done);
        return;
      }
      (reply.body.errors || []).forEach(function (error) {
        var field = form.querySelector('[name="' + String(error.field).replace(/["\\]/g, "") + '"]');
        var note = d.createElement("span");
        note.className = "ls-field-error";
        note.textContent = error.message;
        (field ? field.parentNode : form).appendChild(note);
      });
    });
  }

  function arm(popup) {
    var t = popup.trigger;
    if (t.kind === "time") { setTimeout(function () { showPopup(popup); }, (t.seconds || 0) * 1000); return; }
    if (t.kind === "url") { showPopup(popup); return; }
    if (t.kind === "scroll") {
      var onScroll = function () {
        var height = d.documentElement.scrollHeight - w.innerHeight;
        if (height <= 0 || (w.scrollY / height) * 100 >= t.percent) {
          w.removeEventListener("scroll", onScroll); showPopup(popup);
        }
      };
      w.addEventListener("scroll", onScroll, { passive: true });
      onScroll();
      return;
    }
    var onLeave = function (event) {
      if (event.clientY <= 0) { d.removeEventListener("mouseout", onLeave); showPopup(popup); }
    };
    d.addEventListener("mouseout", onLeave);
  }

  function loadPopups() {
    var query = "?url=" + encodeURIComponent(location.href) + "&anonymousId=" + encodeURIComponent(anonymousId());
    get("/w/popups" + query).then(function (reply) { if (reply) reply.popups.forEach(arm); });
  }

  var leadstream = {
    loaded: true,
    anonymousId: function () { return anonymousId(); },
    page: function (name, properties) { return call("page", { name: name, properties: properties || {} }); },
    track: function (event, properties) {
      var sent = call("track", { event: event, properties: properties || {} });
      var slug = location.pathname.match(/^\/p\/([a-z0-9-]+)$/);
      if (slug && !declined()) send("/w/pages/" + slug[1] + "/conversions", { event: event, anonymousId: anonymousId() }, true);
      return sent;
    },
    identify: function (userId, traits) { return call("identify", { userId: userId, traits: traits || {} }); },
    consent: function (given) {
      var first = declined() && given;
      w.leadstreamConsent = given ? "granted" : "declined";
      if (first) leadstream.start();
    },
    start: function () {
      if (declined() || leadstream.started) return;
      leadstream.started = true;
      if (attr("data-page-view") !== "off") leadstream.page(d.title);
      fillSlots();
      fillForms();
      loadPopups();
    }
  };
  w.leadstream = leadstream;
  queue.forEach(function (args) { leadstream[args[0]].apply(leadstream, args.slice(1)); });
  if (d.readyState === "loading") d.addEventListener("DOMContentLoaded", leadstream.start); else leadstream.start();
})(window, document);
