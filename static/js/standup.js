// The standup: one person at a time; "Next person", the people strip and the
// ← / → keys move between them, and the URL keeps whose turn it is
// (?person=<username>; #person-<username> works too), so a reload stays.
// Without JavaScript the same links load the next person's page.
(function () {
  "use strict";

  // The window selector sends itself when a preset is chosen.
  document.querySelectorAll("select[data-autosubmit]").forEach((select) => {
    select.addEventListener("change", () => select.form.requestSubmit());
  });

  const root = document.getElementById("standup");
  const sections = root ? Array.from(root.querySelectorAll("section.person[data-person]")) : [];
  if (!sections.length) return;
  let current = Math.max(0, sections.findIndex((s) => !s.hidden));

  function show(index, focus) {
    if (index < 0 || index >= sections.length) return;
    current = index;
    const key = sections[index].dataset.person;
    sections.forEach((s, i) => { s.hidden = i !== index; });
    root.querySelectorAll("[data-person-link]").forEach((a) => {
      if (a.dataset.personLink === key) a.setAttribute("aria-current", "true");
      else a.removeAttribute("aria-current");
    });
    // The window forms keep the person when the window changes.
    root.querySelectorAll("input[data-current-person]").forEach((input) => { input.value = key; });
    const url = new URL(window.location.href);
    url.searchParams.set("person", key);
    url.hash = "";
    window.history.replaceState(null, "", url.href);
    if (focus) {
      const heading = sections[index].querySelector(".person-name");
      if (heading) heading.focus({ preventScroll: true });
      window.scrollTo(0, 0);
    }
  }

  // #person-<username> in the address picks the person, as ?person= does.
  if (window.location.hash.startsWith("#person-")) {
    let key = "";
    try { key = decodeURIComponent(window.location.hash.slice("#person-".length)); } catch (err) { key = ""; }
    const index = sections.findIndex((s) => s.dataset.person === key);
    if (index >= 0) show(index, false);
  }

  root.addEventListener("click", (e) => {
    const step = e.target.closest("[data-step]");
    const link = e.target.closest("[data-person-link]");
    if (step) {
      e.preventDefault();
      show(current + Number(step.dataset.step), true);
    } else if (link) {
      const index = sections.findIndex((s) => s.dataset.person === link.dataset.personLink);
      if (index >= 0) {
        e.preventDefault();
        show(index, true);
      }
    }
  });

  document.addEventListener("keydown", (e) => {
    if (e.altKey || e.ctrlKey || e.metaKey || e.shiftKey || e.defaultPrevented) return;
    const target = e.target;
    if (target instanceof Element && target.closest("input, select, textarea, [contenteditable], dialog")) return;
    if (e.key === "ArrowRight" && current + 1 < sections.length) {
      e.preventDefault();
      show(current + 1, true);
    } else if (e.key === "ArrowLeft" && current > 0) {
      e.preventDefault();
      show(current - 1, true);
    }
  });
})();
