// The page's own file button (the file_pick macro, templates/work/_macros.html): the real input lies invisible
// over it, so a click, a tap or the keyboard opens the browser's chooser as before; this
// script only writes the chosen files' names beside the button. Without it the button works
// the same, without the names.
(function () {
  "use strict";
  Array.prototype.forEach.call(document.querySelectorAll(".file-pick input[type=file]"), function (input) {
    var names = input.parentNode.querySelector(".file-names");
    // A page with two file buttons loads this script twice: each input is bound once.
    if (!names || input.dataset.picked) { return; }
    input.dataset.picked = "1";
    input.addEventListener("change", function () {
      names.textContent = Array.prototype.map.call(input.files || [], function (file) {
        return file.name;
      }).join(", ");
    });
  });
})();
