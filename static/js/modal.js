// The card modal (templates/board/_ticket_modal.html) and the card's page:
// the URL follows the open card, focus goes in and comes back, the title and
// description are edited in place, the label picker filters as you type.
// app.js opens the <dialog> (showModal) when htmx swaps it into #modal.
(function () {
  "use strict";

  let opener = null;        // the element that opened the modal (a card's title link)
  let closingByHistory = false;

  function ticketDialog() { return document.querySelector("dialog#ticket-dialog[open]"); }
  function samePath(url) { return new URL(url, window.location.href).pathname === window.location.pathname; }

  // --- opening: remember who opened it, take focus, follow in the URL -------
  document.body.addEventListener("htmx:beforeSwap", (e) => {
    if (!e.detail.target || e.detail.target.id !== "modal") return;
    const active = document.activeElement;
    // A re-render of the open modal (archive, hypotheses) keeps the first opener.
    if (active && active !== document.body && !active.closest("dialog")) opener = active;
  });

  document.body.addEventListener("htmx:afterSwap", (e) => {
    const target = e.detail.target;
    if (target && target.id === "modal") {
      const dialog = target.querySelector("dialog#ticket-dialog");
      if (!dialog) return;
      dialog.addEventListener("close", () => closed(dialog));
      dialog.focus(); // the dialog itself, named by the card's title: Tab goes on to its controls
      const url = dialog.dataset.ticketUrl;
      if (url && !samePath(url)) {
        history.pushState({ mkTicket: url, mkBoard: window.location.href }, "", url);
      }
    }
  });
  // After settling, when htmx has wired the new Save and Cancel buttons.
  // An outerHTML swap reports the element it replaced: focus its successor.
  document.body.addEventListener("htmx:afterSettle", (e) => {
    const target = e.detail.target;
    if (target && target.classList && target.classList.contains("text-part")) {
      const fresh = document.getElementById(target.id);
      if (fresh) focusTextPart(fresh);
    }
  });

  function closed(dialog) {
    if (!closingByHistory) {
      const state = history.state;
      if (state && state.mkTicket && samePath(state.mkTicket)) history.back(); // back to the board's URL, query and all
    }
    closingByHistory = false;
    const card = document.getElementById("card-" + dialog.dataset.ticketId);
    const link = card && card.querySelector("a.card-title");
    const back = link || (opener && opener.isConnected ? opener : null);
    if (back) back.focus();
    opener = null;
  }

  // Back closes the modal; forward opens it again.
  window.addEventListener("popstate", (e) => {
    const dialog = ticketDialog();
    const state = e.state;
    if (dialog && !(state && state.mkTicket && samePath(state.mkTicket))) {
      closingByHistory = true;
      dialog.close();
    } else if (!dialog && state && state.mkTicket && samePath(state.mkTicket) && document.getElementById("modal")) {
      window.htmx.ajax("GET", state.mkTicket, { target: "#modal", swap: "innerHTML" });
    }
  });

  // --- editing the title and the description in place -----------------------
  function focusTextPart(part) {
    const field = part.querySelector("[data-inline-edit] input:not([type=hidden]), [data-inline-edit] textarea");
    if (field) {
      if (document.activeElement === field) return; // already typing: keep their caret and selection
      field.focus();
      const end = field.value.length;
      try { field.setSelectionRange(end, end); } catch (err) { /* not a text field */ }
      return;
    }
    const edit = part.querySelector("[data-edit-button]");
    if (edit) edit.focus();
  }

  function startEditing(part) {
    const button = part && part.querySelector("[data-edit-button]");
    if (button) button.click();
  }

  document.addEventListener("click", (e) => {
    const text = e.target.closest("[data-edit-click]");
    if (!text || e.target.closest("a, button, input, label")) return;
    if (String(window.getSelection ? window.getSelection() : "").length) return; // selecting text, not editing
    startEditing(text.closest(".text-part"));
  });

  function typing(el) {
    return el && (el.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(el.tagName));
  }

  // Capture: Esc in an editor cancels the edit before the dialog sees it.
  document.addEventListener("keydown", (e) => {
    if (e.key === "Escape") {
      const form = e.target.closest && e.target.closest("[data-inline-edit]");
      if (!form) return;
      e.preventDefault();
      e.stopPropagation();
      const cancel = form.querySelector("[data-cancel-edit]");
      if (cancel) cancel.click();
      return;
    }
    if (e.key === "e" && !e.ctrlKey && !e.metaKey && !e.altKey && !typing(e.target)) {
      const scope = ticketDialog() || document.querySelector(".ticket-page");
      if (!scope || (ticketDialog() && !scope.contains(e.target) && e.target !== document.body)) return;
      const part = scope.querySelector(".title-part");
      if (part && part.querySelector("[data-edit-button]")) {
        e.preventDefault();
        startEditing(part);
      }
    }
  }, true);

  // The dialog's own Esc (cancel) is refused while an editor is open.
  document.addEventListener("cancel", (e) => {
    if (e.target.matches && e.target.matches("dialog#ticket-dialog") && e.target.querySelector("[data-inline-edit]")) {
      e.preventDefault();
      const cancel = e.target.querySelector("[data-inline-edit] [data-cancel-edit]");
      if (cancel) cancel.click();
    }
  }, true);

  // A save answers the card's new version: open editors and the Move form
  // carry it, so one's own changes never look like someone else's.
  document.body.addEventListener("mk:ticket-version", (e) => {
    const box = document.getElementById("ticket-" + e.detail.ticket);
    if (!box) return;
    box.querySelectorAll("[data-ticket-version]").forEach((input) => { input.value = e.detail.version; });
  });

  // --- the label picker: a text filter over the checkboxes --------------------
  function filterLabels(input) {
    const query = input.value.trim().toLowerCase();
    const form = input.closest("form");
    form.querySelectorAll(".label-option").forEach((option) => {
      option.hidden = query !== "" && !option.dataset.labelName.includes(query);
    });
  }
  document.addEventListener("input", (e) => {
    if (e.target.matches && e.target.matches("[data-label-filter]")) filterLabels(e.target);
  });
  // Typing in the filter is no change to save.
  document.addEventListener("change", (e) => {
    if (e.target.matches && e.target.matches("[data-label-filter]")) e.stopPropagation();
  }, true);
  // Enter in the filter toggles the first label it shows, instead of sending the form.
  document.addEventListener("keydown", (e) => {
    if (e.key !== "Enter" || !(e.target.matches && e.target.matches("[data-label-filter]"))) return;
    e.preventDefault();
    const first = Array.from(e.target.closest("form").querySelectorAll(".label-option")).find((o) => !o.hidden);
    const box = first && first.querySelector("input[type=checkbox]");
    if (box) {
      box.checked = !box.checked;
      box.dispatchEvent(new Event("change", { bubbles: true }));
    }
  });
})();
