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
