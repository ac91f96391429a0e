// The board's filter bar. A change applies at once as a page load (so the
// board, its counts and its live poll all start from the new filters), and
// the URL keeps only the filters in use: no "?q=&assignee=&label=" noise.
// Search applies as you type, 300 ms after the last key. On phones the
// controls open as a sheet, and changes made there apply when it closes.
// The "+ Add card" popover (a <details>) focuses its title and closes on Esc.
(function () {
  "use strict";
  const form = document.getElementById("filter-bar");
  if (!form) return;

  const PARAMS = ["q", "assignee", "label", "kind", "epic", "sprint", "blocked", "lanes"];
  const ALL_SPRINTS = "all";
  const DEBOUNCE_MS = 300;
  const defaultSprint = form.dataset.defaultSprint || "";
  const search = form.querySelector("input[name=q]");
  const sheetToggle = form.querySelector(".filter-sheet-toggle");
  const focusKey = "mk:filter-focus:" + window.location.pathname;
  const typedKey = "mk:filter-typed:" + window.location.pathname;
  form.classList.add("has-js");
  // sessionStorage carries the focus and the keys typed into the next page load.
  const store = {
    get(key) { try { return window.sessionStorage.getItem(key); } catch (err) { return null; } },
    set(key, value) { try { window.sessionStorage.setItem(key, value); } catch (err) { /* storage off: none carried */ } },
    remove(key) { try { window.sessionStorage.removeItem(key); } catch (err) { /* as above */ } },
  };

  // What a control puts in the URL; "" leaves the parameter out.
  function urlValue(el) {
    if (el.type === "checkbox") return el.checked ? el.value : "";
    const value = el.name === "q" ? el.value.trim() : el.value;
    // The board's default view (its active sprint, or every card without one) needs no parameter.
    if (el.name === "sprint" && (value === defaultSprint || (value === ALL_SPRINTS && !defaultSprint))) return "";
    return value;
  }

  // The current URL with only the given parameters changed: whatever else it
  // holds (the other filters, a hand-typed ?blocked=false) stays as it is.
  function urlWith(changes) {
    const params = new URLSearchParams(window.location.search);
    Object.keys(changes).forEach((name) => {
      if (changes[name]) params.set(name, changes[name]); else params.delete(name);
    });
    PARAMS.forEach((name) => {
      if (!params.getAll(name).some((v) => v === "")) return;
      // An empty ?sprint= (older links) means every card: that is ?sprint=all now.
      const kept = params.getAll(name).filter((v) => v !== "");
      params.delete(name);
      if (kept.length) kept.forEach((v) => params.append(name, v));
      else if (name === "sprint" && defaultSprint) params.set(name, ALL_SPRINTS);
    });
    const query = params.toString();
    return window.location.pathname + (query ? "?" + query : "") + window.location.hash;
  }

  const here = () => window.location.pathname + window.location.search + window.location.hash;

  function go(url, how) {
    if (url === here()) return;
    if (how === "replace") window.location.replace(url); else window.location.assign(url);
  }

  // A link or a typed URL with empty parameters shows as the clean one.
  const clean = urlWith({});
  if (clean !== here()) window.history.replaceState(window.history.state, "", clean);

  // --- changes ---------------------------------------------------------------
  const pending = {};
  const sheetOpen = () => form.classList.contains("sheet-open") && sheetToggle && sheetToggle.offsetParent !== null;

  form.addEventListener("change", (e) => {
    const el = e.target;
    if (!el.name || el.name === "q" || PARAMS.indexOf(el.name) < 0) return;
    if (sheetOpen()) { pending[el.name] = urlValue(el); return; }
    store.set(focusKey, el.name);
    go(urlWith({ [el.name]: urlValue(el) }));
  });

  // Search as you type. Keys typed while the next page loads are not lost:
  // the text typed since the search was sent goes with it, and the new page
  // (the one showing that search) picks it up.
  let timer = null;
  let sent = null; // the search this page is loading, once it is sent
  function applySearch(how) {
    clearTimeout(timer);
    const q = urlValue(search);
    const url = urlWith({ q: q });
    if (url === here()) return;
    sent = q;
    store.set(focusKey, "q");
    store.set(typedKey, JSON.stringify({ sent: sent, value: search.value, at: Date.now() }));
    go(url, how || (new URLSearchParams(window.location.search).has("q") ? "replace" : "assign"));
  }
  if (search) {
    search.addEventListener("input", () => {
      if (sent !== null) store.set(typedKey, JSON.stringify({ sent: sent, value: search.value, at: Date.now() }));
      clearTimeout(timer);
      timer = setTimeout(applySearch, DEBOUNCE_MS);
    });
    let typed = null;
    try { typed = JSON.parse(store.get(typedKey) || "null"); } catch (err) { typed = null; }
    store.remove(typedKey);
    const shown = new URLSearchParams(window.location.search).get("q") || "";
    if (typed && typed.sent === shown.trim() && Date.now() - typed.at < 10000 && typed.value !== search.value) {
      search.value = typed.value;
      store.set(focusKey, "q");
      timer = setTimeout(applySearch, DEBOUNCE_MS);
    }
  }
  // Enter applies the search at once (the form's own submit would send every field).
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    if (search) applySearch();
  });

  // After a change the page loads anew: the control that made it keeps the focus.
  const focusName = store.get(focusKey);
  store.remove(focusKey);
  const refocus = focusName && form.querySelector("[name='" + focusName + "']");
  if (refocus && refocus.offsetParent !== null) {
    refocus.focus();
    if (refocus === search) search.setSelectionRange(search.value.length, search.value.length);
  }

  // --- the sheet (phones) -------------------------------------------------------
  function setSheet(open) {
    form.classList.toggle("sheet-open", open);
    sheetToggle.setAttribute("aria-expanded", open ? "true" : "false");
    if (open) {
      const first = form.querySelector(".filter-controls select, .filter-controls input");
      if (first) first.focus();
      return;
    }
    sheetToggle.focus();
    if (Object.keys(pending).length) go(urlWith(pending));
  }
  if (sheetToggle) {
    sheetToggle.addEventListener("click", () => setSheet(!form.classList.contains("sheet-open")));
    form.querySelectorAll("[data-close-sheet]").forEach((b) => b.addEventListener("click", () => setSheet(false)));
    // The backdrop is the form's ::after: a tap on it lands on the form itself.
    form.addEventListener("click", (e) => { if (e.target === form && sheetOpen()) setSheet(false); });
    document.addEventListener("keydown", (e) => {
      if (e.key === "Escape" && sheetOpen()) { e.preventDefault(); setSheet(false); }
    });
  }

  // --- quick-add ---------------------------------------------------------------
  const adder = document.querySelector(".quick-add-menu");
  if (adder) {
    const title = adder.querySelector("input[name=title]");
    adder.addEventListener("toggle", () => { if (adder.open && title) title.focus(); });
    adder.addEventListener("keydown", (e) => {
      if (e.key === "Escape" && adder.open) {
        e.preventDefault();
        adder.open = false;
        adder.querySelector("summary").focus();
      }
    });
    document.addEventListener("click", (e) => { if (adder.open && !adder.contains(e.target)) adder.open = false; });
    // Several cards in a row: after one is added, the title is ready for the next.
    adder.addEventListener("htmx:afterRequest", (e) => { if (e.detail.successful && title) title.focus(); });
  }
})();
