// The settings page (templates/board/settings.html): a destructive button asks
// before its form is sent. The forms are plain POSTs (they work without
// JavaScript, and the server takes only POST for them); the question is
// their data-confirm. Here and not in an on* attribute: the CSP allows no inline code.
(function () {
  "use strict";
  document.addEventListener("submit", (e) => {
    const form = e.target;
    if (!(form instanceof HTMLFormElement) || !form.dataset.confirm) return;
    if (!window.confirm(form.dataset.confirm)) e.preventDefault();
  });
})();
