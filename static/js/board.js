// The live board: drag and drop (SortableJS, posted through htmx), the
// keyboard move menu, and polling the board version for others' changes.
(function () {
  "use strict";
  const board = document.getElementById("board");
  if (!board) return;

  const state = {
    version: Number(board.dataset.version),
    pulse: Number(board.dataset.pulse) || 0,
    layout: Number(board.dataset.layout),
    dragging: false,
    polling: false,
    again: false,
  };
  const editable = !board.classList.contains("read-only");
  const moveUrl = board.dataset.moveUrl;
  const pollUrl = board.dataset.pollUrl;
  const qs = board.dataset.qs;
  const toast = (m, l) => window.mk && window.mk.toast(m, l);

  // --- moves -------------------------------------------------------------
  function neighbours(item) {
    let prev = item.previousElementSibling, next = item.nextElementSibling;
    while (prev && !prev.classList.contains("card")) prev = prev.previousElementSibling;
    while (next && !next.classList.contains("card")) next = next.nextElementSibling;
    return { after: prev ? prev.dataset.id : "", before: next ? next.dataset.id : "" };
  }

  // Moves are announced to screen readers (a polite live region): where the
  // card went, or why it did not.
  const announcer = document.getElementById("board-announcer");
  function announce(text) {
    if (!announcer) return;
    announcer.textContent = "";
    // Emptied first, so that the same sentence twice is read twice.
    setTimeout(() => { announcer.textContent = text; }, 50);
  }
  // Where the card is now, from its answer (its column and rank), whether or
  // not the board has put it in place yet.
  function announceMove(id, key) {
    const card = document.getElementById("card-" + id);
    if (!card) return;
    const lane = card.closest(".cards") ? card.closest(".cards").dataset.lane : "";
    const list = board.querySelector('.cards[data-column="' + card.dataset.column + '"][data-lane="' + lane + '"]');
    const head = board.querySelector('[data-column-head="' + card.dataset.column + '"] h2');
    let position = 1;
    if (list) list.querySelectorAll(":scope > .card").forEach((c) => { if (c !== card && c.dataset.rank < card.dataset.rank) position += 1; });
    announce("Moved " + key + " to " + (head ? head.textContent.trim() : "its column") + ", position " + position);
  }

  // The move answer is the card's element with its new place and version and
  // its bottom row (time in the column, flags): the rest of the card stays, and
  // the poll that the answer triggers brings the card in full.
  function applyMoveAnswer(card, html) {
    const tpl = document.createElement("template");
    tpl.innerHTML = html.trim();
    const fresh = tpl.content.firstElementChild;
    if (!fresh || fresh.id !== card.id) return;
    card.className = fresh.className;
    ["version", "rank", "column"].forEach((name) => { card.dataset[name] = fresh.dataset[name]; });
    const bottom = fresh.querySelector(".card-bottom"), old = card.querySelector(".card-bottom");
    if (bottom && old) old.replaceWith(bottom);
  }

  // One POST per move. On a refusal (409 stale or WIP, 422 invalid) the card
  // springs back and the message shows; otherwise the answer updates the card.
  function postMove(card, values, revert) {
    const id = card.dataset.id, key = card.dataset.key;
    let refused = false;
    card.classList.add("is-saving");
    const onBeforeSwap = (e) => {
      if (e.detail.elt !== card) return;
      card.removeEventListener("htmx:beforeSwap", onBeforeSwap);
      const xhr = e.detail.xhr;
      if (xhr.status < 400) {
        e.detail.shouldSwap = false;
        applyMoveAnswer(card, xhr.responseText);
        card.classList.remove("is-saving");
      } else {
        refused = true;
        e.detail.shouldSwap = false;
        e.detail.isError = false; // handled here, not by the generic handler
        if (revert) revert();
        card.classList.remove("is-saving");
        const why = xhr.status === 403 ? "You cannot move cards on this board." : (xhr.responseText || "The move was refused.");
        toast(why, "error");
        announce(key + " was not moved: " + why);
        pollNow();
      }
    };
    card.addEventListener("htmx:beforeSwap", onBeforeSwap);
    return htmx.ajax("POST", moveUrl, {
      source: card, target: card, swap: "none",
      values: Object.assign({ ticket: id, version: card.dataset.version }, values),
    }).then(() => {
      if (!refused) announceMove(id, key);
      return !refused;
    }, () => {
      if (revert) revert();
      card.classList.remove("is-saving");
      announce(key + " was not moved: the server cannot be reached.");
      return false;
    });
  }

  function initSortable(list) {
    if (!editable || list._sortable) return;
    const lane = list.dataset.lane || "";
    list._sortable = new Sortable(list, {
      group: "lane-" + lane,
      draggable: ".card",
      filter: ".more, button, input, select",
      preventOnFilter: false,
      animation: 120,
      ghostClass: "card-ghost",
      // On a touch screen a card is picked up by a short press; a swipe that
      // starts moving within it scrolls the board instead.
      delay: 180,
      delayOnTouchOnly: true,
      touchStartThreshold: 8,
      onStart: (evt) => {
        state.dragging = true;
        board.classList.add("is-dragging"); // no column snapping while a card travels
        if (menu && !menu.hidden) closeMenu(false);
        evt.item._origin = { from: evt.from, next: evt.item.nextElementSibling };
      },
      onEnd: (evt) => {
        state.dragging = false;
        board.classList.remove("is-dragging");
        const card = evt.item;
        const origin = card._origin;
        if (evt.from === evt.to && evt.oldIndex === evt.newIndex) return;
        const revert = () => origin.from.insertBefore(card, origin.next && origin.next.parentNode === origin.from ? origin.next : null);
        postMove(card, Object.assign({ column: evt.to.dataset.column }, neighbours(card)), revert);
        refreshEmpty();
      },
    });
  }

  // --- the move menu ---------------------------------------------------------
  // Opened by the ⇅ button (pointer, touch) or, from the keyboard, by M (or the
  // context-menu key, Shift+F10) on a focused card: a card is one tab stop.
  const menu = document.getElementById("move-menu");
  let menuCard = null, menuOpener = null;

  function openMenu(card, opener) {
    menuCard = card;
    menuOpener = opener;
    menu.querySelector(".move-menu-title").textContent = "Move " + card.dataset.key;
    menu.querySelectorAll("[data-to-column]").forEach((b) => { b.hidden = b.dataset.toColumn === card.dataset.column; });
    menu.hidden = false;
    placeMenu(card);
    menu.querySelector("button:not([hidden])").focus();
  }
  // Fixed to the window, below the ⇅ button (above it when there is no room),
  // and always inside the screen, phones included.
  function placeMenu(card) {
    const r = (card.querySelector(".card-move") || card).getBoundingClientRect();
    const w = menu.offsetWidth, h = menu.offsetHeight, margin = 8;
    let top = r.bottom + 4;
    if (top + h > window.innerHeight - margin) top = r.top - h - 4;
    menu.style.top = Math.max(margin, Math.min(top, window.innerHeight - h - margin)) + "px";
    menu.style.left = Math.max(margin, Math.min(r.right - w, window.innerWidth - w - margin)) + "px";
  }
  function closeMenu(restoreFocus) {
    menu.hidden = true;
    if (restoreFocus && menuOpener && document.body.contains(menuOpener)) menuOpener.focus();
    menuCard = null;
  }
  // After a keyboard move the card is new markup: focus goes back to its one tab stop.
  function focusCardMenu(id) {
    const title = document.querySelector("#card-" + id + " .card-title");
    if (title) title.focus();
  }

  if (menu) {
    board.addEventListener("keydown", (e) => {
      const card = e.target.closest && e.target.closest(".card");
      if (!card || !card.querySelector(".card-move") || e.ctrlKey || e.metaKey || e.altKey) return;
      const isM = (e.key === "m" || e.key === "M") && !e.shiftKey;
      if (!isM && e.key !== "ContextMenu" && !(e.key === "F10" && e.shiftKey)) return;
      e.preventDefault();
      openMenu(card, card.querySelector(".card-title") || e.target);
    });
    // The board scrolls under an open menu (focusing a card scrolls it into
    // view, and snapping may still be settling): the menu follows its card,
    // and closes once the card has left the board's box.
    board.addEventListener("scroll", () => {
      if (menu.hidden || !menuCard) return;
      const r = menuCard.getBoundingClientRect(), box = board.getBoundingClientRect();
      if (r.right < box.left || r.left > box.right || r.bottom < box.top || r.top > box.bottom) closeMenu(false);
      else placeMenu(menuCard);
    }, { passive: true });
    window.addEventListener("resize", () => { if (!menu.hidden) closeMenu(false); });
    document.addEventListener("click", (e) => {
      const opener = e.target.closest(".card-move");
      if (opener) { e.preventDefault(); openMenu(opener.closest(".card"), opener.closest(".card").querySelector(".card-title") || opener); return; }
      const item = e.target.closest("#move-menu button");
      if (item && menuCard) {
        const card = menuCard, id = card.dataset.id;
        const values = item.dataset.toColumn
          ? { column: item.dataset.toColumn, position: "bottom" }
          : { column: card.dataset.column, position: item.dataset.position };
        closeMenu(false);
        postMove(card, values, null).then(() => pollNow().then(() => focusCardMenu(id)));
        return;
      }
      if (!menu.hidden && !e.target.closest("#move-menu")) closeMenu(false);
    });
    menu.addEventListener("keydown", (e) => {
      const items = Array.from(menu.querySelectorAll("button:not([hidden])"));
      const i = items.indexOf(document.activeElement);
      if (e.key === "Escape") { e.preventDefault(); closeMenu(true); }
      else if (e.key === "ArrowDown") { e.preventDefault(); items[(i + 1) % items.length].focus(); }
      else if (e.key === "ArrowUp") { e.preventDefault(); items[(i - 1 + items.length) % items.length].focus(); }
      else if (e.key === "Tab") { closeMenu(false); }
    });
  }

  // --- live updates --------------------------------------------------------
  function placeCard(html, info) {
    const old = document.getElementById("card-" + info.id);
    const wasFocused = old && old.contains(document.activeElement);
    if (old) old.remove();
    const list = board.querySelector('.cards[data-column="' + info.column + '"][data-lane="' + info.lane + '"]');
    if (!list) return false;
    const tpl = document.createElement("template");
    tpl.innerHTML = html.trim();
    const card = tpl.content.firstElementChild;
    let before = null;
    for (const el of list.children) {
      if (el.classList.contains("more")) { before = el; break; }
      if (el.classList.contains("card") && el.dataset.rank > info.rank) { before = el; break; }
    }
    // Past the loaded part of a long column: it shows up when scrolled to.
    if (before && before.classList.contains("more")) return true;
    list.insertBefore(card, before);
    htmx.process(card);
    if (wasFocused) focusCardMenu(info.id);
    return true;
  }

  function applyCounts(counts, points) {
    board.querySelectorAll("[data-column-head]").forEach((head) => {
      const id = head.dataset.columnHead, n = counts[id] || 0, wip = Number(head.dataset.wip || 0);
      head.querySelector(".count").textContent = wip ? n + " / " + wip : String(n);
      head.classList.toggle("over-wip", !!wip && n > wip);
      head.classList.toggle("at-wip", !!wip && n === wip);
      const total = head.querySelector("[data-points-for]");
      if (total && points) total.textContent = pointsText(points[id] || 0);
    });
  }

  function pointsText(n) { return n + (n === 1 ? " pt" : " pts"); }

  // A swimlane's points are those of its cards on the page (as the server
  // counts them: board.selectors.Lane.points).
  function refreshLanePoints() {
    board.querySelectorAll("[data-lane-points-for]").forEach((el) => {
      let sum = 0;
      board.querySelectorAll('.lane[data-lane="' + CSS.escape(el.dataset.lanePointsFor) + '"] .card .points')
        .forEach((p) => { sum += Number(p.textContent) || 0; });
      el.textContent = pointsText(sum);
    });
  }

  function refreshEmpty() {
    board.querySelectorAll(".cards").forEach((list) => {
      list.parentElement.classList.toggle("is-empty", !list.querySelector(".card, .more"));
    });
  }

  // The poll: every pollMs while the server answers. When it cannot be
  // reached (network error, 5xx, an answer that is not JSON) a banner says the
  // board may be out of date and the next try waits twice as long each time
  // (pollMs, 2×, 4× … at most 30 s). The first answer after that hides the
  // banner and catches up: the poll asks for changes since the last version
  // seen, however long ago that was.
  const pollMs = Number(board.dataset.pollMs) || 1500;
  const MAX_RETRY_MS = 30000;
  const banner = document.getElementById("connection-banner");
  const bannerText = banner && banner.querySelector(".connection-message");
  let timer = null;
  state.failures = 0;
  state.stopped = false;

  function retryMs(failures) {
    return Math.min(pollMs * 2 ** Math.max(failures - 1, 0), MAX_RETRY_MS);
  }
  function seconds(ms) {
    const s = ms / 1000;
    return s < 10 && !Number.isInteger(s) ? s.toFixed(1) : String(Math.round(s));
  }
  function schedule(ms) {
    clearTimeout(timer);
    if (!state.stopped) timer = setTimeout(pollNow, ms);
  }
  function connectionLost() {
    state.failures += 1;
    const wait = retryMs(state.failures);
    if (banner) {
      bannerText.textContent = "Connection lost — this board may be out of date. Retrying in " + seconds(wait) + " s…";
      banner.hidden = false;
    }
    return wait;
  }
  function connectionBack() {
    state.failures = 0;
    if (banner) banner.hidden = true;
  }

  function applyChanges(data) {
    if (!data || state.dragging) return;
    if (data.reload) {
      if (!document.querySelector("dialog.modal[open]")) window.location.reload();
      return;
    }
    let complete = true;
    data.gone.forEach((id) => { const el = document.getElementById("card-" + id); if (el) el.remove(); });
    data.cards.forEach((c) => { if (!placeCard(c.html, c)) complete = false; });
    if (data.counts) applyCounts(data.counts, data.points);
    refreshLanePoints();
    if (data.jobs) applyLiveJobs(data.jobs);
    refreshEmpty();
    state.version = data.version;
    if (data.pulse !== undefined) state.pulse = data.pulse;
    if (!complete) window.location.reload(); // e.g. a new swimlane appeared
  }

  // Progress strips of queued and running training jobs: the answer lists
  // every active job of the board, so a strip it does not list has ended.
  function applyLiveJobs(jobs) {
    document.querySelectorAll("#board .card-live").forEach((strip) => {
      if (!(strip.dataset.live in jobs)) strip.remove();
    });
    Object.keys(jobs).forEach((ticketId) => {
      const card = document.getElementById("card-" + ticketId);
      if (!card) return;
      const tpl = document.createElement("template");
      tpl.innerHTML = jobs[ticketId];
      const fresh = tpl.content.firstElementChild;
      const old = card.querySelector(".card-live");
      if (old && fresh) old.replaceWith(fresh);
      else if (fresh) card.querySelector(".card-bottom").before(fresh);
    });
  }

  // Resolves to the changes (or null when there are none), to "signed-out",
  // or rejects when the server could not be reached.
  async function fetchChanges() {
    const url = pollUrl + "?v=" + state.version + "&p=" + state.pulse + "&layout=" + state.layout + (qs ? "&" + qs : "");
    const r = await fetch(url, { headers: { "Accept": "application/json" }, credentials: "same-origin" });
    if (r.status === 401) {
      // The session ended (mlkanban/middleware.py answers 401 with the login URL).
      const body = await r.json().catch(() => ({}));
      state.stopped = true;
      if (window.mk.goToLogin) window.mk.goToLogin(body.login_url); else window.location.reload();
      return "signed-out";
    }
    if (r.status >= 500) throw new Error("The board poll answered " + r.status);
    if (r.status !== 200) return null; // 204: unchanged; other 4xx: nothing to apply
    return r.json(); // a proxy's HTML error page rejects here, as a failure
  }

  function pollNow() {
    if (state.stopped) return Promise.resolve();
    if (state.polling) { state.again = true; return Promise.resolve(); }
    if (state.dragging || document.querySelector("#board .is-saving")) { schedule(pollMs); return Promise.resolve(); }
    state.polling = true;
    clearTimeout(timer);
    return fetchChanges()
      .then((data) => {
        if (data === "signed-out") return;
        connectionBack();
        schedule(pollMs);
        applyChanges(data);
      }, () => schedule(connectionLost()))
      .catch((err) => console.error("The board could not apply an update:", err))
      .finally(() => {
        state.polling = false;
        if (state.again) { state.again = false; pollNow(); }
      });
  }

  document.body.addEventListener("mk:changed", () => pollNow());
  document.addEventListener("visibilitychange", () => { if (!document.hidden) pollNow(); });
  window.addEventListener("online", () => pollNow());
  if (banner) banner.querySelector("[data-retry-now]").addEventListener("click", () => pollNow());
  schedule(pollMs);

  // Focus (standup) mode: no toolbar, a bigger board; remembered per browser.
  const focusToggle = document.querySelector("[data-focus-toggle]");
  function setFocusMode(on) {
    document.body.classList.toggle("focus-mode", on);
    if (focusToggle) focusToggle.setAttribute("aria-pressed", on ? "true" : "false");
    try { window.localStorage.setItem("mk.focusMode", on ? "1" : "0"); } catch (err) { /* private mode: not remembered */ }
  }
  let remembered = false;
  try { remembered = window.localStorage.getItem("mk.focusMode") === "1"; } catch (err) { remembered = false; }
  if (remembered) setFocusMode(true);
  if (focusToggle) focusToggle.addEventListener("click", () => setFocusMode(!document.body.classList.contains("focus-mode")));

  htmx.onLoad((root) => {
    (root.matches && root.matches(".cards") ? [root] : root.querySelectorAll ? root.querySelectorAll(".cards") : [])
      .forEach(initSortable);
  });
  document.querySelectorAll("#board .cards").forEach(initSortable);
  // Cards accept drags from here on: bench/browser.py measures the time to this mark.
  if (window.performance && performance.mark) performance.mark("board-interactive");
  refreshEmpty();
  window.mk = Object.assign(window.mk || {}, { pollNow: pollNow, boardState: state, pollRetryMs: retryMs });
})();
