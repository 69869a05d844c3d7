/* PD Portal live updates: one EventSource on /live/; invalidations make htmx re-fetch the partials that show them.
 *
 * Page contract (PORTAL.md): an element showing mirrored data carries
 *   data-live-topic="incident"            (space-separated topics: incident, service, user, webhook ...)
 *   data-live-ids="P123 P456"             (the PagerDuty ids it shows; absent or empty = any id of the topic)
 *   hx-get="<its partial URL>"            (or data-live-url); the page's query string is merged in
 * and a partial's root element keeps its id, so it can be found again after the swap.
 * Events whose name ends in created/triggered/deleted/reopened also refresh list elements (more than one id).
 */
(function () {
  "use strict";

  var body = document.body;
  var url = body && body.getAttribute("data-live-url");
  if (!url || !window.EventSource) return;

  var statusEl = document.getElementById("live-status");
  var me = body.getAttribute("data-pd-user-id") || "";
  var notifyOn = body.getAttribute("data-notify-desktop") === "1";
  // Without webhooks the server follows PagerDuty's log on a timer: "live" says how fresh that is.
  var liveLabel = body.getAttribute("data-live-label") || "live";
  var STALE_AFTER_MS = window.PD_LIVE_STALE_AFTER_MS || 10000;
  // Only gathers invalidations of the same moment into one re-fetch: a longer burst is bounded anyway, since an
  // element has one request in flight and at most one more queued ("dirty"). Each ms here is a ms of latency.
  var DEBOUNCE_MS = 5;
  var NOTIFY_EVENTS = /(triggered|escalated|reassigned|delegated|assigned|reopened)$/;
  var ANY_ID_EVENTS = /(created|triggered|deleted|resync|reopened)$/;

  var source = null; // at most one EventSource at a time
  var reconnectTimer = null; // at most one scheduled reconnect
  var attempt = 0; // bumped by every connect: a probe answering for an older attempt is ignored
  var off = false; // the server said live updates are off here (204): never reconnect
  var lastEventId = null;
  var connectedOnce = false;
  var downSince = null;
  var retryDelay = 1000;
  var staleTimer = null;
  var pending = {}; // element id -> true, flushed after DEBOUNCE_MS
  var flushTimer = null;
  var busy = {}; // element id -> "busy" | "dirty"
  var notified = {};

  function pad(n) {
    return (n < 10 ? "0" : "") + n;
  }

  function setStatus(state, text) {
    if (!statusEl) return;
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

  function markDown() {
    if (downSince === null) downSince = new Date();
    setStatus("reconnecting", "reconnecting…");
    if (staleTimer === null) {
      staleTimer = window.setTimeout(function () {
        staleTimer = null;
        if (downSince !== null) {
          setStatus(
            "stale",
            "stale since " + pad(downSince.getHours()) + ":" + pad(downSince.getMinutes()) + ":" + pad(downSince.getSeconds())
          );
        }
      }, STALE_AFTER_MS);
    }
  }

  function markLive() {
    downSince = null;
    if (staleTimer !== null) {
      window.clearTimeout(staleTimer);
      staleTimer = null;
    }
    setStatus("live", liveLabel);
  }

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

  function editing(el) {
    var active = document.activeElement;
    return (
      active &&
      el.contains(active) &&
      /^(INPUT|TEXTAREA|SELECT)$/.test(active.tagName) &&
      active.type !== "checkbox" &&
      active.type !== "submit"
    );
  }

  // Ticked checkboxes (e.g. rows selected for a bulk action) survive a live refresh of their partial.
  function ticked(el) {
    return Array.prototype.map.call(el.querySelectorAll("input[type=checkbox]:checked"), function (box) {
      return box.name + "=" + box.value;
    });
  }

  function retick(id, keep) {
    var now = document.getElementById(id);
    if (!now || !keep.length) return;
    Array.prototype.forEach.call(now.querySelectorAll("input[type=checkbox]"), function (box) {
      if (keep.indexOf(box.name + "=" + box.value) !== -1 && !box.checked) {
        box.checked = true;
        box.dispatchEvent(new Event("change", { bubbles: true }));
      }
    });
  }

  function refresh(el) {
    var id = el.id;
    if (!id) return;
    if (busy[id]) {
      busy[id] = "dirty"; // one request per element at a time; the latest state is fetched once it returns
      return;
    }
    if (editing(el)) {
      // Never swap a form out from under someone typing: refresh once they leave it.
      el.addEventListener(
        "focusout",
        function () {
          window.setTimeout(function () {
            var now = document.getElementById(id);
            if (now) schedule(now);
          }, 0);
        },
        { once: true }
      );
      return;
    }
    var target = partialUrl(el);
    if (!target || !window.htmx) return;
    var keep = ticked(el);
    busy[id] = "busy";
    var done = function () {
      retick(id, keep);
      var again = busy[id] === "dirty";
      delete busy[id];
      var now = document.getElementById(id);
      if (again && now) refresh(now);
    };
    window.htmx
      .ajax("GET", target, { source: el, target: "#" + id, swap: el.getAttribute("hx-swap") || "outerHTML" })
      .then(done, done);
  }

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
    var note = new Notification("Incident " + what, {
      body: "An incident assigned to you was " + what + ". Open PD Portal to respond.",
      tag: "pdportal-" + incidentId, // one notification per incident, even with several tabs open
    });
    note.onclick = function () {
      window.focus();
      if (incidentId) window.location.href = "/incidents/" + encodeURIComponent(incidentId) + "/";
    };
  }

  function onInvalidate(event) {
    if (event.lastEventId) lastEventId = event.lastEventId;
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
    downSince = null;
    if (staleTimer !== null) {
      window.clearTimeout(staleTimer);
      staleTimer = null;
    }
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
    var target = url;
    if (lastEventId) target += (url.indexOf("?") === -1 ? "?" : "&") + "last_event_id=" + encodeURIComponent(lastEventId);
    var mine = new EventSource(target);
    source = mine;
    mine.addEventListener("ready", function (event) {
      if (event.lastEventId) lastEventId = event.lastEventId;
      var wasDown = connectedOnce && downSince !== null;
      connectedOnce = true;
      retryDelay = 1000;
      markLive();
      // A reconnect re-fetches what is visible (DESIGN rule 4), whatever the replay carried.
      if (wasDown) refreshAll();
    });
    mine.addEventListener("open", function () {
      // Stay "reconnecting" until the stream says ready: the server may still refuse (sign-in, Redis down).
      if (!connectedOnce) setStatus("connecting", "connecting…");
    });
    mine.addEventListener("invalidate", onInvalidate);
    mine.addEventListener("resync", function (event) {
      if (event.lastEventId) lastEventId = event.lastEventId;
      markLive();
      refreshAll();
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
    state: function () {
      return statusEl ? statusEl.getAttribute("data-state") : null;
    },
    lastEventId: function () {
      return lastEventId;
    },
  };

  connect();
})();
