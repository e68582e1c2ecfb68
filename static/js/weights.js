// Live total of the plan's step weights (the server checks the same: weights_problem).
// Progressive enhancement: without this script the total is shown after saving.
(function () {
  "use strict";
  var output = document.getElementById("weights-total");
  var problem = document.getElementById("weights-problem");
  if (!output) { return; }

  // Hundredths as integers: 33.33 + 33.33 + 33.34 is exactly 100, as the server's Decimal says.
  // Digits as the server reads them (read_code): Thai ๐–๙ and full-width ０–９ are 0–9.
  function ascii(text) {
    return String(text)
      .replace(/[\u0E50-\u0E59]/g, function (d) { return String.fromCharCode(d.charCodeAt(0) - 0x0E20); })
      .replace(/[\uFF10-\uFF19]/g, function (d) { return String.fromCharCode(d.charCodeAt(0) - 0xFEE0); })
      .replace(/\uFF0E/g, ".");
  }

  function hundredths(text) {
    var clean = ascii(text).replace(/,/g, "").trim();
    if (!/^-?\d+(\.\d{1,2})?$/.test(clean)) { return null; }
    var negative = clean.charAt(0) === "-";
    var parts = clean.replace("-", "").split(".");
    var value = parseInt(parts[0], 10) * 100 + (parts[1] ? parseInt((parts[1] + "0").slice(0, 2), 10) : 0);
    return negative ? -value : value;
  }

  function show(value) {
    var whole = Math.trunc(value / 100);
    var rest = Math.abs(value % 100);
    var text = String(whole) + (rest ? "." + String(rest).padStart(2, "0").replace(/0$/, "") : "");
    if (value < 0 && whole === 0) { text = "-" + text; }
    return text;
  }

  function update() {
    var total = 0;
    document.querySelectorAll("input[data-weight]").forEach(function (input) {
      if (input.closest("tr.removing")) { return; }  // a step ticked for removal
      var value = hundredths(input.value);
      if (value !== null) { total += value; }
    });
    var good = total === 10000;
    output.textContent = show(total);
    output.classList.toggle("good", good);
    output.classList.toggle("bad", !good);
    if (problem) {
      problem.textContent = good ? "" : output.dataset.msgBad.replace("{t}", show(total));
    }
  }

  document.addEventListener("input", function (event) {
    if (event.target && event.target.matches && event.target.matches("input[data-weight]")) { update(); }
  });
  update();
})();
