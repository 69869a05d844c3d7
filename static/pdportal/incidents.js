/* Incident pages: shift-click selects a range of rows; the header box selects the page; "select all N matching";
 * an action's result stays until the person dismisses it (or their next action replaces it). */
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

  // Without JavaScript "select all N matching" stays visible; with it, it appears once the whole page is selected.
  refreshSelectAll();
})();
