// The top bar on phones: a menu button opens the board's pages and the
// account links (Sign out included) as a panel under the bar. The CSS shows
// the button only on narrow screens, and only once this script has marked
// the bar: without JavaScript the links wrap onto a row of their own.
(function () {
  "use strict";
  const bar = document.querySelector("[data-topbar]");
  const button = bar && bar.querySelector(".menu-toggle");
  const menu = document.getElementById("topmenu");
  if (!button || !menu) return;
  bar.classList.add("has-menu");

  const isOpen = () => button.getAttribute("aria-expanded") === "true";
  function setOpen(open) {
    button.setAttribute("aria-expanded", open ? "true" : "false");
    bar.classList.toggle("menu-open", open);
  }
  button.addEventListener("click", () => {
    setOpen(!isOpen());
    if (isOpen()) {
      const first = menu.querySelector("a, button");
      if (first) first.focus();
    }
  });
  document.addEventListener("keydown", (e) => {
    if (e.key === "Escape" && isOpen()) { setOpen(false); button.focus(); }
  });
  // A tap anywhere else, or focus leaving the bar, closes the menu.
  document.addEventListener("click", (e) => { if (isOpen() && !bar.contains(e.target)) setOpen(false); });
  bar.addEventListener("focusout", (e) => { if (isOpen() && e.relatedTarget && !bar.contains(e.relatedTarget)) setOpen(false); });
})();
