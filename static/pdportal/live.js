/* PD Portal live updates: one EventSource on /live/; invalidations make the page re-fetch and morph the partials
 * that show them, without ever taking away what the person typed, opened, ticked, or the result of their action.
 *
 * Page contract (README.md, "Live updates"): an element showing mirrored data carries
 *   data-live-topic="incident"            (space-separated topics: incident, service, user, webhook ...)
 *   data-live-ids="P123 P456"             (the PagerDuty ids it shows; absent or empty = any id of the topic)
 *   hx-get="<its partial URL>"            (or data-live-url); the page's query string is merged in
 * and a partial's root element keeps its id, so it can be found again after the swap.
 * Events whose name ends in created/triggered/deleted/reopened also refresh list elements (more than one id).
 *
 * The freshness marker (#live-status) believes only what it hears: the stream sends a named `heartbeat` event
 * every <body data-live-heartbeat> seconds; two missed ones and it says "stale since HH:MM:SS" (also when the
 * stream never connected), and the page re-fetches everything visible once the stream is back.
 * <time datetime data-age> elements show a compact age ("3h 37m") that ticks here every minute; <time datetime
 * data-ago> the `ago` filter's phrase ("in 12m", "3h 37m ago"), ticking the same way.
 */
(function () {
  "use strict";

  var body = document.body;
  if (!body) return;

  // -- ages: compact, ticking client-side (also on pages without live updates) --------------------------------------
  var TICK_MS = window.PD_AGE_TICK_MS || 60000;

  function compactAge(ms) {
    var minutes = Math.max(0, Math.floor(ms / 60000));
    if (minutes < 1) return "<1m";
    var days = Math.floor(minutes / 1440);
    var hours = Math.floor((minutes % 1440) / 60);
    var mins = minutes % 60;
    if (days) return days + "d" + (hours ? " " + hours + "h" : "");
    if (hours) return hours + "h" + (mins ? " " + mins + "m" : "");
    return mins + "m";
  }

  // The `ago` filter's phrase (pdportal_time.ago): "just now" within a minute, "in 12m" ahead, "3h 37m ago" past.
  function agoPhrase(ms) {
    if (Math.abs(ms) < 60000) return "just now";
    return ms < 0 ? "in " + compactAge(-ms) : compactAge(ms) + " ago";
  }

  function tickAges(root) {
    var now = Date.now();
    Array.prototype.forEach.call((root || document).querySelectorAll("time[data-age], time[data-ago]"), function (el) {
      var at = Date.parse(el.getAttribute("datetime"));
      if (isNaN(at)) return;
      var text = el.hasAttribute("data-ago") ? agoPhrase(now - at) : compactAge(now - at);
      if (el.textContent !== text) el.textContent = text;
    });
  }

  window.setInterval(tickAges, TICK_MS);
  tickAges();

  var url = body.getAttribute("data-live-url");
  if (!url || !window.EventSource) return;

  var statusEl = document.getElementById("live-status");
  var me = body.getAttribute("data-pd-user-id") || "";
  var notifyOn = body.getAttribute("data-notify-desktop") === "1";
  // Without webhooks the server follows PagerDuty's log on a timer: "live" says how fresh that is.
  var liveLabel = body.getAttribute("data-live-label") || "live";
  var HEARTBEAT_MS = (parseFloat(body.getAttribute("data-live-heartbeat")) || 15) * 1000;
  // Two missed heartbeats, plus a little for a busy machine, and the page no longer claims to be live.
  var SILENCE_MS = 2 * HEARTBEAT_MS + 500;
  var STALE_AFTER_MS = window.PD_LIVE_STALE_AFTER_MS || 10000;
  // Only gathers invalidations of the same moment into one re-fetch: a longer burst is bounded anyway, since an
  // element has one request in flight and at most one more queued ("dirty"). Each ms here is a ms of latency.
  var DEBOUNCE_MS = 5;
  var NOTIFY_EVENTS = /(triggered|escalated|reassigned|delegated|assigned|reopened)$/;
  var ANY_ID_EVENTS = /(created|triggered|deleted|resync|reopened)$/;

  var source = null; // at most one EventSource at a time
  var reconnectTimer = null; // at most one scheduled reconnect
  var attempt = 0; // bumped by every connect: a probe answering for an older attempt is ignored
  var attemptAt = Date.now();
  var off = false; // the server said live updates are off here (204): never reconnect
  var lastEventId = null;
  var connectedOnce = false;
  // The page was rendered from the mirror when it loaded: that is as fresh as it is known to be.
  var lastHeard = window.performance && performance.timeOrigin ? performance.timeOrigin : Date.now();
  var behind = false; // we went reconnecting/stale: everything visible is re-fetched once the stream is back
  var retryDelay = 1000;
  var staleTimer = null;
  var pending = {}; // element id -> true, flushed after DEBOUNCE_MS
  var flushTimer = null;
  var busy = {}; // element id -> "busy" | "dirty"
  var notified = {};

  // The person's own requests (htmx forms and buttons): while one is in flight no live swap happens, and a live
  // answer that was fetched before the person's request ended is thrown away and fetched again.
  var personBusy = 0;
  var actionGen = 0;
  var held = {}; // element id -> true: re-fetch once the person's requests have ended

  function pad(n) {
    return (n < 10 ? "0" : "") + n;
  }

  function clock(ms) {
    var d = new Date(ms);
    return pad(d.getHours()) + ":" + pad(d.getMinutes()) + ":" + pad(d.getSeconds());
  }

  function setStatus(state, text) {
    if (!statusEl) return;
    if (statusEl.getAttribute("data-state") === state && statusEl.textContent === text) return;
    statusEl.setAttribute("data-state", state);
    statusEl.textContent = text;
    statusEl.title =
      state === "live"
        ? liveLabel === "live"
          ? "Updates arrive as they happen"
          : "PagerDuty cannot send webhooks to this address: changes made in PagerDuty appear at its next log read"
        : state === "off"
          ? "This server does not push updates; reload the page to see changes"
          : "Updates are paused; the page will catch up";
  }

  function state() {
    return statusEl ? statusEl.getAttribute("data-state") : null;
  }

  function markStale() {
    if (off) return;
    behind = true;
    setStatus("stale", "stale since " + clock(lastHeard));
  }

  function markDown() {
    behind = true;
    if (state() !== "stale") setStatus("reconnecting", "reconnecting…");
    if (staleTimer === null) {
      staleTimer = window.setTimeout(function () {
        staleTimer = null;
        if (state() === "reconnecting") markStale();
      }, STALE_AFTER_MS);
    }
  }

  // Anything the stream says proves it is alive: the marker may say "live", and a page that fell behind catches up.
  function heard(event) {
    if (event && event.lastEventId) lastEventId = event.lastEventId;
    lastHeard = Date.now();
    if (!connectedOnce) return;
    if (staleTimer !== null) {
      window.clearTimeout(staleTimer);
      staleTimer = null;
    }
    setStatus("live", liveLabel);
    if (behind) {
      behind = false;
      refreshAll();
    }
  }

  // The watchdog: a frozen server keeps its socket open and says nothing; only silence tells.
  window.setInterval(function () {
    if (off) return;
    var now = Date.now();
    if (now - lastHeard <= SILENCE_MS) return;
    markStale();
    // An open stream that went silent is dead to us: start another (the frozen one may never close by itself).
    if (now - attemptAt > SILENCE_MS) connect();
  }, Math.min(1000, HEARTBEAT_MS / 4));

  function liveElements() {
    return Array.prototype.slice.call(document.querySelectorAll("[data-live-topic]"));
  }

  function words(value) {
    return (value || "").split(/[\s,]+/).filter(Boolean);
  }

  function partialUrl(el) {
    var raw = el.getAttribute("data-live-url") || el.getAttribute("hx-get");
    if (!raw) return null;
    var target = new URL(raw, window.location.href);
    var page = new URLSearchParams(window.location.search);
    page.forEach(function (value, key) {
      if (!target.searchParams.has(key)) target.searchParams.append(key, value);
    });
    return target.pathname + target.search;
  }

  // -- morphing that keeps the person's state ------------------------------------------------------------------------

  // A control the person changed: its live value differs from what the server rendered.
  function edited(el) {
    if (el instanceof HTMLInputElement) {
      if (el.type === "checkbox" || el.type === "radio") return el.checked !== el.defaultChecked;
      return el.value !== el.defaultValue;
    }
    if (el instanceof HTMLTextAreaElement) return el.value !== el.defaultValue;
    if (el instanceof HTMLOptionElement) return el.selected !== el.defaultSelected;
    if (el instanceof HTMLSelectElement) {
      return Array.prototype.some.call(el.options, function (o) {
        return o.selected !== o.defaultSelected;
      });
    }
    return false;
  }

  var KEEP = {
    beforeAttributeUpdated: function (name, el) {
      // Open/closed panels are the person's, as are the values they typed, picked or ticked.
      if (name === "open" && el instanceof HTMLDetailsElement) return false;
      // A select that picker.js replaced on screen stays hidden behind its picker.
      if (el.hasAttribute("data-picker-enhanced") && /^(hidden|tabindex|aria-hidden|data-picker-enhanced)$/.test(name)) {
        return false;
      }
      if (name === "value" || name === "checked" || name === "selected") {
        if (edited(el) || (el instanceof HTMLOptionElement && el.parentElement && edited(el.parentElement))) return false;
      }
      return true;
    },
    beforeNodeRemoved: function (node) {
      // A form error is the result of the person's action: it stays until their next action replaces it.
      if (node.nodeType === 1 && node.classList && node.classList.contains("errorlist")) return false;
      // A picker (picker.js) is built in the browser: what the person typed or opened in it stays.
      if (node.nodeType === 1 && node.classList && node.classList.contains("picker-ui")) return false;
      return true;
    },
  };

  function morph(el, html) {
    var scrollX = window.scrollX;
    var scrollY = window.scrollY;
    window.Idiomorph.morph(el, html, {
      morphStyle: (el.getAttribute("hx-swap") || "outerHTML").indexOf("inner") === 0 ? "innerHTML" : "outerHTML",
      ignoreActiveValue: true, // the focused field keeps its value, caret and selection
      restoreFocus: true,
      callbacks: KEEP,
    });
    // Layout can shift while nodes move: the person's place on the page is theirs too.
    if (window.scrollX !== scrollX || window.scrollY !== scrollY) window.scrollTo(scrollX, scrollY);
    var now = document.getElementById(el.id) || el;
    if (window.htmx) window.htmx.process(now);
    tickAges(now);
    now.dispatchEvent(new CustomEvent("pd:live-swapped", { bubbles: true }));
  }

  // -- the person's own answers --------------------------------------------------------------------------------------
  // An action's answer swaps the partials it changed out of band (a refusal from a stale page: every one). They are
  // morphed like a live refresh, so what the person typed anywhere else on the page survives the answer; a form
  // error may go (the new answer replaces it). The form they sent is emptied first when the action succeeded (what
  // it held was sent: nothing to send twice), and kept as typed when it failed (data-action-failed on the result).
  var OWN = { beforeAttributeUpdated: KEEP.beforeAttributeUpdated };

  function sentForm(detail) {
    var elt = (detail.requestConfig && detail.requestConfig.elt) || detail.elt;
    if (!elt || !elt.closest) return null;
    return elt.tagName === "FORM" ? elt : elt.closest("form");
  }

  document.addEventListener("htmx:beforeSwap", function (event) {
    var detail = event.detail || {};
    var xhr = detail.xhr;
    var form = sentForm(detail);
    if (!form || !xhr || xhr.status >= 400) return;
    if ((xhr.responseText || "").indexOf("data-action-failed") < 0) form.reset();
  });

  document.addEventListener("htmx:oobBeforeSwap", function (event) {
    var detail = event.detail || {};
    var target = detail.target;
    var next = detail.fragment && detail.fragment.firstElementChild;
    // The result message itself is replaced outright: it is the answer.
    if (!window.Idiomorph || !target || !next || !target.id || target.id === "incident-result") return;
    if (next.id !== target.id) return;
    detail.shouldSwap = false;
    var scrollX = window.scrollX;
    var scrollY = window.scrollY;
    window.Idiomorph.morph(target, next, {
      morphStyle: "outerHTML",
      ignoreActiveValue: true,
      restoreFocus: true,
      callbacks: OWN,
    });
    if (window.scrollX !== scrollX || window.scrollY !== scrollY) window.scrollTo(scrollX, scrollY);
    var now = document.getElementById(target.id) || target;
    if (window.htmx) window.htmx.process(now);
    tickAges(now);
  });

  function swapPlain(el, html) {
    // Without the morphing library: replace, as before (still never during the person's own request).
    var wrap = document.createElement("template");
    wrap.innerHTML = html.trim();
    var next = wrap.content.firstElementChild;
    if (!next) return;
    el.replaceWith(next);
    if (window.htmx) window.htmx.process(next);
    tickAges(next);
    next.dispatchEvent(new CustomEvent("pd:live-swapped", { bubbles: true }));
  }

  function refresh(el) {
    var id = el.id;
    if (!id) return;
    if (personBusy > 0) {
      held[id] = true;
      return;
    }
    if (busy[id]) {
      busy[id] = "dirty"; // one request per element at a time; the latest state is fetched once it returns
      return;
    }
    var target = partialUrl(el);
    if (!target) return;
    busy[id] = "busy";
    var gen = actionGen;
    body.dispatchEvent(new CustomEvent("pd:live-request", { detail: { id: id } }));
    var finish = function () {
      var again = busy[id] === "dirty";
      delete busy[id];
      var now = document.getElementById(id);
      if (again && now) refresh(now);
    };
    window
      .fetch(target, {
        credentials: "same-origin",
        headers: { "HX-Request": "true", "HX-Target": id, "HX-Current-URL": window.location.href },
      })
      .then(function (response) {
        // A redirect (signed out: the sign-in page) is not this element's partial: never morph it in.
        if (!response.ok || response.redirected) throw new Error("live re-fetch answered " + response.status);
        return response.text();
      })
      .then(
        function (html) {
          body.dispatchEvent(new CustomEvent("pd:live-response", { detail: { id: id } }));
          var now = document.getElementById(id);
          if (!now) return finish();
          if (personBusy > 0 || gen !== actionGen) {
            // The person acted while this was on its way: it may predate their result. Fetch again after.
            if (personBusy > 0) held[id] = true;
            else busy[id] = "dirty";
            return finish();
          }
          if (window.Idiomorph) morph(now, html);
          else swapPlain(now, html);
          finish();
        },
        function () {
          finish();
        }
      );
  }

  function releaseHeld() {
    if (personBusy > 0) return;
    var ids = Object.keys(held);
    held = {};
    ids.forEach(function (id) {
      var el = document.getElementById(id);
      if (el) schedule(el);
    });
  }

  // htmx:beforeSend fires just before the request leaves; the XHR's loadend after htmx has swapped its answer.
  document.addEventListener("htmx:beforeSend", function (event) {
    var xhr = event.detail && event.detail.xhr;
    if (!xhr) return;
    personBusy += 1;
    var ended = false;
    xhr.addEventListener("loadend", function () {
      if (ended) return;
      ended = true;
      // After htmx's own load handler (swap included) has run.
      window.setTimeout(function () {
        personBusy -= 1;
        actionGen += 1;
        releaseHeld();
      }, 0);
    });
  });

  function schedule(el) {
    if (!el.id) return;
    pending[el.id] = true;
    if (flushTimer === null) {
      flushTimer = window.setTimeout(function () {
        flushTimer = null;
        var ids = Object.keys(pending);
        pending = {};
        ids.forEach(function (id) {
          var el2 = document.getElementById(id);
          if (el2) refresh(el2);
        });
      }, DEBOUNCE_MS);
    }
  }

  function refreshAll() {
    liveElements().forEach(schedule);
  }

  function matches(el, message) {
    var topics = words(el.getAttribute("data-live-topic"));
    var related = message.related || {};
    var candidates = [[message.topic, message.ids || []]];
    Object.keys(related).forEach(function (topic) {
      candidates.push([topic, related[topic] || []]);
    });
    var shown = words(el.getAttribute("data-live-ids"));
    for (var i = 0; i < candidates.length; i++) {
      var topic = candidates[i][0];
      var ids = candidates[i][1];
      if (topics.indexOf(topic) === -1) continue;
      if (!shown.length || !ids.length) return true;
      // A new object may belong in a list (several ids shown), never in another object's page (one id).
      if (shown.length > 1 && ANY_ID_EVENTS.test(message.event || "")) return true;
      for (var j = 0; j < ids.length; j++) {
        if (shown.indexOf(ids[j]) !== -1) return true;
      }
    }
    return false;
  }

  // -- notifications ----------------------------------------------------------------------------------------------

  // Browsers start audio only after a gesture: the first click unlocks one shared context.
  var audio = null;

  function audioContext() {
    var Ctx = window.AudioContext || window.webkitAudioContext;
    if (!audio && Ctx) audio = new Ctx();
    return audio;
  }

  function beep() {
    try {
      var ctx = audioContext();
      if (!ctx) return;
      if (ctx.state === "suspended") ctx.resume();
      var osc = ctx.createOscillator();
      var gain = ctx.createGain();
      osc.frequency.value = 880;
      gain.gain.value = 0.08;
      osc.connect(gain);
      gain.connect(ctx.destination);
      osc.start();
      osc.stop(ctx.currentTime + 0.25);
    } catch (e) {
      /* sound is a courtesy */
    }
  }

  function showNotification(incidentId, what, summary) {
    // The bus carries ids only: the words come from the incident's own page data, read with this person's rights.
    var title = "#" + summary.number + " " + what;
    if (summary.service) title += " · " + summary.service;
    if (summary.urgency) title += " · " + summary.urgency;
    var note = new Notification(title, {
      body: summary.title || "",
      tag: "pdportal-" + incidentId, // one notification per incident, even with several tabs open
    });
    note.onclick = function () {
      window.focus();
      if (note.close) note.close();
      window.location.href = summary.url || "/incidents/" + encodeURIComponent(incidentId) + "/";
    };
  }

  function maybeNotify(message) {
    if (!notifyOn || !me || message.topic !== "incident") return;
    if ((message.assignees || []).indexOf(me) === -1 || !NOTIFY_EVENTS.test(message.event || "")) return;
    var key = (message.ids || []).join(",") + "|" + message.event;
    var now = Date.now();
    if (notified[key] && now - notified[key] < 60000) return;
    Object.keys(notified).forEach(function (old) {
      if (now - notified[old] >= 60000) delete notified[old]; // a wallboard stays open for days
    });
    notified[key] = now;
    body.dispatchEvent(new CustomEvent("pd:notify", { detail: message }));
    beep();
    if (!("Notification" in window) || Notification.permission !== "granted") return;
    var what = (message.event || "").replace(/^incident\./, "").replace(/_/g, " ");
    var incidentId = (message.ids || [])[0] || "";
    if (!incidentId) return;
    window
      .fetch("/incidents/" + encodeURIComponent(incidentId) + "/summary/", {
        credentials: "same-origin",
        headers: { Accept: "application/json" },
      })
      .then(function (response) {
        if (!response.ok) throw new Error("summary answered " + response.status);
        return response.json();
      })
      .then(
        function (summary) {
          showNotification(incidentId, what, summary);
        },
        function () {
          /* not visible to this person, or gone: no notification */
        }
      );
  }

  function onInvalidate(event) {
    heard(event);
    var message;
    try {
      message = JSON.parse(event.data);
    } catch (e) {
      return;
    }
    if (message.event === "resync") {
      liveElements()
        .filter(function (el) {
          return words(el.getAttribute("data-live-topic")).indexOf(message.topic) !== -1;
        })
        .forEach(schedule);
    } else {
      liveElements()
        .filter(function (el) {
          return matches(el, message);
        })
        .forEach(schedule);
    }
    maybeNotify(message);
  }

  // -- the connection ---------------------------------------------------------------------------------------------

  function cancelReconnect() {
    if (reconnectTimer !== null) {
      window.clearTimeout(reconnectTimer);
      reconnectTimer = null;
    }
  }

  function scheduleReconnect() {
    cancelReconnect();
    reconnectTimer = window.setTimeout(function () {
      reconnectTimer = null;
      connect();
    }, retryDelay);
    retryDelay = Math.min(retryDelay * 2, 30000);
  }

  function turnOff() {
    off = true;
    cancelReconnect();
    if (staleTimer !== null) {
      window.clearTimeout(staleTimer);
      staleTimer = null;
    }
    if (source !== null) source.close();
    source = null;
    setStatus("off", "live updates off");
  }

  // EventSource hides the status code, and a 204 (the server's "live updates are off here", e.g. under WSGI)
  // closes it just like a crash or a 5xx. One GET per backoff step tells them apart: 204 means stop for good;
  // anything else (or no answer) means try again later. The probe is dropped as soon as its headers arrive.
  function probeThenReconnect() {
    var mine = attempt;
    if (!window.fetch) {
      scheduleReconnect();
      return;
    }
    var controller = window.AbortController ? new AbortController() : null;
    window
      .fetch(url, {
        credentials: "same-origin",
        cache: "no-store",
        headers: { Accept: "text/event-stream" },
        signal: controller ? controller.signal : undefined,
      })
      .then(
        function (response) {
          if (controller) controller.abort();
          if (mine !== attempt || off) return;
          if (response.status === 204) turnOff();
          else scheduleReconnect();
        },
        function () {
          if (mine !== attempt || off) return;
          scheduleReconnect();
        }
      );
  }

  function connect() {
    cancelReconnect();
    if (off) return;
    if (source !== null) source.close();
    attempt += 1;
    attemptAt = Date.now();
    var target = url;
    if (lastEventId) target += (url.indexOf("?") === -1 ? "?" : "&") + "last_event_id=" + encodeURIComponent(lastEventId);
    var mine = new EventSource(target);
    source = mine;
    mine.addEventListener("ready", function (event) {
      if (mine !== source) return;
      // A reconnect re-fetches what is visible (DESIGN rule 4), whatever the replay carried.
      if (connectedOnce) behind = true;
      connectedOnce = true;
      retryDelay = 1000;
      heard(event);
    });
    mine.addEventListener("open", function () {
      // Stay "reconnecting" until the stream says ready: the server may still refuse (sign-in, Redis down).
      if (!connectedOnce && state() === "connecting") setStatus("connecting", "connecting…");
    });
    mine.addEventListener("heartbeat", function (event) {
      if (mine === source) heard(event);
    });
    mine.addEventListener("invalidate", function (event) {
      if (mine === source) onInvalidate(event);
    });
    mine.addEventListener("resync", function (event) {
      if (mine !== source) return;
      connectedOnce = true;
      behind = true; // re-fetch everything: the gap could not be replayed
      heard(event);
    });
    mine.onerror = function () {
      if (mine !== source) return; // a replaced connection: already closed
      markDown();
      if (mine.readyState === EventSource.CLOSED) {
        // The browser gave up (server restarting, 5xx, signed out, or 204): find out which, then retry or stop.
        source = null;
        probeThenReconnect();
      }
    };
  }

  if (notifyOn) {
    // Browsers only grant permission and start audio from a gesture: do both on the first click.
    document.addEventListener(
      "click",
      function () {
        try {
          var ctx = audioContext();
          if (ctx && ctx.state === "suspended") ctx.resume();
        } catch (e) {
          /* no audio */
        }
        if ("Notification" in window && Notification.permission === "default") Notification.requestPermission();
      },
      { once: true }
    );
  }

  document.addEventListener("visibilitychange", function () {
    // Back in view while a reconnect waits: connect now (connect() cancels the timer, so still only one).
    if (document.visibilityState === "visible" && source === null && !off) connect();
  });

  window.pdLive = {
    refreshAll: refreshAll,
    state: state,
    lastEventId: function () {
      return lastEventId;
    },
  };

  connect();
})();
