// The plan editor's rows in place. Without this script the page has blank rows and "remove"
// boxes and one save stores the whole plan; with it, "Add a step" adds as many rows as needed,
// a new row can be taken away again, and a step ticked for removal leaves the weights' total.
(function () {
  "use strict";
  var table = document.getElementById("steps-table");
  var template = document.getElementById("step-row-template");
  var add = document.getElementById("add-step");
  if (!table || !template || !add) { return; }
  var body = table.tBodies[0];
  var next = body.rows.length;

  function recount() {
    // weights.js recounts on any input event on a weight field.
    var weight = body.querySelector("input[data-weight]");
    if (weight) { weight.dispatchEvent(new Event("input", { bubbles: true })); }
  }

  function enable(row) {
    var button = row.querySelector("[data-remove-row]");
    if (button) { button.hidden = false; }
  }

  Array.prototype.forEach.call(body.rows, enable);

  add.hidden = false;
  add.addEventListener("click", function () {
    next += 1;
    var holder = document.createElement("tbody");
    holder.innerHTML = template.innerHTML.replace(/__N__/g, String(next));
    var row = holder.querySelector("tr");
    body.appendChild(row);
    enable(row);
    row.querySelector("input[name=step_name]").focus();
  });

  body.addEventListener("click", function (event) {
    var button = event.target.closest ? event.target.closest("[data-remove-row]") : null;
    if (!button) { return; }
    var row = button.closest("tr");
    row.parentNode.removeChild(row);
    add.focus();
    recount();
  });

  body.addEventListener("change", function (event) {
    if (!event.target.matches("input[data-remove]")) { return; }
    event.target.closest("tr").classList.toggle("removing", event.target.checked);
    recount();
  });
})();

// Objectives and targets: "Add" clones a blank entry; "Remove" empties its text (an empty
// objective or target is dropped on saving, as without JavaScript) and hides it.
(function () {
  "use strict";
  document.querySelectorAll("[data-add]").forEach(function (button) {
    var list = document.getElementById(button.dataset.add);
    var template = document.getElementById(list.dataset.list + "-template");
    if (!list || !template) { return; }
    var next = list.querySelectorAll("[data-item]").length;
    list.querySelectorAll("[data-remove-item]").forEach(function (b) { b.hidden = false; });
    button.hidden = false;
    button.addEventListener("click", function () {
      next += 1;
      var holder = document.createElement("div");
      holder.innerHTML = template.innerHTML.replace(/__N__/g, String(next));
      var item = holder.querySelector("[data-item]");
      list.appendChild(item);
      item.querySelector("[data-remove-item]").hidden = false;
      item.querySelector("textarea").focus();
    });
    list.addEventListener("click", function (event) {
      var remove = event.target.closest ? event.target.closest("[data-remove-item]") : null;
      if (!remove) { return; }
      var item = remove.closest("[data-item]");
      item.querySelectorAll("textarea").forEach(function (area) { area.value = ""; });
      item.hidden = true;
      button.focus();
    });
  });
})();
