/* Keyboard triage on the incident list and the incident page.
 *
 * List: j/k move a visible cursor (focus lands on the row's title link), x selects the row, Enter opens it.
 * a acknowledges, r resolves (after a confirmation dialog), e escalates (asks the level), s snoozes (asks how long),
 * n adds a note (a note box): on the ticked rows when some are ticked (a, r, e, through the bulk endpoint), else on
 * the cursor's row (through the incident's own action endpoint). On the incident page a/r/e/s/n act on it.
 * "/" focuses the search, "?" shows the keys. No key fires while typing in a field, with a dialog open, or with
 * Ctrl, Alt or Meta held (Shift only for "?"). Every request goes through htmx, so live.js holds its live swaps
 * during it, as it does for a click.
 */
(function () {
  "use strict";

  var SNOOZES = [
    ["3600", "1 hour"],
    ["14400", "4 hours"],
    ["28800", "8 hours"],
    ["86400", "24 hours"],
  ];
  var KEYS = [
    ["j / k", "Next / previous incident"],
    ["x", "Select the incident (for a, r, e on several)"],
    ["Enter", "Open the incident"],
    ["a", "Acknowledge"],
    ["r", "Resolve (asks first)"],
    ["e", "Escalate (asks the level)"],
    ["s", "Snooze (asks how long)"],
    ["n", "Add a note"],
    ["/", "Search (#185 opens incident 185)"],
    ["?", "These keys"],
    ["Esc", "Close a dialog"],
  ];

  var cursorId = null; // the PagerDuty id of the list row under the cursor
  var cursorIndex = -1; // its place in the list, for when the row leaves it (acknowledged out of a triggered list)
  var dialogOpen = false;

  function $(selector, root) {
    return (root || document).querySelector(selector);
  }

  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (name) {
      if (name === "text") node.textContent = attrs[name];
      else node.setAttribute(name, attrs[name]);
    });
    (children || []).forEach(function (child) {
      if (child) node.appendChild(typeof child === "string" ? document.createTextNode(child) : child);
    });
    return node;
  }

  function table() {
    return document.getElementById("incident-table");
  }

  function header() {
    return document.getElementById("incident-header");
  }

  // -- messages: the list and the incident page both have #incident-result ----------------------------------------

  function say(text, kind) {
    var box = document.getElementById("incident-result");
    if (!box) return;
    box.replaceChildren(
      el("p", { class: "message " + (kind || "info"), role: kind === "error" ? "alert" : "status" }, [
        text + " ",
        el("button", { type: "button", class: "link dismiss", "aria-label": "Dismiss", text: "Dismiss" }),
      ])
    );
  }

  // -- the list's cursor ---------------------------------------------------------------------------------------------

  function rows() {
    var t = table();
    return t ? Array.prototype.slice.call(t.querySelectorAll("tbody tr[data-incident]")) : [];
  }

  function cursorRow() {
    return cursorId ? document.getElementById("incident-row-" + cursorId) : null;
  }

  function rowFacts(row) {
    var status = $("td.col-status span", row);
    var number = $("td.col-num a", row);
    var title = $("td.col-title a", row);
    return {
      id: row.getAttribute("data-incident"),
      status: status ? status.textContent.trim() : "",
      number: number ? "#" + number.textContent.trim().replace(/^#/, "") : "",
      title: title ? title.textContent.trim() : "",
      link: title || number,
    };
  }

  function paintCursor(focus) {
    rows().forEach(function (row) {
      var on = row.getAttribute("data-incident") === cursorId;
      row.classList.toggle("is-cursor", on);
      if (on) row.setAttribute("aria-current", "true");
      else row.removeAttribute("aria-current");
    });
    var row = cursorRow();
    if (row) cursorIndex = rows().indexOf(row);
    if (row && focus) {
      var link = rowFacts(row).link;
      if (link) link.focus();
      row.scrollIntoView({ block: "nearest" });
    }
  }

  function move(step) {
    var all = rows();
    if (!all.length) return;
    var at = all.indexOf(cursorRow());
    var next = at === -1 ? (step > 0 ? 0 : all.length - 1) : Math.min(Math.max(at + step, 0), all.length - 1);
    cursorId = all[next].getAttribute("data-incident");
    paintCursor(true);
  }

  // A live refresh or the person's own action re-renders the rows: the cursor stays on its incident, or, when that
  // incident left the list, on the row that took its place.
  function repaint() {
    if (!cursorId) return;
    if (!cursorRow()) {
      var all = rows();
      if (!all.length) {
        cursorId = null;
        return;
      }
      cursorId = all[Math.min(cursorIndex, all.length - 1)].getAttribute("data-incident");
    }
    var lost = document.activeElement === document.body || document.activeElement === null;
    paintCursor(lost);
  }
  document.addEventListener("pd:live-swapped", repaint);
  document.addEventListener("htmx:afterSettle", repaint);

  // Clicking or tabbing into a row puts the cursor there, so the keys act on what the person is looking at.
  document.addEventListener("focusin", function (event) {
    var row = event.target instanceof Element ? event.target.closest("#incident-table tbody tr[data-incident]") : null;
    if (row && row.getAttribute("data-incident") !== cursorId) {
      cursorId = row.getAttribute("data-incident");
      paintCursor(false);
    }
  });

  function selectedIds() {
    var t = table();
    if (!t) return [];
    return Array.prototype.map.call(t.querySelectorAll("input.row-select:checked"), function (box) {
      return box.value;
    });
  }

  // -- dialogs (the design system's <dialog>; focus goes in, and back where it was) --------------------------------

  var dialogCount = 0;

  function openDialog(opts) {
    dialogCount += 1;
    var titleId = "triage-dialog-title-" + dialogCount;
    var back = document.activeElement;
    var form = el("form", { method: "dialog", class: "dialog-form" });
    var submit = opts.submit
      ? el("button", { type: "submit", value: "ok", id: "triage-dialog-ok", class: opts.danger ? "danger" : "", text: opts.submit })
      : null;
    var cancel = el("button", { type: "button", class: "button-secondary", id: "triage-dialog-cancel", text: opts.submit ? "Cancel" : "Close" });
    form.appendChild(el("h2", { id: titleId, text: opts.title }));
    (opts.body || []).forEach(function (node) {
      form.appendChild(node);
    });
    form.appendChild(el("div", { class: "actions dialog-actions" }, [submit, cancel]));
    var dialog = el("dialog", { class: "triage-dialog", id: "triage-dialog", "aria-labelledby": titleId }, [form]);
    cancel.addEventListener("click", function () {
      dialog.close("cancel");
    });
    // Ctrl/Cmd+Enter in a note sends it (plain Enter is a new line).
    form.addEventListener("keydown", function (event) {
      if (event.key === "Enter" && (event.ctrlKey || event.metaKey) && submit) {
        event.preventDefault();
        form.requestSubmit(submit);
      }
    });
    document.body.appendChild(dialog);
    dialogOpen = true;
    dialog.showModal();
    var first = dialog.querySelector("textarea, select, input:checked, input");
    (first || submit || cancel).focus();
    return new Promise(function (resolve) {
      dialog.addEventListener("close", function () {
        var data = dialog.returnValue === "ok" ? new FormData(form) : null;
        dialog.remove();
        dialogOpen = false;
        if (back && document.contains(back)) back.focus();
        else paintCursor(true);
        resolve(data);
      });
    });
  }

  function showKeys() {
    var list = el("dl", { class: "keys" });
    KEYS.forEach(function (pair) {
      list.appendChild(el("dt", {}, [el("kbd", { text: pair[0] })]));
      list.appendChild(el("dd", { text: pair[1] }));
    });
    var note = el("p", {
      class: "hint",
      text: "Keys do nothing while you type in a field, or with Ctrl, Alt or Cmd held.",
    });
    openDialog({ title: "Keyboard shortcuts", body: [list, note] });
  }

  // -- what the keys act on ----------------------------------------------------------------------------------------

  // The incident(s) an action applies to: {ids: [...]} (ticked rows on the list) or {one: facts}.
  function targets(action) {
    var h = header();
    if (h) {
      return {
        one: {
          id: h.getAttribute("data-incident"),
          status: h.getAttribute("data-status"),
          number: "#" + h.getAttribute("data-number"),
        },
      };
    }
    var ids = selectedIds();
    if (ids.length && action !== "snooze" && action !== "note") return { ids: ids };
    var row = cursorRow();
    if (!row) {
      say("Move to an incident first: j and k go down and up the list.", "info");
      return null;
    }
    return { one: rowFacts(row) };
  }

  function label(target) {
    return target.one ? target.one.number : target.ids.length + " selected incidents";
  }

  function canAct() {
    return !!(header() ? $(".quick-actions", header()) || $("#incident-notes form") : $("#bulk-form .bulk-bar"));
  }

  function csrfSource() {
    // The body carries the CSRF header (hx-headers); an element outside any form adds no other values.
    return header() || table() || document.body;
  }

  function afterRequest(promise) {
    return promise.then(function () {
      // Without the live stream (or before it speaks) the list shows what the action did.
      if (!header() && window.pdLive) window.pdLive.refreshAll();
    });
  }

  function send(target, action, values) {
    if (!window.htmx) return;
    if (target.ids) {
      var form = $("#bulk-form");
      var query = form ? $("input[name=query]", form) : null;
      return afterRequest(
        window.htmx.ajax("POST", form.getAttribute("action"), {
          source: csrfSource(),
          target: "#incident-table",
          swap: "outerHTML",
          values: Object.assign({ action: action, ids: target.ids, query: query ? query.value : "" }, values || {}),
        })
      );
    }
    var url = "/incidents/" + encodeURIComponent(target.one.id) + "/" + action + "/";
    return afterRequest(
      window.htmx.ajax("POST", url, {
        source: csrfSource(),
        swap: "none",
        values: Object.assign({ expected_status: target.one.status }, values || {}),
      })
    );
  }

  function levels() {
    var select = $("#incident-actions select[name=level]");
    if (select) {
      return Array.prototype.map.call(select.options, function (o) {
        return o.value;
      });
    }
    return ["1", "2", "3", "4", "5"];
  }

  var ACTIONS = {
    a: function (target) {
      send(target, "acknowledge");
    },
    r: function (target) {
      var body = [el("p", { text: target.one ? target.one.title || "" : "Each one is resolved in PagerDuty." })];
      if (target.one) {
        body.push(
          el("label", { for: "triage-resolution" }, ["Resolution note (optional)"]),
          el("textarea", { id: "triage-resolution", name: "resolution", rows: "2" })
        );
      }
      openDialog({ title: "Resolve " + label(target) + "?", body: body, submit: "Resolve", danger: true }).then(
        function (data) {
          if (!data) return;
          // The dialog was the confirmation the bulk endpoint asks for before a resolve.
          send(target, "resolve", target.one ? { resolution: data.get("resolution") || "" } : { confirmed: "1" });
        }
      );
    },
    e: function (target) {
      var select = el("select", { id: "triage-level", name: "level" });
      levels().forEach(function (level) {
        select.appendChild(el("option", { value: level, text: "Level " + level }));
      });
      if (select.options.length > 1) select.selectedIndex = 1;
      openDialog({
        title: "Escalate " + label(target),
        body: [el("label", { for: "triage-level" }, ["To escalation level"]), select],
        submit: "Escalate",
      }).then(function (data) {
        if (data) send(target, "escalate", { level: data.get("level") });
      });
    },
    s: function (target) {
      if (target.one.status !== "acknowledged") {
        say("Only an acknowledged incident can be snoozed: acknowledge " + target.one.number + " first (a).", "warning");
        return;
      }
      var group = el("fieldset", { class: "choices" }, [el("legend", { text: "Snooze for" })]);
      SNOOZES.forEach(function (pair, i) {
        var id = "triage-snooze-" + pair[0];
        var radio = el("input", { type: "radio", name: "duration", value: pair[0], id: id });
        if (i === 0) radio.checked = true;
        group.appendChild(el("label", { for: id }, [radio, " " + pair[1]]));
      });
      openDialog({ title: "Snooze " + label(target), body: [group], submit: "Snooze" }).then(function (data) {
        if (data) send(target, "snooze", { duration: data.get("duration") });
      });
    },
    n: function (target) {
      var box = header() ? $("#incident-notes textarea[name=content]") : null;
      if (box) {
        // The incident page has its note box: open it (Ctrl+Enter sends it).
        box.scrollIntoView({ block: "center" });
        box.focus();
        return;
      }
      var area = el("textarea", { id: "triage-note", name: "content", rows: "4", required: "required" });
      openDialog({
        title: "Note on " + label(target),
        body: [el("label", { for: "triage-note" }, ["Note (Ctrl+Enter adds it)"]), area],
        submit: "Add note",
      }).then(function (data) {
        var text = data ? String(data.get("content") || "").trim() : "";
        if (text) send(target, "note", { content: text });
      });
    },
  };

  // Ctrl/Cmd+Enter in the incident page's note box sends it.
  document.addEventListener("keydown", function (event) {
    var t = event.target;
    if (event.key !== "Enter" || !(event.ctrlKey || event.metaKey)) return;
    if (!(t instanceof HTMLTextAreaElement) || !t.closest("#incident-notes form")) return;
    event.preventDefault();
    t.form.requestSubmit();
  });

  // -- the keys ------------------------------------------------------------------------------------------------------

  function typing(target) {
    if (!(target instanceof Element)) return false;
    if (target.isContentEditable) return true;
    if (target instanceof HTMLTextAreaElement || target instanceof HTMLSelectElement) return true;
    if (target instanceof HTMLInputElement) {
      return ["checkbox", "radio", "button", "submit", "reset", "image"].indexOf(target.type) === -1;
    }
    return false;
  }

  document.addEventListener("keydown", function (event) {
    if (event.defaultPrevented || event.ctrlKey || event.altKey || event.metaKey || event.isComposing) return;
    if (dialogOpen || document.querySelector("dialog[open]") || typing(event.target)) return;
    var key = event.key;
    if (key === "?") {
      event.preventDefault();
      showKeys();
      return;
    }
    if (event.shiftKey) return;
    if (key === "/") {
      var search = document.getElementById("incident-search");
      if (!search) return;
      event.preventDefault();
      search.focus();
      search.select();
      return;
    }
    var onList = !header() && !!table();
    if (onList && (key === "j" || key === "k")) {
      event.preventDefault();
      move(key === "j" ? 1 : -1);
      return;
    }
    if (onList && key === "x") {
      var row = cursorRow();
      var box = row ? $("input.row-select", row) : null;
      if (!box) return;
      event.preventDefault();
      box.click(); // the same path as a click: "select all N" and the bulk bar follow
      return;
    }
    if (onList && key === "Enter") {
      var current = cursorRow();
      var focused = document.activeElement;
      // A focused link or button opens itself; otherwise Enter opens the cursor's incident.
      if (!current || (focused && focused.matches && focused.matches("a, button, summary"))) return;
      event.preventDefault();
      window.location.assign(rowFacts(current).link.href);
      return;
    }
    if (!ACTIONS[key] || !(header() || table())) return;
    event.preventDefault();
    if (!canAct()) {
      say("Your role can read incidents but not change them.", "warning");
      return;
    }
    var target = targets({ a: "acknowledge", r: "resolve", e: "escalate", s: "snooze", n: "note" }[key]);
    if (target) ACTIONS[key](target);
  });

  document.addEventListener("click", function (event) {
    var button = event.target instanceof Element ? event.target.closest("#keys-help") : null;
    if (button) showKeys();
  });
})();
