// "Tell people (@)" under a piece of work: the people who may be told are fetched when the
// reader opens the list, so the page itself does not read them for every reader. Without
// this script the list's link leads to the conversation's own page.
document.addEventListener(
  "toggle",
  (event) => {
    const details = event.target;
    if (!(details instanceof HTMLDetailsElement) || !details.open) return;
    const url = details.dataset.people;
    if (!url || details.dataset.loaded) return;
    details.dataset.loaded = "1";
    fetch(url, { credentials: "same-origin", headers: { Accept: "text/html" } })
      .then((response) => (response.ok ? response.text() : Promise.reject(response.status)))
      .then((html) => {
        details.querySelector(".mention-list").innerHTML = html;
      })
      .catch(() => {
        delete details.dataset.loaded; // the link stays; opening again tries again
      });
  },
  true,
);
