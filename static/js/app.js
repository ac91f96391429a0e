// Site-wide behaviour: toasts, the card modal, friendly errors for htmx.
(function () {
  "use strict";

  function toast(message, level) {
    const box = document.getElementById("toasts");
    if (!box || !message) return;
    const el = document.createElement("div");
    el.className = "toast toast-" + (level || "info");
    el.setAttribute("role", level === "error" ? "alert" : "status");
    el.textContent = message; // text, never HTML
    box.appendChild(el);
    setTimeout(() => el.remove(), level === "error" || level === "warning" ? 7000 : 3500);
  }
  // A signed-out board goes to the login page. Only to a URL on this site:
  // the address comes from a response, and a response is not a navigator.
  function goToLogin(url) {
    let target = null;
    try { target = url ? new URL(url, window.location.href) : null; } catch (err) { target = null; }
    if (target && target.origin === window.location.origin) window.location.assign(target.href);
    else window.location.reload(); // the server answers a page load with its own redirect to the login page
  }

  window.mk = window.mk || {};
  window.mk.toast = toast;
  window.mk.goToLogin = goToLogin;

  // Server-sent messages (django messages) fade out on their own.
  document.addEventListener("DOMContentLoaded", () => {
    document.querySelectorAll("#toasts .toast").forEach((el) => setTimeout(() => el.remove(), 6000));
  });

  document.body.addEventListener("mk:toast", (e) => toast(e.detail.message, e.detail.level));

  // Forms marked data-reset-on-success empty themselves once htmx has sent
  // them successfully (the quick-add form). Here and not in hx-on: the CSP
  // allows no inline code, and htmx runs with allowEval false.
  document.body.addEventListener("htmx:afterRequest", (e) => {
    const form = e.detail.elt;
    if (e.detail.successful && form instanceof HTMLFormElement && form.hasAttribute("data-reset-on-success")) form.reset();
  });

  document.body.addEventListener("htmx:responseError", (e) => {
    const xhr = e.detail.xhr;
    const type = xhr.getResponseHeader("Content-Type") || "";
    // The session ended (mlkanban/middleware.py): htmx follows HX-Redirect by
    // itself; a JSON 401 names the login page.
    if (xhr.status === 401) {
      let data = null;
      try { data = JSON.parse(xhr.responseText); } catch (err) { data = null; }
      goToLogin(data && data.login_url);
      return;
    }
    let text = "";
    if (type.startsWith("text/plain")) text = xhr.responseText;
    else if (xhr.status === 403) text = "You do not have permission to do that on this board.";
    else if (xhr.status === 404) text = "Not found: it may have been deleted.";
    else text = "Something went wrong (" + xhr.status + "). Nothing was saved.";
    toast(text, "error");
  });
  document.body.addEventListener("htmx:sendError", () => toast("The server cannot be reached. Nothing was saved.", "error"));

  // The card modal is a native <dialog>: focus trap and Esc for free.
  function openDialogs(root) {
    const dialog = (root.matches && root.matches("dialog.modal")) ? root : root.querySelector && root.querySelector("dialog.modal");
    if (dialog && !dialog.open) {
      dialog.showModal();
      dialog.addEventListener("close", () => { dialog.remove(); });
    }
  }
  document.body.addEventListener("htmx:afterSwap", (e) => {
    if (e.detail.target && e.detail.target.id === "modal") openDialogs(e.detail.target);
  });
  document.addEventListener("click", (e) => {
    const close = e.target.closest("[data-close-modal]");
    if (close) close.closest("dialog").close();
    // A click on the backdrop (outside the dialog box) closes it too.
    if (e.target.matches && e.target.matches("dialog.modal")) {
      const r = e.target.getBoundingClientRect();
      if (e.clientX < r.left || e.clientX > r.right || e.clientY < r.top || e.clientY > r.bottom) e.target.close();
    }
  });
})();
