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

  // The same error summary and field marks as the page the server renders for a refused form
  // (templates/work/_macros.html): a focused alert at the top of the form linking each message
  // to its field, aria-invalid and aria-describedby on each field refused.
  function clearErrors() {
    var old = form.querySelector("[data-error-summary]");
    if (old) { old.parentNode.removeChild(old); }
    Array.prototype.forEach.call(form.querySelectorAll("p.field-error[id$='-error']"), function (p) {
      p.parentNode.removeChild(p);
    });
    Array.prototype.forEach.call(form.querySelectorAll("[aria-invalid]"), function (field) {
      field.removeAttribute("aria-invalid");
      field.removeAttribute("aria-describedby");
    });
  }

  // The page's state badge (templates/work/_macros.html state_badge) as the server says it
  // is now: the page may have been opened before another tab or person moved the result.
  function showState(state) {
    var shown = document.querySelector("[data-testid=state]");
    if (!shown || !state.value) { return; }
    var badge = document.createElement("span");
    badge.className = "badge " + state.value;
    badge.textContent = state.name;
    shown.textContent = "";
    shown.appendChild(badge);
  }

  // The result as the server has it now (school/_result_facts.html, marked as such) in place
  // of what the page showed when it was drawn: its figures and narrative, not only its badge.
  function showFacts(html) {
    var shown = document.querySelector("[data-testid=facts]");
    var now = null;
    try {
      now = new DOMParser().parseFromString(html, "text/html").querySelector("[data-testid=facts]");
    } catch (ignored) {
      now = null;
    }
    if (!shown || !now) { return false; }
    shown.parentNode.replaceChild(document.importNode(now, true), shown);
    return true;
  }

  // What the page offers to do with the result (school/_result_evidence.html,
  // _result_actions.html: the part marked `name`) as the server offers it now, in place of
  // what it offered when drawn: what can no longer be done goes (sent from another tab, the
  // result can no longer be started), what can be done now comes. A form offered still stays
  // as it was, with what was typed or chosen in it; one no longer offered that holds typing
  // stays too, put out with why, to copy.
  function showOffers(name, html, why) {
    var shown = document.querySelector("[data-testid=" + name + "]");
    var now = null;
    try {
      now = new DOMParser().parseFromString(html, "text/html").querySelector("[data-testid=" + name + "]");
    } catch (ignored) {
      now = null;
    }
    if (!shown || !now) { return; }
    now = document.importNode(now, true);
    Array.prototype.forEach.call(shown.querySelectorAll("form[action]"), function (old) {
      var same = Array.prototype.filter.call(now.querySelectorAll("form[action]"), function (form) {
        return form.getAttribute("action") === old.getAttribute("action");
      })[0];
      if (same) {
        same.parentNode.replaceChild(old, same);
      } else if (holdsTyping(old)) {
        putOut(old, why);
        now.appendChild(old);
      }
    });
    shown.parentNode.replaceChild(now, shown);
  }

  function holdsTyping(someForm) {
    return Array.prototype.some.call(someForm.elements, function (field) {
      if (field.type === "file") { return !!(field.files && field.files.length); }
      return (field.tagName === "TEXTAREA" || field.type === "text") && field.value !== field.defaultValue;
    });
  }

  function putOut(someForm, why) {
    var note = document.createElement("p");
    note.className = "reason";
    note.textContent = why;
    someForm.insertBefore(note, someForm.firstChild);
    someForm.setAttribute("data-put-out", "");
    someForm.addEventListener("submit", function (event) { event.preventDefault(); });
    Array.prototype.forEach.call(someForm.elements, function (field) {
      if (field.tagName === "BUTTON" || field.type === "file") { field.disabled = true; }
      else { field.readOnly = true; }
    });
  }

  // The result cannot be sent from here at all now (sent already from another tab): the
  // button that could only be refused again is put out, with why, and what was typed stays
  // in its fields to copy, no longer to edit for sending.
  var closed = false;
  function closeForm(why) {
    closed = true;
    button.disabled = true;
    ["completion", "narrative"].forEach(function (name) {
      if (form.elements[name]) { form.elements[name].readOnly = true; }
    });
    // nor are files chosen for a send that cannot happen
    Array.prototype.forEach.call(form.querySelectorAll("input[type=file]"), function (field) {
      field.disabled = true;
    });
    var note = document.createElement("p");
    note.className = "reason";
    note.id = "cannot-send";
    note.setAttribute("data-testid", "cannot-send");
    note.textContent = why + " " + form.dataset.msgKeptToCopy;
    button.parentNode.insertBefore(note, button);
    button.setAttribute("aria-describedby", note.id);
  }

  function errorPageText(html) {
    try {
      var page = new DOMParser().parseFromString(html, "text/html");
      var words = page.querySelector("main p");
      return words ? words.textContent.trim() : "";
    } catch (ignored) {
      return "";
    }
  }

  function labelOf(field) {
    var label = field.id ? form.querySelector("label[for='" + field.id + "']") : null;
    return label ? label.textContent.trim() : "";
  }

  // `link`: a way on, [href, text, new tab?] (the page as it is now; the sign-in page).
  function showErrors(reason, fields, link) {
    clearErrors();
    var box = document.createElement("div");
    box.className = "error-summary";
    box.id = "error-summary";
    box.setAttribute("role", "alert");
    box.setAttribute("tabindex", "-1");
    box.setAttribute("aria-labelledby", "error-summary-title");
    box.setAttribute("data-error-summary", "");
    var title = document.createElement("h2");
    title.id = "error-summary-title";
    title.className = "error-summary-title";
    title.textContent = form.dataset.msgSummary;
    var list = document.createElement("ul");
    Object.keys(fields).forEach(function (name) {
      var item = document.createElement("li");
      var field = form.elements[name];
      if (field && field.nodeType === 1 && field.id) {
        var message = document.createElement("p");
        message.className = "field-error";
        message.id = name + "-error";
        message.textContent = fields[name];
        field.parentNode.insertBefore(message, field.nextSibling);
        field.setAttribute("aria-invalid", "true");
        field.setAttribute("aria-describedby", message.id);
        var link = document.createElement("a");
        link.href = "#" + field.id;
        var label = labelOf(field);
        link.textContent = (label ? label + ": " : "") + fields[name];
        item.appendChild(link);
      } else {
        item.textContent = name + ": " + fields[name];
      }
      list.appendChild(item);
    });
    if (!list.children.length) {
      var only = document.createElement("li");
      only.textContent = reason;
      list.appendChild(only);
    }
    if (link) {
      var more = document.createElement("li");
      var go = document.createElement("a");
      go.href = link[0];
      go.setAttribute("data-latest", "");
      go.textContent = link[1];
      if (link[2]) { go.target = "_blank"; go.rel = "noopener"; }
      more.appendChild(go);
      list.appendChild(more);
    }
    box.appendChild(title);
    box.appendChild(list);
    form.insertBefore(box, form.firstChild);
    box.focus();
  }

  function signedOut(url) {
    return !!url && new URL(url).pathname === form.dataset.login;
  }

  function done() {
    button.disabled = false;
    bar.classList.add("hidden");
    say("", false);
  }

  // Signed out and in again in another tab, this page's CSRF token is the old session's: the
  // form is refused (400) though nothing is wrong with it. Fetch this session's token from
  // this site (no other site can read it) into every form of the page, then `then()`; signed
  // out still, say so, with the way to sign in (a new tab keeps what was typed here).
  function renewToken(then) {
    var ask = new XMLHttpRequest();
    ask.open("GET", form.dataset.csrfTokenUrl);
    ask.setRequestHeader("X-Requested-With", "XMLHttpRequest");
    ask.setRequestHeader("Accept", "application/json");
    ask.addEventListener("load", function () {
      var answer = null;
      try { answer = JSON.parse(ask.responseText); } catch (ignored) { answer = null; }
      if (ask.status === 200 && answer && answer.csrf_token) {
        Array.prototype.forEach.call(document.querySelectorAll("input[name=csrf_token]"), function (input) {
          input.value = answer.csrf_token;
        });
        then();
        return;
      }
      done();
      if (signedOut(ask.responseURL)) {
        showErrors(form.dataset.msgSignedOut, {}, [form.dataset.login, form.dataset.msgSignIn, true]);
        return;
      }
      showErrors(form.dataset.msgFailed, {});
    });
    ask.addEventListener("error", function () {
      done();
      showErrors(form.dataset.msgFailed, {});
    });
    ask.send();
  }

  // `again`: this is the one try more with a fresh token; refused again, the page says so.
  function send(again) {
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
      var answer = null;
      try { answer = JSON.parse(xhr.responseText); } catch (ignored) { answer = null; }
      if (xhr.status === 200 && answer && answer.location) {
        window.location.assign(answer.location);
        return;
      }
      if (xhr.status === 400 && xhr.getResponseHeader("X-CSRF-Refused") && form.dataset.csrfTokenUrl && !again) {
        renewToken(function () { send(true); });
        return;
      }
      done();
      // Focus goes to the summary: the disabled button lost it to the page body.
      if (xhr.status === 413) { showErrors(form.dataset.msgTooLarge, {}); return; }
      if (answer && !(answer.facts && showFacts(answer.facts)) && answer.state) { showState(answer.state); }
      if (answer && answer.error) {
        // Moved meanwhile (409): the result as it is now shown here, and the way to its page
        // in a new tab, this one keeping what was typed (the files chosen too). The form now
        // stands for the result as it is: sent again, it is sent knowing where the result
        // stood; unless it cannot be sent now at all, and then it says so.
        var latest = xhr.status === 409 && answer.latest ? [answer.latest, form.dataset.msgLatest, true] : null;
        if (xhr.status === 409 && answer.version && form.elements.version) {
          form.elements.version.value = String(answer.version);
        }
        if (answer.cannot_send) { closeForm(answer.cannot_send); }
        ["evidence", "actions"].forEach(function (name) {
          if (answer[name]) { showOffers(name, answer[name], answer.error); }
        });
        showErrors(answer.error, answer.fields || {}, latest);
        return;
      }
      // Signed out meanwhile (the account stopped, the session ended): the answer is the
      // sign-in page. Signing in in a new tab keeps what was typed; sent again from here
      // then, the form takes that session's token (renewToken).
      if (signedOut(xhr.responseURL)) {
        showErrors(form.dataset.msgSignedOut, {}, [form.dataset.login, form.dataset.msgSignIn, true]);
        return;
      }
      // An error page (400: still out of date with a fresh token): its own words, and the
      // page opened afresh in a new tab, this one kept.
      var said = !answer && xhr.status >= 400 && xhr.status < 500 ? errorPageText(xhr.responseText) : "";
      if (said) {
        showErrors(said, {}, [window.location.pathname, form.dataset.msgReopen, true]);
        return;
      }
      showErrors(form.dataset.msgFailed, {});
    });
    xhr.addEventListener("error", function () {
      done();
      showErrors(form.dataset.msgFailed, {});
    });
    xhr.send(new FormData(form));
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    if (!closed) { send(false); }
  });
})();
