// Sprint planning: drag cards between the backlog and the sprint (SortableJS).
// Each drop posts one card through htmx (the CSRF header comes from
// <body hx-headers>) and swaps the whole planning block, so the points and
// both lists come from the server. Without JavaScript the checkboxes and the
// "Add to sprint" / "Remove" buttons do the same.
(function () {
  "use strict";

  function init(root) {
    const planning = root.id === "planning" ? root : root.querySelector && root.querySelector("#planning");
    if (!planning || !planning.classList.contains("editable") || typeof Sortable === "undefined") return;
    const url = planning.dataset.planUrl;
    planning.querySelectorAll(".plan-list").forEach((list) => {
      if (list._sortable) return;
      list._sortable = new Sortable(list, {
        group: "plan",
        draggable: ".plan-card",
        filter: "input, a",
        preventOnFilter: false,
        animation: 120,
        ghostClass: "plan-ghost",
        onEnd: (evt) => {
          if (evt.from === evt.to) return;
          const toSprint = evt.to.dataset.list === "sprint";
          planning.classList.add("is-saving");
          htmx.ajax("POST", url, {
            source: planning, target: "#planning", swap: "outerHTML",
            values: { action: toSprint ? "add" : "remove", tickets: evt.item.dataset.id },
          }).catch(() => window.location.reload());
        },
      });
    });
    planning.dataset.ready = "1"; // drag and drop is live (tests wait for it)
  }

  htmx.onLoad(init);
})();
