// Switching the language reloads the page: what was typed into its forms and not yet sent
// is carried across (sessionStorage, this tab only) and put back. Passwords, codes, files
// and hidden fields are never kept. Without this script the switch still works; the typing
// is lost, as before.
(function () {
  "use strict";
  var KEY = "tidtam-typed:" + location.pathname;
  var SKIPPED = /^(password|hidden|file|submit|button|reset|image)$/;

  function fields() {
    var found = [];
    Array.prototype.forEach.call(document.forms, function (form, formIndex) {
      var seen = {};
      Array.prototype.forEach.call(form.elements, function (field) {
        if (!field.name || SKIPPED.test(field.type || "") || /code|token|otp/i.test(field.name)) {
          return;
        }
        var nth = seen[field.name] = (seen[field.name] || 0) + 1;
        found.push({ key: formIndex + "|" + (form.getAttribute("action") || "") + "|" + field.name + "|" + nth, field: field });
      });
    });
    return found;
  }

  function changed(field) {
    if (field.type === "checkbox" || field.type === "radio") { return field.checked !== field.defaultChecked; }
    if (field.tagName === "SELECT") {
      return Array.prototype.some.call(field.options, function (o) { return o.selected !== o.defaultSelected; });
    }
    return field.value !== field.defaultValue;
  }

  function keep() {
    var typed = {};
    var any = false;
    fields().forEach(function (entry) {
      if (!changed(entry.field)) { return; }
      var f = entry.field;
      typed[entry.key] = (f.type === "checkbox" || f.type === "radio") ? f.checked : f.value;
      any = true;
    });
    try {
      if (any) { sessionStorage.setItem(KEY, JSON.stringify({ at: Date.now(), typed: typed })); }
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
    fields().forEach(function (entry) {
      if (!Object.prototype.hasOwnProperty.call(typed, entry.key)) { return; }
      var f = entry.field;
      if (f.type === "checkbox" || f.type === "radio") { f.checked = typed[entry.key]; }
      else { f.value = typed[entry.key]; }
      f.dispatchEvent(new Event("input", { bubbles: true }));
    });
  }

  document.addEventListener("click", function (event) {
    var link = event.target.closest && event.target.closest("a[hreflang]");
    if (link) { keep(); }
  });
  restore();
}());
