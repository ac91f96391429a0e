// Starts ReDoc on /api/redoc/ (templates/api/redoc.html), here rather than inline: the CSP allows no inline script.
// ReDoc's styles are <style> elements written by styled-components; the page's
// CSP lets them in with this request's nonce (mlkanban/api_docs.py), which
// ReDoc gives to each element it writes. The nonce comes from this script's
// own element: browsers hide it from attributes, not from the property.
(function () {
  "use strict";
  const container = document.getElementById("redoc-container");
  const nonce = document.currentScript && document.currentScript.nonce;
  if (!container || !window.Redoc) return;
  window.Redoc.init(container.dataset.specUrl, { nonce: nonce || undefined }, container);
})();
