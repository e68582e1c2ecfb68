// Progressive enhancement of the result form: send it with XMLHttpRequest to show upload
// progress. Without this script the form posts normally and works the same.
(function () {
  "use strict";
  var form = document.querySelector("form[data-upload]");
  if (!form || !window.FormData || !window.XMLHttpRequest) { return; }
  var bar = form.querySelector(".upload-progress");
  var status = form.querySelector(".upload-status");
  var button = form.querySelector("button[type=submit]");

  function say(text, isError) {
    status.textContent = text;
    status.classList.toggle("field-error", !!isError);
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    var xhr = new XMLHttpRequest();
    xhr.open("POST", form.getAttribute("action") || window.location.pathname);
    xhr.setRequestHeader("X-Requested-With", "XMLHttpRequest");
    xhr.setRequestHeader("Accept", "application/json");
    bar.classList.remove("hidden");
    bar.value = 0;
    button.disabled = true;
    xhr.upload.addEventListener("progress", function (e) {
      if (e.lengthComputable) {
        var percent = Math.round((e.loaded / e.total) * 100);
        bar.value = percent;
        say(form.dataset.msgUploading.replace("{p}", String(percent)));
      }
    });
    xhr.addEventListener("load", function () {
      button.disabled = false;
      var answer = null;
      try { answer = JSON.parse(xhr.responseText); } catch (ignored) { answer = null; }
      if (xhr.status === 200 && answer && answer.location) {
        window.location.assign(answer.location);
        return;
      }
      bar.classList.add("hidden");
      if (xhr.status === 413) { say(form.dataset.msgTooLarge, true); return; }
      if (answer && answer.error) {
        var text = answer.error;
        var fields = answer.fields || {};
        Object.keys(fields).forEach(function (name) { text += " (" + name + ": " + fields[name] + ")"; });
        say(text, true);
        return;
      }
      say(form.dataset.msgFailed, true);
    });
    xhr.addEventListener("error", function () {
      button.disabled = false;
      bar.classList.add("hidden");
      say(form.dataset.msgFailed, true);
    });
    xhr.send(new FormData(form));
  });
})();
