/* Incident pages: shift-click selects a range of rows; the header box selects the page; "select all N matching";
 * resolve and "all N matching" ask first; an action's result stays until the person dismisses it (or their next action replaces it). */
(function () {
  "use strict";
  var last = null;

  function boxes() {
    return Array.prototype.slice.call(document.querySelectorAll("#incident-table input.row-select"));
  }

  function refreshSelectAll() {
    var label = document.querySelector("#incident-table .select-all");
    var pageBox = document.getElementById("select-page");
    if (!label || !pageBox) return;
    var all = boxes();
    var checked = all.filter(function (b) { return b.checked; }).length;
    pageBox.checked = all.length > 0 && checked === all.length;
    label.hidden = !pageBox.checked;
    if (label.hidden) {
      var box = document.getElementById("select-all-matching");
      if (box) box.checked = false;
    }
  }

  document.addEventListener("click", function (event) {
    var target = event.target;
    if (target instanceof HTMLElement && target.classList.contains("dismiss")) {
      var message = target.closest(".message");
      if (message) message.remove();
      return;
    }
    if (!(target instanceof HTMLInputElement)) return;
    if (target.id === "select-page") {
      boxes().forEach(function (b) { b.checked = target.checked; });
      refreshSelectAll();
      return;
    }
    if (!target.classList.contains("row-select")) return;
    var all = boxes();
    if (event.shiftKey && last && last !== target && all.indexOf(last) >= 0) {
      var a = all.indexOf(last);
      var b = all.indexOf(target);
      var lo = Math.min(a, b);
      var hi = Math.max(a, b);
      for (var i = lo; i <= hi; i++) all[i].checked = target.checked;
    }
    last = target;
    refreshSelectAll();
  });

  document.addEventListener("htmx:afterSwap", function () {
    last = null;
    refreshSelectAll();
  });
  // A live refresh morphs the table in place: the person's ticks stay, the "select all" state follows the rows.
  document.addEventListener("pd:live-swapped", refreshSelectAll);

  // Resolve, and any action on "all N matching", asks first: a dialog names the action and how many incidents.
  // (Without JavaScript the server asks the same question before it sends anything.)
  var CONFIRM_ACTIONS = { resolve: true };

  function bulkQuestion(form) {
    var action = form.querySelector("#bulk-action");
    if (!action) return null;
    var all = form.querySelector("#select-all-matching");
    var matching = all && all.checked && !all.closest("label").hidden;
    if (!matching && !CONFIRM_ACTIONS[action.value]) return null;
    var count = matching ? Number(all.dataset.count) : boxes().filter(function (b) { return b.checked; }).length;
    if (!count) return null; // nothing selected: the server says so
    var verb = action.options[action.selectedIndex].text;
    var noun = count === 1 ? "incident" : "incidents";
    return matching ? verb + " all " + count + " matching " + noun + "?" : verb + " " + count + " " + noun + "?";
  }

  function ask(question, onYes) {
    var dialog = document.getElementById("bulk-confirm");
    if (!dialog || typeof dialog.showModal !== "function") {
      onYes();
      return;
    }
    document.getElementById("bulk-confirm-text").textContent = question;
    var yes = document.getElementById("bulk-confirm-yes");
    var no = document.getElementById("bulk-confirm-no");
    function close(answer) {
      yes.removeEventListener("click", onConfirm);
      no.removeEventListener("click", onCancel);
      dialog.removeEventListener("cancel", onCancel);
      dialog.close();
      if (answer) onYes();
    }
    function onConfirm() { close(true); }
    function onCancel(event) { if (event) event.preventDefault(); close(false); }
    yes.addEventListener("click", onConfirm);
    no.addEventListener("click", onCancel);
    dialog.addEventListener("cancel", onCancel); // Escape
    dialog.showModal();
    no.focus(); // the safe answer has the focus: Enter alone never resolves
  }

  document.addEventListener("htmx:confirm", function (event) {
    var form = event.target;
    if (!(form instanceof HTMLFormElement) || form.id !== "bulk-form") return;
    var question = bulkQuestion(form);
    if (!question) return;
    event.preventDefault();
    ask(question, function () {
      var confirmed = form.querySelector("input[name=confirmed]");
      if (confirmed) confirmed.value = "1";
      event.detail.issueRequest(true);
    });
  });
  document.addEventListener("htmx:afterRequest", function (event) {
    var confirmed = event.target instanceof HTMLFormElement && event.target.id === "bulk-form"
      ? event.target.querySelector("input[name=confirmed]") : null;
    if (confirmed) confirmed.value = ""; // a yes counts for one request only
  });

  // Without JavaScript "select all N matching" stays visible; with it, it appears once the whole page is selected.
  refreshSelectAll();
})();
