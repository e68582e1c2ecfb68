// Switching the language reloads the page: what was typed into its forms and not yet sent
// is carried across (sessionStorage, this tab only) and put back. Passwords, codes, files
// and hidden fields are never kept, except the version a form was drawn at ("version"): the
// typing goes back with the version it was typed against, so that a save of it after
// someone else's is refused as stale rather than written over theirs. Without this script
// the switch still works; the typing is lost, as before.
// A form the server drew again with what was typed (a refused save: `data-typed`, or an error
// summary in it) is kept whole, not only what differs from how it was drawn: its drawn values
// are the typing. Rows added by the page's add buttons (`data-adds`, the names of the fields a
// press adds) are added again before the typing goes back into them.
(function () {
  "use strict";
  var KEY = "tidtam-typed:" + location.pathname;
  var SKIPPED = /^(password|hidden|file|submit|button|reset|image)$/;

  function formKey(form, formIndex) {
    return formIndex + "|" + (form.getAttribute("action") || "");
  }

  // the hidden "version" field of each form, by the form's key
  function versions() {
    var found = {};
    Array.prototype.forEach.call(document.forms, function (form, formIndex) {
      var field = form.elements.namedItem("version");
      if (field && field.type === "hidden") { found[formKey(form, formIndex)] = field; }
    });
    return found;
  }

  function fields() {
    var found = [];
    Array.prototype.forEach.call(document.forms, function (form, formIndex) {
      var seen = {};
      Array.prototype.forEach.call(form.elements, function (field) {
        if (!field.name || SKIPPED.test(field.type || "") || /code|token|otp/i.test(field.name)) {
          return;
        }
        var nth = seen[field.name] = (seen[field.name] || 0) + 1;
        found.push({ form: formKey(form, formIndex), key: formKey(form, formIndex) + "|" + field.name + "|" + nth, field: field });
      });
    });
    return found;
  }

  function typedForm(form) {
    return form.hasAttribute("data-typed") || !!form.querySelector("[data-error-summary]");
  }

  function changed(field) {
    if (field.type === "checkbox" || field.type === "radio") { return field.checked !== field.defaultChecked; }
    if (field.tagName === "SELECT") {
      // a menu drawn with no option marked shows its first: that is its drawn choice too
      var drawn = Array.prototype.map.call(field.options, function (o) { return o.defaultSelected; });
      if (!field.multiple && drawn.indexOf(true) === -1 && drawn.length) { drawn[0] = true; }
      return Array.prototype.some.call(field.options, function (o, i) { return o.selected !== drawn[i]; });
    }
    return field.value !== field.defaultValue;
  }

  function keep() {
    var typed = {};
    var drawn = {};
    var any = false;
    var version = versions();
    fields().forEach(function (entry) {
      if (!changed(entry.field) && !typedForm(entry.field.form)) { return; }
      var f = entry.field;
      typed[entry.key] = (f.type === "checkbox" || f.type === "radio") ? f.checked : f.value;
      if (version[entry.form]) { drawn[entry.form] = version[entry.form].value; }
      any = true;
    });
    try {
      if (any) { sessionStorage.setItem(KEY, JSON.stringify({ at: Date.now(), typed: typed, drawn: drawn })); }
    } catch (e) { /* storage full or refused: the switch goes on without it */ }
  }

  function restore() {
    var stored;
    try {
      stored = sessionStorage.getItem(KEY);
      sessionStorage.removeItem(KEY);
    } catch (e) { return; }
    if (!stored) { return; }
    var kept = JSON.parse(stored);
    // only on the page the switch reloads, moments later: never typing from another visit
    if (!kept || Date.now() - kept.at > 60000) { return; }
    var typed = kept.typed;
    addRows(typed);
    fields().forEach(function (entry) {
      if (!Object.prototype.hasOwnProperty.call(typed, entry.key)) { return; }
      var f = entry.field;
      if (f.type === "checkbox" || f.type === "radio") { f.checked = typed[entry.key]; }
      else { f.value = typed[entry.key]; }
      f.dispatchEvent(new Event("input", { bubbles: true }));
    });
    var version = versions();
    Object.keys(kept.drawn || {}).forEach(function (form) {
      if (version[form]) { version[form].value = kept.drawn[form]; }
    });
  }

  // For each kept key ("<form>|<name>|<nth>") with no field on the reloaded page, the form's
  // add button for that name is pressed until the nth field is there (or it adds no more).
  function addRows(typed) {
    var have = {};
    fields().forEach(function (entry) { have[entry.key] = true; });
    var focused = document.activeElement;
    Object.keys(typed).forEach(function (key) {
      if (have[key]) { return; }
      var parts = key.split("|");
      var nth = parseInt(parts.pop(), 10);
      var name = parts.pop();
      var form = document.forms[parseInt(parts[0], 10)];
      if (!form || formKey(form, parseInt(parts[0], 10)) !== parts.join("|")) { return; }
      var button = Array.prototype.filter.call(form.querySelectorAll("[data-adds]"), function (b) {
        return b.getAttribute("data-adds").split(/\s+/).indexOf(name) >= 0;
      })[0];
      var count = function () {
        return Array.prototype.filter.call(form.elements, function (f) { return f.name === name; }).length;
      };
      for (var before = count(); button && before < nth; before = count()) {
        button.click();
        if (count() === before) { return; }
      }
    });
    // the buttons move the focus to each new row: it stays where the page put it
    if (focused && focused !== document.activeElement && focused.focus) { focused.focus(); }
  }

  // Leaving a page with typing not sent in one of its forms that change something (POST):
  // the browser asks first ("leave the page? changes may not be saved"), unless the page is
  // left by sending that form or by the language switch (which carries the typing across).
  // A refused page's typing (`data-typed`) counts as not sent though the page drew it.
  // A school's narrative typed on the result page was lost to the page's other button.
  var sending = null;
  var switching = false;

  document.addEventListener("submit", function (event) { sending = event.target; }, true);
  window.addEventListener("beforeunload", function (event) {
    if (switching) { return; }
    var unsent = fields().some(function (entry) {
      var form = entry.field.form;
      // a form the server drew again with what was refused holds typing not saved either
      var typed = form && form.hasAttribute("data-typed") && entry.field.value !== "";
      return form && form !== sending && (form.method || "").toLowerCase() === "post" &&
        !entry.field.disabled && !entry.field.readOnly && (changed(entry.field) || typed);
    });
    sending = null;
    if (unsent) {
      event.preventDefault();
      event.returnValue = "";
    }
  });

  document.addEventListener("click", function (event) {
    var link = event.target.closest && event.target.closest("a[hreflang]");
    if (link) {
      keep();
      switching = true;
    }
  });
  restore();
}());
