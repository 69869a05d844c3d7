/* A searchable picker for <select data-picker>: type to filter, one click (or Enter) per choice, chips for a
 * multiple select. Progressive enhancement: the <select> stays in the form and holds the value, hidden; without
 * JavaScript it is the plain native control. ARIA 1.2 combobox with a listbox popup: focus stays in the text box,
 * the highlighted option is its aria-activedescendant; Arrow keys move, Enter picks, Escape closes, Backspace in
 * an empty box removes the last chip. */
(function () {
  "use strict";
  var serial = 0;

  function text(el) {
    return (el.textContent || "").replace(/\s+/g, " ").trim();
  }

  // The words naming the select: its <label for>, or the text of the <label> wrapped around it.
  function labelOf(select) {
    var label = select.labels && select.labels[0];
    if (!label) return select.getAttribute("aria-label") || select.name;
    if (!label.contains(select)) return text(label);
    var words = [];
    label.childNodes.forEach(function (node) {
      if (node.nodeType === 3) words.push(node.textContent);
    });
    return words.join(" ").replace(/\s+/g, " ").trim() || select.getAttribute("aria-label") || select.name;
  }

  function enhance(select) {
    if (select.dataset.pickerEnhanced !== undefined) return;
    var multiple = select.multiple;
    var id = "picker-" + ++serial;
    var name = select.getAttribute("aria-label") || labelOf(select);

    // A <label> wrapped around the select would forward every click inside the picker to its first control.
    var wrapper = select.parentElement;
    if (wrapper && wrapper.tagName === "LABEL") {
      var div = document.createElement("div");
      div.className = wrapper.className;
      div.classList.add("picker-field");
      while (wrapper.firstChild) div.appendChild(wrapper.firstChild);
      wrapper.replaceWith(div);
    }

    var ui = document.createElement("div");
    ui.className = "picker-ui" + (multiple ? " picker-multiple" : "");
    var chips = document.createElement("ul");
    chips.className = "picker-chips";
    chips.setAttribute("aria-label", name + ": chosen");
    var input = document.createElement("input");
    input.type = "text";
    input.id = id + "-input";
    input.className = "picker-input";
    input.autocomplete = "off";
    input.spellcheck = false;
    input.setAttribute("role", "combobox");
    input.setAttribute("aria-autocomplete", "list");
    input.setAttribute("aria-expanded", "false");
    input.setAttribute("aria-controls", id + "-list");
    input.setAttribute("aria-label", name);
    input.placeholder = select.dataset.placeholder || "Search…";
    var list = document.createElement("ul");
    list.id = id + "-list";
    list.className = "picker-list";
    list.setAttribute("role", "listbox");
    list.setAttribute("aria-label", name);
    if (multiple) list.setAttribute("aria-multiselectable", "true");
    list.hidden = true;

    // One <li> per option (group headings for <optgroup>), built once; filtering only hides them.
    var items = [];
    var headings = [];
    Array.prototype.forEach.call(select.children, function (child) {
      if (child.tagName === "OPTGROUP") {
        var heading = document.createElement("li");
        heading.className = "picker-group";
        heading.setAttribute("role", "presentation");
        heading.textContent = child.label;
        list.appendChild(heading);
        var group = { el: heading, items: [] };
        headings.push(group);
        Array.prototype.forEach.call(child.children, function (option) { addItem(option, group); });
      } else if (child.tagName === "OPTION") {
        addItem(child, null);
      }
    });

    function addItem(option, group) {
      if (!multiple && option.value === "" && !option.text.trim()) return;
      var li = document.createElement("li");
      li.id = id + "-opt-" + items.length;
      li.setAttribute("role", "option");
      li.className = "picker-option";
      li.textContent = option.text;
      var item = { el: li, option: option, search: option.text.toLowerCase() + " " + option.value.toLowerCase() };
      li.addEventListener("mousedown", function (event) { event.preventDefault(); }); // the focus stays in the box
      li.addEventListener("click", function () { choose(item); });
      items.push(item);
      if (group) group.items.push(item);
      list.appendChild(li);
    }

    select.dataset.pickerEnhanced = "";
    select.hidden = true;
    select.setAttribute("aria-hidden", "true");
    select.tabIndex = -1;
    if (select.labels) Array.prototype.forEach.call(select.labels, function (l) { if (!l.contains(select)) l.htmlFor = input.id; });
    if (multiple) ui.appendChild(chips);
    ui.appendChild(input);
    ui.appendChild(list);
    select.parentNode.insertBefore(ui, select);
    ui.pickerSelect = select;

    var active = -1;

    function visible() {
      return items.filter(function (item) { return !item.el.hidden; });
    }

    function sync() {
      // The select is the truth (a live refresh or the back button may have changed it): redraw from it.
      items.forEach(function (item) { item.el.setAttribute("aria-selected", item.option.selected ? "true" : "false"); });
      if (multiple) {
        chips.textContent = "";
        items.forEach(function (item) {
          if (!item.option.selected) return;
          var chip = document.createElement("li");
          chip.className = "chip";
          chip.appendChild(document.createTextNode(item.option.text + " "));
          var remove = document.createElement("button");
          remove.type = "button";
          remove.className = "chip-remove";
          remove.setAttribute("aria-label", "Remove " + item.option.text);
          remove.textContent = "×";
          remove.addEventListener("click", function () {
            item.option.selected = false;
            changed();
            input.focus();
          });
          chip.appendChild(remove);
          chips.appendChild(chip);
        });
        chips.hidden = !chips.children.length;
      } else if (document.activeElement !== input) {
        var chosen = select.options[select.selectedIndex];
        input.value = chosen ? chosen.text : "";
      }
    }

    function changed() {
      sync();
      select.dispatchEvent(new Event("change", { bubbles: true }));
    }

    function filter() {
      var words = input.value.toLowerCase().split(/\s+/).filter(Boolean);
      if (!multiple && select.selectedIndex >= 0 && input.value === select.options[select.selectedIndex].text) {
        words = []; // the box shows the current choice: list everything
      }
      items.forEach(function (item) {
        item.el.hidden = !words.every(function (w) { return item.search.indexOf(w) >= 0; });
      });
      headings.forEach(function (group) {
        group.el.hidden = !group.items.some(function (item) { return !item.el.hidden; });
      });
      highlight(visible().length ? 0 : -1);
    }

    function highlight(index) {
      var shown = visible();
      items.forEach(function (item) { item.el.classList.remove("active"); });
      active = index;
      if (index < 0 || index >= shown.length) {
        input.removeAttribute("aria-activedescendant");
        return;
      }
      shown[index].el.classList.add("active");
      input.setAttribute("aria-activedescendant", shown[index].el.id);
      shown[index].el.scrollIntoView({ block: "nearest" });
    }

    function open() {
      if (!list.hidden) return;
      list.hidden = false;
      input.setAttribute("aria-expanded", "true");
      filter();
    }

    function close() {
      list.hidden = true;
      input.setAttribute("aria-expanded", "false");
      input.removeAttribute("aria-activedescendant");
      if (multiple) input.value = "";
      else sync();
    }

    function choose(item) {
      if (multiple) {
        item.option.selected = !item.option.selected;
        changed();
        input.value = "";
        filter();
        highlight(visible().indexOf(item));
      } else {
        item.option.selected = true;
        input.value = item.option.text;
        changed();
        close();
      }
    }

    input.addEventListener("focus", function () { if (!multiple) input.select(); });
    input.addEventListener("click", open);
    input.addEventListener("input", function () {
      open();
      filter();
    });
    input.addEventListener("keydown", function (event) {
      var shown = visible();
      switch (event.key) {
        case "ArrowDown":
          event.preventDefault();
          if (list.hidden) open();
          else highlight(Math.min(active + 1, shown.length - 1));
          break;
        case "ArrowUp":
          event.preventDefault();
          if (list.hidden) open();
          else highlight(Math.max(active - 1, 0));
          break;
        case "Enter":
          if (!list.hidden && active >= 0 && shown[active]) {
            event.preventDefault(); // picks; it does not submit the form
            choose(shown[active]);
          }
          break;
        case "Escape":
          if (!list.hidden) {
            event.preventDefault();
            event.stopPropagation();
            close();
          }
          break;
        case "Backspace":
          if (multiple && !input.value) {
            var last = items.filter(function (item) { return item.option.selected; }).pop();
            if (last) {
              last.option.selected = false;
              changed();
            }
          }
          break;
        case "Tab":
          close();
          break;
      }
    });
    ui.addEventListener("focusout", function (event) {
      if (!ui.contains(event.relatedTarget)) close();
    });
    select.addEventListener("pd:picker-sync", sync);
    sync();
  }

  function enhanceAll(root) {
    // A picker whose select a swap replaced is gone with it (a new one is built for the new select).
    document.querySelectorAll(".picker-ui").forEach(function (ui) {
      if (!ui.pickerSelect || !ui.pickerSelect.isConnected) ui.remove();
    });
    (root || document).querySelectorAll("select[data-picker]").forEach(enhance);
    // After a live refresh the select's chosen options are kept (live.js); the chips follow them.
    (root || document).querySelectorAll("select[data-picker-enhanced]").forEach(function (select) {
      select.dispatchEvent(new Event("pd:picker-sync"));
    });
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", function () { enhanceAll(); });
  else enhanceAll();
  document.addEventListener("htmx:afterSwap", function (event) { enhanceAll(event.target.parentNode || document); });
  document.addEventListener("pd:live-swapped", function (event) { enhanceAll(event.target.parentNode || document); });
})();
