// The page's own file button (the file_pick macro, templates/work/_macros.html): the real input lies invisible
// over it, so a click, a tap or the keyboard opens the browser's chooser as before; this
// script only writes the chosen files' names beside the button. Without it the button works
// the same, without the names. It listens on the document, so a button the page gains later
// (a part of it redrawn from the server's answer) writes its names too.
(function () {
  "use strict";
  // A page with two file buttons loads this script twice: it listens once.
  if (document.documentElement.dataset.filePick) { return; }
  document.documentElement.dataset.filePick = "1";
  document.addEventListener("change", function (event) {
    var input = event.target;
    if (!input || input.type !== "file" || !input.closest || !input.closest(".file-pick")) { return; }
    var names = input.parentNode.querySelector(".file-names");
    if (!names) { return; }
    names.textContent = Array.prototype.map.call(input.files || [], function (file) {
      return file.name;
    }).join(", ");
  });
})();
