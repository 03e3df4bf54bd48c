"use strict";
(function () {
  const button = document.getElementById("expand-all");
  const all = () => Array.from(document.querySelectorAll("details.service"));
  if (button) {
    button.addEventListener("click", () => {
      const open = !all().every((d) => d.open);
      for (const d of all()) d.open = open;
      button.textContent = open ? "Collapse all" : "Expand all";
    });
  }
  // A link to #svc-N opens that service.
  function openTarget() {
    const id = decodeURIComponent(location.hash.slice(1));
    const target = id && document.getElementById(id);
    if (target && target.tagName === "DETAILS") target.open = true;
  }
  window.addEventListener("hashchange", openTarget);
  openTarget();
})();
